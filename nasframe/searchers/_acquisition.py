"""Acquisition functions: how a model's belief about candidates becomes a choice among them.

Every model-guided searcher ends a round the same way: a model gives each
candidate a predicted ``mean`` and an uncertainty ``std``, an acquisition
function trades the two off into one score (the objective is maximised), and
the highest scores are proposed. Keeping the functions here, apart from any
model, lets the ensemble searchers (BANANAS, surrogate BO), the fixed
predictor of ``extrapolate`` and latent-bo's Gaussian process share them.

``"its"`` (BANANAS' default)
    Independent Thompson sampling: one independent draw from
    ``N(mean, std)`` per candidate (``naszilla/acquisition_functions.py``,
    NASLib's ``its``), then the highest draws.
``"ei"``
    Expected improvement over the best observed value with the spread divided
    by a calibration factor of 5 (both reference implementations):
    ``s = std / 5``, ``g = (mean - best) / s``, ``EI = s (g Phi(g) + phi(g))``;
    ``max(mean - best, 0)`` where ``s`` is 0.
``"ucb"``
    ``mean + 0.5 std`` (explore factor 0.5 in both implementations).

A Gaussian process's spread is calibrated already, so latent-bo scores with
plain :func:`expected_improvement` instead.
"""

from __future__ import annotations

import numpy as np

#: acquisition functions by name
ACQUISITIONS = ("its", "ei", "ucb")
#: EI's spread divisor (``ei_calibration_factor`` in naszilla and NASLib)
EI_CALIBRATION = 5.0
#: UCB's weight of the spread (``explore_factor`` in naszilla and NASLib)
UCB_EXPLORE = 0.5


def check_acquisition(kind: str) -> None:
    """Raise ``ValueError`` unless ``kind`` names an acquisition function (at construction, not mid-run)."""
    if kind not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {kind!r}; choose one of {', '.join(ACQUISITIONS)}")


def acquisition_scores(
    kind: str, mean: np.ndarray, std: np.ndarray, best: float, rng: np.random.Generator
) -> np.ndarray:
    """Acquisition values of candidates with ensemble ``mean`` and ``std`` (higher is better).

    ``best`` is the incumbent EI improves on; ``rng`` gives ITS its draws (the
    searcher's own generator, so a seed fixes the choice).
    """
    check_acquisition(kind)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.maximum(np.asarray(std, dtype=np.float64), 0.0)
    if kind == "its":
        return rng.normal(mean, std)
    if kind == "ucb":
        return mean + UCB_EXPLORE * std
    from scipy.stats import norm

    # the reference implementations' form, kept as written: a rearranged formula
    # rounds differently and can reorder near-ties, i.e. change trajectories
    scaled = std / EI_CALIBRATION
    gain = mean - best
    out = np.maximum(gain, 0.0)
    ok = scaled > 0
    gamma = gain[ok] / scaled[ok]
    out[ok] = scaled[ok] * (gamma * norm.cdf(gamma) + norm.pdf(gamma))
    return out


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0) -> np.ndarray:
    """EI of a maximisation: ``E[max(f - best - xi, 0)]`` under ``f ~ N(mean, std^2)``.

    ``max(mean - best - xi, 0)`` where ``std`` is 0 (a point the model is sure
    about). ``xi`` is a margin that favours exploration.
    """
    from scipy.stats import norm

    mean = np.asarray(mean, dtype=np.float64)
    std = np.maximum(np.asarray(std, dtype=np.float64), 0.0)
    gain = mean - best - xi
    out = np.maximum(gain, 0.0)
    ok = std > 0
    z = gain[ok] / std[ok]
    out[ok] = gain[ok] * norm.cdf(z) + std[ok] * norm.pdf(z)
    return out


def top_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first.

    A stable sort, so ties keep pool order: which of two equal candidates is
    proposed never depends on the sort algorithm.
    """
    return np.argsort(-np.asarray(scores), kind="stable")[:n]


__all__ = [
    "ACQUISITIONS",
    "EI_CALIBRATION",
    "UCB_EXPLORE",
    "acquisition_scores",
    "check_acquisition",
    "expected_improvement",
    "top_indices",
]
