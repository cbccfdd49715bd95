"""Where finished search runs live: immutable Parquet parts of many runs each, every run counted once.

A :class:`ResultStore` is a folder (a local disk, an NFS mount every node
sees) or a pyarrow filesystem URI (``s3://bucket/prefix``, ``file:///x``);
:mod:`nasframe.store_files` publishes its files and says what each kind of
storage guarantees. Layout::

    <store>/parts/p-<ms>-<host>-<pid>-<random>.parquet   one per batch of runs (written now)
    <store>/<run_key>.parquet                            one per run (stores of nasframe <= 0.x; read only)
    <store>/experiment.json                              the experiment's settings (nasframe.experiment)

A *part* holds the history rows of a batch of runs (one row per evaluated
architecture, :meth:`nasframe.runner.History.to_frame`) behind the columns
``run_key, searcher, benchmark, seed, budget, run_error``, and, in its
Parquet key-value metadata, the facts of every run in it (searcher,
benchmark, seed, budget, batch size, options, error, timings, when it
finished), runs that evaluated nothing included. The driver writes one part
per batch of results (:class:`RunBuffer`), so the fsync and the file are paid
per batch, not per run; readers fetch footers once (parts never change) and
read only the columns and rows asked for.

Exactly once, by construction:

- a part is published whole or not at all, under a name nobody else uses,
  and never changes afterwards;
- a writer leaves out every run the store already has (``write_runs``
  returns which runs it stored);
- two writers racing on one run (two drivers of one experiment, a Ray retry
  finishing twice) can both publish it; readers then count the copy in the
  earliest part by name (old one-file-per-run files before any part), and
  only that one, whatever order a listing returns. Both copies hold the same
  history (a seed fixes a run's trajectory); only timings and hosts differ.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasframe.store_files import StoreFiles, dumps, unique_name

#: Parquet key-value metadata key of an old one-run file: that run's facts (JSON)
META_KEY = b"nasframe.run"
#: Parquet key-value metadata key of a part: {run key: facts} of every run in it (JSON)
PART_KEY = b"nasframe.runs"
SUFFIX = ".parquet"
PARTS = "parts"
#: the facts every stored run has, in the column order of :meth:`ResultStore.runs`
RUN_FIELDS = (
    "run_key", "searcher", "benchmark", "seed", "budget", "batch_size", "options", "evaluations",
    "error", "timings", "finished", "worker_host", "worker_pid",
)
#: the columns in front of every history row of a part (and of :meth:`ResultStore.load`)
FRONT = ("run_key", "searcher", "benchmark", "seed", "budget", "run_error")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def options_hash(options: Mapping[str, Any] | None, **extra: Any) -> str:
    """A short stable hash of a run's options (JSON with sorted keys; ``repr`` for non-JSON values)."""
    import hashlib

    payload = json.dumps({"options": dict(options or {}), **extra}, sort_keys=True, default=repr)
    return hashlib.sha1(payload.encode()).hexdigest()[:10]


def run_key(searcher: str, benchmark: str, seed: int, budget: int, options_digest: str) -> str:
    """The identity of one run, safe as a file name: ``searcher__benchmark__s<seed>__b<budget>__<hash>``."""
    parts = [_SAFE.sub("-", str(searcher)), _SAFE.sub("-", str(benchmark)), f"s{int(seed)}", f"b{int(budget)}",
             options_digest]
    return "__".join(parts)


def check_key(key: str) -> str:
    if not key or _SAFE.search(key) or key.startswith("."):
        raise ValueError(f"run key {key!r} is not a safe file name (letters, digits, '._-' only)")
    return key


