"""The DARTS / NAS-Bench-301 genotype value type.

A genotype holds two cells, ``normal`` and ``reduce``. A cell has two input
nodes (0 = c_{k-2}, 1 = c_{k-1}, the outputs of the two previous cells) and
four intermediate nodes 2..5; node ``k`` sums exactly two edges, each taking a
*distinct* earlier node ``0..k-1`` through one of the seven :data:`OPS`. The
cell's output concatenates nodes 2..5. A cell is written as DARTS writes it:
eight ``(op, input)`` pairs, two per intermediate node, in node order.

Canonical form
--------------
Two spellings describe the same network when

* the two edges of a node are swapped (a sum is symmetric), or
* the intermediate nodes are renumbered by a permutation that keeps every
  input pointing to an earlier node (any topological order of the cell).

The second holds because renumbering only permutes the blocks of channels in
the output concatenation, and every consumer of that concatenation (the 1x1
ReLU-conv-BN or FactorizedReduce preprocessing of the next two cells, the
global pool + linear classifier, the auxiliary head's 1x1 conv) starts with a
per-channel linear map whose independently initialised weights absorb the
permutation. Inputs 0 and 1 are *not* interchangeable: they are different
tensors (and at a reduction cell of different resolution history).

The stored form sorts each node's edges by input and picks, over all valid
renumberings, the lexicographically smallest cell when each node is read as
``((input, op_index), (input, op_index))`` with op indices into :data:`OPS`.
Valid renumberings of two equivalent spellings are the same set (the
topological orders of one labelled DAG), so their minima coincide: equal
networks get equal stored forms, and :meth:`DARTSGenotype.canonical_key` is
just that form written compactly.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Any

from nasframe.core import Architecture, InvalidArchitecture

#: the seven operations, in NAS-Bench-301's ConfigSpace order (NASLib uses the same)
OPS = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
CELL_TYPES = ("normal", "reduce")
NUM_INPUTS = 2
NUM_NODES = 4
#: intermediate node ids, which are also the concatenated ones
NODES = tuple(range(NUM_INPUTS, NUM_INPUTS + NUM_NODES))
EDGES_PER_CELL = 2 * NUM_NODES
#: first index of node k's possible edges in NB301's edge numbering (0..13)
EDGE_OFFSETS = {k: sum(range(NUM_INPUTS, k)) for k in NODES}
NUM_POSSIBLE_EDGES = sum(NODES)

Edge = tuple[str, int]
Cell = tuple[Edge, ...]
#: one node as compared for the canonical form: ((input, op index), (input, op index))
_Node = tuple[tuple[int, int], ...]


def _invalid(rule: str, detail: str = "") -> InvalidArchitecture:
    return InvalidArchitecture("darts", rule, detail)


def edge_index(node: int, source: int) -> int:
    """NB301's number (0..13) of the possible edge ``source -> node``."""
    return EDGE_OFFSETS[node] + source


