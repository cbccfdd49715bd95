"""Benchmarks by name, and result files by format.

``load("nb101")`` returns the surrogate benchmark shipped inside the package
(fitted by :mod:`benchmarks.recipes` on the real data of the shared kit; the
data itself is never shipped). ``load("nbgraph-cora")`` reads the exhaustive
nas-bench-graph tables from the PyPI package. ``load(path)`` opens a saved
surrogate benchmark folder (what ``nasframe benchmark build`` writes).
Third-party benchmarks join through the ``nasframe.benchmarks`` entry-point
group.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable

from benchmarks.base import Benchmark, ResultSet
from nasframe.core import registry

#: shipped surrogate benchmarks live here, one folder per name
MODELS = Path(__file__).resolve().parent / "models"
SHIPPED = ("nb101", "enas", "nb301")
NBGRAPH_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")


def _shipped(name: str) -> Benchmark:
    from benchmarks.surrogate import SurrogateBenchmark

    folder = MODELS / name
    if not folder.is_dir():
        raise FileNotFoundError(
            f"shipped benchmark {name!r} is missing from {MODELS}; rebuild it with "
            f"`python -m benchmarks.recipes --data ../shared/data --only {name}`"
        )
    return SurrogateBenchmark.load(folder)


def _nbgraph(dataset: str) -> Benchmark:
    from benchmarks.loaders.nbgraph import load_nbgraph
    from benchmarks.tabular import TabularBenchmark

    return TabularBenchmark(load_nbgraph(dataset), name=f"nbgraph-{dataset}")


def _loader(format: str) -> Callable[..., ResultSet]:
    """The loader function of one result-file format (imported lazily)."""
    if format == "nb101-json":
        from benchmarks.loaders.nb101 import load_nb101_json as fn
    elif format == "nb101-tfrecord":
        from benchmarks.loaders.nb101 import load_nb101_tfrecord as fn
    elif format == "nb301":
        from benchmarks.loaders.nb301 import load_result_jsons as fn
    elif format == "dvae":
        from benchmarks.loaders.dvae import load_dvae as fn
    elif format == "naslib-darts":
        from benchmarks.loaders.naslib import load_naslib_darts as fn
    elif format == "nbgraph":
        from benchmarks.loaders.nbgraph import load_nbgraph as fn
    else:
        raise ValueError(f"unknown result format {format!r}; known: {', '.join(FORMATS)}")
    return fn


FORMATS = ("nb101-json", "nb101-tfrecord", "nb301", "dvae", "naslib-darts", "nbgraph")


def load_results(path: str | Path, format: str, **kwargs: Any) -> ResultSet:
    """Real results from ``path`` in one of :data:`FORMATS` (for ``nbgraph``: the dataset name)."""
    return _loader(format)(str(path) if format == "nbgraph" else Path(path), **kwargs)


for _name in SHIPPED:
    registry.benchmarks.register(_name, partial(_shipped, _name))
registry.benchmarks.register("darts", partial(_shipped, "nb301"))
for _dataset in NBGRAPH_DATASETS:
    registry.benchmarks.register(f"nbgraph-{_dataset}", partial(_nbgraph, _dataset))


def names() -> list[str]:
    return registry.benchmarks.names()


def load(name: str | Path, **kwargs: Any) -> Benchmark:
    """A benchmark by registered name, or a saved surrogate benchmark folder by path."""
    if isinstance(name, Path) or "/" in name:
        from benchmarks.surrogate import SurrogateBenchmark

        return SurrogateBenchmark.load(name)
    return registry.benchmarks.create(name, **kwargs)
