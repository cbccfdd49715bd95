"""Several objectives at once: Pareto fronts, hypervolume, and the scalarisation single-objective searchers see.

Everything here works on *signed* objective vectors (every component
maximised; :func:`nasframe.core.task.signed` negates the minimised ones), so
one dominance test serves ``accuracy:max`` and ``flops:min`` alike.

The hypervolume is exact: a sweep in two dimensions and the recursive slicing
of While et al. (HSO) above, which is quick for the fronts a NAS run produces
(tens of points, two or three objectives). A run's hypervolume is only
comparable with another's under the same reference point, so comparisons pass
one explicitly (:func:`reference_point` derives a common one from every run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from nasframe.core.errors import InvalidSetting
from nasframe.core.results import EvalResult
from nasframe.core.task import Objective

#: default weight of each cost in the scalarisation: accuracy points (as a fraction) per decade of cost
DEFAULT_COST_WEIGHT = 0.05


#: where an objective missing from ``EvalResult.objectives`` is read instead (surrogate benchmarks
#: answer accuracy and parameters in these fields, not per task)
RESULT_FIELDS = {"accuracy": "val_accuracy", "val_accuracy": "val_accuracy", "params": "params",
                 "train_time": "train_time"}


def objective_specs(items: Sequence[Objective | str]) -> tuple[Objective, ...]:
    """Objectives from ``Objective`` values or ``"name:max"`` / ``"name:min"`` strings (a searcher option)."""
    out = []
    for item in items:
        if isinstance(item, str):
            name, _, direction = item.partition(":")
            item = Objective(name, direction or "max")
        out.append(item)
    if not out or len({o.name for o in out}) != len(out):
        raise InvalidSetting(f"objectives must be one or more distinct 'name:max|min', got {list(items)!r}")
    return tuple(out)


def objective_value(result: EvalResult, name: str) -> float:
    """Objective ``name`` of ``result``: from its task's ``objectives``, else from the matching result field."""
    if name in result.objectives:
        return float(result.objectives[name])
    value = getattr(result, RESULT_FIELDS[name]) if name in RESULT_FIELDS else None
    if value is None:
        raise KeyError(f"the result has no objective {name!r} (it has {sorted(result.objectives) or 'none'}; "
                       f"fields: {sorted(RESULT_FIELDS)})")
    return float(value)


def signed_vector(result: EvalResult, objectives: Sequence[Objective]) -> np.ndarray:
    """``result``'s objective vector with every component maximised; NaN becomes ``-inf`` (a failed metric)."""
    vector = np.array([o.sign * objective_value(result, o.name) for o in objectives], dtype=float)
    return np.where(np.isnan(vector), -np.inf, vector)


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether signed vector ``a`` is at least as good as ``b`` everywhere and better somewhere."""
    return bool(np.all(a >= b) and np.any(a > b))


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` (signed, ``(n, k)``) no other row dominates; duplicates all stay."""
    points = np.asarray(points, dtype=float)
    keep = np.ones(len(points), dtype=bool)
    for i, point in enumerate(points):
        others = np.delete(points, i, axis=0)
        keep[i] = not np.any(np.all(others >= point, axis=1) & np.any(others > point, axis=1))
    return keep


def nondominated_ranks(points: np.ndarray) -> np.ndarray:
    """NSGA-II's front index of every row (0: the Pareto front, 1: the front once it is removed, ...)."""
    points = np.asarray(points, dtype=float)
    ranks = np.full(len(points), -1)
    left = np.arange(len(points))
    rank = 0
    while len(left):
        front = left[pareto_mask(points[left])]
        ranks[front] = rank
        left = np.setdiff1d(left, front)
        rank += 1
    return ranks


