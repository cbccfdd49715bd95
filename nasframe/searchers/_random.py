"""Random search: the baseline every NAS result is measured against."""

from __future__ import annotations

from typing import Container

from nasframe.core import Architecture, Searcher

#: draws per wanted architecture before accepting that the space is (nearly) exhausted
_MAX_DRAWS = 50


def fresh_random(
    searcher: Searcher, n: int, max_draws: int = _MAX_DRAWS, exclude: Container[str] = ()
) -> list[Architecture]:
    """Up to ``n`` architectures from ``searcher.space.sample`` that are not in
    ``searcher.seen`` (nor ``exclude``, hashes) and distinct from each other
    (fewer only when the space is (nearly) exhausted). Does not mark them."""
    space = searcher.space
    fresh: dict[str, Architecture] = {}
    for _ in range(max_draws):
        if len(fresh) == n:
            break
        batch = space.sample(searcher.rng, n - len(fresh))
        for key, arch in zip(space.canonical_hashes(batch), batch):
            if key not in searcher.seen and key not in fresh and key not in exclude:
                fresh[key] = arch
    return list(fresh.values())


class RandomSearch(Searcher):
    """Draws from the space's sampling distribution, never proposing an architecture twice.

    For NB101 that is NB101's own ``random_spec`` distribution (what the
    published random-search baselines use), not uniform over unique cells.
    """

    name = "random"

    def ask(self, n: int = 1) -> list[Architecture]:
        return self._mark(fresh_random(self, n))
