"""NAS-Bench-301's data layout: a directory (or tar archive) of per-architecture result JSONs.

NB301 (Siems et al.) fits its surrogates on one ``results_*.json`` per trained
architecture; Accel-NASBench publishes its ImageNet data the same way. This
module reads such a collection into a :class:`~benchmarks.base.ResultSet`:

* ``path`` is a directory (searched recursively) or a ``.tar``/``.tar.gz``/
  ``.tgz``/``.tar.bz2``/``.tar.xz`` archive, whose members are streamed with
  :mod:`tarfile` (nothing is extracted to disk);
* files are read in natural order of their path (``result_2`` before
  ``result_10``), so the table, the repeat numbering and the first error
  reported do not depend on the file system or archive order. The loader
  keeps no state and writes nothing, so concurrent calls (threads, processes,
  Ray tasks) are safe;
* a record that is not valid JSON, lacks a field or holds an invalid
  architecture raises :class:`ResultFormatError` naming the archive (or
  directory) and the member; a truncated archive names the last member read;
* a result of an architecture already seen (same canonical hash and epochs)
  becomes the next ``repeat``.

Two layouts are built in, chosen from the first record's keys (``layout="auto"``)
or by name:

``"nb301"`` (automl/nasbench301, ``surrogate_models/utils.py``: ``ConfigLoader``)
    ``optimized_hyperparamater_config`` (sic): the ConfigSpace configuration,
    whose ``NetworkSelectorDatasetInfo:darts:{edge,inputs_node}_*`` keys give
    the DARTS genotype (other namespaced keys are training settings);
    ``info[0].val_accuracy`` (percent), top-level ``test_accuracy`` (percent),
    ``runtime`` (seconds of training), ``budget`` (epochs),
    ``info[0].model_parameters``. Space: :class:`~search_spaces.darts.DARTSSpace`.
    Extra column ``train_accuracy`` (fraction) when present.
``"accel"`` (afzalxo/Accel-NASBench, ``anb_dataset_jsons``)
    ``architecture``: ``block{0..6}_{e,k,l,se}``; ``metrics``: ``val_top1``,
    ``val_top5`` (percent, ImageNet validation; there is no test split),
    ``train_time`` (seconds); ``model_info``: ``params`` (millions), ``macs``
    (millions); ``platform_perf``: per device ``{throughput,latency}_mean``.
    Space: :class:`~search_spaces.mnas.MnasSpace`. ``epochs`` is -1 (one
    proxified training budget), ``test_accuracy`` NaN, ``params`` and ``macs``
    counts; extra columns ``val_top5`` (fraction), ``macs`` and one per
    ``platform_perf`` entry with its mean (throughput in images/s, latency as
    the benchmark reports it).

Any other layout: pass ``parse=`` (record -> :class:`ParsedResult`) and ``space=``.
"""

from __future__ import annotations

import json
import math
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.base import METRICS, ResultSet
from nasframe.core import Architecture, InvalidArchitecture, SearchSpace
from nasframe.core.errors import UserError

LAYOUTS = ("nb301", "accel")


class ResultFormatError(UserError, ValueError):
    """A result collection is unreadable or a record malformed; names the archive and member."""


@dataclass(frozen=True)
class ParsedResult:
    """What a layout parser extracts from one result record.

    ``arch`` is anything the target space's ``validate`` accepts. Accuracies
    are fractions, ``train_time`` seconds, ``params`` a count; ``extra``
    holds further numeric columns (one per key).
    """

    arch: Any
    val_accuracy: float
    test_accuracy: float = math.nan
    train_time: float = math.nan
    params: float = math.nan
    epochs: int = -1
    extra: Mapping[str, float] = field(default_factory=dict)


Parser = Callable[[Mapping[str, Any]], ParsedResult]


