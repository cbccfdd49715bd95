"""Records exchanged between evaluators, searchers and the result store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fidelity:
    """How much training an evaluation stands for.

    ``epochs`` is the common axis (NB101's 4/12/36/108); ``extra`` carries any
    other budget dimension (data fraction, image size, ...) by name.
    """

    epochs: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"epochs": self.epochs, **dict(self.extra)}


@dataclass(frozen=True)
class EvalResult:
    """The outcome of evaluating one architecture at one fidelity.

    Accuracies are fractions in [0, 1]; ``cost`` is the simulated or measured
    wall-clock seconds the evaluation stands for (what a budget is spent in).
    ``val_accuracy`` is what single-objective searchers maximise: a task's
    primary metric, or a scalarisation of its objectives; ``objectives`` keeps
    every objective of a task (:class:`nasframe.core.task.Objective`) by name,
    in its own units, for multi-objective searchers and the result store.
    """

    val_accuracy: float
    test_accuracy: float | None = None
    train_time: float | None = None
    params: int | None = None
    fidelity: Fidelity = field(default_factory=Fidelity)
    cost: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fidelity"] = self.fidelity.to_json()
        return data