class ResultStore:
    """Completed runs in a folder or at a pyarrow filesystem URI; see the module docstring for the guarantees."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        # the folder is made by the first write: opening a store (or failing to start the
        # work, e.g. to join Ray) must leave no empty folder behind
        self.files = StoreFiles(location)
        #: the folder of a local store (``None`` for a URI)
        self.path = self.files.local
        self.location = self.files.uri
        self.cleaned = self.files.clean_temporaries(["", PARTS])
        #: part name -> {run key: facts}; parts never change, so each footer is read once
        self._parts: dict[str, dict[str, dict[str, Any]]] = {}

    def __repr__(self) -> str:
        return f"ResultStore({self.location!r}, runs={len(self.completed())})"

    # -- the index ---------------------------------------------------------------------------------

    def _refresh(self) -> dict[str, tuple[str, str]]:
        """List the store and index every run by the copy that counts (old files first, then parts by name)."""
        owner: dict[str, tuple[str, str]] = {}
        for name in self.files.list(""):
            owner.setdefault(name[: -len(SUFFIX)], ("file", name))
        for name in self.files.list(PARTS):
            if name not in self._parts:
                self._parts[name] = self._read_part_facts(name)
            for key in self._parts[name]:
                owner.setdefault(key, ("part", name))
        return owner

    def _read_part_facts(self, name: str) -> dict[str, dict[str, Any]]:
        where = self.files.shown(f"{PARTS}/{name}")
        try:
            meta = self.files.parquet(f"{PARTS}/{name}").schema_arrow.metadata or {}
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise ValueError(f"{where} is not a readable part of a result store: {exc}") from None
        if PART_KEY not in meta:
            raise ValueError(f"{where} is a Parquet file without nasframe run facts ({PART_KEY.decode()})")
        return json.loads(meta[PART_KEY])

    def completed(self) -> set[str]:
        """The keys of every completed run."""
        return set(self._refresh())

    def __contains__(self, key: str) -> bool:
        return check_key(key) in self._refresh()

    def __len__(self) -> int:
        return len(self._refresh())

    def _owners(self, keys: Iterable[str] | None) -> dict[str, tuple[str, str]]:
        owner = self._refresh()
        if keys is None:
            return dict(sorted(owner.items()))
        missing = [k for k in keys if k not in owner]
        if missing:
            raise KeyError(f"run {missing[0]!r} is not in the store {self.location}")
        return {k: owner[k] for k in sorted(set(keys))}

    # -- writing -----------------------------------------------------------------------------------

    def write(self, key: str, frame: pd.DataFrame, meta: Mapping[str, Any]) -> bool:
        """Store one run (a part of one run): ``True`` if stored now, ``False`` if the store had it already."""
        return self.write_runs([(key, frame, meta)])[0]

    def write_runs(self, runs: Sequence[tuple[str, pd.DataFrame, Mapping[str, Any]]]) -> list[bool]:
        """Store a batch of runs ``(key, history frame, facts)`` as one part; per run, whether it was stored now.

        Runs the store already has (or that appear twice in ``runs``) are left
        out and answered ``False``; the rest are published together, whole or
        not at all. Nothing is written when nothing is new.
        """
        for key, _, _ in runs:
            check_key(key)
        have = set(self._refresh())
        fresh: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {}
        answers = []
        for key, frame, meta in runs:
            new = key not in have and key not in fresh
            if new:
                fresh[key] = (frame, {**dict(meta), "run_key": key, "finished": meta.get("finished") or time.time()})
            answers.append(new)
        if fresh:
            table, facts = _part_table(fresh)
            name = unique_name("p-", SUFFIX)
            self.files.publish(f"{PARTS}/{name}", lambda handle: _write_parquet(table, handle))
            self._parts[name] = facts
        return answers

    def buffer(self, flush_runs: int = 1000, flush_seconds: float = 2.0) -> RunBuffer:
        """A :class:`RunBuffer` writing into this store."""
        return RunBuffer(self, flush_runs, flush_seconds)

    def pin_settings(self, name: str, settings: Mapping[str, Any], *, what: str,
                     growing: Sequence[str] = (), write: bool = True) -> None:
        """:func:`nasframe.core.files.pin_settings` for the JSON file ``name`` of this store, on any storage."""
        import tempfile

        from nasframe.core.errors import SettingsMismatch
        from nasframe.core.files import pin_settings

        if self.path is not None:
            return pin_settings(self.path / name, settings, what=what, growing=growing, write=write)
        with tempfile.TemporaryDirectory() as tmp:  # a remote record is checked (and grown) through a local copy
            copy = Path(tmp, name)
            before = self.files.read_bytes(name) if self.files.exists(name) else None
            if before is not None:
                copy.write_bytes(before)
            try:
                pin_settings(copy, settings, what=what, growing=growing, write=write)
            except SettingsMismatch as exc:
                raise SettingsMismatch(str(exc).replace(tmp, self.location)) from None
            after = copy.read_bytes() if copy.exists() else None
            if write and after is not None and after != before:
                self.files.publish(name, lambda handle: handle.write(after))

    # -- reading -----------------------------------------------------------------------------------

    def meta(self, key: str) -> dict[str, Any]:
        """The facts of run ``key`` (from footers only)."""
        kind, name = self._owners([check_key(key)])[key]
        if kind == "part":
            return dict(self._parts[name][key])
        return self._file_meta(name)

    def _file_meta(self, name: str) -> dict[str, Any]:
        """The facts of an old one-run file (its footer)."""
        try:
            raw = (self.files.parquet(name).schema_arrow.metadata or {}).get(META_KEY)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise ValueError(f"{self.files.shown(name)} is not a readable run file: {exc}") from None
        if raw is None:
            raise ValueError(f"{self.files.shown(name)} is a Parquet file without nasframe run metadata "
                             f"({META_KEY.decode()})")
        return json.loads(raw)

    def frame(self, key: str) -> pd.DataFrame:
        """The history frame of run ``key`` (its rows only, without the front columns)."""
        frame = self.load([check_key(key)])
        return frame.drop(columns=list(FRONT)).reset_index(drop=True)

    def runs(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """One row of facts per completed run, sorted by run key."""
        owners = self._owners(keys)
        rows = [dict(self._parts[name][key]) if kind == "part" else self._file_meta(name)
                for key, (kind, name) in owners.items()]
        frame = pd.DataFrame(rows)
        for column in RUN_FIELDS:
            if column not in frame:
                frame[column] = pd.Series(dtype=object)
        extra = [c for c in frame.columns if c not in RUN_FIELDS]
        return frame[list(RUN_FIELDS) + extra].reset_index(drop=True)

    def load(self, keys: Iterable[str] | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every stored history row of ``keys`` (default: all), run by run in key order, each run's rows in order.

        The columns :data:`FRONT` (``run_key``, ``searcher``, ``benchmark``,
        ``seed``, ``budget``, ``run_error``) come first. ``columns`` reads only
        those (plus ``run_key``) from the files, the pushdown a report over
        thousands of runs needs; a column some runs lack is null there.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        owners = self._owners(keys)
        wanted = None if columns is None else list(dict.fromkeys(["run_key", *columns]))
        by_file: dict[tuple[str, str], list[str]] = defaultdict(list)
        for key, source in owners.items():
            by_file[source].append(key)
        tables = [self._read_runs(kind, name, runs, wanted) for (kind, name), runs in sorted(by_file.items())]
        tables = [t for t in tables if t.num_rows] or tables[:1]
        if not tables:
            return pd.DataFrame(columns=list(FRONT) if wanted is None else wanted)
        table = pa.concat_tables(tables, promote_options="permissive")
        del tables
        # runs in key order (each run's rows keep theirs), sorted in Arrow: no Python string per row
        keys_column = table["run_key"].cast(pa.large_string())
        codes = pc.index_in(keys_column, value_set=pa.array(list(owners), pa.large_string()))
        codes = codes.to_numpy(zero_copy_only=False)
        if len(codes) and np.any(codes[1:] < codes[:-1]):
            table = table.take(pa.array(np.argsort(codes, kind="stable")))
        # one copy at a time: each column's Arrow buffers are freed as it is converted
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
        front = [c for c in FRONT if c in frame]
        return frame[front + [c for c in frame.columns if c not in front]]

    def _read_runs(self, kind: str, name: str, keys: list[str], wanted: list[str] | None) -> Any:
        """The rows of ``keys`` in one file, only the ``wanted`` columns (missing ones as nulls)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if kind == "file":  # an old one-run file: the front columns come from its facts
            table = self.files.read_table(name)
            meta = self._file_meta(name)
            values = {"run_key": keys[0], "searcher": meta.get("searcher"), "benchmark": meta.get("benchmark"),
                      "seed": meta.get("seed"), "budget": meta.get("budget"), "run_error": meta.get("error")}
            for i, column in enumerate(FRONT):
                table = table.add_column(i, column, pa.array([values[column]] * table.num_rows))
        else:
            path = f"{PARTS}/{name}"
            present = set(self.files.parquet(path).schema_arrow.names)
            read = None if wanted is None else [c for c in wanted if c in present]
            table = self.files.read_table(path, columns=read)
            if len(keys) < len(self._parts[name]):  # another part's copy counts for some runs of this one
                table = table.filter(pc.is_in(table["run_key"], pa.array(keys)))
        if wanted is not None:
            for column in wanted:
                if column not in table.column_names:
                    table = table.append_column(column, pa.nulls(table.num_rows))
            table = table.select(wanted)
        return table