def _fraction(value: Any, name: str) -> float:
    """A percentage in [0, 100] as a fraction."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} is not a finite number: {value!r}")
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{name} = {value} is not a percentage")
    return float(value) / 100.0


def _number(value: Any, name: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} is not a number: {value!r}")
    return float(value)


def _first_present(mappings: tuple[Mapping[str, Any], ...], *keys: str) -> Any:
    for mapping in mappings:
        for key in keys:
            if key in mapping:
                return mapping[key]
    return None


def parse_nb301(record: Mapping[str, Any]) -> ParsedResult:
    """One NAS-Bench-301 result JSON (see the module docstring)."""
    from search_spaces.darts.convert import from_nb301_config

    genotype = from_nb301_config(record["optimized_hyperparamater_config"])
    infos = record["info"]
    if not isinstance(infos, list) or not infos or not isinstance(infos[0], Mapping):
        raise ValueError("'info' is not a non-empty list of dicts")
    info = infos[0]
    scopes = (record, info)
    test = _first_present(scopes, "test_accuracy")
    train_time = _first_present(scopes, "runtime", "train_time")
    budget = record.get("budget")
    if budget is not None and (isinstance(budget, bool) or not float(budget).is_integer()):
        raise ValueError(f"budget is not a whole number of epochs: {budget!r}")
    extra = {}
    if "train_accuracy" in info:
        extra["train_accuracy"] = _fraction(info["train_accuracy"], "info[0].train_accuracy")
    return ParsedResult(
        arch=genotype,
        val_accuracy=_fraction(info["val_accuracy"], "info[0].val_accuracy"),
        test_accuracy=math.nan if test is None else _fraction(test, "test_accuracy"),
        train_time=_number(train_time, "runtime"),
        params=_number(info.get("model_parameters"), "info[0].model_parameters"),
        epochs=-1 if budget is None else int(budget),
        extra=extra,
    )


def parse_accel(record: Mapping[str, Any]) -> ParsedResult:
    """One Accel-NASBench result JSON (see the module docstring)."""
    from search_spaces.mnas.arch import from_accel_config

    arch = from_accel_config(record["architecture"])
    metrics, info = record["metrics"], record["model_info"]
    extra = {
        "val_top5": _fraction(metrics["val_top5"], "metrics.val_top5"),
        "macs": round(_number(info["macs"], "model_info.macs") * 1e6),
    }
    for device, perf in sorted((record.get("platform_perf") or {}).items()):
        if not isinstance(perf, Mapping):
            raise ValueError(f"platform_perf.{device} is not a dict")
        means = [k for k in perf if k.endswith("_mean")]
        if len(means) != 1:
            raise ValueError(f"platform_perf.{device} has no single *_mean entry: {sorted(perf)}")
        extra[device] = _number(perf[means[0]], f"platform_perf.{device}.{means[0]}")
    return ParsedResult(
        arch=arch,
        val_accuracy=_fraction(metrics["val_top1"], "metrics.val_top1"),
        train_time=_number(metrics["train_time"], "metrics.train_time"),
        params=round(_number(info["params"], "model_info.params") * 1e6),
        extra=extra,
    )


PARSERS: dict[str, Parser] = {"nb301": parse_nb301, "accel": parse_accel}


def detect_layout(record: Any) -> str | None:
    """``"nb301"`` or ``"accel"`` from a record's top-level keys, else ``None``."""
    if not isinstance(record, Mapping):
        return None
    if "optimized_hyperparamater_config" in record and "info" in record:
        return "nb301"
    if {"architecture", "metrics", "model_info"} <= set(record):
        return "accel"
    return None


def default_space(layout: str) -> SearchSpace:
    """The space a built-in layout's architectures belong to."""
    if layout == "nb301":
        from search_spaces.darts.space import DARTSSpace

        return DARTSSpace()
    if layout == "accel":
        from search_spaces.mnas.space import MnasSpace

        return MnasSpace()
    raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)} or pass parse=")


def _natural_key(name: str) -> tuple:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name))


def _wanted(name: str, pattern: str) -> bool:
    base = PurePosixPath(name).name
    return not base.startswith(".") and fnmatch(base, pattern)


def read_members(path: str | Path, pattern: str = "*.json") -> list[tuple[str, bytes]]:
    """``(name, raw bytes)`` of every result file under ``path``, in natural name order.

    Names are paths relative to the directory, or archive member names
    without a leading ``./``. Hidden files (``.x.json``, macOS ``._x.json``)
    are skipped.
    """
    path = Path(path)
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file() and _wanted(p.name, pattern)]
        members = []
        for file in files:
            name = file.relative_to(path).as_posix()
            try:
                members.append((name, file.read_bytes()))
            except OSError as exc:
                raise ResultFormatError(f"{path}: cannot read {name} ({exc})") from None
    elif path.is_file():
        members = list(_tar_members(path, pattern))
    else:
        raise FileNotFoundError(f"no result directory or archive at {path}")
    members.sort(key=lambda m: _natural_key(m[0]))
    return members


def _tar_members(path: Path, pattern: str) -> Iterator[tuple[str, bytes]]:
    last: str | None = None
    current: str | None = None

    def where() -> str:
        if current is not None:
            return f"while reading member {current}"
        return f"after member {last}" if last is not None else "before its first member"

    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if not member.isfile() or not _wanted(name, pattern):
                    continue
                current = name
                handle = archive.extractfile(member)
                data = handle.read() if handle is not None else b""
                current, last = None, name
                yield name, data
    except tarfile.ReadError as exc:
        if last is None and current is None:
            raise ResultFormatError(f"{path}: neither a directory nor a readable tar archive ({exc})") from None
        raise ResultFormatError(f"{path}: truncated or corrupt archive {where()} ({exc})") from None
    except (EOFError, zlib.error, OSError, tarfile.TarError) as exc:
        raise ResultFormatError(f"{path}: truncated or corrupt archive {where()} ({exc})") from None


