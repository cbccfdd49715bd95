"""The Knowledge Evolution space: how a network is split, and for how many generations it evolves.

An architecture is a pair: the split rate ``split_rate`` (the share ``k`` of
every layer's filters that forms the fit hypothesis, kept from one
generation to the next; the rest, the reset hypothesis, is re-initialised at
the start of every generation) and the number of generations
``generations`` (``G``, each a full training). Both are categorical on a grid
(defaults: ``k`` in 0.2...0.8 as in the paper's split-rate ablation, ``G`` in
1..5); the graph view is a chain of the two decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasframe.core import Architecture, InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG
from nasframe.core.errors import InvalidSetting

if TYPE_CHECKING:
    import torch

SPACE = "ke-split"
DEFAULT_SPLIT_RATES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.8)
DEFAULT_GENERATIONS = (1, 2, 3, 4, 5)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


@dataclass(frozen=True, eq=False)
class KESplit(Architecture):
    """One split: ``split_rate`` in (0, 1) and ``generations`` >= 1; see the module docstring."""

    space_name: ClassVar[str] = SPACE
    split_rate: float
    generations: int = 1

    def __post_init__(self) -> None:
        if not _is_number(self.split_rate) or not 0 < float(self.split_rate) < 1:
            raise InvalidArchitecture(SPACE, "split rate k (field 'split_rate') must be in (0, 1)",
                                      repr(self.split_rate))
        object.__setattr__(self, "split_rate", round(float(self.split_rate), 6))
        integer = _is_number(self.generations) and float(self.generations).is_integer()
        if not integer or int(self.generations) < 1:
            raise InvalidArchitecture(SPACE, "field 'generations' (G) must be an integer >= 1", repr(self.generations))
        object.__setattr__(self, "generations", int(self.generations))

    def canonical_key(self) -> str:
        return f"k={self.split_rate:g}/G={self.generations}"

    def to_json(self) -> dict[str, Any]:
        return {"space": SPACE, "split_rate": self.split_rate, "generations": self.generations}


class KESplitSpace(SearchSpace[KESplit]):
    """Every (split rate, generations) pair of two grids; see the module docstring."""

    name = SPACE
    encodings = ("values", "onehot")

    def __init__(self, split_rates: Sequence[float] = DEFAULT_SPLIT_RATES,
                 generations: Sequence[int] = DEFAULT_GENERATIONS) -> None:
        rates = tuple(sorted(KESplit(k).split_rate for k in split_rates))
        counts = tuple(sorted(KESplit(0.5, g).generations for g in generations))
        for field, grid in (("split_rates", rates), ("generations", counts)):
            # a one-option decision is no decision (searchers and the categorical view need two)
            if len(grid) < 2 or len(set(grid)) != len(grid):
                raise InvalidSetting(f"{SPACE} field {field!r}: at least two distinct values, got {grid}")
        self.options: dict[str, tuple[Any, ...]] = {"split_rate": rates, "generations": counts}
        self.node_types = ("input", *(f"{k}={v}" for k, vs in self.options.items() for v in vs),  # type: ignore[misc]
                           "output")
        self.input_type, self.output_type = 0, len(self.node_types) - 1  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"KESplitSpace(split_rates={self.options['split_rate']}, generations={self.options['generations']})"

    def config(self) -> dict[str, Any]:
        return {"split_rates": list(self.options["split_rate"]), "generations": list(self.options["generations"])}

    @property
    def max_generations(self) -> int:
        return max(self.options["generations"])

    def size(self) -> int:
        return int(np.prod([len(v) for v in self.options.values()]))

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[KESplit]:
        draws = np.stack([rng.integers(0, len(v), size=n) for v in self.options.values()], axis=1)
        return [self.from_choices(row.tolist()) for row in draws]

    def mutate(self, arch: KESplit, rng: np.random.Generator) -> KESplit:
        """One decision, drawn uniformly, takes another of its options, drawn uniformly."""
        return self._one_decision_mutation(arch, rng)

    def neighbors(self, arch: KESplit) -> list[KESplit]:
        """Every split with one field moved to another of its options."""
        return self._one_decision_changes(arch)

    # -- identity and conversion ----------------------------------------

    def validate(self, spec: Any) -> KESplit:
        """Accepts a :class:`KESplit`, its JSON dict or a ``(split_rate, generations)`` pair on the grids."""
        if isinstance(spec, Mapping):
            fields = {k: v for k, v in spec.items() if k != "space"}
            if set(fields) - set(self.options) or "split_rate" not in fields:
                raise InvalidArchitecture(SPACE, f"a spec dict has keys among {list(self.options)}, split_rate "
                                          "required", f"keys {sorted(spec)}")
            spec = KESplit(**fields)
        elif isinstance(spec, (tuple, list)) and len(spec) == 2:
            spec = KESplit(*spec)
        if not isinstance(spec, KESplit):
            raise InvalidArchitecture(SPACE, "unrecognised spec form", type(spec).__name__)
        for name, options in self.options.items():
            if getattr(spec, name) not in options:
                raise InvalidArchitecture(SPACE, f"field {name!r} is one of {options}", repr(getattr(spec, name)))
        return spec

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        return [(name, len(options)) for name, options in self.options.items()]

    def to_choices(self, arch: KESplit) -> list[int]:
        arch = self.validate(arch)
        return [options.index(getattr(arch, name)) for name, options in self.options.items()]

    def from_choices(self, choices: Sequence[int]) -> KESplit:
        checked = self._check_choices(choices)
        return KESplit(**{name: options[i] for (name, options), i in zip(self.options.items(), checked)})

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[KESplit], kind: str | None = None) -> np.ndarray:
        """``values``: split rate and generations as numbers; ``onehot``: one indicator per option."""
        kind = self._check_encoding(kind)
        if kind == "values":
            return np.array([[a.split_rate, a.generations] for a in map(self.validate, archs)],
                            dtype=np.float32).reshape(len(archs), 2)
        choices = np.array([self.to_choices(a) for a in archs], dtype=np.int64).reshape(len(archs), 2)
        offsets = np.cumsum([0] + [len(v) for v in self.options.values()])[:-1]
        out = np.zeros((len(archs), sum(len(v) for v in self.options.values())), dtype=np.float32)
        out[np.repeat(np.arange(len(archs)), 2), (choices + offsets).ravel()] = 1.0
        return out

    def dag(self, arch: KESplit) -> DAG:
        """A chain: input, the split rate's node, the generations' node, output."""
        offsets = np.cumsum([0] + [len(v) for v in self.options.values()])[:-1]
        types = (self.input_type, *(int(c + o) + 1 for c, o in zip(self.to_choices(arch), offsets)), self.output_type)
        return DAG(types, tuple((i, i + 1) for i in range(len(types) - 1)))

    def build_model(self, arch: KESplit, **config: Any) -> torch.nn.Module:
        """A split is trained over generations by the task, whose recipe sizes the network
        (:meth:`nasframe.tasks.knowledge_evolution.task.KnowledgeEvolution.build_model`)."""
        raise NotImplementedError("ke-split architectures are built by the knowledge-evolution task")


__all__ = ["DEFAULT_GENERATIONS", "DEFAULT_SPLIT_RATES", "KESplit", "KESplitSpace"]
