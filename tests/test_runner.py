"""The in-process runner: determinism, batching, failures as data, and `nasframe search`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nasframe.cli import main
from nasframe.core import Searcher
from nasframe.runner import run_search
from nasframe.searchers import RandomSearch, make


@pytest.fixture(scope="module")
def bench(cora):
    return cora


def test_same_seed_same_trajectory_and_batches_respect_the_budget(bench):
    a = run_search(make("random", bench.space, seed=4), bench, 40, seed=4, batch_size=7).to_frame()
    b = run_search(make("random", bench.space, seed=4), bench, 40, seed=4, batch_size=7).to_frame()
    c = run_search(make("random", bench.space, seed=5), bench, 40, seed=5, batch_size=7).to_frame()
    assert len(a) == 40 and a["hash"].is_unique and a["batch"].max() == 5
    assert a["hash"].tolist() == b["hash"].tolist() and a["val_accuracy"].tolist() == b["val_accuracy"].tolist()
    assert a["hash"].tolist() != c["hash"].tolist()
    assert (np.diff(a["best_val_accuracy"]) >= 0).all()
    best = a.loc[a["val_accuracy"].idxmax()]
    assert a["incumbent_test_accuracy"].iat[-1] == best["test_accuracy"]


class _FailsOn:
    """A benchmark wrapper that raises for one architecture hash."""

    def __init__(self, bench, bad_hash):
        self.bench, self.bad, self.space = bench, bad_hash, bench.space

    def evaluate(self, archs, fidelity=None, seed=None):
        if any(self.space.canonical_hash(a) == self.bad for a in archs):
            raise RuntimeError(f"training diverged for {self.bad}")
        return self.bench.evaluate(archs, fidelity, seed=seed)


def test_an_architecture_that_fails_is_recorded_and_not_told(bench):
    probe = run_search(make("random", bench.space, seed=1), bench, 12, seed=1, batch_size=4).to_frame()
    bad = probe["hash"].iat[5]
    searcher = make("random", bench.space, seed=1)
    history = run_search(searcher, _FailsOn(bench, bad), 12, seed=1, batch_size=4)
    frame = history.to_frame()
    assert len(frame) == 12 and history.error is None
    failed = frame[frame["error"].notna()]
    assert failed["hash"].tolist() == [bad] and "training diverged" in failed["error"].iat[0]
    assert np.isnan(failed["val_accuracy"].iat[0])
    assert len(searcher.history) == 11  # the failure is never told
    ok = frame[frame["error"].isna()]
    assert len(ok) == 11 and ok["val_accuracy"].notna().all() and ok["error"].isna().all()
    # the batch-mates of the failure are still evaluated (one by one), the others as usual
    assert set(ok["hash"]) == set(probe["hash"]) - {bad}


class _BrokenSearcher(RandomSearch):
    def ask(self, n=1):
        if len(self.history) >= 6:
            raise ValueError("the model exploded")
        return super().ask(n)


def test_a_searcher_that_raises_ends_its_run_with_the_error_kept(bench):
    history = run_search(_BrokenSearcher(bench.space, seed=0), bench, 20, seed=0, batch_size=3)
    assert len(history) == 6 and "ValueError: the model exploded" in history.error


class _Exhausted(Searcher):
    def ask(self, n=1):
        return []


def test_an_exhausted_searcher_ends_the_run_cleanly(bench):
    history = run_search(_Exhausted(bench.space), bench, 5)
    assert len(history) == 0 and history.error is None and history.best() is None


def test_history_summary_and_its_round_trip_through_a_frame(bench):
    from nasframe.analysis import final_regret, regret

    history = run_search(_BrokenSearcher(bench.space, seed=0), bench, 20, seed=0, batch_size=3)
    summary = history.summary()
    assert summary["evaluated"] == 6 and summary["failed"] == 0 and "the model exploded" in summary["error"]
    assert summary["best"] == history.best() and set(summary["timings"]) == {"framework", "searcher", "evaluator"}
    frame = history.to_frame()
    stored = frame.assign(error=np.nan)  # a store writes missing errors as NaN
    again = type(history).from_frame(stored, error=history.error)
    assert again.error == history.error and again.best()["hash"] == history.best()["hash"]
    pd.testing.assert_frame_equal(again.to_frame(), frame, check_dtype=False)
    # one run's frame: regret per step, and where the run ended
    curve = regret(frame, bench)
    ended = final_regret(frame, bench)
    assert len(curve) == 6 and ended["regret"] == curve["regret"].iat[-1]
    assert ended["optimum"] == bench.best()[1] and ended["incumbent_val_accuracy"] <= ended["optimum"]
    # one answer per architecture in this table: the best seen is the incumbent, the best observed value
    observed = frame["val_accuracy"].max()
    assert ended["best_seen_val_accuracy"] == observed and ended["seen_regret"] == ended["optimum"] - observed
    assert ended["seen_regret"] == ended["regret"]


def test_cli_search_writes_history_summary_and_plot(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["search", "--benchmark", "nbgraph-cora", "--searcher", "random",
                                       "--budget", "25", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "best architecture" in result.output and "regret" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluated"] == 25 and summary["optimum"] > summary["best"]["val_accuracy"] - 1e-12
    assert summary["best_seen_mean_val_accuracy"] == summary["best"]["val_accuracy"]  # exact table
    assert summary["seen_regret"] == summary["regret"] == summary["optimum"] - summary["best"]["val_accuracy"]
    assert "seen regret (best evaluated)" in result.output
    assert (out / "best.png").stat().st_size > 5000 and len((out / "history.csv").read_text().splitlines()) == 26
    unknown = CliRunner().invoke(main, ["search", "--benchmark", "nbgraph-cora", "--searcher", "nope"])
    assert unknown.exit_code == 2 and "unknown searcher 'nope'" in unknown.output
