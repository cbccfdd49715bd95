"""Training architectures on Ray: batches of trainings, a training evaluator, search-then-retrain.

Three ways to spend a cluster on real trainings, all one architecture per
worker (a training is seconds to hours, so the per-task overhead of Ray is noise):

- :func:`train_many`: plain Ray tasks, for a fixed list of (architecture,
  recipe) pairs such as a reference ranking or a BPE's evaluation. Ray
  re-runs a task whose worker died.
- :class:`TrainingEvaluator`: the :class:`~nasframe.core.Evaluator` of a
  task, one Ray Tune trial per architecture (checkpointed every epoch, so a
  killed trial resumes); any searcher runs on it through
  :func:`nasframe.runner.run_search`.
- :func:`search_then_retrain`: a searcher under Ray Tune with ASHA on a cheap
  recipe (a BPE), then its top-k retrained at the full recipe.

The task's images go once into Ray's object store (``ray.put`` /
``tune.with_parameters``), not once per training.

Everything here takes any :class:`~nasframe.core.task.Task`. What a Tune
trial reports and what the searchers maximise is the trainer's ``objective``
(the task's primary metric, larger is better); an evaluator given several
``objectives`` tells single-objective searchers their scalarisation
(:class:`nasframe.pareto.Scalarisation`) and keeps every objective of every
trial in ``EvalResult.objectives``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import pandas as pd

from nasframe.core import Architecture, EvalResult, Fidelity, SearchSpace, Searcher
from nasframe.core.task import Objective, Task
from nasframe.pareto import Scalarisation
from nasframe.tasks import Recipe, Trainer, TrainResult

#: the per-epoch metric every Tune run here optimises (see the module docstring)
TUNE_METRIC = "objective"
#: checkpoints a Tune trial keeps (the newest): a resumed trial needs only its last one, and on shared
#: storage every epoch's checkpoint of every trial would add up (docs/CLUSTER.md)
KEEP_CHECKPOINTS = 2


def _train_one(task: Task, space: SearchSpace, arch_json: Any, recipe: dict[str, Any], seed: int,
               threads: int, evaluate_test: bool) -> TrainResult:
    import torch

    torch.set_num_threads(threads)
    return Trainer(task, Recipe.from_dict(recipe), seed=seed, evaluate_test=evaluate_test).fit(
        space, space.from_json(arch_json))


def default_resources(cpus: int = 1) -> dict[str, float]:
    """One GPU per training when the Ray cluster has GPUs, else ``cpus`` CPUs."""
    import ray

    gpus = ray.cluster_resources().get("GPU", 0) if ray.is_initialized() else 0
    return {"cpu": cpus, "gpu": 1} if gpus else {"cpu": cpus}


def train_many(
    task: Task,
    space: SearchSpace,
    archs: Sequence[Architecture],
    recipes: Recipe | Sequence[Recipe],
    *,
    seed: int | Sequence[int] = 0,
    evaluate_test: bool = False,
    resources: dict[str, float] | None = None,
    on_result: Callable[[int, TrainResult], None] | None = None,
) -> list[TrainResult]:
    """Train every architecture (with one recipe, or one recipe each; one seed, or one each) as
    parallel Ray tasks, in order.

    ``on_result(index, result)`` is called as each training finishes (in
    completion order), so a caller can store results before the batch ends.
    """
    import ray

    if isinstance(recipes, Recipe):
        recipes = [recipes] * len(archs)
    seeds = [seed] * len(archs) if isinstance(seed, int) else list(seed)
    if len(recipes) != len(archs) or len(seeds) != len(archs):
        raise ValueError(f"{len(archs)} architectures but {len(recipes)} recipes and {len(seeds)} seeds")
    resources = resources or default_resources()
    remote = ray.remote(_train_one).options(num_cpus=resources.get("cpu", 1), num_gpus=resources.get("gpu", 0),
                                            max_retries=2)
    task_ref, space_ref = ray.put(task), ray.put(space)
    threads = max(1, int(resources.get("cpu", 1)))
    refs = [remote.remote(task_ref, space_ref, a.to_json(), r.to_dict(), s, threads, evaluate_test)
            for a, r, s in zip(archs, recipes, seeds)]
    results: dict[int, TrainResult] = {}
    pending = {ref: i for i, ref in enumerate(refs)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        index = pending.pop(done[0])
        results[index] = ray.get(done[0])
        if on_result is not None:
            on_result(index, results[index])
    return [results[i] for i in range(len(refs))]


def _tune_config(space: SearchSpace, recipe: Recipe, seed: int, evaluate_test: bool) -> dict[str, Any]:
    return {"space": space.name, "recipe": recipe.to_dict(), "seed": seed, "evaluate_test": evaluate_test}


def _trainable(task: Task, space: SearchSpace, resources: dict[str, float] | None) -> Any:
    """:func:`nasframe.tune.train_architecture` with the task (its images) and the space in the object
    store (sent once, not per trial) and per-trial resources."""
    from ray import tune

    from nasframe.tune import train_architecture

    return tune.with_resources(tune.with_parameters(train_architecture, task=task, space=space),
                               resources or default_resources())


def _result_of(metrics: dict[str, Any], task: Task, scalarise: Scalarisation | None) -> EvalResult:
    """A trial's last reported metrics as the result a searcher is told."""
    objectives = task.objective_values(metrics, metrics)
    test = metrics.get(f"test_{task.primary.name}")
    return EvalResult(
        val_accuracy=float(metrics[TUNE_METRIC]) if scalarise is None else scalarise(objectives),
        test_accuracy=None if test is None else task.primary.sign * float(test),
        train_time=float(metrics.get("time_total_s", 0.0)),
        params=int(metrics["params"]),
        fidelity=Fidelity(epochs=int(metrics["epoch"])),
        cost=float(metrics.get("time_total_s", 0.0)),
        objectives=objectives,
    )


