"""NAS-Bench-101 results from JSON tables (``nb101_1k_with_specs.json`` and the like).

The shared data kit holds NB101 results as JSON, column-oriented (an object of
equally long lists) or as a list of record objects; some tables carry each
cell's spec, others only its official hash, resolved through the enumeration
index. See :func:`load_nb101_json`.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from benchmarks.base import ResultSet
from benchmarks.loaders.nb101 import (
    NB101_EPOCHS,
    OFFICIAL_HASH,
    NB101FormatError,
    check_spec_hashes,
    result_table,
)
from search_spaces.nb101.cell import NB101Cell
from search_spaces.nb101.space import NB101Space

if TYPE_CHECKING:
    from search_spaces.nb101.enumeration import NB101Index

#: the fidelity whose training time ``final_training_time`` of the JSON tables is
JSON_TIME_EPOCHS = 108

_ACCURACY_FIELD = re.compile(r"(\d+)_final_validation_accuracy")


def _read_json(path: Path) -> Any:
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NB101FormatError(f"{path}: not valid JSON, truncated or corrupt ({exc})") from exc


def _fields(path: Path, keys: Iterable[str]) -> tuple[list[int], list[str]]:
    """The fidelities and the required fields of a JSON table with these keys."""
    keys = set(keys)
    epochs = sorted(int(m.group(1)) for k in keys if (m := _ACCURACY_FIELD.fullmatch(k)))
    if not epochs:
        raise NB101FormatError(
            f"{path}: no '<epochs>_final_validation_accuracy' field "
            f"(expected for epochs in {', '.join(map(str, NB101_EPOCHS))})"
        )
    unknown = [e for e in epochs if e not in NB101_EPOCHS]
    if unknown:
        raise NB101FormatError(
            f"{path}: field '{unknown[0]}_final_validation_accuracy' names no NAS-Bench-101 "
            f"budget (epochs are {', '.join(map(str, NB101_EPOCHS))})"
        )
    required = ["key", *(f"{e}_final_validation_accuracy" for e in epochs)]
    required += ["final_training_time", "trainable_parameters"]
    if keys & {"adjacency", "operations"}:
        required += ["adjacency", "operations"]
    return epochs, required


def _columns(path: Path, data: Any) -> tuple[dict[str, list], list[int], str]:
    """Column lists of a dict-of-lists or list-of-dicts table, every required field checked."""
    if isinstance(data, dict):
        epochs, required = _fields(path, data)
        for name in required:
            if name not in data:
                raise NB101FormatError(f"{path}: field {name!r} is missing (from every record)")
            if not isinstance(data[name], list):
                raise NB101FormatError(
                    f"{path}: field {name!r} is a {type(data[name]).__name__}, a column-oriented "
                    "table needs one list per field"
                )
        lengths = {name: len(data[name]) for name in required}
        if len(set(lengths.values())) > 1:
            raise NB101FormatError(f"{path}: columns differ in length: {lengths}")
        columns, layout = {name: data[name] for name in required}, "columns"
    elif isinstance(data, list):
        for number, record in enumerate(data):
            if not isinstance(record, dict):
                raise NB101FormatError(f"{path}: record {number} is a {type(record).__name__}, not an object")
        epochs, required = _fields(path, {k for record in data for k in record})
        columns = {}
        for name in required:
            for number, record in enumerate(data):
                if name not in record:
                    raise NB101FormatError(f"{path}: record {number}: field {name!r} is missing")
            columns[name] = [record[name] for record in data]
        layout = "records"
    else:
        raise NB101FormatError(
            f"{path}: top level is a {type(data).__name__}; expected an object of columns "
            "(field -> list) or a list of record objects"
        )
    for name, column in columns.items():
        for number, value in enumerate(column):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                raise NB101FormatError(f"{path}: record {number}: field {name!r} is missing (null or NaN)")
    return columns, epochs, layout


def _numbers(path: Path, columns: dict[str, list], name: str) -> np.ndarray:
    column = columns[name]
    for number, value in enumerate(column):
        if type(value) not in (int, float):
            raise NB101FormatError(
                f"{path}: record {number}: field {name!r} is {value!r}, not a number"
            )
    return np.asarray(column, dtype=np.float64)


def _check_values(path: Path, columns: dict[str, list], name: str, ok: np.ndarray, rule: str) -> None:
    bad = np.flatnonzero(~ok)
    if len(bad):
        raise NB101FormatError(
            f"{path}: record {bad[0]}: field {name!r} is {columns[name][bad[0]]!r}, {rule} "
            f"({len(bad)} record(s) fail this)"
        )


def _metric_columns(
    path: Path, columns: dict[str, list], epochs: list[int]
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Validation accuracies (one array per budget), training times and parameter counts, checked."""
    accuracies = []
    for e in epochs:
        name = f"{e}_final_validation_accuracy"
        values = _numbers(path, columns, name)
        _check_values(path, columns, name, (values >= 0.0) & (values <= 1.0), "not a fraction in [0, 1]")
        accuracies.append(values)
    times = _numbers(path, columns, "final_training_time")
    _check_values(path, columns, "final_training_time", np.isfinite(times) & (times >= 0), "not a duration")
    params = _numbers(path, columns, "trainable_parameters")
    _check_values(
        path, columns, "trainable_parameters",
        np.isfinite(params) & (params > 0) & (params == np.round(params)), "not a positive integer",
    )
    return accuracies, times, params