def _part_table(runs: Mapping[str, tuple[pd.DataFrame, dict[str, Any]]]) -> tuple[Any, dict[str, dict[str, Any]]]:
    """One part: the rows of every run behind the :data:`FRONT` columns, the facts in the metadata."""
    import pyarrow as pa

    frames, facts = [], {}
    for key, (frame, meta) in runs.items():
        facts[key] = json.loads(dumps(meta))  # as it reads back
        if len(frame):
            frames.append(frame.reset_index(drop=True))
    body = pd.concat(frames, ignore_index=True) if frames else next(iter(runs.values()))[0].iloc[:0]
    sizes = [len(frame) for frame, _ in runs.values()]
    keys = list(runs)
    front = {"run_key": keys, "searcher": [facts[k].get("searcher") for k in keys],
             "benchmark": [facts[k].get("benchmark") for k in keys], "seed": [facts[k].get("seed") for k in keys],
             "budget": [facts[k].get("budget") for k in keys], "run_error": [facts[k].get("error") for k in keys]}
    repeat = np.repeat(np.arange(len(keys)), sizes)
    body = body.drop(columns=[c for c in FRONT if c in body])
    for i, column in enumerate(FRONT):
        body.insert(i, column, pd.Series(front[column], dtype=object).to_numpy()[repeat])
    table = pa.Table.from_pandas(body, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), PART_KEY: dumps(facts)})
    return table, facts


