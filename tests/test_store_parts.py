"""The result store's parts: batched writes, one copy per run whatever the race, old stores, URIs, pushdown.

No Ray here; the experiment-level exactly-once tests are in tests/test_experiment.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nasframe.core.errors import SettingsMismatch
from nasframe.store import META_KEY, ResultStore, RunBuffer


def _frame(n: int, value: float) -> pd.DataFrame:
    return pd.DataFrame({"step": np.arange(n), "val_accuracy": np.full(n, value), "arch": [f"a{i}" for i in range(n)],
                         "error": [None] * n})


def _parts(store: ResultStore) -> list[str]:
    return store.files.list("parts")


def test_a_batch_is_one_part_and_reads_back_run_by_run(tmp_path):
    store = ResultStore(tmp_path)
    runs = [(f"k{i}", _frame(i + 1, i / 10), {"searcher": "s", "benchmark": "b", "seed": i, "budget": 3})
            for i in (2, 0, 1)]
    assert store.write_runs(runs) == [True, True, True]
    assert len(_parts(store)) == 1
    frame = store.load()
    assert frame["run_key"].tolist() == ["k0", "k1", "k1", "k2", "k2", "k2"]  # key order, each run's rows in order
    assert frame.groupby("run_key")["step"].apply(list).to_dict() == {"k0": [0], "k1": [0, 1], "k2": [0, 1, 2]}
    assert list(frame.columns[:6]) == ["run_key", "searcher", "benchmark", "seed", "budget", "run_error"]
    pd.testing.assert_frame_equal(store.frame("k2"), _frame(3, 0.2))
    assert store.runs()["seed"].tolist() == [0, 1, 2]
    with pytest.raises(KeyError, match="k9"):
        store.meta("k9")


def test_only_the_asked_columns_are_read(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    store.write_runs([("a", _frame(4, 0.5), {"benchmark": "b"}), ("c", _frame(2, 0.7), {"benchmark": "b"})])
    asked = []
    real = store.files.read_table
    monkeypatch.setattr(store.files, "read_table", lambda name, columns=None, filters=None: (
        asked.append(columns), real(name, columns, filters))[1])
    frame = store.load(columns=["val_accuracy", "not-stored"])
    assert asked == [["run_key", "val_accuracy"]]  # the architecture column is never read
    assert list(frame.columns) == ["run_key", "val_accuracy", "not-stored"] and frame["not-stored"].isna().all()
    assert frame["val_accuracy"].tolist() == [0.5] * 4 + [0.7] * 2


def test_racing_writers_each_run_counts_once_from_the_first_part(tmp_path):
    first, second = ResultStore(tmp_path), ResultStore(tmp_path)
    second._refresh()  # both looked before either wrote: neither sees the other's runs
    first._refresh = dict  # noqa: the race: `first` still believes the store empty
    assert first.write_runs([("x", _frame(2, 0.1), {"seed": 1}), ("y", _frame(1, 0.2), {"seed": 2})]) == [True, True]
    del first._refresh
    assert second.write_runs([("y", _frame(1, 0.2), {"seed": 2}), ("z", _frame(1, 0.3), {"seed": 3})]) == [False, True]
    # force the duplicate the race can produce: a later part holding 'x' again, with other facts
    dup = ResultStore(tmp_path)
    dup._refresh = dict
    dup.write_runs([("x", _frame(2, 0.9), {"seed": 99})])
    reader = ResultStore(tmp_path)
    assert len(_parts(reader)) == 3 and reader.completed() == {"x", "y", "z"}
    frame = reader.load()
    assert len(frame) == 4 and frame.loc[frame["run_key"] == "x", "val_accuracy"].tolist() == [0.1, 0.1]
    assert reader.meta("x")["seed"] == 1 and reader.runs()["run_key"].tolist() == ["x", "y", "z"]


def test_a_buffer_writes_when_full_when_due_and_when_flushed(tmp_path):
    store = ResultStore(tmp_path)
    written = []
    buffer = RunBuffer(store, flush_runs=3, flush_seconds=3600, on_flush=written.append)
    for i in range(4):
        buffer.add(f"r{i}", _frame(1, 0.1), {"seed": i})
    assert len(_parts(store)) == 1 and [len(w) for w in written] == [3] and buffer.due() > 0
    buffer.add("r0", _frame(1, 0.5), {"seed": 0})  # already stored: answered False, not written again
    assert buffer.flush() == [("r3", True), ("r0", False)] and len(_parts(store)) == 2
    assert buffer.flush() == [] and buffer.due() is None
    assert RunBuffer(store, flush_seconds=0).due() is None
    eager = RunBuffer(store, flush_seconds=0)
    eager.add("r9", _frame(1, 0.1), {})
    assert not eager.waiting and "r9" in store


def test_old_one_file_per_run_stores_stay_readable(tmp_path):
    table = pa.Table.from_pandas(_frame(3, 0.4), preserve_index=False)
    facts = {"searcher": "old", "benchmark": "b", "seed": 7, "budget": 3, "error": None, "run_key": "old-run"}
    table = table.replace_schema_metadata({**table.schema.metadata, META_KEY: json.dumps(facts).encode()})
    pq.write_table(table, tmp_path / "old-run.parquet")
    store = ResultStore(tmp_path)
    assert store.completed() == {"old-run"} and store.meta("old-run")["searcher"] == "old"
    assert not store.write("old-run", _frame(1, 0.9), {})  # the old copy counts
    store.write("new-run", _frame(2, 0.6), {"searcher": "new", "seed": 8})
    frame = store.load()
    assert frame["run_key"].tolist() == ["new-run"] * 2 + ["old-run"] * 3
    assert frame.loc[frame["run_key"] == "old-run", "seed"].tolist() == [7] * 3
    pd.testing.assert_frame_equal(store.frame("old-run"), _frame(3, 0.4))
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="broken.parquet is not a readable run file"):
        store.runs()


def test_a_corrupt_part_is_named(tmp_path):
    store = ResultStore(tmp_path)
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "p-bad.parquet").write_bytes(b"PAR1 cut short")
    with pytest.raises(ValueError, match="p-bad.parquet is not a readable part"):
        store.completed()


def test_a_filesystem_uri_store_without_rename(tmp_path):
    store = ResultStore("mock:///results/store")  # pyarrow's in-memory filesystem: no os calls, no rename
    assert store.path is None and store.location == "mock:///results/store"
    assert store.write_runs([("a", _frame(2, 0.5), {"seed": 0}), ("b", _frame(0, 0.0), {"seed": 1, "error": "x"})])
    assert not store.write("a", _frame(2, 0.9), {})
    assert store.completed() == {"a", "b"} and store.load()["val_accuracy"].tolist() == [0.5, 0.5]
    store.pin_settings("experiment.json", {"budget": 3, "seeds": [0]}, what="experiment", growing=["seeds"])
    store.pin_settings("experiment.json", {"budget": 3, "seeds": [0, 1]}, what="experiment", growing=["seeds"])
    with pytest.raises(SettingsMismatch, match=r"mock:///results/store holds another experiment: budget"):
        store.pin_settings("experiment.json", {"budget": 4, "seeds": [0, 1]}, what="experiment")
    assert json.loads(store.files.read_bytes("experiment.json"))["seeds"] == [0, 1]
    file_store = ResultStore(f"file://{tmp_path}")
    assert file_store.path == tmp_path and file_store.write("a", _frame(1, 0.5), {})
    with pytest.raises(ValueError, match="pyarrow cannot open this filesystem .* and fsspec neither"):
        ResultStore("nosuchscheme://bucket/x")
    via_fsspec = ResultStore("memory://bucket/store")  # fsspec's in-memory filesystem; pyarrow has no memory://
    assert via_fsspec.write_runs([("a", _frame(2, 0.5), {}), ("b", _frame(1, 0.4), {})]) == [True, True]
    assert ResultStore("memory://bucket/store").load()["val_accuracy"].tolist() == [0.5, 0.5, 0.4]


def test_an_experiment_runs_resumes_and_reports_on_a_uri_store():
    from nasframe.experiment import Experiment

    experiment = Experiment(["random"], ["nbgraph-cora"], seeds=2, budget=6, store="mock:///exp")
    report = experiment.run(parallel=False, progress=False)
    assert report.stored == 2 and experiment.run(parallel=False, progress=False).skipped == 2
    curves = experiment.regret()
    assert len(curves) == 12 and curves["regret"].notna().all()
    assert json.loads(experiment.store.files.read_bytes("experiment.json"))["seeds"] == [0, 1]
