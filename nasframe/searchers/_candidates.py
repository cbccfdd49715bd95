"""Candidate pools: the architectures a model-guided searcher scores each round.

A model can only rank what it is shown. Mutations of the best architectures
so far concentrate the pool where the search already found good regions
(BANANAS' and NASLib's mutation pool); fresh samples of the space keep some
of it elsewhere. Everything in a pool is new (by canonical hash), so no
score is spent on an architecture already proposed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace
from nasframe.searchers._checks import require_integers


def check_pool(candidates: int, random_candidates: int, mutate_top: int) -> None:
    """Raise ``ValueError`` unless the pool settings give a non-empty pool from at least one parent."""
    require_integers(("candidates", candidates, 0), ("random_candidates", random_candidates, 0),
                     ("mutate_top", mutate_top, 1))
    if candidates + random_candidates < 1:
        raise ValueError("candidates + random_candidates must be at least 1")


def mutation_candidates(
    space: SearchSpace,
    rng: np.random.Generator,
    parents: Sequence[Architecture],
    count: int,
    exclude: set[str],
    *,
    random_count: int = 0,
    at_least: int = 0,
) -> list[Architecture]:
    """The candidate pool: mutations of ``parents`` plus random samples, all new.

    Each parent gets ``count // len(parents)`` single-edit mutations (NASLib's
    split; the remainder goes to the first parents), then ``random_count``
    fresh samples join. Duplicates and anything in ``exclude`` are dropped;
    when fewer than ``at_least`` remain, fresh samples top the pool up (fewer
    only if the space is nearly exhausted), so a large batch is never cut
    short by a small mutation pool.
    """
    pool: dict[str, Architecture] = {}
    if parents and count > 0:
        share, extra = divmod(count, len(parents))
        children = [
            space.mutate(parent, rng)
            for i, parent in enumerate(parents)
            for _ in range(share + (i < extra))
        ]
        for key, child in zip(space.canonical_hashes(children), children):
            if key not in exclude and key not in pool:
                pool[key] = child
    taken = exclude | set(pool)
    wanted = max(random_count, at_least - len(pool))
    if wanted > 0:
        pool.update(space.sample_distinct(rng, wanted, taken))
    return list(pool.values())


__all__ = ["check_pool", "mutation_candidates"]