def _write_parquet(table: Any, handle: Any) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, handle)


class RunBuffer:
    """Finished runs held by the driver and written as one part per batch.

    :meth:`add` keeps a run; a part is written once ``flush_runs`` runs wait
    or the oldest has waited ``flush_seconds`` (checked at each :meth:`add`
    and :meth:`due`), and by :meth:`flush`. A driver killed outright loses at
    most the runs waiting (``flush_seconds`` of results) besides those in
    flight; a driver that stops on an exception flushes first. ``on_flush``
    gets ``[(key, stored now)]`` after each part.
    """

    def __init__(self, store: ResultStore, flush_runs: int = 1000, flush_seconds: float = 2.0,
                 on_flush: Callable[[list[tuple[str, bool]]], None] | None = None) -> None:
        self.store, self.flush_runs, self.flush_seconds = store, int(flush_runs), float(flush_seconds)
        self.on_flush = on_flush
        self.waiting: list[tuple[str, pd.DataFrame, Mapping[str, Any]]] = []
        self._since: float | None = None

    def add(self, key: str, frame: pd.DataFrame, meta: Mapping[str, Any]) -> None:
        self.waiting.append((key, frame, meta))
        if self._since is None:
            self._since = time.monotonic()
        if self.due() == 0.0:
            self.flush()

    def due(self) -> float | None:
        """Seconds until the waiting runs must be written (0: now; ``None``: nothing waits)."""
        if not self.waiting:
            return None
        if len(self.waiting) >= self.flush_runs:
            return 0.0
        return max(0.0, self.flush_seconds - (time.monotonic() - (self._since or 0.0)))

    def flush(self) -> list[tuple[str, bool]]:
        """Write every waiting run (one part); returns ``[(key, stored now)]``."""
        if not self.waiting:
            return []
        batch, self.waiting, self._since = self.waiting, [], None
        done = list(zip([key for key, _, _ in batch], self.store.write_runs(batch)))
        if self.on_flush is not None:
            self.on_flush(done)
        return done


__all__ = ["FRONT", "META_KEY", "PART_KEY", "RUN_FIELDS", "ResultStore", "RunBuffer", "check_key", "options_hash",
           "run_key"]