def _read_record(context: str, raw: bytes) -> Mapping[str, Any]:
    """One member's JSON object."""
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFormatError(f"{context}: malformed JSON ({exc})") from None
    if not isinstance(record, Mapping):
        raise ResultFormatError(f"{context}: a result record is a JSON object, found {type(record).__name__}")
    return record


def _layout_of(record: Mapping[str, Any], context: str, layout: str, chosen: str) -> str:
    """The layout of ``record``: detected while ``chosen`` is still "auto", then every record must agree.

    One folder mixing layouts is refused: its rows would mean different things
    under the same columns.
    """
    detected = detect_layout(record)
    if chosen == "auto":
        if detected is None:
            raise ResultFormatError(
                f"{context}: unknown result layout (top-level keys {sorted(record)}); "
                f"pass layout= ({', '.join(LAYOUTS)}) or parse="
            )
        return detected
    if layout == "auto" and detected != chosen:
        raise ResultFormatError(
            f"{context}: layout {detected or 'unknown'} differs from the {chosen} layout of earlier files"
        )
    return chosen


def _parse(
    parser: Parser, record: Mapping[str, Any], space: SearchSpace, context: str
) -> tuple[ParsedResult, Architecture]:
    """The parser's result and its validated architecture; any failure names the member."""
    try:
        result = parser(record)
        if not isinstance(result, ParsedResult):
            raise TypeError(f"parser returned {type(result).__name__}, not ParsedResult")
        arch = space.validate(result.arch)
    except InvalidArchitecture as exc:
        raise ResultFormatError(f"{context}: {exc}") from None
    except KeyError as exc:
        raise ResultFormatError(f"{context}: missing field {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ResultFormatError(f"{context}: bad field ({exc})") from None
    return result, arch


def load_result_jsons(
    path: str | Path,
    space: SearchSpace | None = None,
    *,
    layout: str = "auto",
    parse: Parser | None = None,
    pattern: str = "*.json",
) -> ResultSet:
    """A directory or tar archive of result JSONs as a :class:`ResultSet`.

    ``layout`` is ``"auto"`` (from the first record's keys), ``"nb301"`` or
    ``"accel"``; ``parse`` overrides it with a custom record parser, and then
    ``space`` is required. ``space`` defaults to the layout's space; the
    parser's ``arch`` goes through ``space.validate``. ``pattern`` filters
    file names (``fnmatch`` on the base name).

    The table has the columns of :class:`ResultSet`, the parser's extra
    columns (NaN where a record lacks one) and ``file``, the member each row
    came from.
    """
    where = str(path)
    if parse is None:
        if layout != "auto" and layout not in PARSERS:
            raise ValueError(f"unknown layout {layout!r}; choose auto, {', '.join(LAYOUTS)} or pass parse=")
    elif space is None:
        raise ValueError("a custom parse= needs the space its architectures belong to (space=)")
    members = read_members(path, pattern)
    if not members:
        raise ResultFormatError(f"{where}: no result files matching {pattern!r}")
    chosen = layout
    archs: dict[str, Architecture] = {}
    rows: list[dict[str, Any]] = []
    for name, raw in members:
        context = f"{where}: member {name}"
        record = _read_record(context, raw)
        parser = parse
        if parser is None:
            chosen = _layout_of(record, context, layout, chosen)
            parser = PARSERS[chosen]
            if space is None:
                space = default_space(chosen)
        result, arch = _parse(parser, record, space, context)
        digest = space.canonical_hash(arch)
        archs.setdefault(digest, arch)
        rows.append(
            {
                "hash": digest,
                "epochs": int(result.epochs),
                "val_accuracy": result.val_accuracy,
                "test_accuracy": result.test_accuracy,
                "train_time": result.train_time,
                "params": result.params,
                **dict(result.extra),
                "file": name,
            }
        )
    table = pd.DataFrame(rows)
    table.insert(2, "repeat", table.groupby(["hash", "epochs"], sort=False).cumcount().astype(np.int64))
    for column in METRICS:
        table[column] = table[column].astype(np.float64)
    duplicates = int((table["repeat"] > 0).sum())
    return ResultSet(
        space,
        archs,
        table,
        source=where,
        notes={
            "layout": chosen if parse is None else getattr(parse, "__name__", "custom"),
            "files": len(members),
            "architectures": len(archs),
            "repeats": duplicates,
        },
    )


__all__ = [
    "LAYOUTS",
    "PARSERS",
    "ParsedResult",
    "ResultFormatError",
    "default_space",
    "detect_layout",
    "load_result_jsons",
    "parse_accel",
    "parse_nb301",
    "read_members",
]
