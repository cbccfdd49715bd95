"""NAS-Bench-Graph's tables, read offline from the installed ``nas-bench-graph`` wheel.

The PyPI package (1.4.0) ships one pickle per dataset,
``nas_bench_graph/light/<dataset>.bench``: a dict ``valid_hash -> {"valid_perf",
"perf", "latency", "para"}``. Facts the loader relies on (checked against the
package and the benchmark's training code):

* ``valid_perf`` / ``perf``: validation / test accuracy as fractions (ROC-AUC
  for ogbn-proteins), each the mean over the benchmark's three seeds; the
  benchmark's worker reports the test value at the epoch of best validation
  accuracy;
* ``para``: parameters in **millions** (``np.sum(sizes) / 1e6`` in the
  benchmark's worker); ``params`` here is ``round(para * 1e6)``, a count. For
  physics 1,567 of the values are not whole counts (the three runs disagree),
  so their rounded mean is not the count of any one network;
* ``latency``: seconds of one full-graph inference forward pass (timed at the
  last training epoch), kept in the extra column ``latency``; the tables
  carry no training time, so ``train_time`` is NaN;
* the package does not record the number of training epochs (the benchmark
  tuned it per dataset and did not publish it with the tables), so
  ``epochs`` is -1, the single budget.

The eight node-classification tables cover all 26,206 architectures of
:class:`~search_spaces.nbgraph.NBGraphSpace`; the proteins table the 2,021 of
``NBGraphSpace("proteins")``. The loader checks that the keys are exactly the
enumerated hashes, so every table row has its architecture and vice versa.

The pickles hold only dicts, floats and numpy scalars; they are read with an
unpickler that refuses any other class.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.base import ResultSet
from nasframe.core.errors import UserError
from search_spaces.nbgraph.datasets import DATASET_NAMES, get_dataset
from search_spaces.nbgraph.space import NBGraphSpace
from search_spaces.nbgraph.spellings import enumerate_archs

FIELDS = ("valid_perf", "perf", "latency", "para")
#: the benchmark trained each architecture with three seeds; the tables hold their means
REPEATS_AVERAGED = 3


class NBGraphFormatError(UserError, ValueError):
    """A NAS-Bench-Graph table is unreadable or malformed; the message names the file."""


class _TableUnpickler(pickle.Unpickler):
    """Allows the two globals the tables use (numpy scalars and dtypes), nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if name == "scalar" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            try:
                from numpy._core.multiarray import scalar
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import scalar  # type: ignore[no-redef]
            return scalar
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a NAS-Bench-Graph table")


def table_path(dataset: str) -> Path:
    """Where the installed package keeps ``dataset``'s table."""
    get_dataset(dataset)  # the error lists the nine names
    spec = importlib.util.find_spec("nas_bench_graph")
    if spec is None or spec.origin is None:
        raise ImportError(
            "NAS-Bench-Graph tables need the 'nas-bench-graph' package (pip install nas-bench-graph)"
        )
    return Path(spec.origin).parent / "light" / f"{dataset}.bench"


def read_table(dataset: str) -> dict[int, dict[str, float]]:
    """The raw table of ``dataset``: ``valid_hash -> {valid_perf, perf, latency, para}``."""
    path = table_path(dataset)
    try:
        with open(path, "rb") as handle:
            table = _TableUnpickler(handle).load()
    except FileNotFoundError:
        raise NBGraphFormatError(f"{path}: table file missing from the nas-bench-graph package") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise NBGraphFormatError(f"{path}: not a NAS-Bench-Graph table ({exc})") from None
    if not isinstance(table, dict):
        raise NBGraphFormatError(f"{path}: expected a dict of results, found {type(table).__name__}")
    return table


def _columns(table: dict[Any, Any], path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        keys = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
    except (TypeError, ValueError, OverflowError):
        raise NBGraphFormatError(f"{path}: table keys are not integer hashes") from None
    values = list(table.values())
    columns = {}
    for field in FIELDS:
        try:
            columns[field] = np.fromiter((v[field] for v in values), dtype=np.float64, count=len(values))
        except (KeyError, TypeError, ValueError) as exc:
            raise NBGraphFormatError(f"{path}: a record lacks a numeric {field!r} ({exc!r})") from None
        if not np.isfinite(columns[field]).all():
            bad = int(keys[~np.isfinite(columns[field])][0])
            raise NBGraphFormatError(f"{path}: {field!r} of hash {bad} is not finite")
    for field in ("valid_perf", "perf"):
        outside = (columns[field] < 0.0) | (columns[field] > 1.0)
        if outside.any():
            raise NBGraphFormatError(
                f"{path}: {field!r} of hash {int(keys[outside][0])} is "
                f"{columns[field][outside][0]}, not a fraction"
            )
    return keys, columns


def load_nbgraph(dataset: str) -> ResultSet:
    """The NAS-Bench-Graph results of one of the nine datasets as a :class:`ResultSet`.

    One row per architecture (``repeat`` 0, ``epochs`` -1), sorted by hash;
    columns ``val_accuracy`` (``valid_perf``), ``test_accuracy`` (``perf``),
    ``train_time`` (NaN), ``params`` (``round(para * 1e6)``) and ``latency``
    (seconds). The space is ``NBGraphSpace()``, or ``NBGraphSpace("proteins")``
    for proteins. The space's enumeration is built once per process and
    cached; later tables reuse it (timings in ``docs/PERFORMANCE.md``).
    """
    info = get_dataset(dataset)
    path = table_path(dataset)
    keys, columns = _columns(read_table(dataset), path)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    archs = {a.hash: a for a in enumerate_archs(info.op_set)}
    missing = np.setdiff1d(keys, np.fromiter(archs, dtype=np.int64, count=len(archs)))
    if missing.size:
        raise NBGraphFormatError(
            f"{path}: {missing.size} keys are not architectures of the {info.op_set!r} op set, "
            f"e.g. {int(missing[0])}"
        )
    if len(keys) != len(archs) or len(np.unique(keys)) != len(keys):
        raise NBGraphFormatError(
            f"{path}: {len(np.unique(keys))} distinct keys for the {len(archs)} architectures of the space"
        )
    hashes = keys.astype(str)
    table = pd.DataFrame(
        {
            "hash": hashes,
            "epochs": np.full(len(keys), -1, dtype=np.int64),
            "repeat": np.zeros(len(keys), dtype=np.int64),
            "val_accuracy": columns["valid_perf"][order],
            "test_accuracy": columns["perf"][order],
            "train_time": np.full(len(keys), np.nan),
            "params": np.rint(columns["para"][order] * 1e6),
            "latency": columns["latency"][order],
        }
    )
    return ResultSet(
        NBGraphSpace(info.op_set),
        {h: archs[int(k)] for h, k in zip(hashes, keys)},
        table,
        source=str(path),
        notes={
            "benchmark": "NAS-Bench-Graph (nas-bench-graph light tables)",
            "dataset": dataset,
            "metric": info.metric,
            "repeats_averaged": REPEATS_AVERAGED,
            "epochs": "-1: single budget; the tables do not record the number of training epochs",
            "params": "round(para * 1e6): para is in millions",
            "latency": "seconds per full-graph inference forward pass",
            "train_time": "not in the tables (NaN)",
        },
    )


__all__ = ["DATASET_NAMES", "NBGraphFormatError", "load_nbgraph", "read_table", "table_path"]