def _check_cell(kind: str, edges: Any) -> list[tuple[int, int]]:
    """The cell's edges as ``(input, op index)``, or the violated rule."""
    if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence):
        raise _invalid("a cell is a sequence of (op, input) pairs", f"{kind}: {type(edges).__name__}")
    if len(edges) != EDGES_PER_CELL:
        raise _invalid(
            f"a cell has {NUM_NODES} intermediate nodes with 2 inputs each ({EDGES_PER_CELL} edges)",
            f"{kind}: {len(edges)} edges",
        )
    checked = []
    for position, edge in enumerate(edges):
        node = NODES[position // 2]
        where = f"{kind} cell, node {node}"
        if isinstance(edge, (str, bytes)) or not isinstance(edge, Sequence) or len(edge) != 2:
            raise _invalid("an edge is an (op, input) pair", f"{where}: {edge!r}")
        op, source = edge
        if op not in OPS:
            raise _invalid("unknown operation", f"{where}: {op!r}; allowed: {', '.join(OPS)}")
        if isinstance(source, bool) or not isinstance(source, numbers.Integral):
            raise _invalid("an input is an integer node id", f"{where}: {source!r}")
        if not 0 <= source < node:
            raise _invalid(
                "inputs must be earlier nodes (0..k-1 for node k)", f"{where}: input {source}"
            )
        checked.append((int(source), OPS.index(op)))
    for node, (a, b) in zip(NODES, zip(checked[::2], checked[1::2])):
        if a[0] == b[0]:
            raise _invalid(
                "the two inputs of a node must be distinct", f"{kind} cell, node {node}: both from {a[0]}"
            )
    return checked


@lru_cache(maxsize=None)
def _topological_orders(structure: tuple[tuple[int, int], ...]) -> tuple[tuple[int, ...], ...]:
    """Every order of the intermediate nodes (as 0..3) that keeps inputs earlier.

    ``structure`` holds each node's two input ids (ascending), so there are
    only 180 distinct ones and caching makes this free.
    """
    preds = [{s - NUM_INPUTS for s in inputs if s >= NUM_INPUTS} for inputs in structure]
    return tuple(
        order
        for order in itertools.permutations(range(NUM_NODES))
        if all(preds[v] <= set(order[:position]) for position, v in enumerate(order))
    )


def canonical_nodes(edges: Sequence[tuple[int, int]]) -> tuple[_Node, ...]:
    """The canonical cell of eight valid ``(input, op index)`` edges (see module doc)."""
    nodes = [tuple(sorted(edges[2 * v : 2 * v + 2])) for v in range(NUM_NODES)]
    structure = tuple((a[0], b[0]) for a, b in nodes)
    best: tuple[_Node, ...] | None = None
    for order in _topological_orders(structure):
        relabel = [0, 1] + [0] * NUM_NODES
        for new, old in enumerate(order):
            relabel[old + NUM_INPUTS] = new + NUM_INPUTS
        candidate = tuple(
            tuple(sorted((relabel[s], o) for s, o in nodes[old])) for old in order
        )
        if best is None or candidate < best:
            best = candidate
    assert best is not None  # the identity order is always valid
    return best


@dataclass(frozen=True, eq=False)
class DARTSGenotype(Architecture):
    """A DARTS / NB301 architecture: a normal and a reduction cell, stored canonically.

    Each cell is eight ``(op, input)`` pairs, two per intermediate node 2..5,
    exactly as in DARTS's ``Genotype`` (any sequences; stored as tuples). The
    constructor validates every rule and rewrites the cells to their canonical
    form (module docstring), so two instances are equal exactly when they
    describe the same network.
    """

    normal: Cell
    reduce: Cell

    space_name = "darts"

    def __post_init__(self) -> None:
        for kind in CELL_TYPES:
            nodes = canonical_nodes(_check_cell(kind, getattr(self, kind)))
            cell = tuple((OPS[o], s) for node in nodes for s, o in node)
            object.__setattr__(self, kind, cell)

    def cell(self, kind: str) -> Cell:
        """The ``"normal"`` or ``"reduce"`` cell."""
        if kind not in CELL_TYPES:
            raise ValueError(f"cell kind must be one of {CELL_TYPES}, got {kind!r}")
        return getattr(self, kind)

    @cached_property
    def _key(self) -> str:
        # per cell: one "<input><op index>" pair per edge, nodes separated by '.'
        cells = (
            ".".join(
                "".join(f"{s}{OPS.index(op)}" for op, s in cell[2 * v : 2 * v + 2])
                for v in range(NUM_NODES)
            )
            for cell in (self.normal, self.reduce)
        )
        return "|".join(cells)

    def canonical_key(self) -> str:
        """Per edge the input id then the op index into :data:`OPS`, nodes split
        by ``.``, normal cell before the ``|``; DARTS_V2 is
        ``"0213.0313.0235.0313|0010.0022.1022.1022"``."""
        return self._key

    def to_json(self) -> dict[str, Any]:
        return {
            "space": "darts",
            "normal": [[op, s] for op, s in self.normal],
            "reduce": [[op, s] for op, s in self.reduce],
        }


def _edge_orbits(permutation: Sequence[int], edges: set[tuple[int, int]]) -> int:
    """Number of cycles of the edge permutation a node permutation induces."""
    seen: set[tuple[int, int]] = set()
    cycles = 0
    for edge in edges:
        if edge in seen:
            continue
        cycles += 1
        while edge not in seen:
            seen.add(edge)
            edge = (permutation[edge[0]], permutation[edge[1]])
    return cycles


def count_cells(num_ops: int = len(OPS)) -> int:
    """Exact number of distinct (canonical) cells with ``num_ops`` operations.

    A labelled cell ``c`` has ``orders(c) / |Aut(c)|`` distinct spellings
    (its topological orders, modulo automorphisms), so the number of classes
    is ``sum_c |Aut(c)| / orders(c)``. Topological orders depend only on the
    input structure ``s``, and by Burnside ``sum over op labellings of
    |Aut(c)| = sum over sigma in Aut(s) of num_ops ** (edge orbits of sigma)``:
    a labelling is fixed by ``sigma`` when it is constant on each edge cycle.
    That turns ~10^9 labelled cells into 180 structures x 24 permutations.
    """
    total = Fraction(0)
    per_node = [itertools.combinations(range(k), 2) for k in NODES]
    for structure in itertools.product(*per_node):
        edges = {(s, k) for k, inputs in zip(NODES, structure) for s in inputs}
        fixed = 0
        for perm in itertools.permutations(NODES):
            mapping = list(range(NUM_INPUTS)) + list(perm)
            if {(mapping[s], mapping[d]) for s, d in edges} == edges:
                fixed += num_ops ** _edge_orbits(mapping, edges)
        total += Fraction(fixed, len(_topological_orders(tuple(structure))))
    assert total.denominator == 1
    return int(total)


def count_labelled_cells(num_ops: int = len(OPS)) -> int:
    """Cells as NB301 counts them: every (unordered) choice of inputs and ops per node."""
    count = 1
    for k in NODES:
        count *= (k * (k - 1) // 2) * num_ops**2
    return count
