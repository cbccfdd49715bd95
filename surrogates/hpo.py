"""Hyper-parameter optimisation of surrogate families with Optuna.

Each family declares its search space next to its class
(``search_space(space)``, built from :mod:`surrogates.dimensions`). This
module only orchestrates: split the data once, fit a one-member model per
trial on the training part and score it on the validation part.

Optuna is imported when :func:`tune_surrogate` runs, not with this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace
from nasframe.core.registry import SURROGATES
from surrogates.base import Surrogate
from surrogates.dimensions import suggest

if TYPE_CHECKING:
    import optuna


#: metrics of :func:`surrogates.metrics.regression_report` and whether larger is better
METRICS = {
    "kendall_tau": True,
    "sparse_kendall_tau": True,
    "spearman": True,
    "r2": True,
    "mse": False,
}


@dataclass
class TuneResult:
    """What :func:`tune_surrogate` found."""

    family: str
    metric: str
    #: complete hyper-parameters of the best trial (defaults, fixed and tuned values)
    best_params: dict[str, Any]
    best_value: float
    #: the validation report of the best trial
    best_report: dict[str, float]
    n_train: int
    n_valid: int
    study: Any = field(repr=False)


def _family_class(family: Any) -> type:
    cls = SURROGATES.factory(family) if isinstance(family, str) else family
    if not (isinstance(cls, type) and issubclass(cls, Surrogate)):
        raise TypeError(f"{family!r} is not a surrogate family")
    return cls


def _check_arguments(cls: type, metric: str, n_trials: int, valid_fraction: float, n_archs: int, n_y: int,
                     fixed: Mapping[str, Any]) -> None:
    """Refuse a tuning request before any model is fitted."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    if n_archs != n_y:
        raise ValueError(f"got {n_archs} architectures but {n_y} targets")
    unknown = set(fixed) - set(cls.default_params)
    if unknown:
        raise ValueError(
            f"unknown {cls.family} hyper-parameters {sorted(unknown)}; known: {sorted(cls.default_params)}"
        )


def _split(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, valid) indices, made once: every trial is scored on the same part."""
    n_valid = int(round(valid_fraction * n))
    if n_valid < 2 or n - n_valid < 2:
        raise ValueError(
            f"{n} samples with valid_fraction={valid_fraction} leave fewer than two "
            "for training or validation"
        )
    order = np.random.default_rng(seed).permutation(n)
    return order[n_valid:], order[:n_valid]


def tune_surrogate(
    family: str | type,
    space: SearchSpace,
    archs: Sequence[Architecture],
    y: Sequence[float],
    *,
    n_trials: int,
    seed: int = 0,
    valid_fraction: float = 0.2,
    metric: str = "kendall_tau",
    fixed: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> TuneResult:
    """Tune one family's hyper-parameters with Optuna's seeded TPE sampler.

    The data are split once (a seeded random ``valid_fraction`` held out);
    every trial fits a one-member model (no bagging) on the rest and scores
    ``metric`` on the held-out part. ``fixed`` pins hyper-parameters (for
    example a small ``epochs`` for a quick GNN search): they are neither
    tuned nor allowed to be unknown. The result holds the complete best
    parameters, ready for ``make_surrogate(family, space, **best_params)``.
    """
    import optuna

    from surrogates.metrics import regression_report

    cls = _family_class(family)
    y = np.asarray(y, dtype=np.float64)
    fixed = dict(fixed or {})
    _check_arguments(cls, metric, n_trials, valid_fraction, len(archs), len(y), fixed)
    train, valid = _split(len(y), valid_fraction, seed)
    train_archs = [archs[i] for i in train]
    valid_archs = [archs[i] for i in valid]
    dims = {k: v for k, v in cls.search_space(space).items() if k not in fixed}

    def objective(trial: "optuna.Trial") -> float:
        params = {**cls.default_params, **suggest(trial, dims), **fixed}
        model = cls(space, members=1, seed=seed, **params).fit(train_archs, y[train])
        pred, _ = model.predict(valid_archs)
        report = regression_report(y[valid], pred)
        value = report[metric]
        trial.set_user_attr("params", model.params)
        trial.set_user_attr("report", report)
        # a constant prediction has no rank correlation (NaN): rank it last
        if not math.isfinite(value):
            return -math.inf if METRICS[metric] else math.inf
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if METRICS[metric] else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        study_name=f"{cls.family}-{space.name}",
    )
    study.optimize(objective, n_trials=n_trials, timeout=timeout)
    best = study.best_trial
    return TuneResult(
        family=cls.family,
        metric=metric,
        best_params=dict(best.user_attrs["params"]),
        best_value=float(best.value),
        best_report=dict(best.user_attrs["report"]),
        n_train=len(train),
        n_valid=len(valid),
        study=study,
    )


__all__ = ["tune_surrogate", "TuneResult", "METRICS"]
