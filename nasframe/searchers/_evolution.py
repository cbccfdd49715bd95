"""Regularized (aging) evolution, Real et al. 2019, with the settings of the NAS-benchmark comparisons."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from nasframe.core import Architecture, EvalResult, SearchSpace, Searcher


def score(result: EvalResult) -> float:
    """The value searchers maximise: validation accuracy, ``-inf`` where it is missing (NaN)."""
    value = float(result.val_accuracy)
    return value if not math.isnan(value) else -math.inf


class RegularizedEvolution(Searcher):
    """Aging evolution (Real, Aggarwal, Huang & Le, AAAI 2019, "Regularized evolution for
    image classifier architecture search").

    The first ``num_init`` asks are random architectures. After that every
    proposal is a child: ``tournament_size`` members are drawn from the
    population uniformly *with replacement*, and the child is
    ``space.mutate`` of the one with the highest validation accuracy. The
    population is the FIFO of the last ``population_size`` architectures
    *told* (a result arrived); when it is full the oldest dies, whatever its
    accuracy (the "regularization").

    Defaults follow the reference code of the NAS-benchmark comparisons at
    150 queries, White et al.'s BANANAS / "local search is state of the art"
    code (naszilla ``nas_algorithms.evolution_search``: ``num_init=10``,
    ``population_size=30``, ``tournament_size=10``, ``regularize=True``,
    tournament drawn with ``np.random.choice`` i.e. with replacement), the
    setting of their 150-query NB101/NB201/NB301 comparisons. NASLib's port
    keeps the tournament (``sample_size: 10``) but defaults to
    ``population_size: 100`` filled by 100 random queries, which would leave
    only 50 evolution steps at 150 queries, so the naszilla values are used.
    Real et al.'s own colab also draws the tournament with replacement.

    Duplicates are never proposed: a child already in ``seen`` is re-drawn
    (another mutation of the same parent) up to ``max_retries`` times, then
    replaced by a fresh random architecture. ``ask(n)`` runs ``n``
    independent tournaments on the current population; results may arrive
    for fewer architectures than were asked (failures are never told), and
    until the first result arrives after the random phase the searcher keeps
    handing out random architectures rather than blocking.
    """

    name = "evolution"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        population_size: int = 30,
        tournament_size: int = 10,
        num_init: int = 10,
        max_retries: int = 20,
    ) -> None:
        if population_size < 1 or tournament_size < 1 or num_init < 0 or max_retries < 0:
            raise ValueError(
                "RegularizedEvolution needs population_size >= 1, tournament_size >= 1, "
                f"num_init >= 0 and max_retries >= 0; got {population_size}, {tournament_size}, "
                f"{num_init} and {max_retries}"
            )
        super().__init__(space, seed=seed)
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.num_init = num_init
        self.max_retries = max_retries
        #: told (architecture, score) pairs, oldest first; appending beyond maxlen drops the oldest
        self.population: deque[tuple[Architecture, Any]] = deque(maxlen=population_size)
        #: random architectures still to hand out before evolution starts
        self._init_left = num_init
        #: how each proposal was made, in ask order: ("random", None), ("child", parent hash),
        #: or ("fallback", parent hash) when every re-drawn mutation had been seen already
        self.origins: list[tuple[str, str | None]] = []

    def ask(self, n: int = 1) -> list[Architecture]:
        out: list[Architecture] = []
        # random while the initial phase lasts, and also while no result has come back yet
        # (asynchronous runs, failures): explore rather than block
        wanted_random = min(n, self._init_left) if self.population else n
        if wanted_random:
            randoms = list(self.space.sample_distinct(self.rng, wanted_random, self.seen).values())
            self._init_left = max(0, self._init_left - len(randoms))
            out.extend(randoms)
            self.origins.extend([("random", None)] * len(randoms))
            self._mark(randoms)
        while len(out) < n and self.population:
            child, origin = self._child()
            if child is None:
                break
            out.append(child)
            self.origins.append(origin)
            self._mark([child])
        return out

    def _child(self) -> tuple[Architecture | None, tuple[str, str | None]]:
        """One tournament winner's mutation not seen before (or a random fallback).

        Everything already handed out is in ``seen`` (``ask`` marks as it goes),
        so the children of one batch are distinct too.
        """
        members = list(self.population)
        picks = self.rng.integers(len(members), size=self.tournament_size)
        parent = members[self._winner(members, [int(i) for i in picks])][0]
        parent_key = self.space.canonical_hash(parent)
        for _ in range(self.max_retries + 1):
            child = self.space.mutate(parent, self.rng)
            if self.space.canonical_hash(child) not in self.seen:
                return child, ("child", parent_key)
        fallback = list(self.space.sample_distinct(self.rng, 1, self.seen).values())
        return (fallback[0], ("fallback", parent_key)) if fallback else (None, ("fallback", parent_key))

    def _winner(self, members: list[tuple[Architecture, Any]], picks: list[int]) -> int:
        """The index (into ``members``) of the tournament's winner among ``picks``: the highest score,
        the first of the best on ties (a deterministic choice)."""
        return max(picks, key=lambda i: members[i][1])

    def _fitness(self, result: EvalResult) -> Any:
        """What the population keeps of a result (the score; a vector for several objectives)."""
        return score(result)

    def _observe(self, pairs: list[tuple[Architecture, EvalResult]]) -> None:
        archs = [a for a, _ in pairs]
        self.seen.update(self.space.canonical_hashes(archs))
        for arch, result in pairs:
            self.population.append((arch, self._fitness(result)))


