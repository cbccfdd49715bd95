"""The real BPE trials and the random-forest importance analysis of MIP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nasframe.cli import main
from nasframe.estimation import BPEFormatError, hyperparameter_importance, load_bpe_trials
from tests.conftest import shared_file

XLSX = "bpe/Search_Hyperparameters_Results.xlsx"


def test_importance_finds_the_column_that_drives_the_target():
    rng = np.random.default_rng(0)
    config = pd.DataFrame({"epochs": rng.choice([10, 50, 100], 40), "lr": rng.choice([0.01, 0.1], 40),
                           "layers": rng.choice([6, 20], 40)})
    target = np.log(config["epochs"]) + 0.01 * rng.normal(size=40)
    table = hyperparameter_importance(config, target, seeds=2, n_estimators=50, repeats=5)
    assert table.index[0] == "epochs" and table.loc["epochs", "impurity"] > 0.8
    assert (table["permutation"].drop("epochs") < 0.05).all()
    with pytest.raises(ValueError, match="matching config and target"):
        hyperparameter_importance(config, target[:10])


@pytest.mark.shared_data
def test_real_trials_recompute_the_published_correlations():
    trials = load_bpe_trials(shared_file(XLSX))
    assert trials.config.shape == (32, 8) and trials.accuracies.shape == (32, 100)
    # the sheet rounds to 4-5 digits; every recomputed Spearman agrees
    assert (trials.spearman - trials.reported_correlation).abs().max() < 1e-3
    assert trials.gpu_hours.min() > 0 and trials.config["epochs"].max() == 300


@pytest.mark.shared_data
def test_cli_reports_layers_and_epochs_as_what_matters():
    result = CliRunner().invoke(main, ["bpe", "importance", "--data", str(shared_file(XLSX)), "--seeds", "2"])
    assert result.exit_code == 0, result.output
    correlation = result.output.split("importance for cost")[0]
    rows = [line.split("|")[1].strip() for line in correlation.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:3] == ["layers", "epochs"]  # rows[0] is the header


def test_a_wrong_spreadsheet_is_named(tmp_path):
    path = tmp_path / "other.xlsx"
    pd.DataFrame({"a": [1]}).to_excel(path)
    with pytest.raises(BPEFormatError, match="other.xlsx: not the BPE trials spreadsheet"):
        load_bpe_trials(path)
