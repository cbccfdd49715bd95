"""Benchmarks by name, and result files by format.

``load("nb101")`` returns the surrogate benchmark shipped inside the package
(fitted by :mod:`benchmarks.shipping` on the real data of the shared kit; the
data itself is never shipped). ``load("nbgraph-cora")`` reads the exhaustive
nas-bench-graph tables from the PyPI package. ``load(path)`` opens a saved
surrogate benchmark folder (what ``nasframe benchmark build`` writes);
``factory(name)`` is what builds either, without building it yet.
The built-in names are registered below into :data:`nasframe.core.BENCHMARKS`;
third-party benchmarks join with one ``BENCHMARKS.register`` call or through
the ``nasframe.benchmarks`` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Mapping

from benchmarks.base import Benchmark, ResultSet
from nasframe.core.errors import UnknownName
from nasframe.core.registry import BENCHMARKS

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
            f"`python -m benchmarks.shipping --data ../shared/data --only {name}`"
        )
    return SurrogateBenchmark.load(folder)


def _nbgraph(dataset: str) -> Benchmark:
    from benchmarks.loaders.nbgraph import load_nbgraph
    from benchmarks.tabular import TabularBenchmark

    return TabularBenchmark(load_nbgraph(dataset), name=f"nbgraph-{dataset}")


def _nb201(variant: str, **kwargs: Any) -> Benchmark:
    from benchmarks.loaders.nb201 import nb201_benchmark

    return nb201_benchmark(variant, **kwargs)


#: result formats: the module and function of each loader (imported on first use)
RESULT_LOADERS = {
    "nb101-json": ("benchmarks.loaders.nb101_json", "load_nb101_json"),
    "nb101-tfrecord": ("benchmarks.loaders.nb101_tfrecord", "load_nb101_tfrecord"),
    "nb301": ("benchmarks.loaders.nb301", "load_result_jsons"),
    "dvae": ("benchmarks.loaders.dvae", "load_dvae"),
    "naslib-darts": ("benchmarks.loaders.naslib", "load_naslib_darts"),
    "nbgraph": ("benchmarks.loaders.nbgraph", "load_nbgraph"),
    "nb201": ("benchmarks.loaders.nb201", "load_nb201"),
}
FORMATS = tuple(RESULT_LOADERS)


def _loader(format: str) -> Callable[..., ResultSet]:
    """The loader function of one result-file format."""
    if format not in RESULT_LOADERS:
        raise ValueError(f"unknown result format {format!r}; known: {', '.join(FORMATS)}")
    module, function = RESULT_LOADERS[format]
    return getattr(import_module(module), function)


def load_results(path: str | Path, format: str, **kwargs: Any) -> ResultSet:
    """Real results from ``path`` in one of :data:`FORMATS` (for ``nbgraph``: the dataset name)."""
    return _loader(format)(str(path) if format == "nbgraph" else Path(path), **kwargs)


for _name in SHIPPED:
    BENCHMARKS.register(_name, partial(_shipped, _name))
BENCHMARKS.register("darts", partial(_shipped, "nb301"))
for _dataset in NBGRAPH_DATASETS:
    BENCHMARKS.register(f"nbgraph-{_dataset}", partial(_nbgraph, _dataset))
# NAS-Bench-201's exact tables, read from data= or $NASFRAME_NB201 (benchmarks.loaders.nb201)
for _variant in ("cifar10", "cifar10-12ep", "cifar100-12ep", "imagenet16-12ep"):
    BENCHMARKS.register(f"nb201-{_variant}", partial(_nb201, _variant))


def names() -> list[str]:
    return BENCHMARKS.names()


@dataclass(frozen=True)
class BenchmarkCard:
    """What each metric of a built-in benchmark is, and where its noise comes from.

    ``metrics`` maps every metric of :data:`benchmarks.base.METRICS` to
    ``"exact: ..."`` (a recorded or computed number), ``"predicted: ..."`` (a
    model's answer) or ``"none: ..."`` (NaN, and why). ``noise`` says what
    ``noise=True`` (what searchers see) adds, and whether it was checked
    against real repeats.
    """

    summary: str
    metrics: Mapping[str, str]
    noise: str


_NB101_NOISE = (
    "N(mean, GIN member spread), the spread capped at 0.93 pp (its 0.99 quantile over the 10,501 "
    "architectures of the data; benchmark.json 'noise'); checked on the 39 cells with 2-3 real NB101 runs "
    "in the data kit: Kendall tau 0.838 between two real runs, 0.853 between a draw and a real run, 0.909 "
    "between two draws (docs/SURROGATES.md, 'Seed noise')"
)
_UNCALIBRATED = "N(mean, member spread) as NB301 assumes; not calibrated: the data has no real repeats ({why})"
CARDS: dict[str, BenchmarkCard] = {
    "nb101": BenchmarkCard(
        "NAS-Bench-101 surrogate, 108 epochs: GIN ensemble (5 members) fitted on 10,501 real cells",
        {"val_accuracy": "predicted: GIN ensemble mean (read from the table of its answers for all 423,624 cells)",
         "test_accuracy": "none: the data kit's NB101 files hold validation accuracy only, so no test model",
         "train_time": "predicted: XGBoost (mean only) on final_training_time",
         "params": "exact: counted from the cell (search_spaces.nb101.parameters.parameter_counts)"},
        _NB101_NOISE),
    "enas": BenchmarkCard(
        "ENAS macro space (6 layers): XGBoost ensemble on D-VAE's weight-sharing accuracies",
        {"val_accuracy": "predicted: XGBoost ensemble mean of a supernet's weight-sharing accuracy",
         "test_accuracy": "none: not in the data", "train_time": "none: not in the data",
         "params": "none: not in the data"},
        _UNCALIBRATED.format(why="one weight-sharing evaluation per architecture")),
    "nb301": BenchmarkCard(
        "DARTS space: XGBoost ensemble on NASLib's 725 NB301 v1.0 predictions (a peer's model, not trainings)",
        {"val_accuracy": "predicted: XGBoost ensemble mean of NB301 v1.0's predictions",
         "test_accuracy": "none: not in the data", "train_time": "none: not in the data",
         "params": "predicted: XGBoost (mean only) on the data's parameter counts"},
        _UNCALIBRATED.format(why="the labels are NB301 predictions, one per architecture")),
}
CARDS["darts"] = CARDS["nb301"]
for _dataset in NBGRAPH_DATASETS:
    CARDS[f"nbgraph-{_dataset}"] = BenchmarkCard(
        f"nas-bench-graph {_dataset}: exhaustive table of 26,206 GNN architectures",
        {"val_accuracy": "exact: the table's valid_perf", "test_accuracy": "exact: the table's perf",
         "train_time": "none: not in the table", "params": "exact: the table's para x 1e6"},
        "none: one averaged record per architecture, so noise=True answers the same value")
for _variant, _what in (("cifar10", "CIFAR-10 test accuracy after 200 epochs, answered as val and test"),
                        ("cifar10-12ep", "CIFAR-10 val + test after 12 epochs"),
                        ("cifar100-12ep", "CIFAR-100 val + test after 12 epochs"),
                        ("imagenet16-12ep", "ImageNet16-120 val + test after 12 epochs")):
    CARDS[f"nb201-{_variant}"] = BenchmarkCard(
        f"NAS-Bench-201 exhaustive table: {_what} (data from $NASFRAME_NB201)",
        {"val_accuracy": "exact: mean over the records of the network's spellings"
                         + (" (test accuracy: the file has no validation)" if _variant == "cifar10" else ""),
         "test_accuracy": "exact: mean over the records of the network's spellings",
         "train_time": "none: not in the files", "params": "exact: counted from build_model at NB201's shape"},
        "real: one record of one of the network's spellings (a separate real training), drawn per query")


def card(name: str) -> BenchmarkCard | None:
    """The card of a built-in benchmark; ``None`` for a plug-in or a saved folder (see its benchmark.json)."""
    return CARDS.get(name)


def factory(name: str | Path) -> Callable[..., Benchmark]:
    """What builds benchmark ``name``: a registered name's factory, else a saved benchmark folder's loader.

    A ``Path``, or text with a ``/``, is a folder; a bare name is a registered
    name first (so a folder ``nb101`` in the working directory does not hide
    the shipped benchmark), else a folder of that name (``my-bench``, as
    ``nasframe benchmark build --out my-bench`` wrote it). The loader holds the
    folder's absolute path, so Ray workers in another working directory open
    the same folder; a folder without a benchmark is refused here, before any
    work.
    """
    text = str(name)
    if not isinstance(name, Path) and "/" not in text:
        try:
            return BENCHMARKS.factory(text)
        except UnknownName as exc:
            if not Path(text).is_dir():
                raise UnknownName(f"{exc}; nor is {text!r} a saved benchmark folder") from None
    from benchmarks.surrogate import MANIFEST, SurrogateBenchmark

    folder = Path(text).resolve()
    if not (folder / MANIFEST).is_file():
        raise UnknownName(f"benchmark {text!r}: {folder} is not a saved benchmark folder (no {MANIFEST} there)")
    return partial(SurrogateBenchmark.load, str(folder))


def load(name: str | Path, **kwargs: Any) -> Benchmark:
    """A benchmark by registered name, or a saved surrogate benchmark folder by path (see :func:`factory`)."""
    return factory(name)(**kwargs)
