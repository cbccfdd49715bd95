"""Multi-objective aging evolution: regularized evolution whose tournament is NSGA-II's crowded comparison."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nasframe.core import Architecture, EvalResult, SearchSpace
from nasframe.core.task import Objective
from nasframe.pareto import crowding_distance, nondominated_ranks, objective_specs, signed_vector
from nasframe.searchers._evolution import RegularizedEvolution


class ParetoEvolution(RegularizedEvolution):
    """Aging evolution on several objectives at once.

    Everything is :class:`~nasframe.searchers.RegularizedEvolution` (random
    start, tournament drawn with replacement, mutation of the winner, the
    oldest member dies), except what a member is worth: its objective vector
    (``objectives``, e.g. ``("accuracy:max", "flops:min")``, read from
    ``EvalResult.objectives`` or the result's fields), and who wins a
    tournament: the member on the better non-dominated front of the current
    population, then the one with the larger crowding distance, NSGA-II's
    crowded-comparison operator (Deb et al. 2002). Ranking within the
    population, not just the tournament, keeps the selection pressure on the
    whole front while aging keeps the population moving, the combination
    LEMONADE and the multi-objective variants of regularized evolution use.

    The search's answer is a front, not one architecture:
    :func:`nasframe.pareto.pareto_mask` over the told results (the CLI does
    this) gives it.
    """

    name = "mo-evolution"
    multi_objective = True

    def __init__(self, space: SearchSpace, *, seed: int = 0,
                 objectives: Sequence[Objective | str] = ("accuracy:max", "params:min"), **options: Any) -> None:
        super().__init__(space, seed=seed, **options)
        self.objectives = objective_specs(objectives)

    def _fitness(self, result: EvalResult) -> np.ndarray:
        return signed_vector(result, self.objectives)

    def _winner(self, members: list[tuple[Architecture, Any]], picks: list[int]) -> int:
        points = np.array([vector for _, vector in members])
        ranks = nondominated_ranks(points)
        crowding = crowding_distance(points, ranks)
        return min(picks, key=lambda i: (ranks[i], -crowding[i]))
