"""The shipped nb101 answers from a table of its models' answers (benchmarks.answers): the same numbers as the
models, one answer per cell whatever the batch, no model library loaded, bad files refused by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import benchmarks
from benchmarks.answers import SWITCH, AnswerTable, AnswerTableError, read_table, write_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tabulated():
    return benchmarks.load("nb101")


@pytest.fixture(scope="module")
def live():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SWITCH, "0")
        return benchmarks.load("nb101")


def test_table_answers_are_the_models_answers(tabulated, live):
    assert tabulated.table_key is not None and live.table_key is None
    archs = tabulated.space.sample(np.random.default_rng(7), 300)
    table, model = tabulated.query(archs), live.query(archs)
    # the GIN sums in float32: a cell's prediction moves by ~1e-7 with the batch around it, never more
    np.testing.assert_allclose(table.val_accuracy, model.val_accuracy, rtol=0, atol=2e-6)
    assert (table.params == model.params).all()
    # train_time's XGBoost reads the adjacency as spelled, so live it answers isomorphic spellings of one cell
    # differently (by up to ~20%); the table answers every spelling with the enumeration's spelling's answer
    from search_spaces.nb101.enumeration import load_index

    index = load_index()
    spelled_as_index = index.cells(index.index_of(h) for h in tabulated.space.canonical_hashes(archs))
    np.testing.assert_allclose(table.train_time, live.query(spelled_as_index).train_time, rtol=1e-6)
    noisy_table, noisy_model = tabulated.query(archs, noise=True, seed=3), live.query(archs, noise=True, seed=3)
    np.testing.assert_allclose(noisy_table.val_accuracy, noisy_model.val_accuracy, rtol=0, atol=2e-6)
    assert np.abs(noisy_table.val_accuracy - table.val_accuracy).max() > 1e-3  # noise is drawn, capped as before


def test_a_cell_has_one_answer_whatever_the_batch(tabulated):
    archs = tabulated.space.sample(np.random.default_rng(8), 200)
    together = tabulated.query(archs).val_accuracy
    alone = np.array([tabulated.query([a]).val_accuracy[0] for a in archs[:40]])
    assert (alone == together[:40]).all()


def test_optimum_is_the_tables_best_and_regret_never_negative(tabulated):
    arch, best = tabulated.optimum()
    table = tabulated._table()
    assert best == table.columns["val_accuracy"].max()
    assert tabulated.query([arch]).val_accuracy[0] == best
    archs = tabulated.space.sample(np.random.default_rng(9), 2000)
    assert (tabulated.query(archs).val_accuracy <= best).all()


def test_first_answer_loads_no_model_library(tabulated):
    code = ("import sys, numpy as np, benchmarks; b = benchmarks.load('nb101'); "
            "a = b.space.sample(np.random.default_rng(0), 1); b.query(a, noise=True, seed=0); "
            "print(sorted(m for m in ('torch', 'torch_geometric', 'xgboost', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def _small_table() -> AnswerTable:
    keys = np.array([bytes([i]) * 16 for i in range(1, 6)], dtype="S16")
    return AnswerTable("k1", keys, {"val_accuracy": np.linspace(0.5, 0.9, 5), "val_accuracy_std": np.zeros(5)})


def test_table_files_round_trip_and_bad_ones_are_refused(tmp_path):
    path = tmp_path / "t.npz"
    write_table(_small_table(), path)
    back = read_table(path, "k1", ["val_accuracy", "val_accuracy_std"])
    assert back.rows([(bytes([3]) * 16).hex(), (bytes([1]) * 16).hex()]).tolist() == [2, 0]
    with pytest.raises(KeyError, match="no architecture '" + "07" * 16):
        back.rows([(bytes([7]) * 16).hex()])
    with pytest.raises(AnswerTableError, match=f"{path}.*models k1, not 1 and k2"):
        read_table(path, "k2", ["val_accuracy"])
    with pytest.raises(AnswerTableError, match=f"{path} is incomplete.*'train_time'"):
        read_table(path, "k1", ["val_accuracy", "train_time"])
    path.write_bytes(path.read_bytes()[:300])  # a truncated file: what a crash without atomic writes leaves
    with pytest.raises(AnswerTableError, match=f"{path} is unreadable"):
        read_table(path, "k1", ["val_accuracy"])


def test_without_a_writable_cache_the_models_answer(tmp_path, monkeypatch, tabulated):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("NASFRAME_CACHE", str(blocker))
    bench = benchmarks.load("nb101")
    archs = bench.space.sample(np.random.default_rng(10), 20)
    with pytest.warns(UserWarning, match="no answer table.*answering from the models"):
        answered = bench.query(archs).val_accuracy
    assert bench.table_key is None
    np.testing.assert_allclose(answered, tabulated.query(archs).val_accuracy, rtol=0, atol=2e-6)
