"""The NAS-Bench-101 cell value type."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from nasframe.core import Architecture, InvalidArchitecture
from search_spaces.nb101 import graph_util

INPUT = "input"
OUTPUT = "output"
#: middle operations, in the order that defines their hash labels 0, 1, 2
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
MAX_VERTICES = 7
MAX_EDGES = 9
#: integer codes of the official data files (-3 marks zero padding)
CODE_INPUT, CODE_OUTPUT, CODE_PADDING = -1, -2, -3


def _invalid(rule: str, detail: str = "") -> InvalidArchitecture:
    return InvalidArchitecture("nb101", rule, detail)


@dataclass(frozen=True, eq=False)
class NB101Cell(Architecture):
    """An NB101 cell, stored pruned.

    The constructor checks every rule of the space and prunes vertices that
    are off every input->output path, so an instance is always valid and two
    instances are equal exactly when their official hashes are equal.

    ``limits`` are the most vertices and edges after pruning: NB101's 7 and 9
    unless a larger configuration of the space (8-vertex cells for
    extrapolation, ``NB101Space(max_vertices=8)``) builds the cell. They take
    no part in equality: a cell is its graph.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]
    limits: tuple[int, int] = (MAX_VERTICES, MAX_EDGES)

    space_name = "nb101"

    def __post_init__(self) -> None:
        max_vertices, max_edges = self.limits
        matrix = np.asarray(self.matrix)
        ops = list(self.ops)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise _invalid("matrix must be square", f"shape {matrix.shape}")
        if not np.isin(matrix, (0, 1)).all():
            raise _invalid("matrix entries must be 0 or 1")
        if len(ops) != matrix.shape[0]:
            raise _invalid(
                "one operation per vertex", f"{len(ops)} ops for {matrix.shape[0]} vertices"
            )
        if matrix.shape[0] < 2:
            raise _invalid("a cell needs an input and an output vertex")
        if np.tril(matrix).any():
            raise _invalid("matrix must be strictly upper triangular (a DAG in vertex order)")
        if ops[0] != INPUT or ops[-1] != OUTPUT:
            raise _invalid("first op must be 'input' and last op 'output'", f"got {ops[0]!r}, {ops[-1]!r}")
        for i, op in enumerate(ops[1:-1], start=1):
            if op not in OPS:
                raise _invalid("unknown operation", f"vertex {i}: {op!r}; allowed: {', '.join(OPS)}")
        pruned = graph_util.prune(matrix.astype(np.int8), ops)
        if pruned is None:
            raise _invalid("input and output are disconnected")
        matrix, ops = pruned
        if matrix.shape[0] > max_vertices:
            raise _invalid(f"at most {max_vertices} vertices", f"{matrix.shape[0]} after pruning")
        if int(matrix.sum()) > max_edges:
            raise _invalid(f"at most {max_edges} edges", f"{int(matrix.sum())} after pruning")
        object.__setattr__(self, "matrix", tuple(tuple(int(x) for x in row) for row in matrix))
        object.__setattr__(self, "ops", tuple(ops))

    @classmethod
    def from_codes(
        cls,
        adjacency: Sequence[Sequence[float]],
        operations: Sequence[int],
        limits: tuple[int, int] = (MAX_VERTICES, MAX_EDGES),
    ) -> "NB101Cell":
        """Build from the official integer form (-1 in, -2 out, -3 padding, 0/1/2 ops).

        Padding vertices (code -3, isolated) are dropped first; the data files
        pad smaller cells to 7x7 that way.
        """
        codes = [int(c) for c in operations]
        keep = [i for i, c in enumerate(codes) if c != CODE_PADDING]
        matrix = np.asarray(adjacency, dtype=float)
        if matrix.shape != (len(codes), len(codes)):
            raise _invalid("adjacency and operations sizes differ", f"{matrix.shape} vs {len(codes)}")
        if matrix[np.ix_([i for i in range(len(codes)) if codes[i] == CODE_PADDING], range(len(codes)))].any():
            raise _invalid("padding vertices (-3) must have no edges")
        names = {CODE_INPUT: INPUT, CODE_OUTPUT: OUTPUT, **dict(enumerate(OPS))}
        try:
            ops = tuple(names[codes[i]] for i in keep)
        except KeyError as exc:
            raise _invalid("unknown operation code", f"{exc.args[0]}; expected -1, -2, -3, 0, 1, 2") from None
        sub = matrix[np.ix_(keep, keep)].astype(int)
        return cls(tuple(map(tuple, sub)), ops, limits)

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    @cached_property
    def labels(self) -> tuple[int, ...]:
        """Hash labels: -1 input, -2 output, index into :data:`OPS` otherwise."""
        return (-1,) + tuple(OPS.index(op) for op in self.ops[1:-1]) + (-2,)

    def adjacency(self) -> np.ndarray:
        return np.array(self.matrix, dtype=np.int8)

    @cached_property
    def _hash(self) -> str:
        return graph_util.hash_cell(self.matrix, self.labels)

    def canonical_key(self) -> str:
        return self._hash

    def to_json(self) -> dict[str, Any]:
        return {"space": "nb101", "matrix": [list(r) for r in self.matrix], "ops": list(self.ops)}
