"""Predictor-guided extrapolation: search a larger space with a predictor trained on a smaller one.

Lukasik et al. (GCPR 2020; "Smooth Variational Graph Embeddings", NeurIPS
2021) train a graph neural predictor on the architectures a benchmark has
(ENAS with 6 layers, NB101 cells with up to 7 vertices) and let it pick
architectures of a larger configuration (12 layers, 8 vertices) that no
benchmark covers; the picks are then trained for real. A graph network can
do this because it learns functions of nodes and their neighbourhoods, not of
positions (see :meth:`surrogates.base.Surrogate.transferred`).

Every round:

1. a candidate pool of the larger space: ``candidates`` mutations of the
   ``mutate_top`` best architectures so far (by observed accuracy once there
   are results, else by prediction) plus ``random_candidates`` fresh samples,
   all new (canonical hash against ``seen``);
2. the fixed predictor scores the pool (``acquisition`` over its ensemble
   mean and spread, :mod:`nasframe.searchers._acquisition`, as in BANANAS);
3. the ``n`` best are proposed.

``min_nodes`` restricts proposals to graphs of at least that many nodes (the
part of the larger space that is new). Where such graphs are rare under the
space's sampler (NB101 cells with 8 vertices and at most 9 edges are nearly
chains; docs/SPACES.md says how rare) the pool is grown first: up to
``grow_rounds`` times, the largest candidates so far are mutated again,
until ``5 n`` candidates are large enough.

The predictor is never refitted: its knowledge is of the smaller space, and
the few expensive evaluations of the larger one only choose the parents. It
is not part of :meth:`state_dict`: like the space, it does not change, and a
resumed searcher is constructed with the same ``predictor`` argument.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from nasframe.core import Architecture, SearchSpace, Searcher
from nasframe.searchers._acquisition import acquisition_scores, check_acquisition, top_indices
from nasframe.searchers._candidates import check_pool, mutation_candidates


def _load_predictor(predictor: Any) -> Any:
    """A fitted surrogate from an object or a folder written by ``Surrogate.save``."""
    if isinstance(predictor, (str, Path)):
        from surrogates import Surrogate

        return Surrogate.load(predictor)
    if not hasattr(predictor, "transferred"):
        raise TypeError(f"predictor must be a fitted surrogate or its folder, got {type(predictor).__name__}")
    return predictor


class PredictorExtrapolation(Searcher):
    """Proposes architectures of ``space`` by a predictor fitted on a smaller configuration of it.

    Parameters
    ----------
    space:
        The space to search (e.g. ``ENASSpace(num_layers=12)``).
    predictor:
        A fitted graph surrogate (``gin``, ``gcn``, ``vsgae-mlp``) of the same
        space family, or the folder it was saved to: a model, not a family
        name (BANANAS' and BO's ``surrogate=`` name a family they fit themselves).
    candidates, mutate_top, random_candidates:
        The pool per round (see the module documentation).
    acquisition:
        ``"its"``, ``"ei"`` or ``"ucb"`` over the predictor's members.
    min_nodes, grow_rounds:
        Propose only graphs with at least ``min_nodes`` nodes (``space.dag``),
        growing the pool for at most ``grow_rounds`` rounds to find them.
    """

    name = "extrapolate"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        predictor: Any,
        candidates: int = 500,
        mutate_top: int = 10,
        random_candidates: int = 500,
        acquisition: str = "ucb",
        min_nodes: int | None = None,
        grow_rounds: int = 20,
    ) -> None:
        super().__init__(space, seed=seed)
        check_acquisition(acquisition)
        check_pool(candidates, random_candidates, mutate_top)
        self.candidates, self.mutate_top, self.random_candidates = candidates, mutate_top, random_candidates
        self.acquisition = acquisition
        self.min_nodes, self.grow_rounds = min_nodes, grow_rounds
        self._predictor = _load_predictor(predictor).transferred(space)
        self._predicted: dict[str, tuple[Architecture, float]] = {}

    def _score(self, pool: list[Architecture]) -> np.ndarray:
        mean, std = self._predictor.predict(pool)
        for key, arch, value in zip(self.space.canonical_hashes(pool), pool, mean):
            self._predicted[key] = (arch, float(value))
        best = max((r.val_accuracy for _, r in self.history), default=float(np.max(mean)))
        return acquisition_scores(self.acquisition, mean, std, best, self.rng)

    def _parents(self) -> list[Architecture]:
        if self.history:
            ranked = sorted(self.history, key=lambda pair: -pair[1].val_accuracy)
            return [arch for arch, _ in ranked[: self.mutate_top]]
        ranked = sorted(self._predicted.values(), key=lambda item: -item[1])
        return [arch for arch, _ in ranked[: self.mutate_top]]

    def _nodes(self, arch: Architecture) -> int:
        return len(self.space.dag(arch).node_types)  # type: ignore[attr-defined]

    def _pool(self, n: int) -> list[Architecture]:
        parents = self._parents()
        if parents:
            pool = mutation_candidates(self.space, self.rng, parents, self.candidates, set(self.seen),
                                       random_count=self.random_candidates, at_least=n)
        else:  # first round: nothing to mutate yet
            pool = list(self.space.sample_distinct(self.rng, self.candidates + self.random_candidates,
                                                   self.seen).values())
        if self.min_nodes is None:
            return pool
        found = dict(zip(self.space.canonical_hashes(pool), pool))
        nodes = {key: self._nodes(arch) for key, arch in found.items()}  # each graph built once
        for _ in range(self.grow_rounds):
            if sum(count >= self.min_nodes for count in nodes.values()) >= 5 * n:
                break
            growers = [found[key] for key in sorted(nodes, key=nodes.__getitem__, reverse=True)[: self.mutate_top]]
            grown = mutation_candidates(self.space, self.rng, growers, self.candidates, self.seen | set(found))
            for key, arch in zip(self.space.canonical_hashes(grown), grown):
                found[key], nodes[key] = arch, self._nodes(arch)
        return [found[key] for key, count in nodes.items() if count >= self.min_nodes]

    def ask(self, n: int = 1) -> list[Architecture]:
        pool = self._pool(n)
        if not pool:
            return []
        chosen = top_indices(self._score(pool), n)
        return self._mark([pool[i] for i in chosen])

    def predicted_best(self, k: int = 1) -> list[tuple[Architecture, float]]:
        """The ``k`` architectures with the highest predicted accuracy among all scored so far."""
        return sorted(self._predicted.values(), key=lambda item: -item[1])[:k]

    def state_dict(self) -> dict[str, Any]:
        """Plain data without the predictor: a resumed searcher is built with the same one."""
        return {k: (v if k == "space" else copy.deepcopy(v)) for k, v in self.__dict__.items() if k != "_predictor"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        predictor = self._predictor
        super().load_state_dict(state)
        self._predictor = predictor
