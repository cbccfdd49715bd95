"""Ray Tune adapter: any nasframe searcher as a Tune search algorithm, plus a real trainable.

One Tune trial is one real training job (DESIGN.md: never one trial per cheap
surrogate query). :class:`TuneSearcher` turns the ask/tell
:class:`nasframe.Searcher` into Tune's suggest/complete protocol:

    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from nasframe.searchers import make
    from nasframe.tune import TuneSearcher, train_architecture

    space = nasframe.load_space("nb101")
    tuner = tune.Tuner(
        train_architecture,
        param_space={"space": "nb101", "task": "fashion-mnist", "recipe": {"epochs": 4}},
        tune_config=tune.TuneConfig(search_alg=TuneSearcher(make("random", space, seed=0)),
                                    scheduler=ASHAScheduler(max_t=4, grace_period=1),
                                    num_samples=20, metric="val_accuracy", mode="max"),
    )
    results = tuner.fit()

Each suggestion is ``{"arch": arch.to_json()}``, merged by Tune with the
constant entries of ``param_space`` (the space name and training settings the
trainable reads). A finished trial's last ``val_accuracy`` is told to the
searcher; a trial stopped early by a scheduler is told its last (lower
fidelity) value, with that fidelity in the result; a trial that errored is
not told. Tune saves and restores the search algorithm through
:meth:`TuneSearcher.save`/``restore``, which pickle the wrapped searcher's
``state_dict`` and the trials still running, so ``Tuner.restore`` resumes the
search where it stopped.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any

from ray.tune.search import Searcher as _TuneSearcherBase

from nasframe.core import Architecture, EvalResult, Fidelity, Searcher

_STATE_VERSION = 1


class TuneSearcher(_TuneSearcherBase):
    """A nasframe :class:`~nasframe.Searcher` behind Ray Tune's ``Searcher`` API.

    ``metric``/``mode`` default to ``"val_accuracy"``/``"max"`` (nasframe
    searchers maximise validation accuracy); with ``mode="min"`` the negated
    metric is told. ``max_trials`` makes :meth:`suggest` answer ``FINISHED``
    after that many suggestions (``None``: Tune's ``num_samples`` decides);
    it also answers ``FINISHED`` when the searcher has nothing left to propose.
    ``searcher`` may be ``None`` only to :meth:`restore` one from a checkpoint.

    The wrapped searcher is ``.algorithm``, not ``.searcher``: Tune treats an
    object with a ``searcher`` attribute as a wrapper (``ConcurrencyLimiter``)
    and would try to save that attribute as a Tune searcher.
    """

    def __init__(
        self,
        searcher: Searcher | None,
        metric: str | None = "val_accuracy",
        mode: str | None = "max",
        *,
        max_trials: int | None = None,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self.algorithm = searcher
        self.max_trials = max_trials
        #: trial id -> architecture, for trials suggested and not yet complete
        self.live: dict[str, Architecture] = {}
        self.suggested = 0
        self.told = 0

    def __repr__(self) -> str:
        return f"TuneSearcher({self.algorithm!r}, metric={self.metric!r}, mode={self.mode!r})"

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        """Accept Tune's metric/mode (from ``TuneConfig``); the search space is the searcher's own.

        ``param_space`` may only hold constants (training settings): a search
        domain there (``tune.uniform``...) is refused, so Tune raises instead
        of handing unresolved values to the trainable.
        """
        from ray.tune.search.variant_generator import _has_unresolved_values

        if config and _has_unresolved_values(config):
            return False
        if metric and self._metric and metric != self._metric:
            return False
        if mode and self._mode and mode != self._mode:
            return False
        if mode and mode not in ("min", "max"):
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.algorithm is None:
            raise RuntimeError("TuneSearcher has no searcher: pass one or restore() a checkpoint first")
        if self.max_trials is not None and self.suggested >= self.max_trials:
            return _TuneSearcherBase.FINISHED
        archs = self.algorithm.ask(1)
        if not archs:
            return _TuneSearcherBase.FINISHED
        self.live[trial_id] = archs[0]
        self.suggested += 1
        return {"arch": archs[0].to_json()}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        arch = self.live.pop(trial_id, None)
        if arch is None or error or not result or self.metric not in result:
            return
        value = result[self.metric]
        if value is None or value != value:  # NaN
            return
        sign = -1.0 if self.mode == "min" else 1.0

        def opt(key: str) -> float | None:
            v = result.get(key)
            return None if v is None or v != v else float(v)

        epochs = result.get("epoch", result.get("training_iteration"))
        params = result.get("params")
        self.algorithm.tell([arch], [EvalResult(
            val_accuracy=sign * float(value),
            test_accuracy=opt("test_accuracy"),
            train_time=opt("time_total_s"),
            params=None if params is None else int(params),
            fidelity=Fidelity(epochs=None if epochs is None else int(epochs)),
            cost=opt("time_total_s") or 0.0,
            extra={"trial_id": trial_id},
        )])
        self.told += 1

    # -- checkpointing -------------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        if self.algorithm is None:
            raise RuntimeError("TuneSearcher has no searcher to save")
        return {
            "version": _STATE_VERSION,
            "searcher_class": type(self.algorithm),
            "searcher_state": self.algorithm.state_dict(),
            "live": dict(self.live),
            "suggested": self.suggested,
            "told": self.told,
            "max_trials": self.max_trials,
            "metric": self._metric,
            "mode": self._mode,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"TuneSearcher state version {state.get('version')!r} is not {_STATE_VERSION}")
        cls = state["searcher_class"]
        if self.algorithm is None or type(self.algorithm) is not cls:
            self.algorithm = cls.__new__(cls)
        self.algorithm.load_state_dict(state["searcher_state"])
        self.live = dict(state["live"])
        self.suggested = state["suggested"]
        self.told = state["told"]
        self.max_trials = state["max_trials"]
        self._metric, self._mode = state["metric"], state["mode"]

    def save(self, checkpoint_path: str) -> None:
        """Pickle the state to ``checkpoint_path`` atomically (temporary file + rename)."""
        folder = os.path.dirname(os.path.abspath(checkpoint_path))
        fd, tmp = tempfile.mkstemp(prefix=".tune-searcher-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(self.get_state(), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, checkpoint_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.set_state(pickle.load(handle))


# -- the trainable: one real training of one architecture per trial ------------------------------------

def train_architecture(config: dict[str, Any], task: Any = None, space: Any = None) -> None:
    """Ray Tune function trainable: train ``config["arch"]`` with :class:`nasframe.tasks.Trainer`.

    Config: ``arch`` (an architecture's JSON, as :class:`TuneSearcher`
    suggests), ``space`` (``"nb101"``), ``task`` (a registered task name,
    ``"digits"``) with ``task_options``, ``recipe`` (fields of
    :class:`nasframe.tasks.Recipe`; its ``epochs`` is Tune's
    ``training_iteration``, what ASHA's ``max_t`` counts), ``seed`` (0),
    ``threads`` (torch intra-op threads, 1), ``evaluate_test`` (False).
    Pass a loaded task (and a space object, for tasks with their own space)
    with ``tune.with_parameters(train_architecture, task=task, space=space)``
    so its images travel once through the object store instead of being read
    by every trial.

    Every epoch reports the trainer's metrics (``objective``, ``val_accuracy``,
    ``train_loss``, ``epoch``, ``params``, ``epoch_seconds``...) with a
    checkpoint; a restarted trial resumes after its last checkpointed epoch.
    """
    import shutil

    import torch
    from ray import tune
    from ray.tune import Checkpoint

    from nasframe.core import load_space
    from nasframe.tasks import Recipe, Trainer, load_task
    from nasframe.tasks.trainer import CHECKPOINT_FILE

    torch.set_num_threads(int(config.get("threads", 1)))
    if task is None:
        task = load_task(config.get("task", "digits"), **dict(config.get("task_options", {})))
    if space is None:
        space = load_space(config.get("space", "nb101"))
    arch = space.from_json(config["arch"])
    trainer = Trainer(task, Recipe.from_dict(config.get("recipe", {})), seed=int(config.get("seed", 0)),
                      evaluate_test=bool(config.get("evaluate_test", False)))
    with tempfile.TemporaryDirectory(prefix="nasframe-trial-") as work:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                shutil.copy(os.path.join(folder, CHECKPOINT_FILE), os.path.join(work, CHECKPOINT_FILE))

        def report(metrics: dict[str, Any], folder: Any) -> None:
            tune.report(metrics, checkpoint=Checkpoint.from_directory(str(folder)))

        trainer.fit(space, arch, checkpoint_dir=work, on_epoch=report)
