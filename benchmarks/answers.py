"""A surrogate benchmark's answers for every architecture of its space, computed once and read back.

The shipped ``nb101`` benchmark's space is finite (423,624 cells), so its
models' answers can be tabulated. Three things are gained:

- **A fast first answer.** Answering from the models needs torch,
  torch-geometric and XGBoost in memory, seconds before the first answer; a
  table needs numpy and the cell's hash.
- **The same answer whatever the batch.** The GIN members sum in float32,
  and a cell's prediction moves by ~1e-7 between a batch of one and a batch
  of 200. From a table, a cell has one answer.
- **The same answer on every machine.** The table is built in a subprocess
  under :data:`PORTABLE_ENV` (ATen's baseline kernels, MKL's compatible
  branch, one thread): the setting in which the golden search trajectories
  are recorded and replayed.

Per cell, a table holds the ``val_accuracy`` members' mean and spread, and
the mean of every other modelled metric. The spread is stored uncapped: the
card's cap is applied when noise is drawn, exactly as for live answers.
Exact metrics (NB101's parameter count) are still computed. A table is
bound to its models by a sha256 over their files. It is cached as
``$NASFRAME_CACHE/answers/<name>-<key>.npz`` and written atomically under a
lock, so parallel workers wait for one build (about 30 s on one core). A
file that does not read back whole, or whose key is not its models', is
refused with its path, never used.

``NASFRAME_ANSWER_TABLES=0`` answers from the models instead (how a table is
built, and how the tests compare the two).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nasframe.core.errors import UserError
from nasframe.core.files import atomic_file

#: one torch/MKL code path on every x86-64 machine: what tables are built and golden trajectories replayed in
PORTABLE_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1"}
#: set to ``0`` to answer from the models (the table builder does, so that it never reads a table)
SWITCH = "NASFRAME_ANSWER_TABLES"
FORMAT_VERSION = 1
#: cells predicted per model call while building: fixed, so a table does not depend on the machine's memory
CHUNK = 4096


class AnswerTableError(UserError, ValueError):
    """An answer table file is unreadable, incomplete, or of other models; the message names the file."""


def tables_enabled() -> bool:
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def models_key(folder: str | Path, metrics: Sequence[str]) -> str:
    """sha256 (first 16 hex digits) over the files of the modelled metrics' folders: a table's identity."""
    digest = hashlib.sha256()
    for metric in sorted(metrics):
        for path in sorted(p for p in (Path(folder) / metric).rglob("*") if p.is_file()):
            digest.update(f"{path.relative_to(folder)}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class AnswerTable:
    """Answers per architecture: ``keys`` the sorted 16-byte canonical hashes, ``columns`` one value per key."""

    key: str
    keys: np.ndarray
    columns: dict[str, np.ndarray]

    def rows(self, hashes: Sequence[str]) -> np.ndarray:
        """The rows of architectures by canonical hash (hex); ``KeyError`` naming one the table lacks."""
        wanted = np.frombuffer(bytes.fromhex("".join(hashes)), dtype="S16") if len(hashes) else np.empty(0, "S16")
        rows = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        missing = np.flatnonzero(self.keys[rows] != wanted)
        if len(missing):
            raise KeyError(f"the answer table {self.key} has no architecture {hashes[missing[0]]!r}")
        return rows


def build_table(benchmark: Any, key: str) -> AnswerTable:
    """Every cell's answers from ``benchmark``'s models (whose :func:`models_key` is ``key``), in hash
    order, :data:`CHUNK` cells per call."""
    cells, hashes = _all_architectures(benchmark.space)
    models = benchmark.models
    columns: dict[str, list[np.ndarray]] = {name: [] for name in ("val_accuracy", "val_accuracy_std", *models)}
    for start in range(0, len(cells), CHUNK):
        part = cells[start:start + CHUNK]
        cache: dict = {}  # models with the same inputs featurise the chunk once
        members = models["val_accuracy"].predict_members(part, cache)
        columns["val_accuracy"].append(members.mean(axis=0))
        columns["val_accuracy_std"].append(members.std(axis=0))
        for metric, model in models.items():
            if metric != "val_accuracy":
                columns[metric].append(model.predict(part, cache)[0])
    keys = np.frombuffer(bytes.fromhex("".join(hashes)), dtype="S16")
    return AnswerTable(key, keys, {k: np.concatenate(v).astype(np.float64) for k, v in columns.items()})


def _enumeration(space: Any) -> Any:
    """The enumeration of a tabulable space (NB101's index of every cell, sorted by hash)."""
    if space.name != "nb101":
        raise UserError(f"space {space.name!r} cannot be enumerated, so its benchmark has no answer table")
    from search_spaces.nb101.enumeration import load_index

    return load_index()


def _all_architectures(space: Any) -> tuple[list, list[str]]:
    """Every architecture of a tabulable space and its canonical hash, sorted by hash."""
    index = _enumeration(space)
    return index.cells(range(len(index))), index.hashes.tolist()


def architecture_of(space: Any, key: str) -> Any:
    """The architecture of a tabulable space whose canonical hash is ``key``."""
    return _enumeration(space).lookup(key)


def write_table(table: AnswerTable, path: Path) -> None:
    """Save uncompressed (it loads in milliseconds; the hashes would not compress anyway), atomically."""
    with atomic_file(path, "wb") as handle:
        np.savez(handle, format_version=np.array(FORMAT_VERSION), key=np.array(table.key), keys=table.keys,
                 **{f"column_{name}": values for name, values in table.columns.items()})


def read_table(path: Path, key: str, columns: Sequence[str]) -> AnswerTable:
    """Load a table file; :class:`AnswerTableError` naming it if unreadable, of other models or incomplete."""
    try:
        with np.load(path, allow_pickle=False) as data:
            version, found = int(data["format_version"]), str(data["key"])
            keys = data["keys"]
            values = {name[len("column_"):]: data[name] for name in data.files if name.startswith("column_")}
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise AnswerTableError(f"answer table {path} is unreadable ({exc}); delete it to rebuild it") from exc
    if version != FORMAT_VERSION or found != key:
        raise AnswerTableError(f"answer table {path} is of format {version} and models {found}, not "
                               f"{FORMAT_VERSION} and {key}; delete it to rebuild it")
    lacking = sorted(set(columns) - set(values))
    if lacking or any(len(v) != len(keys) for v in values.values()) or not (keys[1:] > keys[:-1]).all():
        raise AnswerTableError(f"answer table {path} is incomplete (columns missing: {lacking}, or rows unsorted "
                               f"or of unequal length); delete it to rebuild it")
    return AnswerTable(key, keys, values)


_LOADED: dict[Path, AnswerTable] = {}


def load_table(name: str, folder: Path, key: str, columns: Sequence[str]) -> AnswerTable:
    """The table of the benchmark saved in ``folder``: from this process, the cache, or built once."""
    from search_spaces.nb101.enumeration import cache_dir

    path = cache_dir() / "answers" / f"{name}-{key}.npz"
    if path not in _LOADED:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with open(path.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and read its file
                if not path.exists():
                    _build_in_portable_process(folder, path)
        _LOADED[path] = read_table(path, key, columns)
    return _LOADED[path]


def _build_in_portable_process(folder: Path, path: Path) -> None:
    print(f"nasframe: tabulating the answers of {folder.name} once ({path}); about 30 s", file=sys.stderr)
    env = {**os.environ, **PORTABLE_ENV, SWITCH: "0"}
    done = subprocess.run([sys.executable, "-m", "benchmarks.tabulate", str(folder), str(path)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise AnswerTableError(f"building the answer table {path} failed:\n{done.stderr[-2000:]}")
