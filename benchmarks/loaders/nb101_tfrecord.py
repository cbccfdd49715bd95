"""NAS-Bench-101 results from its official TFRecord files (read and written without TensorFlow).

The files (``nasbench_full.tfrecord``, ``nasbench_only108.tfrecord``):
one TFRecord per training run, whose data is the JSON list
``[module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]``:

* ``raw_adjacency``: the flattened square 0/1 matrix as a digit string;
* ``raw_operations``: comma-separated op names, ``input`` first, ``output`` last;
* ``raw_metrics``: base64 of a serialized ``nasbench.ModelMetrics`` protobuf
  (``nasbench/lib/model_metrics.proto``, proto2)::

      message ModelMetrics {
        repeated EvaluationData evaluation_data = 1;
        optional int32 trainable_parameters = 2;
        optional double total_time = 3;
      }
      message EvaluationData {
        optional double current_epoch = 1;   optional double training_time = 2;
        optional double train_accuracy = 3;   optional double validation_accuracy = 4;
        optional double test_accuracy = 5;    optional string checkpoint_path = 6;
      }

  ``trainable_parameters`` is an ``int32`` (varint on the wire), not a double.
  ``evaluation_data`` holds the evaluations at initialisation, halfway and at
  the end of training; the official API reads the end-of-training one as
  ``evaluation_data[2]``, here it is ``evaluation_data[-1]`` (the same entry in
  the official files, and the right one for files with fewer entries).

Each (hash, epochs) pair appears once per training run (3 in the official
data); runs are numbered ``repeat`` 0, 1, 2... in file order.

The two message types are built at run time from a ``FileDescriptorProto`` in
a private descriptor pool rather than shipped as a generated ``_pb2`` module:
generated modules are tied to the protobuf version that generated them (newer
runtimes refuse or warn about old gencode), while a descriptor built at run
time works with whatever protobuf is installed, and the private pool cannot
clash with the official ``nasbench`` package if a user has it imported too.
"""

from __future__ import annotations

import base64
import json
import math
import os
from array import array
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from benchmarks.base import METRICS, ResultSet
from benchmarks.loaders.nb101 import OFFICIAL_HASH, NB101FormatError, check_spec_hashes, result_table
from benchmarks.loaders.tfrecord import read_records, write_records
from nasframe.core import InvalidArchitecture
from search_spaces.nb101.cell import NB101Cell
from search_spaces.nb101.space import NB101Space

_EVALUATION_FIELDS = ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy")


