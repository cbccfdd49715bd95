"""How well a surrogate predicts, in NAS-Bench-301's terms.

NAS cares about ranking more than about absolute error, so the rank
correlations (Kendall, Spearman) sit beside R^2 and MSE. *Sparse* Kendall tau
rounds the predictions to 0.1 percentage points first: differences below the
noise of a single training run should not count as rank disagreements.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import mean_squared_error, r2_score

#: 0.1 percentage points of an accuracy given as a fraction
SPARSE_PRECISION = 1e-3


def kendall_tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(stats.kendalltau(y_true, y_pred).statistic)


def sparse_kendall_tau(
    y_true: np.ndarray, y_pred: np.ndarray, precision: float = SPARSE_PRECISION
) -> float:
    """Kendall tau after rounding predictions to ``precision`` (0.1 pp for fractions)."""
    rounded = np.round(np.asarray(y_pred, dtype=float) / precision) * precision
    return kendall_tau(y_true, rounded)


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(stats.spearmanr(y_true, y_pred).statistic)


def regression_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """All held-out metrics of a surrogate, as NB301 reports them."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) < 2:
        raise ValueError(
            f"need two 1-d arrays of equal length >= 2, got {y_true.shape} and {y_pred.shape}"
        )
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "mse": float(mean_squared_error(y_true, y_pred)),
        "kendall_tau": kendall_tau(y_true, y_pred),
        "sparse_kendall_tau": sparse_kendall_tau(y_true, y_pred),
        "spearman": spearman(y_true, y_pred),
    }
