"""Hyper-parameter optimisation of surrogate families with Optuna.

Each family declares its own search space next to its class, as a mapping
from hyper-parameter name to a dimension (:class:`Int`, :class:`Float`,
:class:`Choice`) returned by ``search_space(space)``; :func:`suggest` turns
such a declaration into Optuna ``trial.suggest_*`` calls. This module only
orchestrates: split the data once, fit a one-member model per trial on the
training part and score it on the validation part.

Optuna is imported when :func:`tune_surrogate` runs, not with this module, so
the families can import the dimension types for free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Union

import numpy as np

from nasframe.core import Architecture, SearchSpace

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]`` (log-uniform when ``log``)."""

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"empty integer range [{self.low}, {self.high}]")

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and (
            self.low <= value <= self.high
        )


@dataclass(frozen=True)
class Float:
    """A float in ``[low, high]`` (log-uniform when ``log``)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"empty float range [{self.low}, {self.high}]")

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, (int, float, np.floating))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and self.low <= value <= self.high
        )


@dataclass(frozen=True)
class Choice:
    """One of a few values (strings, numbers, booleans)."""

    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError("a Choice needs at least one value")

    def contains(self, value: Any) -> bool:
        return any(value == c and type(value) is type(c) for c in self.choices)


Dimension = Union[Int, Float, Choice]


def suggest(trial: "optuna.Trial", dims: Mapping[str, Dimension]) -> dict[str, Any]:
    """One value per declared dimension, drawn by ``trial``."""
    params: dict[str, Any] = {}
    for name, dim in dims.items():
        if isinstance(dim, Int):
            params[name] = trial.suggest_int(name, dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Float):
            params[name] = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Choice):
            params[name] = trial.suggest_categorical(name, list(dim.choices))
        else:
            raise TypeError(f"hyper-parameter {name!r}: {dim!r} is not an Int, Float or Choice")
    return params


def outside(dims: Mapping[str, Dimension], params: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``params`` that a declared dimension does not contain."""
    return {k: v for k, v in params.items() if k in dims and not dims[k].contains(v)}


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
    from surrogates.base import Surrogate, families

    cls = families.factory(family) if isinstance(family, str) else family
    if not (isinstance(cls, type) and issubclass(cls, Surrogate)):
        raise TypeError(f"{family!r} is not a surrogate family")
    return cls


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
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    y = np.asarray(y, dtype=np.float64)
    if len(archs) != len(y):
        raise ValueError(f"got {len(archs)} architectures but {len(y)} targets")
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(cls.default_params)
    if unknown:
        raise ValueError(
            f"unknown {cls.family} hyper-parameters {sorted(unknown)}; known: {sorted(cls.default_params)}"
        )
    n_valid = int(round(valid_fraction * len(y)))
    if n_valid < 2 or len(y) - n_valid < 2:
        raise ValueError(
            f"{len(y)} samples with valid_fraction={valid_fraction} leave fewer than two "
            "for training or validation"
        )
    order = np.random.default_rng(seed).permutation(len(y))
    valid, train = order[:n_valid], order[n_valid:]
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
        n_valid=n_valid,
        study=study,
    )


__all__ = ["Int", "Float", "Choice", "Dimension", "suggest", "outside", "tune_surrogate", "TuneResult", "METRICS"]
