"""Structural interfaces of evaluators and surrogates.

They are ``Protocol`` classes, not base classes: a benchmark backed by a
lookup table, a surrogate ensemble or a Ray Tune training job only needs the
methods, which keeps this module free of heavy imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from nasframe.core.architecture import Architecture
from nasframe.core.results import EvalResult, Fidelity
from nasframe.core.space import SearchSpace


@runtime_checkable
class Evaluator(Protocol):
    """Anything that turns architectures into results, in batches."""

    space: SearchSpace

    def evaluate(
        self, archs: Sequence[Architecture], fidelity: Fidelity | None = None, seed: int | None = None
    ) -> list[EvalResult]:
        """One result per architecture; ``seed`` fixes any evaluation noise."""
        ...


@runtime_checkable
class Surrogate(Protocol):
    """A performance model: scikit-learn style fit/predict plus portable save/load."""

    def fit(self, archs: Sequence[Architecture], y: np.ndarray) -> "Surrogate": ...

    def predict(self, archs: Sequence[Architecture]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation per architecture."""
        ...

    def save(self, path: str | Path) -> None: ...
