"""Where finished search runs live: one Parquet file per run, written atomically.

A :class:`ResultStore` is a folder. Every completed run is one file
``<run_key>.parquet`` holding the run's history frame (one row per evaluated
architecture, :meth:`nasframe.runner.History.to_frame`) and, in the Parquet
schema's key-value metadata, the run's facts (searcher, benchmark, seed,
budget, batch size, options, error, timings, when it finished). Keeping the
facts in the file itself means a run that evaluated nothing (a searcher that
raised on its first ``ask``) is still one self-describing file.

Exactly once, by construction:

- the file name *is* the run key, so two copies of one run cannot coexist;
- a file is first written in full to a hidden temporary in the same folder,
  flushed to disk, and then published with ``os.link`` (which refuses to
  overwrite): the first writer of a key wins and every later write of that key
  is a no-op that returns ``False``. A reader therefore sees either no file or
  a complete one, never a half-written run;
- temporaries left behind by a killed writer are never read (their names do
  not end in ``.parquet``) and are removed when the store is opened, once
  their writer process is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

#: Parquet key-value metadata key holding the run's facts (JSON)
META_KEY = b"nasframe.run"
SUFFIX = ".parquet"
_TMP_PREFIX = ".tmp-"
#: temporaries whose writer we cannot check (another host) are removed after this many seconds
STALE_TMP_SECONDS = 24 * 3600
#: the facts every stored run has, in the column order of :meth:`ResultStore.runs`
RUN_FIELDS = (
    "run_key", "searcher", "benchmark", "seed", "budget", "batch_size", "options", "evaluations",
    "error", "timings", "finished", "worker_host", "worker_pid",
)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: this host, as a token without '-' (temporary names are '<pid>-<host>-<uuid>-<key>')
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:12]


def options_hash(options: Mapping[str, Any] | None, **extra: Any) -> str:
    """A short stable hash of a run's options (JSON with sorted keys; ``repr`` for non-JSON values)."""
    payload = json.dumps({"options": dict(options or {}), **extra}, sort_keys=True, default=repr)
    return hashlib.sha1(payload.encode()).hexdigest()[:10]


def run_key(searcher: str, benchmark: str, seed: int, budget: int, options_digest: str) -> str:
    """The identity of one run, safe as a file name: ``searcher__benchmark__s<seed>__b<budget>__<hash>``."""
    parts = [_SAFE.sub("-", str(searcher)), _SAFE.sub("-", str(benchmark)), f"s{int(seed)}", f"b{int(budget)}",
             options_digest]
    return "__".join(parts)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultStore:
    """A folder of completed runs; see the module docstring for the guarantees."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # the folder is made by the first write: opening a store (or failing to start the
        # work, e.g. to join Ray) must leave no empty folder behind
        self.path = Path(path)
        self.cleaned = self._clean_temporaries()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r}, runs={len(self.completed())})"

    # -- writing -----------------------------------------------------------------

    def file(self, key: str) -> Path:
        """Where run ``key`` is (or would be) stored."""
        if not key or _SAFE.search(key) or key.startswith("."):
            raise ValueError(f"run key {key!r} is not a safe file name (letters, digits, '._-' only)")
        return self.path / f"{key}{SUFFIX}"

    def write(self, key: str, frame: pd.DataFrame, meta: Mapping[str, Any]) -> bool:
        """Store run ``key``: its history ``frame`` and its facts ``meta`` (JSON-able).

        Returns ``True`` if this call stored the run, ``False`` if the run was
        already complete (the existing file is left untouched).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        final = self.file(key)
        if final.exists():
            return False
        facts = {**dict(meta), "run_key": key, "finished": meta.get("finished") or time.time()}
        table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[META_KEY] = json.dumps(facts, sort_keys=True, default=repr).encode()
        table = table.replace_schema_metadata(schema_meta)
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f"{_TMP_PREFIX}{os.getpid()}-{_HOST}-{uuid.uuid4().hex}-{key}{SUFFIX}.part"
        try:
            with open(tmp, "wb") as handle:
                pq.write_table(table, handle)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, final)  # atomic, and refuses to replace: the first writer wins
            except FileExistsError:
                return False
            except OSError:
                # file systems without hard links: os.replace is still atomic; check first
                if final.exists():
                    return False
                os.replace(tmp, final)
            self._sync_dir()
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def _sync_dir(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _clean_temporaries(self) -> int:
        """Remove temporaries whose writer is gone; returns how many were removed.

        A temporary of this host is removed when its writer process no longer
        exists; one of another host (a shared folder) once it is older than
        :data:`STALE_TMP_SECONDS`.
        """
        removed = 0
        now = time.time()
        for tmp in self.path.glob(f"{_TMP_PREFIX}*"):
            pid_text, host, _rest = (tmp.name[len(_TMP_PREFIX):].split("-", 2) + ["", ""])[:3]
            try:
                age = now - tmp.stat().st_mtime
            except FileNotFoundError:
                continue
            ours = host == _HOST and pid_text.isdigit()
            if (ours and not _pid_alive(int(pid_text))) or age > STALE_TMP_SECONDS:
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed

    # -- reading -----------------------------------------------------------------

    def completed(self) -> set[str]:
        """The keys of every completed run."""
        return {p.name[: -len(SUFFIX)] for p in self.path.glob(f"*{SUFFIX}") if not p.name.startswith(".")}

    def __contains__(self, key: str) -> bool:
        return self.file(key).exists()

    def __len__(self) -> int:
        return len(self.completed())

    def meta(self, key: str) -> dict[str, Any]:
        """The facts of run ``key`` (reads only the file footer)."""
        import pyarrow.parquet as pq

        path = self.file(key)
        try:
            schema = pq.read_schema(path)
        except FileNotFoundError:
            raise KeyError(f"run {key!r} is not in the store {self.path}") from None
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise ValueError(f"{path} is not a readable run file: {exc}") from None
        raw = (schema.metadata or {}).get(META_KEY)
        if raw is None:
            raise ValueError(f"{path} is a Parquet file without nasframe run metadata ({META_KEY.decode()})")
        return json.loads(raw)

    def frame(self, key: str) -> pd.DataFrame:
        """The history frame of run ``key``."""
        import pyarrow.parquet as pq

        path = self.file(key)
        if not path.exists():
            raise KeyError(f"run {key!r} is not in the store {self.path}")
        return pq.read_table(path).to_pandas()

    def runs(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """One row of facts per completed run, sorted by run key."""
        rows = [self.meta(k) for k in sorted(self.completed() if keys is None else keys)]
        frame = pd.DataFrame(rows)
        for column in RUN_FIELDS:
            if column not in frame:
                frame[column] = pd.Series(dtype=object)
        extra = [c for c in frame.columns if c not in RUN_FIELDS]
        return frame[list(RUN_FIELDS) + extra].reset_index(drop=True)

    def load(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Every stored history row, with the run's ``run_key``, ``searcher``,
        ``benchmark``, ``seed``, ``budget`` and ``run_error`` in front."""
        frames = []
        for key in sorted(self.completed() if keys is None else keys):
            meta = self.meta(key)
            frame = self.frame(key)
            front = {"run_key": key, "searcher": meta.get("searcher"), "benchmark": meta.get("benchmark"),
                     "seed": meta.get("seed"), "budget": meta.get("budget"), "run_error": meta.get("error")}
            for i, (column, value) in enumerate(front.items()):
                frame.insert(i, column, [value] * len(frame))
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["run_key", "searcher", "benchmark", "seed", "budget", "run_error"])
        non_empty = [f for f in frames if len(f)]
        return pd.concat(non_empty or frames[:1], ignore_index=True)
