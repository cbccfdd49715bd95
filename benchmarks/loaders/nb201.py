"""NAS-Bench-201's real results, and the exact tabular benchmarks over them.

Two files of the data kit (``../shared/data/nb201``, see its README), both
covering all 15,625 NB201 spellings in the official architecture order:

* ``nb201_cifar10_200ep_test.json`` (``{"archs", "accuracies", "embeddings"}``):
  the official string of every cell and its CIFAR-10 **test** accuracy after
  200 epochs in percent, the mean over NB201's seeds (its best, 94.37, is
  NB201's published best CIFAR-10 test accuracy). No validation accuracy.
* ``mini_nb201_12ep.pd`` (a pandas pickle, BayesWatch's mini-NB201): columns
  ``cellstr`` and ``{cifar10, cifar100, imagenet}-{val, test}`` in percent,
  after 12 epochs (NB201's short schedule).

Isomorphic cells. NB201 trained each spelling separately, so one network
(:mod:`search_spaces.nb201.cell`: 6,985 of them) has as many records as it has
spellings, and they differ by training noise. The loaders keep every record:
the rows of one canonical hash are its ``repeat`` 0, 1, ..., in file order.
A :class:`~benchmarks.tabular.TabularBenchmark` answers the **mean** over
them (``noise=False``, and the exact optimum) and one record drawn at random
with ``noise=True`` (one real training run). So the benchmark's optimum is
the best class mean, not the best single record: 94.3733 % test on CIFAR-10
for a class with one spelling, i.e. the published number.

The data is never copied into the package: :func:`nb201_benchmark` reads it
from ``data=`` or the folder named by ``$NASFRAME_NB201``.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from benchmarks.base import ResultSet
from nasframe.core import InvalidArchitecture
from nasframe.core.errors import UserError
from search_spaces.nb201.cell import NB201Cell, parameter_count, parse_string
from search_spaces.nb201.space import NB201Space

if TYPE_CHECKING:
    from benchmarks.tabular import TabularBenchmark

JSON_FILE = "nb201_cifar10_200ep_test.json"
MINI_FILE = "mini_nb201_12ep.pd"
#: the environment variable naming the folder that holds the two files
DATA_VARIABLE = "NASFRAME_NB201"
NUM_CELLS = 15625
#: mini-NB201's column prefix per dataset name used here
MINI_DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "imagenet"}
#: classes of each dataset (ImageNet16-120 has 120)
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
#: benchmark variant -> (file, dataset)
VARIANTS = {
    "cifar10": (JSON_FILE, "cifar10"),
    "cifar10-12ep": (MINI_FILE, "cifar10"),
    "cifar100-12ep": (MINI_FILE, "cifar100"),
    "imagenet16-12ep": (MINI_FILE, "imagenet16"),
}


class NB201FormatError(UserError, ValueError):
    """An NB201 result file is unreadable or malformed; the message names the file."""


class NB201DataMissing(UserError, FileNotFoundError):
    """The NB201 data folder was not given or lacks a file; the message names ``$NASFRAME_NB201``."""


class _FrameUnpickler(pickle.Unpickler):
    """Unpickles a plain pandas DataFrame: the classes it is built from, nothing else."""

    ALLOWED = {
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas._libs.internals", "_unpickle_block"),
        ("pandas.core.internals.blocks", "new_block"),
        ("pandas._libs.internals", "BlockPlacement"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "slice"),
        # what pandas >= 3 writes (public names, pyarrow-backed strings)
        ("pandas", "DataFrame"),
        ("pandas", "Index"),
        ("pandas", "RangeIndex"),
        ("pandas", "StringDtype"),
        ("pandas.arrays", "ArrowStringArray"),
        ("pyarrow.lib", "_restore_array"),
        ("pyarrow.lib", "type_for_alias"),
        ("pyarrow.lib", "py_buffer"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a mini-NB201 table")
        if module.startswith("numpy.core."):  # numpy 2 renamed numpy.core to numpy._core
            module = "numpy._core." + module.split(".", 2)[2]
        return super().find_class(module, name)


def _cells(strings: list[Any], path: Path) -> tuple[list[str], dict[str, NB201Cell]]:
    """Canonical hash of every record's string, and each hash's cell."""
    if len(strings) != NUM_CELLS:
        raise NB201FormatError(f"{path}: {len(strings)} architectures, NB201 has {NUM_CELLS}")
    hashes, archs, seen = [], {}, set()
    for number, text in enumerate(strings):
        try:
            cell = NB201Cell(parse_string(text))
        except InvalidArchitecture as exc:
            raise NB201FormatError(f"{path}: record {number}: {exc}") from None
        if text in seen:
            raise NB201FormatError(f"{path}: record {number} repeats {text}")
        seen.add(text)
        hashes.append(cell.canonical_key())
        archs.setdefault(cell.canonical_key(), cell)
    return hashes, archs


def _percent(values: Any, path: Path, field: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NB201FormatError(f"{path}: {field} is not numeric ({exc})") from None
    bad = ~np.isfinite(array) | (array < 0.0) | (array > 100.0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise NB201FormatError(f"{path}: {field} of record {first} is {array[first]}, not a percentage")
    return array / 100.0


def _result_set(path: Path, hashes: list[str], archs: dict[str, NB201Cell], epochs: int,
                val: np.ndarray, test: np.ndarray, notes: dict[str, Any]) -> ResultSet:
    classes = NUM_CLASSES[notes["dataset"]]
    params = {h: parameter_count(cell.ops, num_classes=classes) for h, cell in archs.items()}
    table = pd.DataFrame({"hash": hashes, "epochs": epochs, "val_accuracy": val, "test_accuracy": test,
                          "train_time": np.nan, "params": [params[h] for h in hashes]})
    table.insert(2, "repeat", table.groupby("hash", sort=False).cumcount().to_numpy())
    notes = {"benchmark": "NAS-Bench-201", "records": len(table), "cells": len(archs),
             "isomorphic records": "rows of one canonical hash are its repeats (one per spelling)",
             "params": "of build_model(arch) at NB201's shape (dead branches dropped)",
             "train_time": "not in the files (NaN)", **notes}
    return ResultSet(NB201Space(), archs, table, source=str(path), notes=notes)


def load_nb201_json(path: str | Path) -> ResultSet:
    """``nb201_cifar10_200ep_test.json``: CIFAR-10 test accuracy at 200 epochs.

    ``val_accuracy`` is NaN (the file has none); ``epochs`` is 200.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NB201FormatError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or not {"archs", "accuracies"} <= set(data):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise NB201FormatError(f"{path}: expected the keys 'archs' and 'accuracies' (found {found})")
    if len(data["accuracies"]) != len(data["archs"]):
        raise NB201FormatError(f"{path}: {len(data['archs'])} archs but {len(data['accuracies'])} accuracies")
    hashes, archs = _cells(data["archs"], path)
    test = _percent(data["accuracies"], path, "accuracies")
    return _result_set(path, hashes, archs, 200, np.full(len(test), np.nan), test,
                       {"dataset": "cifar10", "metric": "test accuracy, mean over NB201's seeds",
                        "val_accuracy": "not in the file (NaN)"})