@lru_cache(maxsize=None)
def model_metrics_types() -> tuple[type, type]:
    """``(ModelMetrics, EvaluationData)`` message classes of ``model_metrics.proto``."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="nasbench/lib/model_metrics.proto", package="nasbench", syntax="proto2"
    )
    metrics = proto.message_type.add(name="ModelMetrics")
    metrics.field.add(
        name="evaluation_data", number=1, label=field.LABEL_REPEATED,
        type=field.TYPE_MESSAGE, type_name=".nasbench.EvaluationData",
    )
    metrics.field.add(name="trainable_parameters", number=2, label=field.LABEL_OPTIONAL, type=field.TYPE_INT32)
    metrics.field.add(name="total_time", number=3, label=field.LABEL_OPTIONAL, type=field.TYPE_DOUBLE)
    evaluation = proto.message_type.add(name="EvaluationData")
    for number, name in enumerate(_EVALUATION_FIELDS, start=1):
        evaluation.field.add(name=name, number=number, label=field.LABEL_OPTIONAL, type=field.TYPE_DOUBLE)
    evaluation.field.add(name="checkpoint_path", number=6, label=field.LABEL_OPTIONAL, type=field.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench.ModelMetrics")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench.EvaluationData")),
    )


def _check_accuracy(value: float, what: str) -> None:
    if not 0.0 <= value <= 1.0:  # False for NaN too
        raise ValueError(f"{what} {value!r} is not a fraction in [0, 1]")


def _parse_adjacency(raw: str) -> tuple[tuple[int, ...], ...]:
    n = math.isqrt(len(raw))
    if n * n != len(raw) or n == 0:
        raise ValueError(f"adjacency string of length {len(raw)} is not a flattened square matrix")
    if raw.strip("01"):
        raise ValueError(f"adjacency string {raw!r} holds characters other than 0 and 1")
    digits = [int(c) for c in raw]
    return tuple(tuple(digits[i * n : (i + 1) * n]) for i in range(n))


def _spec_cell(raw_adjacency: str, raw_operations: str) -> NB101Cell:
    return NB101Cell(_parse_adjacency(raw_adjacency), tuple(raw_operations.split(",")))


def _decode_record(data: bytes, model_metrics: type) -> tuple[str, int, str, str, Any]:
    """``(module_hash, epochs, raw_adjacency, raw_operations, metrics)`` of one record, every field checked.

    Raises ``ValueError`` (or protobuf's ``DecodeError``) saying what is wrong;
    the caller adds the file and the record number.
    """
    row = json.loads(data)
    if type(row) is not list or len(row) != 5:
        raise ValueError(
            "data is not the JSON list [module_hash, epochs, raw_adjacency, "
            "raw_operations, raw_metrics]"
        )
    module_hash, epochs, raw_adjacency, raw_operations, raw_metrics = row
    if not (isinstance(module_hash, str) and OFFICIAL_HASH.fullmatch(module_hash)):
        raise ValueError(f"module_hash {module_hash!r} is not a 32-digit hex MD5")
    if type(epochs) is not int or epochs <= 0:
        raise ValueError(f"epochs {epochs!r} is not a positive integer")
    if not (isinstance(raw_adjacency, str) and isinstance(raw_operations, str)):
        raise ValueError("raw_adjacency and raw_operations must be strings")
    if not isinstance(raw_metrics, str):
        raise ValueError("raw_metrics must be a base64 string")
    metrics = model_metrics.FromString(base64.b64decode(raw_metrics, validate=True))
    evaluations = metrics.evaluation_data
    if not evaluations:
        raise ValueError("raw_metrics has no evaluation_data")
    final = evaluations[-1]
    if not final.HasField("validation_accuracy"):
        raise ValueError("the final evaluation_data entry has no validation_accuracy")
    _check_accuracy(final.validation_accuracy, "validation_accuracy")
    if final.HasField("test_accuracy"):
        _check_accuracy(final.test_accuracy, "test_accuracy")
    return module_hash, epochs, raw_adjacency, raw_operations, metrics


def _spec_archs(
    path: Path, specs: list[tuple[str, str, str]], first_records: list[int], verify_hash: bool
) -> dict[str, NB101Cell]:
    """The cell of every distinct ``(hash, adjacency, operations)``, by hash (the first spec wins).

    Specs are parsed once each, not once per run: the full file repeats every
    spec for each budget and run.
    """
    cells = []
    for (module_hash, raw_adjacency, raw_operations), first in zip(specs, first_records):
        try:
            cells.append(_spec_cell(raw_adjacency, raw_operations))
        except (ValueError, InvalidArchitecture) as exc:
            raise NB101FormatError(f"{path}: record {first}: bad spec: {exc}") from exc
    stored = [module_hash for module_hash, _, _ in specs]
    if verify_hash:
        check_spec_hashes(path, stored, cells, first_records, "distinct spec(s)")
    else:
        for cell, module_hash in zip(cells, stored):
            cell.__dict__["_hash"] = module_hash  # trusted, fills the cached_property
    archs: dict[str, NB101Cell] = {}
    for cell, module_hash in zip(cells, stored):
        archs.setdefault(module_hash, cell)
    return archs


def load_nb101_tfrecord(
    path: str | os.PathLike, *, verify_hash: bool = True, verify_crc: bool = True
) -> ResultSet:
    """Every training run of an official NAS-Bench-101 TFRecord file, as a :class:`ResultSet`.

    One table row per record: ``val_accuracy``/``test_accuracy`` and
    ``train_time`` (training time in seconds, evaluation excluded) from the
    last ``evaluation_data`` entry, ``params`` from ``trainable_parameters``;
    an optional field the record leaves unset reads as NaN, except the
    validation accuracy, which every record must have.

    ``verify_hash`` recomputes the official hash of every distinct spec (one
    vectorised pass) and refuses a file whose stored hash differs;
    ``verify_crc`` checks the TFRecord checksums. Errors are
    :class:`NB101FormatError` (or :class:`~benchmarks.loaders.tfrecord.TFRecordError`
    for broken framing), naming the file and the record.
    """
    path = Path(path)
    model_metrics, _ = model_metrics_types()
    from google.protobuf.message import DecodeError

    nan = math.nan
    spec_ids: dict[tuple[str, str, str], int] = {}
    spec_first: list[int] = []  # first record of each distinct spec
    hash_ids: dict[str, int] = {}
    # compact columns: ~5M runs in the full file would take ~1 GB as lists of Python objects
    row_hash, row_epochs = array("q"), array("q")
    val, test, train_time, params = array("d"), array("d"), array("d"), array("d")
    number = -1
    for number, data in enumerate(read_records(path, verify=verify_crc)):
        try:
            module_hash, epochs, raw_adjacency, raw_operations, metrics = _decode_record(data, model_metrics)
        except (ValueError, DecodeError) as exc:  # JSONDecodeError and binascii.Error are ValueErrors
            raise NB101FormatError(f"{path}: record {number}: {exc}") from exc
        final = metrics.evaluation_data[-1]

        spec = (module_hash, raw_adjacency, raw_operations)
        if spec not in spec_ids:
            spec_ids[spec] = len(spec_first)
            spec_first.append(number)
            hash_ids.setdefault(module_hash, len(hash_ids))
        row_hash.append(hash_ids[module_hash])
        row_epochs.append(epochs)
        val.append(final.validation_accuracy)
        test.append(final.test_accuracy if final.HasField("test_accuracy") else nan)
        train_time.append(final.training_time if final.HasField("training_time") else nan)
        params.append(metrics.trainable_parameters if metrics.HasField("trainable_parameters") else nan)
    if number < 0:
        raise NB101FormatError(f"{path}: holds no records (an empty file?)")

    archs = _spec_archs(path, list(spec_ids), spec_first, verify_hash)

    hash_names = np.array(list(hash_ids), dtype=object)
    table = result_table(
        hash_names[np.frombuffer(row_hash, dtype=np.int64)],
        np.frombuffer(row_epochs, dtype=np.int64),
        {"val_accuracy": val, "test_accuracy": test, "train_time": train_time, "params": params},
    )
    return ResultSet(
        space=NB101Space(),
        archs=archs,
        table=table,
        source=str(path),
        notes={
            "format": "nb101-tfrecord",
            "records": number + 1,
            "hash_verified": verify_hash,
            "metrics": "end of training: the last evaluation_data entry of each run",
        },
    )


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _encode_run(row: Mapping[str, Any], space: NB101Space, model_metrics: type) -> bytes:
    cell = space.validate(row["cell"])
    epochs = row["epochs"]
    if isinstance(epochs, (float, np.floating)) and float(epochs).is_integer():
        epochs = int(epochs)
    if not isinstance(epochs, (int, np.integer)) or epochs <= 0:
        raise ValueError(f"epochs {epochs!r} is not a positive integer")
    module_hash = row.get("hash") or cell.canonical_key()
    metrics = model_metrics()
    if "evaluations" in row:
        for evaluation in row["evaluations"]:
            unknown = set(evaluation) - {*_EVALUATION_FIELDS, "checkpoint_path"}
            if unknown:
                raise ValueError(f"unknown EvaluationData fields {sorted(unknown)}")
            metrics.evaluation_data.add(**{k: v for k, v in evaluation.items() if _present(v)})
    else:
        final = {
            "current_epoch": float(epochs),
            "training_time": row.get("train_time"),
            "train_accuracy": row.get("train_accuracy"),
            "validation_accuracy": row["val_accuracy"],
            "test_accuracy": row.get("test_accuracy"),
        }
        metrics.evaluation_data.add(**{k: float(v) for k, v in final.items() if _present(v)})
    if _present(row.get("params")):
        params = float(row["params"])
        if not params.is_integer():
            raise ValueError(f"params {row['params']!r} is not an integer")
        metrics.trainable_parameters = int(params)
    if _present(row.get("total_time")):
        metrics.total_time = float(row["total_time"])
    raw_adjacency = "".join(str(x) for line in cell.matrix for x in line)
    raw_metrics = base64.b64encode(metrics.SerializeToString()).decode("ascii")
    payload = [str(module_hash), int(epochs), raw_adjacency, ",".join(cell.ops), raw_metrics]
    return json.dumps(payload).encode("utf-8")


def _result_set_rows(results: ResultSet) -> Iterator[dict[str, Any]]:
    for row in results.table[["hash", "epochs", *METRICS]].itertuples(index=False):
        yield {"cell": results.archs[row.hash], **row._asdict()}


def write_nb101_tfrecord(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]] | ResultSet) -> int:
    """Write training runs in the official NAS-Bench-101 TFRecord layout; return the count.

    ``rows`` is a :class:`ResultSet` (every table row is exported) or mappings with

    * ``cell``: an :class:`NB101Cell` or any spec ``NB101Space.validate`` takes
      (written pruned, as the official files hold them);
    * ``epochs``;
    * ``val_accuracy`` and, optionally, ``test_accuracy``, ``train_accuracy``,
      ``train_time``: one final ``EvaluationData`` entry is written from them;
      or instead ``evaluations``: the whole ``evaluation_data`` list as dicts
      of ``EvaluationData`` fields (the official files hold three: at
      initialisation, halfway and at the end; the official ``nasbench`` API
      needs all three, :func:`load_nb101_tfrecord` reads the last);
    * optionally ``params`` (``trainable_parameters``) and ``total_time``;
    * optionally ``hash``, written verbatim instead of the cell's official hash.

    Missing or NaN optional values are left unset, so they read back as NaN.
    Values are written as given; :func:`load_nb101_tfrecord` validates them.
    Repeats are implied by order: the n-th row of a (hash, epochs) pair is
    read back as repeat n. The file is written atomically.
    """
    model_metrics, _ = model_metrics_types()
    space = NB101Space()
    source = _result_set_rows(rows) if isinstance(rows, ResultSet) else rows

    def encoded() -> Iterator[bytes]:
        for number, row in enumerate(source):
            try:
                yield _encode_run(row, space, model_metrics)
            except KeyError as exc:
                raise NB101FormatError(f"{path}: row {number}: missing field {exc.args[0]!r}") from exc
            except (TypeError, ValueError) as exc:  # InvalidArchitecture is a ValueError
                raise NB101FormatError(f"{path}: row {number}: {exc}") from exc

    return write_records(path, encoded())
