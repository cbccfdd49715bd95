"""Benchmarks: batched, offline answers to "what would this architecture score?".

``benchmarks.load("nb101")`` gives a shipped surrogate benchmark,
``benchmarks.load("nbgraph-cora")`` an exhaustive tabular one; see
``docs/SURROGATES.md``. The performance scripts live outside the package, in
``scripts/perf/`` (results in ``docs/PERFORMANCE.md``).
"""

from benchmarks.base import METRICS, Benchmark, QueryResult, ResultSet, UnknownArchitecture
from benchmarks.catalog import FORMATS, load, load_results, names
from benchmarks.surrogate import SurrogateBenchmark
from benchmarks.tabular import TabularBenchmark

__all__ = [
    "METRICS",
    "FORMATS",
    "Benchmark",
    "QueryResult",
    "ResultSet",
    "SurrogateBenchmark",
    "TabularBenchmark",
    "UnknownArchitecture",
    "load",
    "load_results",
    "names",
]
