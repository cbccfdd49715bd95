"""The NAS-Bench-201 search space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np

from nasframe.core import InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG
from search_spaces.nb201.cell import EDGES, NONE, OPS, NB201Cell, all_representatives, parse_string

if TYPE_CHECKING:
    import torch

#: the ops a path can carry (``none`` breaks a path)
_PATH_OPS = OPS[1:]
#: input->output routes of the cell, as edge positions in :data:`EDGES` order
_ROUTES = ((3,), (0, 4), (1, 5), (0, 2, 5))
#: path encoding: one feature per op sequence of length 1, 2 and 3
_PATH_OFFSET = {1: 0, 2: len(_PATH_OPS), 3: len(_PATH_OPS) + len(_PATH_OPS) ** 2}
_PATH_WIDTH = sum(len(_PATH_OPS) ** k for k in (1, 2, 3))


def _path_features(ops: Sequence[str]) -> list[int]:
    """Feature index of every input->output path's op sequence (none-free paths only)."""
    out = []
    for route in _ROUTES:
        seq = [ops[e] for e in route]
        if NONE in seq:
            continue
        index = 0
        for op in seq:
            index = index * len(_PATH_OPS) + _PATH_OPS.index(op)
        out.append(_PATH_OFFSET[len(seq)] + index)
    return out


