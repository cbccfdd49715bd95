"""The filter-pruning space: one prune ratio per stage (or per block) of the base ResNet, on a grid.

An architecture here is not a new network but *how much* of the trained base
to cut where: ``ratios[i]`` is the share of filters removed from the first
convolution of every block of stage ``i`` (``granularity="stage"``, 3
decisions) or of block ``i`` (``granularity="block"``, one per block).
Ratios lie on a grid (default ``0, 0.1, ..., 0.8``) so that searchers see a
finite categorical space; HRank and FilterSketch use the same per-layer
ratios (their "compression rate" vectors).

The graph view is a chain: input, one node per decision typed by its ratio,
output; it lets graph surrogates run on this space like on any other.
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

DEFAULT_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
GRANULARITIES = ("stage", "block")


@dataclass(frozen=True, eq=False)
class PruneRatios(Architecture):
    """Prune ratios, one per decision of a :class:`PruneRatioSpace` (each in [0, 1))."""

    space_name: ClassVar[str] = "prune-ratios"
    ratios: tuple[float, ...]

    def __post_init__(self) -> None:
        values = tuple(self.ratios)
        for i, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                    or not 0 <= float(value) < 1:
                raise InvalidArchitecture("prune-ratios", f"ratio {i} must be a number in [0, 1)", repr(value))
        object.__setattr__(self, "ratios", tuple(round(float(v), 6) for v in values))

    def canonical_key(self) -> str:
        return ",".join(f"{v:g}" for v in self.ratios)

    def to_json(self) -> dict[str, Any]:
        return {"space": "prune-ratios", "ratios": list(self.ratios)}


class PruneRatioSpace(SearchSpace[PruneRatios]):
    """Prune ratios for a ResNet of 3 stages x ``blocks`` blocks; see the module docstring."""

    name = "prune-ratios"
    encodings = ("ratios", "onehot")

    def __init__(self, blocks: int = 3, granularity: str = "stage", grid: Sequence[float] = DEFAULT_GRID) -> None:
        if granularity not in GRANULARITIES:
            raise ValueError(f"prune-ratios field 'granularity': one of {GRANULARITIES}, got {granularity!r}")
        if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
            raise ValueError(f"prune-ratios field 'blocks': a positive integer, got {blocks!r}")
        grid = tuple(round(float(g), 6) for g in grid)
        if len(grid) < 2 or len(set(grid)) != len(grid) or any(not 0 <= g < 1 for g in grid):
            raise ValueError(f"prune-ratios field 'grid': at least two distinct ratios in [0, 1), got {grid}")
        self.blocks, self.granularity, self.grid = blocks, granularity, tuple(sorted(grid))
        self.length = 3 if granularity == "stage" else 3 * blocks
        self.node_types = ("input", *(f"ratio_{g:g}" for g in self.grid), "output")  # type: ignore[misc]
        self.input_type, self.output_type = 0, len(self.grid) + 1  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"PruneRatioSpace(blocks={self.blocks}, granularity={self.granularity!r}, grid={self.grid})"

    def config(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "granularity": self.granularity, "grid": list(self.grid)}

    def size(self) -> int:
        return len(self.grid) ** self.length

    def labels(self) -> list[str]:
        """What each ratio applies to: ``stage0``... or ``stage0.block0``..."""
        if self.granularity == "stage":
            return [f"stage{s}" for s in range(3)]
        return [f"stage{s}.block{b}" for s in range(3) for b in range(self.blocks)]

    def block_ratios(self, arch: PruneRatios) -> list[float]:
        """One ratio per basic block, in forward order (a stage's ratio repeated over its blocks)."""
        arch = self.validate(arch)
        if self.granularity == "block":
            return list(arch.ratios)
        return [r for r in arch.ratios for _ in range(self.blocks)]

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[PruneRatios]:
        draws = rng.integers(0, len(self.grid), size=(n, self.length))
        return [PruneRatios(tuple(self.grid[i] for i in row)) for row in draws]

    def mutate(self, arch: PruneRatios, rng: np.random.Generator) -> PruneRatios:
        """One ratio, drawn uniformly, moves to another grid value, drawn uniformly."""
        return self._one_decision_mutation(arch, rng)

    def neighbors(self, arch: PruneRatios) -> list[PruneRatios]:
        """Every architecture with one ratio moved to another grid value."""
        return self._one_decision_changes(arch)

    # -- identity and conversion ----------------------------------------

    def validate(self, spec: Any) -> PruneRatios:
        """Accepts a :class:`PruneRatios`, ``{"ratios": [...]}`` or a sequence of ratios on the grid."""
        if isinstance(spec, Mapping):
            if set(spec) - {"space", "ratios"} or "ratios" not in spec:
                raise InvalidArchitecture("prune-ratios", "a spec dict has the key 'ratios'", f"keys {sorted(spec)}")
            spec = spec["ratios"]
        if isinstance(spec, PruneRatios):
            arch = spec
        elif isinstance(spec, (tuple, list, np.ndarray)):
            arch = PruneRatios(tuple(np.asarray(spec, dtype=object).tolist()))
        else:
            raise InvalidArchitecture("prune-ratios", "unrecognised spec form", type(spec).__name__)
        if len(arch.ratios) != self.length:
            raise InvalidArchitecture("prune-ratios", f"one ratio per {self.granularity} ({self.length} ratios)",
                                      f"got {len(arch.ratios)}")
        off = [r for r in arch.ratios if r not in self.grid]
        if off:
            raise InvalidArchitecture("prune-ratios", f"ratios lie on the grid {self.grid}", f"got {off}")
        return arch

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """``ratio_<stage>`` (or ``ratio_<stage>.<block>``), one option per grid value."""
        return [(f"ratio_{label}", len(self.grid)) for label in self.labels()]

    def to_choices(self, arch: PruneRatios) -> list[int]:
        return [self.grid.index(r) for r in self.validate(arch).ratios]

    def from_choices(self, choices: Sequence[int]) -> PruneRatios:
        return PruneRatios(tuple(self.grid[i] for i in self._check_choices(choices)))

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[PruneRatios], kind: str | None = None) -> np.ndarray:
        """``ratios``: the ratios themselves; ``onehot``: per decision a one-hot of its grid value."""
        kind = self._check_encoding(kind)
        choices = np.array([self.to_choices(a) for a in archs], dtype=np.int64).reshape(len(archs), self.length)
        if kind == "ratios":
            return np.asarray(self.grid, dtype=np.float32)[choices]
        out = np.zeros((len(archs), self.length * len(self.grid)), dtype=np.float32)
        rows = np.repeat(np.arange(len(archs)), self.length)
        out[rows, (np.arange(self.length) * len(self.grid) + choices).ravel()] = 1.0
        return out

    def dag(self, arch: PruneRatios) -> DAG:
        """A chain: input (0), one node per decision typed ``ratio_<value>``, output."""
        choices = self.to_choices(arch)
        types = (self.input_type, *(c + 1 for c in choices), self.output_type)
        return DAG(types, tuple((i, i + 1) for i in range(len(types) - 1)))

    def build_model(self, arch: PruneRatios, **config: Any) -> torch.nn.Module:
        """Pruned networks come from a trained base, so a compression task builds them
        (:meth:`nasframe.tasks.compression.tasks.FilterPruning.build_model`), not the space."""
        raise NotImplementedError("prune-ratios architectures are built by a compression task from its base network")


__all__ = ["DEFAULT_GRID", "PruneRatioSpace", "PruneRatios"]
