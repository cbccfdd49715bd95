"""A toy search space: a chain of four layers, each one of three ops (81 architectures)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

import nasframe as nf
from nasframe.core.dag import DAG

LAYERS = 4
OPS = ("conv", "pool", "skip")


@dataclass(frozen=True, eq=False)
class Chain(nf.Architecture):
    """One op index per layer; the constructor validates, so an instance is always valid."""

    ops: tuple[int, ...]
    space_name = "toy"

    def __post_init__(self) -> None:
        if len(self.ops) != LAYERS:
            raise nf.InvalidArchitecture("toy", f"exactly {LAYERS} layers", f"got {len(self.ops)}")
        if not all(isinstance(o, int) and 0 <= o < len(OPS) for o in self.ops):
            raise nf.InvalidArchitecture("toy", f"ops are indices 0..{len(OPS) - 1}", str(self.ops))

    def canonical_key(self) -> str:
        return "-".join(OPS[o] for o in self.ops)

    def to_json(self) -> dict[str, Any]:
        return {"ops": [OPS[o] for o in self.ops]}


class ToySpace(nf.SearchSpace[Chain]):
    name = "toy"
    encodings = ("onehot",)
    node_types = ("input", *OPS, "output")

    def sample(self, rng: np.random.Generator, n: int) -> list[Chain]:
        return [Chain(tuple(int(o) for o in row)) for row in rng.integers(0, len(OPS), size=(n, LAYERS))]

    def mutate(self, arch: Chain, rng: np.random.Generator) -> Chain:
        near = self.neighbors(arch)
        return near[int(rng.integers(len(near)))]

    def neighbors(self, arch: Chain) -> list[Chain]:
        return [Chain(arch.ops[:i] + (o,) + arch.ops[i + 1:])
                for i in range(LAYERS) for o in range(len(OPS)) if o != arch.ops[i]]

    def validate(self, spec: Any) -> Chain:
        return spec if isinstance(spec, Chain) else Chain(tuple(spec))

    def from_json(self, data: dict[str, Any]) -> Chain:
        return Chain(tuple(OPS.index(o) for o in data["ops"]))

    def encode(self, archs: Sequence[Chain], kind: str | None = None) -> np.ndarray:
        self._check_encoding(kind)
        return np.eye(len(OPS), dtype=np.float32)[[a.ops for a in archs]].reshape(len(archs), -1)

    def dag(self, arch: Chain) -> DAG:
        types = (0, *(o + 1 for o in arch.ops), len(OPS) + 1)
        return DAG(types, tuple((i, i + 1) for i in range(len(types) - 1)))

    def build_model(self, arch: Chain, **config: Any) -> Any:
        raise NotImplementedError("the toy space has no networks")

    def decisions(self) -> list[tuple[str, int]]:
        return [(f"layer{i}", len(OPS)) for i in range(LAYERS)]

    def to_choices(self, arch: Chain) -> list[int]:
        return list(arch.ops)

    def from_choices(self, choices: Sequence[int]) -> Chain:
        return Chain(tuple(self._check_choices(choices)))

    def size(self) -> int:
        return len(OPS) ** LAYERS


nf.register_space("toy", ToySpace)