class TrainingEvaluator:
    """Evaluates architectures by training them on ``task``, one Ray Tune trial each.

    ``evaluate(archs, fidelity, seed)`` trains the batch in parallel (a
    ``fidelity.epochs`` overrides the recipe's epochs), each trial with
    ``resources`` (default: one GPU if the cluster has any, else one CPU) and
    an optional Tune ``scheduler`` (e.g. ASHA). Trials checkpoint every epoch
    and are retried ``max_failures`` times from their checkpoint. Results are
    returned in the order of ``archs``; duplicates are trained once.

    With more than one of the task's ``objectives`` named, each result's
    ``val_accuracy`` is their ``scalarisation`` (default weights unless
    given) for single-objective searchers; ``objectives`` always holds all.
    """

    def __init__(
        self,
        task: Task,
        space: SearchSpace,
        recipe: Recipe | None = None,
        *,
        objectives: Sequence[Objective] | None = None,
        scalarisation: Scalarisation | None = None,
        resources: dict[str, float] | None = None,
        storage_path: str | None = None,
        scheduler: Any = None,
        max_failures: int = 2,
        evaluate_test: bool = False,
    ) -> None:
        self.task, self.space = task, space
        self.recipe = recipe or Recipe()
        self.objectives = tuple(objectives or task.objectives[:1])
        if scalarisation is None and len(self.objectives) > 1:
            scalarisation = Scalarisation.default(self.objectives)
        self.scalarisation = scalarisation
        self.resources = resources
        self.storage_path = storage_path or tempfile.mkdtemp(prefix="nasframe-tune-")
        self.scheduler = scheduler
        self.max_failures = max_failures
        self.evaluate_test = evaluate_test
        self.calls = 0

    def evaluate(self, archs: Sequence[Architecture], fidelity: Fidelity | None = None,
                 seed: int | None = None) -> list[EvalResult]:
        from ray import tune

        recipe = self.recipe
        if fidelity is not None and fidelity.epochs is not None:
            recipe = recipe.replace(epochs=int(fidelity.epochs))
        unique = list(dict.fromkeys(json.dumps(a.to_json(), sort_keys=True) for a in archs))
        self.calls += 1
        tuner = tune.Tuner(
            _trainable(self.task, self.space, self.resources),
            param_space={**_tune_config(self.space, recipe, seed or 0, self.evaluate_test),
                         "arch": tune.grid_search([json.loads(u) for u in unique])},
            tune_config=tune.TuneConfig(metric=TUNE_METRIC, mode="max", scheduler=self.scheduler),
            run_config=tune.RunConfig(storage_path=self.storage_path, name=f"evaluate-{self.calls}", verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=self.max_failures),
                                      checkpoint_config=tune.CheckpointConfig(num_to_keep=KEEP_CHECKPOINTS)),
        )
        by_arch: dict[str, EvalResult] = {}
        for result in tuner.fit():
            if result.error is not None:
                raise RuntimeError(f"training of {result.config['arch']} failed: {result.error}")
            by_arch[json.dumps(result.config["arch"], sort_keys=True)] = _result_of(
                result.metrics, self.task, self.scalarisation)
        return [by_arch[json.dumps(a.to_json(), sort_keys=True)] for a in archs]


