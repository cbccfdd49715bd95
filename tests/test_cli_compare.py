"""`nasframe compare` and `nasframe search --address`: experiments from the command line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from nasframe.cli import main


def test_compare_in_process_writes_table_and_curves_and_resumes(tmp_path):
    args = ["compare", "--benchmark", "nbgraph-cora", "--searchers", "random,local", "--seeds", "3",
            "--budget", "40", "--out", str(tmp_path), "--serial"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "6 runs done now, 0 already stored" in first.output
    table = pd.read_csv(tmp_path / "regret.csv")
    assert set(table["searcher"]) == {"random", "local"} and (table["runs"] == 3).all()
    # an exact table: each run's final regret is the optimum minus the best value it evaluated, by hand
    import benchmarks
    from nasframe.store import ResultStore

    optimum = benchmarks.load("nbgraph-cora").best()[1]
    stored = ResultStore(tmp_path / "store").load()
    by_hand = (optimum - stored.groupby(["searcher", "seed"])["val_accuracy"].max()).groupby("searcher")
    mean, se = by_hand.mean(), by_hand.std(ddof=1) / 3**0.5
    reported = table.set_index("searcher")
    assert (reported["final regret (mean)"] - mean).abs().max() < 1e-12, (reported, mean.to_dict())
    assert (reported["standard error"] - se).abs().max() < 1e-12, (reported, se.to_dict())
    assert (tmp_path / "regret-nbgraph-cora.png").stat().st_size > 5000
    assert "| nbgraph-cora" in (tmp_path / "regret.md").read_text()
    again = CliRunner().invoke(main, args)  # nothing left to do: every run is stored once
    assert again.exit_code == 0 and "0 runs done now, 6 already stored" in again.output
    assert pd.read_csv(tmp_path / "regret.csv").equals(table)


def test_compare_reports_both_regrets_in_table_and_plot(tmp_path, monkeypatch):
    import benchmarks

    import nasframe.analysis as analysis
    from nasframe.store import ResultStore

    figures = []
    monkeypatch.setattr(analysis, "_save", lambda plt, fig, path: figures.append(fig))
    args = ["compare", "--benchmark", "nbgraph-cora", "--searchers", "random,evolution", "--seeds", "2",
            "--budget", "20", "--out", str(tmp_path), "--serial"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    table = pd.read_csv(tmp_path / "regret.csv").set_index("searcher")
    # an exact table (one run per architecture): the best seen is the incumbent; by hand from the stored runs
    stored = ResultStore(tmp_path / "store").load()
    best = benchmarks.load("nbgraph-cora").best()[1]
    for searcher, runs in stored.groupby("searcher"):
        expected = (best - runs.groupby("seed")["val_accuracy"].max()).mean()
        assert table.loc[searcher, "final seen regret (mean)"] == pytest.approx(expected, abs=1e-12)
        assert table.loc[searcher, "final regret (mean)"] == pytest.approx(expected, abs=1e-12)
        assert table.loc[searcher, "best seen val (mean)"] == pytest.approx(best - expected, abs=1e-12)
    assert "final seen regret" in (tmp_path / "regret.md").read_text()
    (figure,) = figures  # one benchmark: one plot, a solid and a dashed curve per searcher
    styles = sorted((line.get_label(), line.get_linestyle()) for line in figure.axes[0].get_lines())
    assert styles == [("evolution", "-"), ("evolution (seen)", "--"), ("random", "-"), ("random (seen)", "--")]


def test_compare_and_search_on_ray(ray_session, tmp_path):
    compared = CliRunner().invoke(main, ["compare", "--benchmark", "nbgraph-cora", "--searchers", "random",
                                         "--seeds", "2", "--budget", "20", "--out", str(tmp_path / "c")])
    assert compared.exit_code == 0, compared.output
    assert "2 runs done now" in compared.output
    searched = CliRunner().invoke(main, ["search", "--benchmark", "nbgraph-cora", "--searcher", "evolution",
                                         "--budget", "30", "--address", "auto", "--out", str(tmp_path / "s")])
    assert searched.exit_code == 0, searched.output
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["evaluated"] == 30 and summary["best_mean_val_accuracy"] > 0.7
    local = CliRunner().invoke(main, ["search", "--benchmark", "nbgraph-cora", "--searcher", "evolution",
                                      "--budget", "30", "--out", str(tmp_path / "l")])
    assert local.exit_code == 0, local.output
    assert json.loads((tmp_path / "l" / "summary.json").read_text())["best"] == summary["best"]


def test_compare_passes_searcher_options_and_refuses_bad_ones(tmp_path):
    from nasframe.store import ResultStore

    args = ["compare", "--benchmark", "nbgraph-cora", "--searchers", "evolution", "--seeds", "1", "--budget", "15",
            "--option", "evolution:population_size=12", "--out", str(tmp_path), "--serial"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    (run,) = ResultStore(tmp_path / "store").runs().to_dict(orient="records")
    assert run["options"] == {"population_size": 12}
    for option, message in (("random:x=1", "'random' is not among --searchers evolution"),
                            ("evolution=3", "is not SEARCHER:KEY=VALUE")):
        refused = CliRunner().invoke(main, [*args[:7], "--option", option, "--out", str(tmp_path / "x")])
        assert refused.exit_code == 2 and message in refused.output


# -- failures surface, the folder keeps one configuration, inputs are checked first -------------------------

FAILING = ["compare", "--serial", "--benchmark", "nbgraph-cora", "--searchers", "random,evolution",
           "--option", "evolution:population=-5", "--seeds", "1", "--budget", "10"]


def test_failing_searcher_is_printed_counted_and_exits_1_also_on_rerun(tmp_path):
    out = str(tmp_path / "cm")
    first = CliRunner().invoke(main, [*FAILING, "--out", out])
    assert first.exit_code == 1, first.output
    assert "2 runs done now, 0 already stored, 1 of 2 failed" in first.output
    assert "unexpected keyword argument 'population'" in first.stderr
    assert first.stderr.strip().splitlines()[-1].startswith("error: 1 of 2 runs failed")
    report = (tmp_path / "cm" / "regret.md").read_text()
    assert "1 of 2 runs failed" in report and "'population'" in report
    table = pd.read_csv(tmp_path / "cm" / "regret.csv").set_index("searcher")
    assert table.loc["evolution", "failed"] == 1 and pd.isna(table.loc["evolution", "final regret (mean)"])
    assert table.loc["random", "failed"] == 0 and table.loc["random", "final regret (mean)"] >= 0
    again = CliRunner().invoke(main, [*FAILING, "--out", out])  # nothing to run: the failure is reported again
    assert again.exit_code == 1 and "0 runs done now, 2 already stored, 1 of 2 failed" in again.output
    assert "'population'" in again.stderr
    allowed = CliRunner().invoke(main, [*FAILING, "--out", out, "--allow-failures"])
    assert allowed.exit_code == 0 and "'population'" in allowed.stderr


def test_every_run_failing_gives_a_report_that_says_so(tmp_path):
    args = [*FAILING[:5], "evolution", *FAILING[6:], "--out", str(tmp_path), "--allow-failures"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "1 of 1 failed" in done.output and "No run finished without an error" in done.output
    assert (tmp_path / "regret.md").read_text().startswith("No run finished without an error")
    assert not list(tmp_path.glob("*.png"))


def test_an_out_folder_refuses_another_configuration(tmp_path):
    args = ["compare", "--serial", "--benchmark", "nbgraph-cora", "--searchers", "random", "--seeds", "1",
            "--budget", "10", "--out", str(tmp_path)]
    assert CliRunner().invoke(main, args).exit_code == 0
    refused = CliRunner().invoke(main, [*args, "--batch-size", "2"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert refused.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'store'} holds another experiment: batch_size: 1 there, 2 here (recorded in "
        "experiment.json); use a new folder or the same settings"]
    more = CliRunner().invoke(main, [*args[:7], "2", *args[8:]])  # more seeds: only the new run
    assert more.exit_code == 0 and "1 runs done now, 1 already stored" in more.output


def _saved_benchmark(folder):
    """A saved benchmark folder, as `nasframe benchmark build --out` leaves one (a copy of the shipped ENAS one)."""
    import shutil

    from benchmarks.catalog import MODELS

    shutil.copytree(MODELS / "enas", folder)


def test_compare_on_a_saved_benchmark_folder_with_or_without_dot_slash(tmp_path, monkeypatch):
    _saved_benchmark(tmp_path / "my-bench")
    monkeypatch.chdir(tmp_path)
    args = ["compare", "--serial", "--searchers", "random", "--budget", "8", "--out", "cm"]
    first = CliRunner().invoke(main, [*args, "--benchmark", "my-bench", "--seeds", "1"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, [*args, "--benchmark", "./my-bench", "--seeds", "2"])  # the same benchmark
    assert again.exit_code == 0 and "1 runs done now, 1 already stored" in again.output
    assert (pd.read_csv(tmp_path / "cm" / "regret.csv")["benchmark"] == "my-bench").all()


def test_compare_on_a_saved_benchmark_folder_on_ray(ray_session, tmp_path, monkeypatch):
    _saved_benchmark(tmp_path / "my-bench")
    monkeypatch.chdir(tmp_path)  # the workers are elsewhere: they get the folder's absolute path
    done = CliRunner().invoke(main, ["compare", "--benchmark", "./my-bench", "--searchers", "random", "--seeds", "2",
                                     "--budget", "8", "--out", "cm"])
    assert done.exit_code == 0, done.output
    assert "2 runs done now" in done.output and "0 of 2 failed" in done.output


BAD_INPUTS = [
    (["--searchers", "bogus"], "unknown searcher 'bogus'"),
    (["--searchers", ""], "no searcher named"),
    (["--searchers", " , "], "no searcher named"),
    (["--searchers", "random,random"], "repeated: ['random']"),
    (["--benchmark", "nope"], "unknown benchmark 'nope'"),
    (["--benchmark", "./nope"], "is not a saved benchmark folder"),
    (["--seeds", "0"], "'--seeds': 0 is not in the range x>=1"),
    (["--budget", "-1"], "'--budget': -1 is not in the range x>=1"),
    (["--batch-size", "0"], "'--batch-size': 0 is not in the range x>=1"),
    (["--seeds", "two"], "'--seeds': 'two' is not a valid integer"),
    (["--option", "random"], "'random' is not SEARCHER:KEY=VALUE"),
    (["--option", "random:=1"], "'random:=1' is not SEARCHER:KEY=VALUE"),
    (["--option", "evolution:x=1"], "'evolution' is not among --searchers random"),
]


def test_bad_input_is_one_line_exit_2_before_any_work(tmp_path):
    for extra, message in BAD_INPUTS:
        args = ["compare", "--serial", "--benchmark", "nbgraph-cora", "--searchers", "random", "--seeds", "1",
                "--budget", "5", "--out", str(tmp_path / "cm"), *extra]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (extra, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (extra, lines)
        assert "Traceback" not in result.output
        assert not (tmp_path / "cm").exists(), extra  # refused before anything was written