def crowding_distance(points: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance within each front: boundary points infinite, others the normalised
    perimeter of their neighbours' box (larger: a less crowded, more valuable point)."""
    points = np.asarray(points, dtype=float)
    distance = np.zeros(len(points))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        for k in range(points.shape[1]):
            order = members[np.argsort(points[members, k], kind="stable")]
            span = points[order[-1], k] - points[order[0], k]
            distance[order[0]] = distance[order[-1]] = np.inf
            if len(order) > 2 and np.isfinite(span) and span > 0:
                distance[order[1:-1]] += (points[order[2:], k] - points[order[:-2], k]) / span
    return distance


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """The volume dominated by signed ``points`` and bounded below by ``reference`` (points not above it add 0)."""
    points = np.asarray(points, dtype=float).reshape(-1, len(reference))
    reference = np.asarray(reference, dtype=float)
    points = points[np.all(points > reference, axis=1)]
    if len(points) == 0:
        return 0.0
    points = points[pareto_mask(points)]
    if points.shape[1] == 1:
        return float(points.max() - reference[0])
    if points.shape[1] == 2:
        order = np.argsort(-points[:, 0])
        volume, best_y = 0.0, reference[1]
        for x, y in points[order]:
            if y > best_y:
                volume += (x - reference[0]) * (y - best_y)
                best_y = y
        return float(volume)
    # slice along the last objective: each slab's cross-section is a (k-1)-dimensional hypervolume
    order = np.argsort(-points[:, -1])
    points = points[order]
    volume = 0.0
    for i, point in enumerate(points):
        lower = points[i + 1, -1] if i + 1 < len(points) else reference[-1]
        volume += hypervolume(points[: i + 1, :-1], reference[:-1]) * (point[-1] - lower)
    return float(volume)


def hypervolume_curve(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The hypervolume of the first ``t`` points for every ``t``: a multi-objective run's progress per step."""
    points = np.asarray(points, dtype=float)
    return np.array([hypervolume(points[: t + 1], reference) for t in range(len(points))])


def reference_point(runs: Sequence[np.ndarray], margin: float = 0.0) -> np.ndarray:
    """A common reference for several runs' signed points: the worst value of each objective seen in any
    run, lowered by ``margin`` of its range (0: the worst points sit on the boundary and add no volume)."""
    stacked = np.vstack([np.asarray(r, dtype=float) for r in runs if len(r)])
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    return low - margin * (high - low)


@dataclass(frozen=True)
class Scalarisation:
    """One number from an objective vector, for single-objective searchers.

    ``score = sum_i w_i * sign_i * t_i(value_i)`` where ``t`` is the identity
    for trained metrics and ``log10`` for costs: costs span orders of
    magnitude, and on a log scale a weight reads as "points of the metric
    per decade of cost" whatever the unit (MnasNet's reward,
    ``acc * (flops / target) ** w``, is the same trade-off in log form).
    The default weight is 1 for metrics and :data:`DEFAULT_COST_WEIGHT` for costs.
    """

    objectives: tuple[Objective, ...]
    weights: tuple[float, ...]

    @classmethod
    def default(cls, objectives: Sequence[Objective], weights: Sequence[float] | None = None) -> "Scalarisation":
        objectives = tuple(objectives)
        if weights is None:
            weights = [DEFAULT_COST_WEIGHT if o.cost else 1.0 for o in objectives]
        if len(weights) != len(objectives):
            raise InvalidSetting(f"--weights: {len(weights)} weights for {len(objectives)} objectives "
                                 f"({', '.join(map(str, objectives))})")
        if any(w < 0 for w in weights):
            raise InvalidSetting(f"--weights: weights must be >= 0, got {list(weights)}")
        return cls(objectives, tuple(float(w) for w in weights))

    def __call__(self, values: Mapping[str, float]) -> float:
        total = 0.0
        for objective, weight in zip(self.objectives, self.weights):
            value = float(values[objective.name])
            if objective.cost:
                if value <= 0:
                    raise ValueError(f"cost {objective.name!r} must be positive to be scalarised, got {value}")
                value = np.log10(value)
            total += weight * objective.sign * value
        return total
