"""Declared hyper-parameter spaces: what a surrogate family may be given, and what is tuned.

Each family declares its permitted values (``valid``) and its search space
(``hpo_space``) next to its class, as a mapping from hyper-parameter name to
a dimension (:class:`Int`, :class:`Float`, :class:`Choice`). The same
declaration checks constructor arguments (:func:`outside`) and drives Optuna
(:func:`suggest`), so the two can never disagree. Optuna itself is not
imported here: a trial is only duck-typed, and the families import these
types for free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Union

import numpy as np

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


__all__ = ["Int", "Float", "Choice", "Dimension", "suggest", "outside"]
