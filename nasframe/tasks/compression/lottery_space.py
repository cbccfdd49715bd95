"""The lottery-ticket space: how iterative magnitude pruning (IMP) reaches a sparse subnetwork.

An architecture is a sparsity schedule: the final share of weights removed
(``sparsity``), the number of prune-retrain rounds that reach it
(``rounds``: round ``k`` of ``R`` prunes to ``1 - (1 - sparsity)^(k/R)``),
where surviving weights are rewound to (``rewind``: ``"init"``, Frankle &
Carbin's original tickets, or ``"early"``, the weights after the base's first
epoch, Frankle et al.'s rewinding) and whether magnitudes compete across the
whole network (``scope="global"``) or within each layer (``"layer"``). Four
categorical decisions; the graph view is a chain of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasframe.core import Architecture, InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG

if TYPE_CHECKING:
    import torch

#: the options of every decision, in decision order
OPTIONS: dict[str, tuple[Any, ...]] = {
    "sparsity": (0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
    "rounds": (1, 2, 3),
    "rewind": ("init", "early"),
    "scope": ("global", "layer"),
}


@dataclass(frozen=True, eq=False)
class SparsitySchedule(Architecture):
    """One IMP schedule; see the module docstring."""

    space_name: ClassVar[str] = "lottery-schedule"
    sparsity: float
    rounds: int = 1
    rewind: str = "early"
    scope: str = "global"

    def __post_init__(self) -> None:
        value = self.sparsity
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 <= float(value) < 1:
            raise InvalidArchitecture("lottery-schedule", "sparsity must be a number in [0, 1)", repr(value))
        object.__setattr__(self, "sparsity", round(float(value), 6))
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, (int, np.integer)) or self.rounds < 1:
            raise InvalidArchitecture("lottery-schedule", "rounds must be a positive integer", repr(self.rounds))
        object.__setattr__(self, "rounds", int(self.rounds))
        for name in ("rewind", "scope"):
            if getattr(self, name) not in OPTIONS[name]:
                raise InvalidArchitecture("lottery-schedule", f"{name} must be one of {OPTIONS[name]}",
                                          repr(getattr(self, name)))

    def round_sparsities(self) -> list[float]:
        """The sparsity after each round: ``1 - (1 - sparsity)^(k / rounds)``, the last one ``sparsity``."""
        keep = 1.0 - self.sparsity
        return [1.0 - keep ** (k / self.rounds) for k in range(1, self.rounds + 1)]

    def canonical_key(self) -> str:
        return f"{self.sparsity:g}/{self.rounds}/{self.rewind}/{self.scope}"

    def to_json(self) -> dict[str, Any]:
        return {"space": "lottery-schedule", "sparsity": self.sparsity, "rounds": self.rounds,
                "rewind": self.rewind, "scope": self.scope}


class SparsityScheduleSpace(SearchSpace[SparsitySchedule]):
    """Every combination of :data:`OPTIONS` (8 x 3 x 2 x 2 = 96 schedules)."""

    name = "lottery-schedule"
    encodings = ("values", "onehot")
    node_types = ("input", *(f"{k}={v}" for k, vs in OPTIONS.items() for v in vs), "output")
    input_type, output_type = 0, len(node_types) - 1

    def __repr__(self) -> str:
        return "SparsityScheduleSpace()"

    def size(self) -> int:
        return int(np.prod([len(v) for v in OPTIONS.values()]))

    def sample(self, rng: np.random.Generator, n: int) -> list[SparsitySchedule]:
        draws = np.stack([rng.integers(0, len(v), size=n) for v in OPTIONS.values()], axis=1)
        return [self.from_choices(row.tolist()) for row in draws]

    def mutate(self, arch: SparsitySchedule, rng: np.random.Generator) -> SparsitySchedule:
        """One decision, drawn uniformly, takes another of its options, drawn uniformly."""
        return self._one_decision_mutation(arch, rng)

    def neighbors(self, arch: SparsitySchedule) -> list[SparsitySchedule]:
        """Every schedule with one field moved to another of its options."""
        return self._one_decision_changes(arch)

    def validate(self, spec: Any) -> SparsitySchedule:
        """Accepts a :class:`SparsitySchedule` or its JSON dict; every field must be one of :data:`OPTIONS`."""
        if isinstance(spec, Mapping):
            fields = {k: v for k, v in spec.items() if k != "space"}
            if set(fields) - set(OPTIONS) or "sparsity" not in fields:
                raise InvalidArchitecture("lottery-schedule", f"a spec dict has keys among {list(OPTIONS)}, "
                                          "sparsity required", f"keys {sorted(spec)}")
            spec = SparsitySchedule(**fields)
        if not isinstance(spec, SparsitySchedule):
            raise InvalidArchitecture("lottery-schedule", "unrecognised spec form", type(spec).__name__)
        for name, options in OPTIONS.items():
            if getattr(spec, name) not in options:
                raise InvalidArchitecture("lottery-schedule", f"{name} is one of {options}", repr(getattr(spec, name)))
        return spec

    def decisions(self) -> list[tuple[str, int]]:
        return [(name, len(options)) for name, options in OPTIONS.items()]

    def to_choices(self, arch: SparsitySchedule) -> list[int]:
        arch = self.validate(arch)
        return [options.index(getattr(arch, name)) for name, options in OPTIONS.items()]

    def from_choices(self, choices: Sequence[int]) -> SparsitySchedule:
        checked = self._check_choices(choices)
        return SparsitySchedule(**{name: options[i] for (name, options), i in zip(OPTIONS.items(), checked)})

    def encode(self, archs: Sequence[SparsitySchedule], kind: str | None = None) -> np.ndarray:
        """``values``: sparsity, rounds, rewind (0 init, 1 early), scope (0 global, 1 layer);
        ``onehot``: one indicator per option of every decision."""
        kind = self._check_encoding(kind)
        choices = np.array([self.to_choices(a) for a in archs], dtype=np.int64).reshape(len(archs), len(OPTIONS))
        if kind == "values":
            out = choices.astype(np.float32)
            out[:, 0] = np.asarray(OPTIONS["sparsity"], dtype=np.float32)[choices[:, 0]]
            out[:, 1] = np.asarray(OPTIONS["rounds"], dtype=np.float32)[choices[:, 1]]
            return out
        offsets = np.cumsum([0] + [len(v) for v in OPTIONS.values()])[:-1]
        out = np.zeros((len(archs), sum(len(v) for v in OPTIONS.values())), dtype=np.float32)
        out[np.repeat(np.arange(len(archs)), len(OPTIONS)), (choices + offsets).ravel()] = 1.0
        return out

    def dag(self, arch: SparsitySchedule) -> DAG:
        """A chain: input, one node per decision typed by its option, output."""
        offsets = np.cumsum([0] + [len(v) for v in OPTIONS.values()])[:-1]
        types = (self.input_type, *(int(c + o) + 1 for c, o in zip(self.to_choices(arch), offsets)), self.output_type)
        return DAG(types, tuple((i, i + 1) for i in range(len(types) - 1)))

    def build_model(self, arch: SparsitySchedule, **config: Any) -> torch.nn.Module:
        """Tickets come from a trained base, so the lottery task builds them
        (:meth:`nasframe.tasks.compression.tasks.LotteryTicket.build_model`), not the space."""
        raise NotImplementedError("lottery schedules are built by the lottery task from its base network")


__all__ = ["OPTIONS", "SparsitySchedule", "SparsityScheduleSpace"]