@dataclass
class SearchRetrainResult:
    """The trials of the cheap search and the full-budget retraining of its top-k."""

    #: one row per Tune trial: arch (JSON), val_accuracy (the task's objective) at the BPE, epochs, seconds
    trials: pd.DataFrame
    #: the top-k: arch, bpe_val_accuracy, full val/test accuracy, seconds
    retrained: pd.DataFrame

    @property
    def best(self) -> pd.Series:
        """The retrained architecture with the best full-budget validation accuracy."""
        return self.retrained.loc[self.retrained["val_accuracy"].idxmax()]


def search_then_retrain(
    searcher: Searcher,
    task: Task,
    bpe: Recipe,
    full: Recipe,
    *,
    num_samples: int,
    top_k: int = 3,
    scheduler: Any = "asha",
    resources: dict[str, float] | None = None,
    storage_path: str | None = None,
    seed: int = 0,
) -> SearchRetrainResult:
    """Search with the cheap recipe ``bpe`` (Ray Tune, ASHA by default), retrain the top-k at ``full``.

    Only trials that reached the BPE's last epoch compete for the top-k
    (ASHA's early-stopped trials were judged worse at a lower fidelity).
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from nasframe.tune import TuneSearcher

    space = searcher.space
    if scheduler == "asha":
        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=bpe.epochs, grace_period=1,
                                  reduction_factor=2)
    storage_path = storage_path or tempfile.mkdtemp(prefix="nasframe-tune-")
    tuner = tune.Tuner(
        _trainable(task, space, resources),
        param_space=_tune_config(space, bpe, seed, False),
        tune_config=tune.TuneConfig(search_alg=TuneSearcher(searcher, metric=TUNE_METRIC), scheduler=scheduler,
                                    num_samples=num_samples, metric=TUNE_METRIC, mode="max"),
        run_config=tune.RunConfig(storage_path=storage_path, name="bpe-search", verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=2),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=KEEP_CHECKPOINTS)),
    )
    rows = []
    for result in tuner.fit():
        if result.error is not None or not result.metrics:
            continue
        rows.append({"arch": json.dumps(result.config["arch"], sort_keys=True),
                     "val_accuracy": result.metrics[TUNE_METRIC], "epochs": result.metrics["epoch"],
                     "seconds": result.metrics.get("time_total_s", 0.0)})
    trials = pd.DataFrame(rows)
    if trials.empty:
        raise RuntimeError("no search trial finished")
    finished = trials[trials["epochs"] == trials["epochs"].max()]
    top = finished.sort_values("val_accuracy", ascending=False).drop_duplicates("arch").head(top_k)
    archs = [space.from_json(json.loads(a)) for a in top["arch"]]
    results = train_many(task, space, archs, full, seed=seed, evaluate_test=True, resources=resources)
    retrained = pd.DataFrame({
        "arch": top["arch"].to_numpy(), "bpe_val_accuracy": top["val_accuracy"].to_numpy(),
        "val_accuracy": [r.val_accuracy for r in results], "test_accuracy": [r.test_accuracy for r in results],
        "seconds": [r.seconds for r in results],
    })
    return SearchRetrainResult(trials=trials, retrained=retrained)
