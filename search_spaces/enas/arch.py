"""The ENAS macro-space architecture value type.

An ENAS macro network (Pham et al. 2018, as benchmarked by D-VAE and SVGe) is a
chain of ``N`` layers. Layer ``i`` applies one of the six :data:`OPS` to the
output of layer ``i - 1`` (the stem for layer 0) and merges in the outputs of
the earlier nodes its skip bits select.

Skip bits
---------
Layer ``i`` has ``i`` skip bits. Bit ``j`` names *DAG node* ``j`` of the
network's graph, in which node 0 is the input (the stem's output) and node
``j >= 1`` is layer ``j - 1``. So bit 0 connects the stem, bit ``j`` layer
``j - 1``, and the immediate predecessor (node ``i``, always connected) has
no bit. This is what both reference implementations do: ENAS's
``general_child.py`` indexes ``prev_layers`` (whose entry 0 is the stem) with
the bit position, and D-VAE's ``decode_ENAS_to_igraph`` adds the edge
``j -> i + 1`` for bit ``j`` of layer ``i``. Reading bit ``j`` as "layer ``j``"
instead would make the last bit duplicate the always-present chain edge and
leave the stem unreachable by skips.

Forms
-----
* D-VAE row form (the data files): ``[[op], [op, s0], [op, s0, s1], ...]``,
  row ``i`` is the op followed by layer ``i``'s skip bits.
* ENAS flat form (``--child_fixed_arc``, D-VAE's decoded strings):
  ``"op s0 op s0 s1 ..."``, the rows concatenated, ``N(N+1)/2`` integers.
* JSON: ``{"space": "enas", "ops": [...], "skips": [[], [s0], ...]}``.

Each network has exactly one spelling in every form (no two layers are
interchangeable, and a skip to the predecessor cannot be written), so the row
string is already canonical and serves as :meth:`ENASArch.canonical_key`.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from nasframe.core import Architecture, InvalidArchitecture
from nasframe.core.dag import DAG

#: the six layer operations, in ENAS's branch order (= D-VAE's op ids 0..5)
OPS = ("conv3x3", "sep_conv3x3", "conv5x5", "sep_conv5x5", "avg_pool3x3", "max_pool3x3")
#: D-VAE's vertex types: 0 input, 1 output, then op id + 2
NODE_TYPES = ("input", "output", *OPS)
INPUT_TYPE, OUTPUT_TYPE, OP_TYPE_OFFSET = 0, 1, 2

_OP_RULE = f"op ids are integers 0..{len(OPS) - 1} ({', '.join(OPS)})"
_BIT_RULE = "skip bits are 0 or 1"
_LENGTH_RULE = "layer i has exactly i skip bits (one per earlier DAG node except its predecessor)"


def _invalid(rule: str, detail: str = "") -> InvalidArchitecture:
    return InvalidArchitecture("enas", rule, detail)


def num_skip_bits(num_layers: int) -> int:
    """Skip bits of an ``num_layers``-layer network: ``0 + 1 + ... + (N - 1)``."""
    return num_layers * (num_layers - 1) // 2


def _as_list(value: Any, rule: str, where: str) -> list[Any]:
    """``value`` as a list when it is a sequence (or numpy array), else the violated rule."""
    if type(value) in (list, tuple):  # fast path: the ABC checks below are slow per call
        return list(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise _invalid(rule, f"{where}: {type(value).__name__} {value!r:.60}")
    return list(value)


def _check_op(layer: int, op: Any) -> int:
    if type(op) is int and 0 <= op < len(OPS):
        return op
    # bool is an Integral but True as an op id is almost surely a mix-up with a skip bit
    if isinstance(op, bool) or not isinstance(op, numbers.Integral) or not 0 <= op < len(OPS):
        raise _invalid(_OP_RULE, f"layer {layer}: {op!r}")
    return int(op)


def _check_bits(layer: int, bits: Any) -> tuple[int, ...]:
    bits = _as_list(bits, "a skip row is a sequence of bits", f"layer {layer}")
    if len(bits) != layer:
        raise _invalid(_LENGTH_RULE, f"layer {layer}: {len(bits)} skip bits")
    if all(type(b) is int and (b == 0 or b == 1) for b in bits):
        return tuple(bits)
    for j, bit in enumerate(bits):
        if not isinstance(bit, numbers.Integral) or bit not in (0, 1):
            raise _invalid(_BIT_RULE, f"layer {layer}, bit {j}: {bit!r}")
    return tuple(int(b) for b in bits)


@dataclass(frozen=True, eq=False)
class ENASArch(Architecture):
    """An ENAS macro architecture: one op per layer and each layer's skip bits.

    ``ops[i]`` is an index into :data:`OPS`; ``skips[i]`` holds layer ``i``'s
    ``i`` skip bits (``skips[0] == ()``), bit ``j`` selecting DAG node ``j``
    (module docstring). Any sequences are accepted and stored as tuples of
    ints; the constructor checks every rule, so an instance is always valid.
    """

    ops: tuple[int, ...]
    skips: tuple[tuple[int, ...], ...]

    space_name = "enas"

    def __post_init__(self) -> None:
        ops = _as_list(self.ops, "ops is a sequence of op ids", "ops")
        skips = _as_list(self.skips, "skips is a sequence of skip rows", "skips")
        if not ops:
            raise _invalid("an architecture has at least one layer")
        if len(skips) != len(ops):
            raise _invalid("one skip row per layer", f"{len(ops)} ops, {len(skips)} skip rows")
        object.__setattr__(self, "ops", tuple(_check_op(i, op) for i, op in enumerate(ops)))
        object.__setattr__(self, "skips", tuple(_check_bits(i, row) for i, row in enumerate(skips)))

    # -- construction from the other forms --------------------------------

    @classmethod
    def from_rows(cls, rows: Any) -> "ENASArch":
        """From D-VAE's nested rows ``[[op], [op, s0], ...]`` (lists, tuples or arrays)."""
        rows = _as_list(rows, "D-VAE rows are a list of [op, skip bits...] lists", "rows")
        rule = "a D-VAE row is a list [op, skip bits...]"
        checked = [_as_list(row, rule, f"layer {i}") for i, row in enumerate(rows)]
        for i, row in enumerate(checked):
            if not row:
                raise _invalid("a D-VAE row starts with the layer's op id", f"layer {i}: empty row")
        return cls(tuple(row[0] for row in checked), tuple(row[1:] for row in checked))

    @classmethod
    def from_dvae(cls, row: str | Sequence[Any]) -> "ENASArch":
        """From a D-VAE row string ``"[[4], [2, 0], ...]"`` or the nested list itself."""
        if isinstance(row, str):
            try:
                row = json.loads(row)
            except json.JSONDecodeError as exc:
                raise _invalid(
                    "a D-VAE row string is a nested list like [[op], [op, skip_0], ...]", f"{exc}"
                ) from None
        return cls.from_rows(row)

    @classmethod
    def from_fixed_arc(cls, arc: str | Sequence[Any]) -> "ENASArch":
        """From ENAS's flat ``fixed_arc`` form ``"op s0 op s0 s1 ..."`` (a string or ints).

        The layer count follows from the length, which must be triangular
        (``N(N+1)/2`` integers for ``N`` layers).
        """
        if isinstance(arc, str):
            try:
                values: list[Any] = [int(token) for token in arc.split()]
            except ValueError:
                raise _invalid("a flat ENAS arc is whitespace-separated integers", repr(arc[:60])) from None
        else:
            values = _as_list(arc, "a flat ENAS arc is a sequence of integers", "arc")
        n = (math.isqrt(8 * len(values) + 1) - 1) // 2
        if n * (n + 1) // 2 != len(values):
            raise _invalid(
                "a flat ENAS arc holds N(N+1)/2 integers (per layer the op, then its skip bits)",
                f"{len(values)} integers",
            )
        starts = [i * (i + 1) // 2 for i in range(n)]
        skips = tuple(values[s + 1 : s + 1 + i] for i, s in enumerate(starts))
        return cls(tuple(values[s] for s in starts), skips)

    # -- views -------------------------------------------------------------

    @property
    def num_layers(self) -> int:
        return len(self.ops)

    @cached_property
    def skip_bits(self) -> tuple[int, ...]:
        """All skip bits flattened layer by layer (layer 1's bit, layer 2's two bits, ...)."""
        return tuple(bit for row in self.skips for bit in row)

    def layer_inputs(self, layer: int) -> tuple[int, ...]:
        """DAG nodes feeding ``layer``: its selected skip nodes, then its predecessor ``layer``."""
        return tuple(j for j, bit in enumerate(self.skips[layer]) if bit) + (layer,)

    def to_rows(self) -> list[list[int]]:
        """D-VAE's nested rows ``[[op], [op, s0], ...]``."""
        return [[op, *row] for op, row in zip(self.ops, self.skips)]

    def to_dvae(self) -> str:
        """The D-VAE row string, exactly as the data files write it."""
        return self._key

    def to_fixed_arc(self) -> str:
        """ENAS's flat ``--child_fixed_arc`` string, ``"op s0 op s0 s1 ..."``."""
        return " ".join(str(v) for row in self.to_rows() for v in row)

    def to_dag(self) -> DAG:
        """The network as D-VAE's graph, ``N + 2`` nodes in topological order.

        Node 0 is the input (type 0), node ``i + 1`` is layer ``i`` (type
        ``op + 2``), node ``N + 1`` the output (type 1). Layer ``i`` takes an
        edge from node ``i`` (its predecessor, the input for layer 0) and from
        node ``j`` for every set skip bit ``j``; the output takes the last layer
        only. Edges are sorted by target, then source.
        """
        n = self.num_layers
        types = (INPUT_TYPE, *(op + OP_TYPE_OFFSET for op in self.ops), OUTPUT_TYPE)
        edges = [(src, i + 1) for i in range(n) for src in self.layer_inputs(i)]
        edges.append((n, n + 1))
        return DAG(types, tuple(edges))

    @classmethod
    def from_dag(cls, dag: DAG) -> "ENASArch":
        """Inverse of :meth:`to_dag`: the architecture whose graph is exactly ``dag``.

        Ops are read off the layer nodes' types and skip bits off the edges
        into each layer. That read-off alone would accept graphs of no ENAS
        network (a missing chain edge, a second edge into the output), so the
        result counts only when its own graph has exactly ``dag``'s edges.
        """
        types = dag.node_types
        if len(types) < 3 or types[0] != INPUT_TYPE or types[-1] != OUTPUT_TYPE:
            raise _invalid("a graph runs from the input node (type 0) through layers to the output (type 1)",
                           f"types {types}")
        if any(not OP_TYPE_OFFSET <= t < len(NODE_TYPES) for t in types[1:-1]):
            raise _invalid(f"a layer node's type is its op id + {OP_TYPE_OFFSET}", f"types {types}")
        n = len(types) - 2
        sources: list[set[int]] = [set() for _ in range(n + 2)]
        for src, dst in dag.edges:
            sources[dst].add(src)
        arch = cls(
            tuple(t - OP_TYPE_OFFSET for t in types[1:-1]),
            tuple(tuple(int(j in sources[i + 1]) for j in range(i)) for i in range(n)),
        )
        if set(arch.to_dag().edges) != set(dag.edges):
            raise _invalid("a graph's edges are its layers' chain and skip edges and last layer -> output",
                           f"edges {dag.edges}")
        return arch

    # -- identity and JSON ----------------------------------------------

    @cached_property
    def _key(self) -> str:
        return str(self.to_rows())

    def canonical_key(self) -> str:
        """The D-VAE row string, e.g. ``"[[4], [2, 0], [5, 1, 0]]"``."""
        return self._key

    def to_json(self) -> dict[str, Any]:
        return {"space": "enas", "ops": list(self.ops), "skips": [list(row) for row in self.skips]}
