"""Tabular benchmarks: exact lookup of measured results by canonical hash.

A tabular benchmark never guesses: an architecture without a measured result
raises :class:`~benchmarks.base.UnknownArchitecture`. Lookups are vectorised
(a pandas hash index over the canonical hashes, then array gathers), so the
cost per query is a few hundred nanoseconds once the hashes are known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from benchmarks.base import METRICS, Benchmark, QueryResult, ResultSet, UnknownArchitecture
from nasframe.core import Architecture

if TYPE_CHECKING:
    import pandas as pd


class _Fidelity:
    """All repeats of one fidelity as ``(metric, architecture, repeat)`` arrays."""

    def __init__(self, rows: pd.DataFrame, index: pd.Index) -> None:
        position = index.get_indexer(rows["hash"])
        repeat = rows.groupby("hash", sort=False).cumcount().to_numpy()
        self.counts = np.bincount(position, minlength=len(index))
        width = max(int(self.counts.max(initial=0)), 1)
        #: every architecture has a result here (queries then skip the check)
        self.complete = bool(self.counts.all())
        self.values = np.full((len(METRICS), len(index), width), np.nan)
        for m, metric in enumerate(METRICS):
            self.values[m, position, repeat] = rows[metric].to_numpy(float)
        with np.errstate(all="ignore"):  # all-NaN metrics stay NaN on purpose
            self.means = np.nanmean(self.values, axis=2) if width > 1 else self.values[:, :, 0].copy()


class TabularBenchmark(Benchmark):
    """Answers from a :class:`ResultSet`.

    ``noise=False`` gives the mean over repeats; ``noise=True`` picks one
    repeat per architecture uniformly at random, i.e. one real training run,
    as NB101's API does. Where the data has a single run per architecture
    both are that run.
    """

    def __init__(self, results: ResultSet, name: str | None = None) -> None:
        import pandas as pd  # imported here: loading the package must not cost a pandas import

        self.name = name or results.source
        self.space = results.space
        self.results = results
        self._index = pd.Index(list(results.archs))
        # hash -> row, prebuilt: as fast as pandas' get_indexer on large batches and far
        # faster on small ones, where get_indexer rebuilds an Index of its argument per call
        self._rows = {key: row for row, key in enumerate(self._index.tolist())}
        self.fidelities = tuple(results.fidelities)
        table = results.table
        self._by_epochs = {e: _Fidelity(table[table["epochs"] == e], self._index) for e in self.fidelities}

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, arch: Architecture) -> bool:
        return self.space.canonical_hash(arch) in self._rows

    def positions(self, hashes: Sequence[str], archs: Sequence[Architecture] | None = None) -> np.ndarray:
        """Row of each canonical hash; raises naming the first unknown architecture."""
        rows = self._rows
        found = [rows.get(h, -1) for h in hashes]
        position = np.array(found, dtype=np.intp)
        if -1 in found:
            missing = np.flatnonzero(position < 0)
            first = int(missing[0])
            shown = archs[first].to_json() if archs is not None else hashes[first]
            raise UnknownArchitecture(
                f"{len(missing)} of {len(hashes)} architectures are not in tabular benchmark "
                f"{self.name!r} ({len(self)} architectures); first at position {first}: {shown}"
            )
        return position

    def query_hashes(
        self, hashes: Sequence[str], epochs: int | None = None, *, noise: bool = False, seed: int | None = None
    ) -> QueryResult:
        """:meth:`query` for callers that already hold canonical hashes (the fast path)."""
        return self._lookup(self.positions(hashes), self._resolve(epochs), noise, np.random.default_rng(seed))

    def _query(
        self, archs: list[Architecture], epochs: int, noise: bool, rng: np.random.Generator
    ) -> QueryResult:
        return self._lookup(self.positions(self.space.canonical_hashes(archs), archs), epochs, noise, rng)

    def _lookup(self, position: np.ndarray, epochs: int, noise: bool, rng: np.random.Generator) -> QueryResult:
        data = self._by_epochs[epochs]
        if not data.complete:
            counts = data.counts[position]
            if not counts.all():
                first = int(np.flatnonzero(counts == 0)[0])
                raise UnknownArchitecture(
                    f"benchmark {self.name!r} has no result at {epochs} epochs for the architecture "
                    f"at position {first} (hash {self._index[position[first]]})"
                )
        if noise and data.values.shape[2] > 1:
            draw = (rng.random(len(position)) * data.counts[position]).astype(np.int64)
            picked = data.values[:, position, draw]
        else:
            picked = data.means.take(position, axis=1)  # 4x faster than fancy indexing on one architecture
        return QueryResult(picked[0], picked[1], picked[2], picked[3], epochs)

    def optimum(self) -> tuple[Architecture, float]:
        """Exact: the table's best mean validation accuracy at the largest fidelity."""
        return self.best()

    def best(self, epochs: int | None = None, metric: str = "val_accuracy") -> tuple[Architecture, float]:
        """The architecture with the highest mean ``metric``: what regret is measured against."""
        data = self._by_epochs[self._resolve(epochs)]
        values = data.means[METRICS.index(metric)]
        row = int(np.nanargmax(values))
        return self.results.archs[self._index[row]], float(values[row])
