"""The up-sampling space: which up-sampling operation each decoder stage uses, and the spectral loss weight.

Durall et al. (arXiv 2003.01826) trace the spectral artefacts of generated
images to the decoder's up-convolutions and remove them with a spectral
loss. An architecture here makes both choices: one operation per stage
(each stage doubles the side) among :data:`OPS`, and the weight of the
spectral loss among a small grid (0: the plain reconstruction loss).

The graph view is a chain: input, one node per stage typed by its
operation, one node typed by the weight, output.
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

#: the up-sampling operations (x2 each): transposed convolution, resize then convolve (nearest, bilinear),
#: sub-pixel convolution (convolve to 4x the channels, then pixel shuffle)
OPS = ("transposed", "nearest", "bilinear", "pixelshuffle")
DEFAULT_WEIGHTS = (0.0, 0.1, 1.0, 10.0)
NAME = "upsampling"


@dataclass(frozen=True, eq=False)
class Upsampling(Architecture):
    """One up-sampling operation per decoder stage (from the bottleneck out) and a spectral loss weight."""

    space_name: ClassVar[str] = NAME
    ops: tuple[str, ...]
    spectral_weight: float

    def __post_init__(self) -> None:
        ops = tuple(self.ops)
        for i, op in enumerate(ops):
            if op not in OPS:
                raise InvalidArchitecture(NAME, f"ops[{i}] is one of {OPS}", repr(op))
        weight = self.spectral_weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)) \
                or not np.isfinite(weight) or weight < 0:
            raise InvalidArchitecture(NAME, "spectral_weight is a finite number >= 0", repr(weight))
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "spectral_weight", round(float(weight), 6))

    def canonical_key(self) -> str:
        return f"{'-'.join(self.ops)}/w{self.spectral_weight:g}"

    def to_json(self) -> dict[str, Any]:
        return {"space": NAME, "ops": list(self.ops), "spectral_weight": self.spectral_weight}


class UpsamplingSpace(SearchSpace[Upsampling]):
    """``stages`` up-sampling operations (each among :data:`OPS`) and a spectral weight from ``weights``."""

    name = NAME
    encodings = ("onehot", "index")

    def __init__(self, stages: int = 2, weights: Sequence[float] = DEFAULT_WEIGHTS) -> None:
        if isinstance(stages, bool) or not isinstance(stages, int) or not 1 <= stages <= 5:
            raise ValueError(f"{NAME} field 'stages': an integer in 1..5, got {stages!r}")
        weights = tuple(round(float(w), 6) for w in weights)
        if len(weights) < 2 or len(set(weights)) != len(weights) or any(not np.isfinite(w) or w < 0 for w in weights):
            raise ValueError(f"{NAME} field 'weights': at least two distinct finite weights >= 0, got {weights}")
        self.stages, self.weights = stages, tuple(sorted(weights))
        self.node_types = ("input", *OPS, *(f"weight_{w:g}" for w in self.weights), "output")  # type: ignore[misc]
        self.input_type, self.output_type = 0, len(self.node_types) - 1  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"UpsamplingSpace(stages={self.stages}, weights={self.weights})"

    def config(self) -> dict[str, Any]:
        return {"stages": self.stages, "weights": list(self.weights)}

    def size(self) -> int:
        return len(OPS) ** self.stages * len(self.weights)

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[Upsampling]:
        ops = rng.integers(0, len(OPS), size=(n, self.stages))
        weights = rng.integers(0, len(self.weights), size=n)
        return [self.from_choices([*row, w]) for row, w in zip(ops.tolist(), weights.tolist())]

    def mutate(self, arch: Upsampling, rng: np.random.Generator) -> Upsampling:
        """One decision, drawn uniformly, moves to another of its options, drawn uniformly."""
        return self._one_decision_mutation(arch, rng)

    def neighbors(self, arch: Upsampling) -> list[Upsampling]:
        """Every architecture with one decision changed."""
        return self._one_decision_changes(arch)

    # -- identity and conversion ----------------------------------------

    def validate(self, spec: Any) -> Upsampling:
        """Accepts an :class:`Upsampling`, ``{"ops": [...], "spectral_weight": w}`` or ``(ops, weight)``."""
        if isinstance(spec, Mapping):
            if set(spec) - {"space", "ops", "spectral_weight"} or not {"ops", "spectral_weight"} <= set(spec):
                raise InvalidArchitecture(NAME, "a spec dict has the keys 'ops' and 'spectral_weight'",
                                          f"keys {sorted(spec)}")
            spec = (spec["ops"], spec["spectral_weight"])
        if isinstance(spec, Upsampling):
            arch = spec
        elif isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], (tuple, list)):
            arch = Upsampling(tuple(spec[0]), spec[1])
        else:
            raise InvalidArchitecture(NAME, "unrecognised spec form (ops, spectral_weight)", type(spec).__name__)
        if len(arch.ops) != self.stages:
            raise InvalidArchitecture(NAME, f"one op per stage ({self.stages} ops)", f"got {len(arch.ops)}")
        if arch.spectral_weight not in self.weights:
            raise InvalidArchitecture(NAME, f"spectral_weight lies on the grid {self.weights}",
                                      f"got {arch.spectral_weight}")
        return arch

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """``op_<stage>`` per stage (one option per op), then ``spectral_weight`` (one per grid value)."""
        return [*((f"op_{s}", len(OPS)) for s in range(self.stages)), ("spectral_weight", len(self.weights))]

    def to_choices(self, arch: Upsampling) -> list[int]:
        arch = self.validate(arch)
        return [*(OPS.index(op) for op in arch.ops), self.weights.index(arch.spectral_weight)]

    def from_choices(self, choices: Sequence[int]) -> Upsampling:
        choices = self._check_choices(choices)
        return Upsampling(tuple(OPS[i] for i in choices[:-1]), self.weights[choices[-1]])

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[Upsampling], kind: str | None = None) -> np.ndarray:
        """``index``: the choice indices; ``onehot``: per decision a one-hot of its option."""
        kind = self._check_encoding(kind)
        decisions = self.decisions()
        choices = np.array([self.to_choices(a) for a in archs], dtype=np.int64).reshape(len(archs), len(decisions))
        if kind == "index":
            return choices.astype(np.float32)
        offsets = np.cumsum([0] + [size for _, size in decisions])
        out = np.zeros((len(archs), int(offsets[-1])), dtype=np.float32)
        for column in range(len(decisions)):
            out[np.arange(len(archs)), offsets[column] + choices[:, column]] = 1.0
        return out

    def dag(self, arch: Upsampling) -> DAG:
        """A chain: input (0), one node per stage typed by its op, the weight's node, output."""
        choices = self.to_choices(arch)
        types = (self.input_type, *(1 + c for c in choices[:-1]), 1 + len(OPS) + choices[-1], self.output_type)
        return DAG(types, tuple((i, i + 1) for i in range(len(types) - 1)))

    def build_model(self, arch: Upsampling, **config: Any) -> torch.nn.Module:
        """The autoencoder of ``arch`` (:class:`~nasframe.tasks.spectral.model.UpsamplingAutoencoder`)."""
        from nasframe.tasks.spectral.model import UpsamplingAutoencoder

        return UpsamplingAutoencoder(self.validate(arch).ops, **config)


__all__ = ["DEFAULT_WEIGHTS", "OPS", "Upsampling", "UpsamplingSpace"]
