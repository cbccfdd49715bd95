"""Reading and writing D-VAE's ENAS data files, and D-VAE's train/test split.

A D-VAE file (``data/final_structures6.txt`` in muhanzhang/D-VAE) has one
architecture per line, ``<row string>, <accuracy>``::

    [[4], [2, 0], [5, 1, 0], [0, 0, 0, 1], [2, 1, 1, 1, 1], [3, 0, 0, 0, 0, 1]], 0.7123

D-VAE reads each line with ``eval``; here a line is parsed as JSON (the row
string of ints is valid JSON) so that nothing in a data file is executed, and
any malformed line fails with :class:`DVAEFormatError` naming the file and
the line number instead of a bare ``SyntaxError``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

from nasframe.core import InvalidArchitecture
from nasframe.core.errors import UserError
from nasframe.core.files import atomic_file
from search_spaces.enas.arch import ENASArch

#: lines D-VAE skips at the start of the file (the ENAS controller's burn-in)
DVAE_BURN_IN = 1000
#: D-VAE's share of the remaining lines used for training
DVAE_TRAIN_FRACTION = 0.9

T = TypeVar("T")


class DVAEFormatError(UserError, ValueError):
    """A line of a D-VAE file is malformed; the message names the file and line."""

    def __init__(self, path: str | os.PathLike[str], line: int, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.path}, line {line}: {reason}")


class DVAERecord(NamedTuple):
    """One line of a D-VAE file; unpacks as ``arch, accuracy``."""

    arch: ENASArch
    accuracy: float


def _parse(text: str) -> DVAERecord:
    """One line's record; raises ``ValueError`` with the reason (no location)."""
    try:
        value = json.loads(f"[{text}]")
    except json.JSONDecodeError as exc:
        raise ValueError(f"not '<row list>, <accuracy>' ({exc.msg} at column {exc.colno - 1})") from None
    if len(value) != 2:
        raise ValueError(f"expected '<row list>, <accuracy>', found {len(value)} top-level items")
    rows, accuracy = value
    # json.loads accepts NaN and Infinity, which would poison every metric downstream
    if isinstance(accuracy, bool) or not isinstance(accuracy, numbers.Real) or not math.isfinite(accuracy):
        raise ValueError(f"accuracy must be a finite number, got {accuracy!r}")
    try:
        arch = ENASArch.from_rows(rows)
    except InvalidArchitecture as exc:
        raise ValueError(str(exc)) from None
    return DVAERecord(arch, float(accuracy))


def parse_dvae_line(text: str, *, source: str = "<string>", line: int = 1) -> DVAERecord:
    """One ``<row string>, <accuracy>`` line; errors name ``source`` and ``line``."""
    try:
        return _parse(text.strip())
    except ValueError as exc:
        raise DVAEFormatError(source, line, str(exc)) from None


def read_dvae_file(path: str | os.PathLike[str], *, num_layers: int | None = None) -> list[DVAERecord]:
    """Every record of a D-VAE file, in file order.

    ``num_layers``, when given, is checked on every line. Blank lines are only
    allowed at the end of the file: anywhere else they would shift the line
    numbering D-VAE's burn-in relies on. An empty file is an error too (a
    truncated download should not pass as "no data").
    """
    path = Path(path)
    records: list[DVAERecord] = []
    blank_since: int | None = None
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise DVAEFormatError(path, number, f"not UTF-8 text ({exc.reason})") from None
        if not text:
            if blank_since is None:
                blank_since = number
            continue
        if blank_since is not None:
            raise DVAEFormatError(path, blank_since, "blank line before the end of the file")
        record = parse_dvae_line(text, source=str(path), line=number)
        if num_layers is not None and record.arch.num_layers != num_layers:
            raise DVAEFormatError(
                path, number, f"expected {num_layers} layers, found {record.arch.num_layers}"
            )
        records.append(record)
    if not records:
        raise DVAEFormatError(path, 1, "empty file: no records")
    return records


def format_dvae_line(arch: ENASArch, accuracy: float) -> str:
    """``<row string>, <accuracy>`` with the shortest float repr that reads back exactly."""
    value = float(accuracy)
    if not math.isfinite(value):
        raise ValueError(f"accuracy must be finite, got {accuracy!r}")
    return f"{arch.to_dvae()}, {value!r}"


def write_dvae_file(
    path: str | os.PathLike[str], records: Iterable[tuple[ENASArch, float]]
) -> Path:
    """Write ``(arch, accuracy)`` pairs in D-VAE's format, atomically.

    The lines go to a temporary file in the target directory that then
    replaces ``path``, so a crash never leaves a half-written file behind.
    Reading the result with :func:`read_dvae_file` gives the same records;
    a file D-VAE published reads and writes back byte for byte.
    """
    path = Path(path)
    lines = [format_dvae_line(arch, accuracy) + "\n" for arch, accuracy in records]
    with atomic_file(path, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return path


def dvae_split(
    records: Sequence[T],
    seed: int = 0,
    *,
    burn_in: int = DVAE_BURN_IN,
    train_fraction: float = DVAE_TRAIN_FRACTION,
) -> tuple[list[T], list[T]]:
    """D-VAE's train/test split of the file's records: ``(train, test)``.

    D-VAE's ``load_ENAS_graphs`` skips the first ``burn_in = 1000`` lines
    (architectures sampled while the ENAS controller was still warming up),
    shuffles the rest with ``random.Random(rand_seed).shuffle`` and takes the
    first ``int(n * 0.9)`` as training data, the rest as test data; its
    ``train.py`` leaves ``rand_seed`` at 0. This function does the same, so
    with ``seed=0`` on the 20,020-line file it returns D-VAE's exact 17,118 /
    1,902 split: ``shuffle`` draws a permutation that depends only on the
    seed and the list length, not on the items. The records are not copied.
    """
    if not 0 <= burn_in <= len(records):
        raise ValueError(f"burn_in must be in [0, {len(records)}], got {burn_in}")
    if not 0.0 <= train_fraction <= 1.0:
        raise ValueError(f"train_fraction must be in [0, 1], got {train_fraction}")
    kept = list(records[burn_in:])
    random.Random(seed).shuffle(kept)
    cut = int(len(kept) * train_fraction)  # D-VAE's float expression, kept for bit-equal splits
    return kept[:cut], kept[cut:]
