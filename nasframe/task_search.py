"""A search on a task: real trainings as Ray Tune trials, one or several objectives, the Pareto front.

``nasframe search --task`` is a thin wrapper of :func:`search_task`. Each
architecture is one Tune trial of :class:`~nasframe.training.TrainingEvaluator`
(checkpointed every epoch, resumed after a kill, ASHA when given a scheduler),
driven by any registered searcher through :func:`nasframe.runner.run_search`:

- a multi-objective searcher (``Searcher.multi_objective``: ``mo-evolution``,
  ``optuna`` with ``sampler=nsga2``) receives the objective vector;
- any other receives the scalarisation of the objectives
  (:class:`nasframe.pareto.Scalarisation`, weights from ``weights``).

Either way every objective of every trial is kept in the history
(``objective.<name>`` columns), and the result carries the Pareto front of
the evaluated architectures and the hypervolume after every step.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nasframe.core import SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.registry import SEARCHERS
from nasframe.core.task import Objective, Task
from nasframe.pareto import Scalarisation, hypervolume_curve, pareto_mask, reference_point
from nasframe.runner import OBJECTIVE_PREFIX, History, run_search


@dataclass
class TaskSearchResult:
    """What a task search found: its history, the Pareto front of what it evaluated, and its progress."""

    history: History
    objectives: tuple[Objective, ...]
    #: the evaluated rows no other evaluated row dominates on ``objectives`` (history columns)
    front: pd.DataFrame
    #: the hypervolume of the first t evaluations, t = 1..n, under ``reference`` (signed objectives)
    hypervolume: np.ndarray
    reference: np.ndarray


def signed_points(frame: pd.DataFrame, objectives: Sequence[Objective]) -> np.ndarray:
    """The history's objective vectors (``objective.<name>`` columns), every component maximised."""
    missing = [o.name for o in objectives if OBJECTIVE_PREFIX + o.name not in frame.columns]
    if missing:
        raise KeyError(f"the history has no objective column for {missing}")
    return np.column_stack([o.sign * frame[OBJECTIVE_PREFIX + o.name].to_numpy(float) for o in objectives])


def summarise(history: History, objectives: Sequence[Objective],
              reference: np.ndarray | None = None) -> TaskSearchResult:
    """Front and hypervolume curve of a finished ``history`` (failed rows are left out of both).

    Without a ``reference`` the worst value of each objective in this run is
    used, so the hypervolume measures the spread of the front inside the
    run's own box; compare runs under one common reference
    (:func:`nasframe.pareto.reference_point` over all of them).
    """
    objectives = tuple(objectives)
    frame = history.to_frame()
    done = frame[frame["error"].isna()].reset_index(drop=True)
    points = signed_points(done, objectives) if len(done) else np.empty((0, len(objectives)))
    if reference is None:
        reference = reference_point([points]) if len(points) else np.zeros(len(objectives))
    front = done[pareto_mask(points)] if len(points) else done
    curve = hypervolume_curve(points, reference) if len(points) else np.empty(0)
    return TaskSearchResult(history=history, objectives=objectives, front=front.reset_index(drop=True),
                            hypervolume=curve, reference=np.asarray(reference, dtype=float))


def make_task_searcher(name: str, space: SearchSpace, objectives: Sequence[Objective], *, seed: int = 0,
                       options: dict[str, Any] | None = None) -> Any:
    """Searcher ``name`` on ``space``; a multi-objective one gets ``objectives`` as its ``objectives=`` option."""
    factory = SEARCHERS.factory(name)
    options = dict(options or {})
    if getattr(factory, "multi_objective", False) and len(objectives) > 1:
        if "objectives" in options:
            raise InvalidSetting("pass the objectives with --objectives, not as a searcher option")
        options["objectives"] = [str(o) for o in objectives]
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(accepted)) if not any(
        p.kind is p.VAR_KEYWORD for p in accepted.values()) else []
    if unknown:
        raise InvalidSetting(f"searcher {name!r} takes no option {', '.join(map(repr, unknown))}")
    return factory(space=space, seed=seed, **options)


def search_task(
    task: Task,
    searcher: str,
    budget: int,
    *,
    space: SearchSpace | None = None,
    objectives: Sequence[Objective] | None = None,
    weights: Sequence[float] | None = None,
    recipe: Any = None,
    seed: int = 0,
    batch_size: int = 1,
    searcher_options: dict[str, Any] | None = None,
    **evaluator_options: Any,
) -> TaskSearchResult:
    """Search ``task`` with ``searcher`` for ``budget`` trained architectures; see the module docstring.

    ``evaluator_options`` go to :class:`~nasframe.training.TrainingEvaluator`
    (``resources``, ``storage_path``, ``scheduler``, ``max_failures``).
    """
    from nasframe.tasks import Recipe
    from nasframe.training import TrainingEvaluator

    recipe = recipe if recipe is not None else Recipe()
    space = space if space is not None else task.search_space()
    objectives = tuple(objectives or task.objectives[:1])
    task.check_trainable(space, recipe)
    algorithm = make_task_searcher(searcher, space, objectives, seed=seed, options=searcher_options)
    scalarisation = Scalarisation.default(objectives, weights) if len(objectives) > 1 else None
    evaluator = TrainingEvaluator(task, space, recipe, objectives=objectives, scalarisation=scalarisation,
                                  **evaluator_options)
    history = run_search(algorithm, evaluator, budget, seed=seed, batch_size=batch_size)
    return summarise(history, objectives)


def plot_front(result: TaskSearchResult, title: str, path: str) -> None:
    """The evaluated architectures on the first two objectives with the Pareto front as a staircase, and the
    hypervolume after every step (costs on a log axis)."""
    from nasframe.analysis import pyplot

    if len(result.objectives) < 2:
        raise InvalidSetting("a Pareto plot needs two objectives (--objectives a:max,b:min)")
    plt = pyplot()
    fig, (ax, hv) = plt.subplots(1, 2, figsize=(10, 4))
    first, second = result.objectives[:2]
    frame = result.history.to_frame()
    x, y = (frame[OBJECTIVE_PREFIX + o.name] for o in (second, first))
    ax.scatter(x, y, s=10, color="grey", alpha=0.6, label="evaluated")
    front = result.front.sort_values(OBJECTIVE_PREFIX + second.name)
    ax.step(front[OBJECTIVE_PREFIX + second.name], front[OBJECTIVE_PREFIX + first.name],
            where="post" if second.direction == "min" else "pre", color="C3", marker="o", label="Pareto front")
    if second.cost:
        ax.set_xscale("log")
    ax.set(xlabel=str(second), ylabel=str(first), title=title)
    ax.legend(fontsize=8)
    hv.plot(np.arange(1, len(result.hypervolume) + 1), result.hypervolume)
    hv.set(xlabel="trained architectures", ylabel="hypervolume", title="hypervolume (this run's reference)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
