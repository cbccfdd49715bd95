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
        param_space={"space": "nb101", "epochs": 4},
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
import time
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


# -- an example trainable: real training of a small network on real data --------------------------------

#: the small network configurations of :func:`train_architecture`, per space
SMALL_MODELS: dict[str, dict[str, Any]] = {
    "nb101": {"stem_channels": 16, "num_stacks": 1, "cells_per_stack": 1, "in_channels": 1, "bn_momentum": 0.1},
    "enas": {"channels": 8, "in_channels": 1, "dropout": 0.0},
}


def digits_split(val_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's 8x8 digits (1,797 real images, shipped with scikit-learn; offline) as tensors:
    ``(x_train, y_train, x_val, y_val)``, images ``(n, 1, 8, 8)`` scaled to [0, 1]."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.tensor(np.random.default_rng(seed).permutation(len(y)))
    cut = int(round(len(y) * (1.0 - val_fraction)))
    train, val = order[:cut], order[cut:]
    return x[train], y[train], x[val], y[val]


def train_architecture(config: dict[str, Any]) -> None:
    """Ray Tune function trainable: train ``config["arch"]`` on the digits, report per epoch.

    Config: ``arch`` (JSON of an architecture, as :class:`TuneSearcher`
    suggests), ``space`` (``"nb101"`` or ``"enas"``, or any space whose
    ``build_model`` takes ``in_channels``), ``epochs`` (2), ``batch_size``
    (32), ``lr`` (0.05, SGD momentum 0.9, cosine), ``model`` (overrides of
    :data:`SMALL_MODELS`), ``seed`` (0), ``threads`` (torch threads, 1).
    Every epoch reports ``val_accuracy``, ``train_loss``, ``epoch`` and
    ``params`` with a checkpoint (model, optimiser and schedule state); a
    restarted trial resumes from its latest checkpoint.
    """
    import torch
    from ray import tune
    from ray.tune import Checkpoint

    from nasframe.core import load_space

    torch.set_num_threads(int(config.get("threads", 1)))
    space_name = config.get("space", "nb101")
    space = load_space(space_name)
    arch = space.from_json(config["arch"])
    epochs = int(config.get("epochs", 2))
    batch_size = int(config.get("batch_size", 32))
    seed = int(config.get("seed", 0))
    torch.manual_seed(seed)
    model_config = {**SMALL_MODELS.get(space_name, {"in_channels": 1}), **dict(config.get("model", {}))}
    model = space.build_model(arch, **model_config)
    optimizer = torch.optim.SGD(model.parameters(), lr=float(config.get("lr", 0.05)), momentum=0.9,
                                weight_decay=float(config.get("weight_decay", 1e-4)))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    x_train, y_train, x_val, y_val = digits_split(seed=0)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)

    start_epoch = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(os.path.join(folder, "state.pt"), weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start_epoch = int(state["epoch"])
        torch.set_rng_state(state["torch_rng"])

    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(start_epoch, epochs):
        began = time.perf_counter()
        model.train()
        order = torch.randperm(len(y_train))
        total_loss = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            total_loss += float(loss) * len(idx)
        schedule.step()
        model.eval()
        with torch.no_grad():
            correct = int((model(x_val).argmax(dim=1) == y_val).sum())
        metrics = {
            "val_accuracy": correct / len(y_val),
            "train_loss": total_loss / len(y_train),
            "epoch": epoch + 1,
            "params": params,
            "epoch_seconds": time.perf_counter() - began,
        }
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "epoch": epoch + 1,
                        "torch_rng": torch.get_rng_state()}, os.path.join(folder, "state.pt"))
            tune.report(metrics, checkpoint=Checkpoint.from_directory(folder))