def load_mini_nb201(path: str | Path, dataset: str = "cifar10") -> ResultSet:
    """``mini_nb201_12ep.pd``: validation and test accuracy at 12 epochs on ``dataset``
    (``cifar10``, ``cifar100`` or ``imagenet16``, i.e. ImageNet16-120)."""
    path = Path(path)
    if dataset not in MINI_DATASETS:
        raise ValueError(f"unknown mini-NB201 dataset {dataset!r}; choose one of {', '.join(MINI_DATASETS)}")
    try:
        with open(path, "rb") as handle:
            frame = _FrameUnpickler(handle).load()
    except OSError as exc:
        raise NB201FormatError(f"{path}: not readable ({exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as exc:
        raise NB201FormatError(f"{path}: not a mini-NB201 pandas pickle ({exc})") from None
    if not isinstance(frame, pd.DataFrame):
        raise NB201FormatError(f"{path}: expected a pandas DataFrame, found {type(frame).__name__}")
    prefix = MINI_DATASETS[dataset]
    columns = ["cellstr", f"{prefix}-val", f"{prefix}-test"]
    missing = [c for c in columns if c not in frame]
    if missing:
        raise NB201FormatError(f"{path}: lacks columns {missing} (has {list(frame.columns)})")
    hashes, archs = _cells(frame["cellstr"].tolist(), path)
    val = _percent(frame[f"{prefix}-val"], path, f"{prefix}-val")
    test = _percent(frame[f"{prefix}-test"], path, f"{prefix}-test")
    return _result_set(path, hashes, archs, 12, val, test,
                       {"dataset": dataset, "metric": "accuracy after 12 epochs (mini-NB201)"})


def load_nb201(path: str | Path, dataset: str = "cifar10") -> ResultSet:
    """Either NB201 file, told apart by its suffix (``.json`` or the pickle)."""
    path = Path(path)
    if path.suffix == ".json":
        if dataset != "cifar10":
            raise ValueError(f"{path.name} holds CIFAR-10 only, not {dataset!r}")
        return load_nb201_json(path)
    return load_mini_nb201(path, dataset)


def data_folder(data: str | Path | None = None) -> Path:
    """``data``, else ``$NASFRAME_NB201``; a clear one-line error when neither is set."""
    folder = data if data is not None else os.environ.get(DATA_VARIABLE)
    if not folder:
        raise NB201DataMissing(
            f"NAS-Bench-201 data not found: set {DATA_VARIABLE} to the folder holding {JSON_FILE} "
            f"and {MINI_FILE} (e.g. ../shared/data/nb201), or pass data="
        )
    return Path(folder)


def nb201_benchmark(variant: str, data: str | Path | None = None) -> "TabularBenchmark":
    """The exact tabular benchmark ``nb201-<variant>`` (one of :data:`VARIANTS`).

    ``cifar10``'s file has only test accuracy, so that benchmark answers it as
    the validation accuracy too (the search objective and the regret are on
    CIFAR-10 test accuracy at 200 epochs, as the table's note says).
    """
    from benchmarks.tabular import TabularBenchmark

    if variant not in VARIANTS:
        raise ValueError(f"unknown NB201 benchmark {variant!r}; choose one of {', '.join(VARIANTS)}")
    file, dataset = VARIANTS[variant]
    path = data_folder(data) / file
    if not path.is_file():
        raise NB201DataMissing(f"NAS-Bench-201 file missing: {path} (from {DATA_VARIABLE} or data=)")
    results = load_nb201(path, dataset)
    if file == JSON_FILE:
        results.table["val_accuracy"] = results.table["test_accuracy"]
        results.notes["val_accuracy"] = "= test_accuracy: the file has no validation accuracy"
    with warnings.catch_warnings():  # train_time is NaN throughout: its mean over repeats is NaN
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        return TabularBenchmark(results, name=f"nb201-{variant}")


__all__ = [
    "DATA_VARIABLE",
    "NB201DataMissing",
    "NB201FormatError",
    "VARIANTS",
    "data_folder",
    "load_mini_nb201",
    "load_nb201",
    "load_nb201_json",
    "nb201_benchmark",
]
