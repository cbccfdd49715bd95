import numpy as np
import pytest

from surrogates.metrics import regression_report, sparse_kendall_tau, kendall_tau


def test_perfect_and_reversed_predictions():
    y = np.linspace(0.8, 0.95, 50)
    perfect = regression_report(y, y)
    assert perfect["r2"] == pytest.approx(1.0) and perfect["mse"] == 0.0
    assert perfect["kendall_tau"] == pytest.approx(1.0)
    assert regression_report(y, -y)["spearman"] == pytest.approx(-1.0)


def test_sparse_kendall_ignores_differences_below_a_tenth_of_a_point():
    y_true = np.array([0.9000, 0.9002, 0.9004, 0.9200])
    y_pred = np.array([0.9004, 0.9002, 0.9000, 0.9200])  # inverted inside 0.04 pp
    assert kendall_tau(y_true, y_pred) < 0.2
    # once rounded, the three near-ties become one tie and stop counting as discordant
    assert sparse_kendall_tau(y_true, y_pred) > 0.5


def test_shape_errors_are_named():
    with pytest.raises(ValueError, match="equal length"):
        regression_report(np.zeros(3), np.zeros(4))