class NB201Space(SearchSpace[NB201Cell]):
    """NAS-Bench-201: 6 edges of a 4-node cell, 5 operations each.

    15,625 spellings, 6,985 distinct networks (canonical form in
    :mod:`search_spaces.nb201.cell`). ``sampling="edges"`` (default) draws
    each edge's op uniformly, what NB201's and NASLib's random search and
    evolution do; it is not uniform over distinct cells: a class with many
    spellings is drawn more often (the ``zero`` class, whose output is cut
    off from the input, has 341 spellings, the lone ``avg_pool_3x3`` 460, a
    cell of six convolutions one); ``sampling="uniform"`` draws
    uniformly among the 6,985 distinct cells. ``mutate`` changes one edge's op
    (NASLib's NB201 mutation), ``neighbors`` lists every distinct cell one op
    change away from the stored representative.
    """

    name = "nb201"
    encodings = ("onehot", "path")
    #: graph view: ops become nodes (arch2vec / NASLib): input, one node per edge, output
    node_types = ("input", *OPS, "output")
    input_type, output_type = 0, len(OPS) + 1

    def __init__(self, sampling: str = "edges") -> None:
        if sampling not in ("edges", "uniform"):
            raise ValueError(f"sampling must be 'edges' or 'uniform', got {sampling!r}")
        self.sampling = sampling

    def __repr__(self) -> str:
        return f"NB201Space(sampling={self.sampling!r})"

    def config(self) -> dict[str, Any]:
        return {} if self.sampling == "edges" else {"sampling": self.sampling}

    def size(self) -> int:
        """6,985 distinct cells (of 15,625 spellings)."""
        return len(all_representatives())

    def archs(self) -> list[NB201Cell]:
        """Every distinct cell once, in the order of their representatives' op indices."""
        return [NB201Cell(ops) for ops in all_representatives()]

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[NB201Cell]:
        if self.sampling == "uniform":
            reps = all_representatives()
            return [NB201Cell(reps[i]) for i in rng.integers(0, len(reps), size=n)]
        draws = rng.integers(0, len(OPS), size=(n, len(EDGES)))
        return [NB201Cell(tuple(OPS[i] for i in row)) for row in draws]

    def mutate(self, arch: NB201Cell, rng: np.random.Generator) -> NB201Cell:
        """One edge, drawn uniformly, gets another op, drawn uniformly; redrawn
        until the result is a different network."""
        arch = self.validate(arch)
        while True:
            edge = int(rng.integers(len(EDGES)))
            others = [op for op in OPS if op != arch.ops[edge]]
            ops = list(arch.ops)
            ops[edge] = others[int(rng.integers(len(others)))]
            child = NB201Cell(tuple(ops))
            if child != arch:
                return child

    def neighbors(self, arch: NB201Cell) -> list[NB201Cell]:
        """Every distinct cell one op change away from the stored spelling."""
        arch = self.validate(arch)
        found: dict[str, NB201Cell] = {}
        for edge, op in product(range(len(EDGES)), OPS):
            if op != arch.ops[edge]:
                child = NB201Cell(arch.ops[:edge] + (op,) + arch.ops[edge + 1 :])
                found.setdefault(child.canonical_key(), child)
        found.pop(arch.canonical_key(), None)
        return list(found.values())

    # -- identity and conversion ----------------------------------------

    def validate(self, spec: Any) -> NB201Cell:
        """Accepts an :class:`NB201Cell`, an official string, ``{"arch": string}``
        (or ``{"ops": [...]}``), or a sequence of 6 ops (names or indices)."""
        if isinstance(spec, NB201Cell):
            return spec
        if isinstance(spec, str):
            return NB201Cell(parse_string(spec))
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"space", "arch", "ops"}
            if unknown or ("arch" in spec) == ("ops" in spec):
                raise InvalidArchitecture(
                    "nb201", "a spec dict has exactly one of 'arch' (string) and 'ops'", f"keys {sorted(spec)}"
                )
            return self.validate(spec["arch"] if "arch" in spec else tuple(spec["ops"]))
        if isinstance(spec, (tuple, list, np.ndarray)):
            values = spec.tolist() if isinstance(spec, np.ndarray) else spec
            return NB201Cell(tuple(values))
        raise InvalidArchitecture("nb201", "unrecognised spec form", type(spec).__name__)

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """Six decisions, ``edge_<source>_<target>`` in official order, 5 options
        each (indices into :data:`OPS`). Every spelling is valid; the many
        spellings of one network give the same cell."""
        return [(f"edge_{s}_{t}", len(OPS)) for s, t in EDGES]

    def to_choices(self, arch: NB201Cell) -> list[int]:
        return list(self.validate(arch).indices())

    def from_choices(self, choices: Sequence[int]) -> NB201Cell:
        return NB201Cell(tuple(OPS[i] for i in self._check_choices(choices)))

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[NB201Cell], kind: str | None = None) -> np.ndarray:
        """``onehot`` (30): per edge a one-hot of its op. ``path`` (84): one
        indicator per op sequence of an input->output path (4 + 16 + 64
        sequences over the four non-``none`` ops; the BANANAS path encoding,
        route-blind, so the two symmetric two-edge routes share features).
        Both read the stored representative, so every spelling of a network
        encodes alike."""
        kind = self._check_encoding(kind)
        if kind == "onehot":
            out = np.zeros((len(archs), len(EDGES) * len(OPS)), dtype=np.float32)
            for row, arch in enumerate(archs):
                out[row, [e * len(OPS) + i for e, i in enumerate(self.validate(arch).indices())]] = 1.0
            return out
        out = np.zeros((len(archs), _PATH_WIDTH), dtype=np.float32)
        for row, arch in enumerate(archs):
            out[row, _path_features(self.validate(arch).ops)] = 1.0
        return out

    def dag(self, arch: NB201Cell) -> DAG:
        """Ops as nodes: input (0), one node per edge in official order (1..6)
        typed by its op, output (7). The node of edge ``s->t`` reads the input
        (``s = 0``) or the nodes of the edges into ``s``, and feeds the output
        (``t = 3``) or the nodes of the edges out of ``t``. ``none`` edges stay,
        typed ``none``: every cell has the same 8-node shape (as in arch2vec)."""
        arch = self.validate(arch)
        types = (self.input_type, *(self.node_types.index(op) for op in arch.ops), self.output_type)
        out_node = len(EDGES) + 1
        edges = []
        for i, (s, t) in enumerate(EDGES):
            if s == 0:
                edges.append((0, i + 1))
            edges += [(j + 1, i + 1) for j, (_, into) in enumerate(EDGES) if into == s]
            if t == EDGES[-1][1]:
                edges.append((i + 1, out_node))
        return DAG(types, tuple(sorted(edges)))

    def build_model(self, arch: NB201Cell, **config: Any) -> "torch.nn.Module":
        """The NB201 network; see :func:`search_spaces.nb201.model.build_nb201_model`
        (``channels=16``, ``cells_per_stage=5``, ``num_classes=10``, ``in_channels=3``)."""
        from search_spaces.nb201.model import build_nb201_model

        return build_nb201_model(self.validate(arch), **config)

    def network_options(self, *, channels: int, layers: int, in_channels: int, num_classes: int) -> dict[str, Any]:
        """``channels`` is the first stage's width (NB201: 16, doubled twice),
        ``layers`` the cells per stage (NB201: 5)."""
        if layers < 1:
            raise ValueError(f"nb201 needs layers >= 1 (cells per stage), got {layers}")
        if channels < 1:
            raise ValueError(f"nb201 needs channels >= 1, got {channels}")
        return {"channels": channels, "cells_per_stage": layers, "in_channels": in_channels,
                "num_classes": num_classes}


__all__ = ["NB201Space"]
