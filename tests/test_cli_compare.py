"""`nasframe compare` and `nasframe search --address`: experiments from the command line."""

from __future__ import annotations

import json

import pandas as pd
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
    assert (table["final regret (mean)"] >= 0).all() and (table["standard error"] > 0).all()
    assert (tmp_path / "regret-nbgraph-cora.png").stat().st_size > 5000
    assert "| nbgraph-cora" in (tmp_path / "regret.md").read_text()
    again = CliRunner().invoke(main, args)  # nothing left to do: every run is stored once
    assert again.exit_code == 0 and "0 runs done now, 6 already stored" in again.output
    assert pd.read_csv(tmp_path / "regret.csv").equals(table)


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
    assert json.loads((tmp_path / "l" / "summary.json").read_text())["best"] == summary["best"]


def test_compare_passes_searcher_options_and_refuses_bad_ones(tmp_path):
    import pyarrow.parquet as pq

    args = ["compare", "--benchmark", "nbgraph-cora", "--searchers", "evolution", "--seeds", "1", "--budget", "15",
            "--option", "evolution:population_size=12", "--out", str(tmp_path), "--serial"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    (stored,) = (tmp_path / "store").glob("*.parquet")
    run = json.loads(pq.read_schema(stored).metadata[b"nasframe.run"])
    assert run["options"] == {"population_size": 12}
    for option, message in (("random:x=1", "'random' is not among --searchers evolution"),
                            ("evolution=3", "is not SEARCHER:KEY=VALUE")):
        refused = CliRunner().invoke(main, [*args[:7], "--option", option, "--out", str(tmp_path / "x")])
        assert refused.exit_code == 2 and message in refused.output
