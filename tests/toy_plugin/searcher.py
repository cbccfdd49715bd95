"""A toy searcher: mutate the best architecture so far, sample at random until there is one."""

from __future__ import annotations

import nasframe as nf


class GreedyWalk(nf.Searcher):
    name = "toy"

    def ask(self, n: int = 1) -> list[nf.Architecture]:
        best = self.best()
        if best is None:
            fresh = self.space.sample_distinct(self.rng, n, self.seen)
            return self._mark(list(fresh.values()))
        proposals: dict[str, nf.Architecture] = {}
        for _ in range(20 * n):  # mutations of the incumbent not proposed yet
            arch = self.space.mutate(best[0], self.rng)
            key = self.space.canonical_hash(arch)
            if key not in self.seen and key not in proposals:
                proposals[key] = arch
            if len(proposals) == n:
                break
        proposals.update(self.space.sample_distinct(self.rng, n - len(proposals), self.seen | set(proposals)))
        return self._mark(list(proposals.values()))


nf.register_searcher("toy", GreedyWalk)
