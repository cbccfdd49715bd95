"""Random search: the baseline every NAS result is measured against."""

from __future__ import annotations

from nasframe.core import Architecture, Searcher


class RandomSearch(Searcher):
    """Draws from the space's sampling distribution, never proposing an architecture twice.

    For NB101 that is NB101's own ``random_spec`` distribution (what the
    published random-search baselines use), not uniform over unique cells.
    """

    name = "random"

    def ask(self, n: int = 1) -> list[Architecture]:
        return self._mark(list(self.space.sample_distinct(self.rng, n, self.seen).values()))