def _cells(
    path: Path, columns: dict[str, list], keys: list[str], index: "NB101Index | None"
) -> tuple[list[NB101Cell], str]:
    """Each record's cell, and where it came from: the file's spec (hash-checked) or the index."""
    if "adjacency" in columns:
        cells = []
        for number, (adjacency, operations) in enumerate(zip(columns["adjacency"], columns["operations"])):
            try:
                cells.append(NB101Cell.from_codes(adjacency, operations))
            except (TypeError, ValueError) as exc:  # InvalidArchitecture is a ValueError
                raise NB101FormatError(f"{path}: record {number}: bad spec: {exc}") from exc
        check_spec_hashes(path, keys, cells, range(len(cells)), "record(s)")
        return cells, "file"
    if index is None:
        from search_spaces.nb101.enumeration import load_index

        index = load_index()
    wanted = np.asarray(keys, dtype=index.hashes.dtype)
    rows = np.searchsorted(index.hashes, wanted)
    found = (rows < len(index)) & (index.hashes[np.minimum(rows, len(index) - 1)] == wanted)
    if not found.all():
        number = int(np.flatnonzero(~found)[0])
        raise NB101FormatError(
            f"{path}: record {number}: key {keys[number]} is the hash of no NAS-Bench-101 cell "
            f"({int((~found).sum())} unknown key(s))"
        )
    return index.cells(rows), "enumeration index"


def load_nb101_json(path: str | os.PathLike, *, index: "NB101Index | None" = None) -> ResultSet:
    """NAS-Bench-101 results from a JSON table (``nb101_1k_with_specs.json`` and the like).

    The table is column-oriented (an object of equally long lists) or a list
    of record objects, with the fields ``key`` (official hash),
    ``<E>_final_validation_accuracy`` for some of the budgets E = 4, 12, 36,
    108, ``final_training_time`` (seconds, 108 epochs), ``trainable_parameters``
    and, optionally, the spec as ``adjacency`` (square 0/1 matrix) and
    ``operations`` (codes -1 input, -2 output, -3 padding, 0 conv3x3, 1 conv1x1,
    2 maxpool; padding vertices are dropped).

    Rows: one per record and budget; ``test_accuracy`` is NaN (the tables do
    not have it); ``train_time`` is ``final_training_time`` at 108 epochs and
    NaN at the other budgets, since the tables only time the 108-epoch run
    and NAS-Bench-101 times are not proportional to epochs (each budget is a
    separate run with its own cosine schedule and evaluation overhead);
    ``params`` is ``trainable_parameters`` at every budget (a property of the
    network, not of the run). A key that appears twice is a second repeat.

    A table with specs has every spec's official hash checked against its
    key. A table without them gets its cells from the enumeration index
    (``index``, by default :func:`~search_spaces.nb101.enumeration.load_index`,
    which builds and caches it on first use). Every failure is an :class:`NB101FormatError`
    naming the file and, where one is to blame, the record and the field.
    """
    path = Path(path)
    columns, epochs, layout = _columns(path, _read_json(path))
    keys = columns["key"]
    for number, key in enumerate(keys):
        if not (isinstance(key, str) and OFFICIAL_HASH.fullmatch(key)):
            raise NB101FormatError(f"{path}: record {number}: field 'key' is {key!r}, not a 32-digit hex MD5")
    accuracies, times, params = _metric_columns(path, columns, epochs)
    cells, spec_source = _cells(path, columns, keys, index)
    archs: dict[str, Any] = {}
    for key, cell in zip(keys, cells):
        archs.setdefault(key, cell)

    count, width = len(keys), len(epochs)
    epochs_column = np.tile(np.asarray(epochs, dtype=np.int64), count)
    train_time = np.full((count, width), np.nan)
    if JSON_TIME_EPOCHS in epochs:
        train_time[:, epochs.index(JSON_TIME_EPOCHS)] = times
    table = result_table(
        np.repeat(np.asarray(keys, dtype=object), width),
        epochs_column,
        {
            "val_accuracy": np.stack(accuracies, axis=1).reshape(-1),
            "test_accuracy": np.full(count * width, np.nan),
            "train_time": train_time.reshape(-1),
            "params": np.repeat(params, width),
        },
    )
    return ResultSet(
        space=NB101Space(),
        archs=archs,
        table=table,
        source=str(path),
        notes={
            "format": "nb101-json",
            "layout": layout,
            "specs": spec_source,
            "test_accuracy": "not in the file (NaN)",
            "train_time": f"final_training_time, known only at {JSON_TIME_EPOCHS} epochs (NaN otherwise)",
        },
    )
