"""The NAS-Bench-201 cell value type, its official string and its canonical form.

A cell (Dong & Yang, "NAS-Bench-201", ICLR 2020) is a DAG of four nodes: 0 is
the cell's input, 3 its output, and every pair ``i < j`` is joined by one edge
carrying one of :data:`OPS`. A node is the sum of its incoming edges. So a cell
is six op choices, spelled officially node by node, each input edge as
``op~source``::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|

which is :data:`EDGES` order: 0->1, 0->2, 1->2, 0->3, 1->3, 2->3. 5**6 = 15,625
spellings; all of them are valid cells (NB201 trained every one).

Canonical form
--------------
Many spellings build the same network. Two cells are equal here when their
*computation graphs* are isomorphic after three reductions, each of which
keeps the function and the parameters exactly:

1. ``none`` edges compute zero: drop them;
2. drop every edge that is not on an input->output path: its source is never
   reached from the input (its value is zero) or its result never reaches the
   output (nothing reads it). A cell with no such path computes zero: all of
   those cells are one class, ``zero``;
3. a node whose only remaining input is one ``skip_connect`` *is* its source:
   merge it into the source (its out-edges leave from the source; if it is the
   output, the source becomes the output). A cell whose output is the input
   itself is the class ``identity``.

What is left is a multigraph (merging can create parallel edges, e.g. two
convolutions of the input that are summed) with the input and output fixed and
at most two inner nodes; its canonical labelling is the smallest sorted edge
list over the two orders of the inner nodes. That gives **6,985** distinct
cells (``tests/test_nb201.py`` counts them).

Why not the other counts. Plain isomorphism after step 2 gives 8,765: it keeps
``1 = skip(0), 3 = conv(1)`` apart from ``3 = conv(0)``, the same network.
NB201's own ``CellStructure.to_unique_str(consider_zero=True)``, a symbolic
sum per node, gives the 6,466 the literature quotes as "unique" NB201 cells
(e.g. aw_nas's de-isomorphism list, "-n 6466"), but it is not an equivalence
of networks: it expands a node's expression at every use, so a convolution
read by two later edges (one module, shared) and two separate convolutions
with the same input print the same string; 946 of its classes hold cells
with different numbers of convolutions. Conversely it counts zero terms, so
it splits cells differing only in dead branches. Ours never merges two
different networks; it is not complete either: sums are associative, so
cells that sum the same terms grouped through different skip nodes stay
apart. The one approximation: a convolution whose input is a dead (zero) node
outputs its BatchNorm's bias, a learned per-channel constant, which step 2
drops, as NB201's ``to_unique_str`` and NASLib do.

An instance stores its class's *representative*: the spelling with the
smallest op indices (so every dead edge is ``none``). Instances are equal
exactly when their canonical forms are; :meth:`NB201Cell.canonical_key` is the
representative's official string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import Any, Sequence

from nasframe.core import Architecture, InvalidArchitecture

#: edge operations, in NB201's order (the index order of encodings and decisions)
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NONE, SKIP = "none", "skip_connect"
#: the six edges ``(source, target)`` in the official string's order
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_NODES = 4
OUTPUT = NUM_NODES - 1
_OP_INDEX = {op: i for i, op in enumerate(OPS)}
_TOKEN = re.compile(r"^([a-z0-9_]+)~(\d+)$")

#: a canonical form: ``"zero"``, ``"identity"`` or the sorted labelled edge list
CanonicalForm = Any


def _invalid(rule: str, detail: str = "") -> InvalidArchitecture:
    return InvalidArchitecture("nb201", rule, detail)


# -- the official string ------------------------------------------------------


def to_string(ops: Sequence[str]) -> str:
    """The official NB201 string of six ops in :data:`EDGES` order."""
    nodes = []
    for target in range(1, NUM_NODES):
        tokens = [f"{op}~{s}" for (s, t), op in zip(EDGES, ops) if t == target]
        nodes.append("|" + "|".join(tokens) + "|")
    return "+".join(nodes)


def parse_string(text: str) -> tuple[str, ...]:
    """Six ops from an official string; the error names the part that is wrong."""
    if not isinstance(text, str):
        raise _invalid("an NB201 string is a str", type(text).__name__)
    parts = text.strip().split("+")
    if len(parts) != NUM_NODES - 1:
        raise _invalid("an NB201 string has 3 nodes joined by '+'", f"{len(parts)} in {text!r}")
    ops: dict[tuple[int, int], str] = {}
    for target, part in enumerate(parts, start=1):
        if len(part) < 2 or not (part.startswith("|") and part.endswith("|")):
            raise _invalid("each node is written |op~source|...|", f"node {target}: {part!r}")
        tokens = part[1:-1].split("|")
        if len(tokens) != target:
            raise _invalid(f"node {target} has exactly {target} input edges", f"{part!r}")
        for token in tokens:
            match = _TOKEN.match(token)
            if match is None:
                raise _invalid("an edge is written op~source", f"node {target}: {token!r}")
            op, source = match.group(1), int(match.group(2))
            if op not in _OP_INDEX:
                raise _invalid("unknown operation", f"{op!r}; allowed: {', '.join(OPS)}")
            if source >= target or (source, target) in ops:
                raise _invalid(
                    f"node {target} reads each earlier node 0..{target - 1} once", f"{token!r} in {part!r}"
                )
            ops[(source, target)] = op
    return tuple(ops[edge] for edge in EDGES)


def check_ops(ops: Any) -> tuple[str, ...]:
    """Six known op names as a tuple (a sequence of names or of op indices)."""
    if isinstance(ops, (str, bytes)) or not isinstance(ops, Sequence):
        raise _invalid("ops is a sequence of 6 operations", type(ops).__name__)
    if len(ops) != len(EDGES):
        raise _invalid("a cell has 6 edges (one op each)", f"got {len(ops)}")
    out = []
    for edge, op in zip(EDGES, ops):
        if isinstance(op, int) and not isinstance(op, bool) and 0 <= op < len(OPS):
            op = OPS[op]
        if op not in _OP_INDEX:
            raise _invalid("unknown operation", f"edge {edge[0]}->{edge[1]}: {op!r}; allowed: {', '.join(OPS)}")
        out.append(op)
    return tuple(out)


# -- canonical form -----------------------------------------------------------


def live_edges(ops: Sequence[str]) -> list[tuple[int, int, str]]:
    """Non-``none`` edges on an input->output path (steps 1 and 2 of the module docstring)."""
    edges = [(s, t, op) for (s, t), op in zip(EDGES, ops) if op != NONE]
    reached = {0}
    for node in range(1, NUM_NODES):
        if any(s in reached and t == node for s, t, _ in edges):
            reached.add(node)
    useful = {OUTPUT}
    for node in range(OUTPUT - 1, -1, -1):
        if any(s == node and t in useful for s, t, _ in edges):
            useful.add(node)
    return [(s, t, op) for s, t, op in edges if s in reached and t in useful]


def _merge_skips(edges: list[tuple[int, int, str]]) -> tuple[list[tuple[int, int, str]], int]:
    """Step 3: fold each node that only forwards another through one skip into it.

    Nodes are visited in topological order, so a source is final before the
    nodes reading it are looked at. Returns the edges and the output node.
    """
    output = OUTPUT
    for node in range(1, NUM_NODES):
        inputs = [e for e in edges if e[1] == node]
        if len(inputs) == 1 and inputs[0][2] == SKIP:
            source = inputs[0][0]
            edges = [(source if s == node else s, t, op) for s, t, op in edges if t != node]
            if node == output:
                output = source
    return edges, output


def canonical_form(ops: Sequence[str]) -> CanonicalForm:
    """The class of a cell: ``"zero"``, ``"identity"`` or a sorted tuple of
    ``(source, target, op)`` with the input labelled 0, the output 3 and the
    inner nodes numbered to give the smallest tuple."""
    edges = live_edges(ops)
    if not edges:
        return "zero"
    edges, output = _merge_skips(edges)
    if output == 0:
        return "identity"
    inner = sorted({n for s, t, _ in edges for n in (s, t)} - {0, output})
    orders = [inner, inner[::-1]] if len(inner) == 2 else [inner]
    forms = []
    for order in orders:
        label = {0: 0, output: OUTPUT, **{node: i + 1 for i, node in enumerate(order)}}
        forms.append(tuple(sorted((label[s], label[t], op) for s, t, op in edges)))
    return min(forms)


@lru_cache(maxsize=1)
def _classes() -> tuple[dict[Any, tuple[str, ...]], tuple[tuple[str, ...], ...]]:
    """Canonical form -> representative spelling, and every representative in index order.

    Walking all 15,625 spellings in op-index order makes the first spelling
    met of a class its representative. Built once per process (~0.4 s).
    """
    representative: dict[Any, tuple[str, ...]] = {}
    for ops in product(OPS, repeat=len(EDGES)):
        representative.setdefault(canonical_form(ops), ops)
    return representative, tuple(representative.values())


def representative(ops: Sequence[str]) -> tuple[str, ...]:
    """The stored spelling of the class of ``ops`` (smallest op indices)."""
    return _classes()[0][canonical_form(ops)]


def all_representatives() -> tuple[tuple[str, ...], ...]:
    """One spelling per distinct cell (6,985), in op-index order."""
    return _classes()[1]


@lru_cache(maxsize=None)
def _canonical_string(ops: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    stored = representative(ops)
    return stored, to_string(stored)


# -- parameters ---------------------------------------------------------------


def parameter_count(ops: Sequence[str], channels: int = 16, cells_per_stage: int = 5,
                    num_classes: int = 10, in_channels: int = 3) -> int:
    """Trainable parameters of the NB201 network of the spelling ``ops``, without torch.

    The count :func:`search_spaces.nb201.model.build_nb201_model` builds
    (tests check both agree): only the stem, the reductions, the head and each
    cell's convolutions (kxk weights + BatchNorm scale and shift) have any.
    """
    ops = check_ops(ops)
    convs = {k: sum(op == f"nor_conv_{k}x{k}" for op in ops) for k in (1, 3)}
    total = in_channels * channels * 9 + 2 * channels  # stem conv + BN
    width = channels
    for stage in range(3):
        if stage:  # residual reduction: two 3x3 ReLU-Conv-BN and a 1x1 shortcut conv
            total += width * 2 * width * 9 + 2 * width * 2 * width * 9 + 4 * 2 * width + width * 2 * width
            width *= 2
        per_cell = sum(n * (width * width * k * k + 2 * width) for k, n in convs.items())
        total += cells_per_stage * per_cell
    return total + 2 * width + width * num_classes + num_classes


# -- the value type -----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NB201Cell(Architecture):
    """A NAS-Bench-201 cell: one op per edge, in :data:`EDGES` order.

    The constructor checks the ops (names or indices into :data:`OPS`) and
    stores the representative of the cell's class (module docstring), so two
    instances are equal exactly when they build the same network.
    """

    ops: tuple[str, ...]

    space_name = "nb201"

    def __post_init__(self) -> None:
        stored, key = _canonical_string(check_ops(self.ops))
        object.__setattr__(self, "ops", stored)
        object.__setattr__(self, "_key", key)

    @classmethod
    def from_string(cls, text: str) -> "NB201Cell":
        """The cell of an official NB201 string (any spelling of its class)."""
        return cls(parse_string(text))

    def to_string(self) -> str:
        """The official string of the stored representative."""
        return self._key  # type: ignore[attr-defined]

    def canonical_key(self) -> str:
        return self._key  # type: ignore[attr-defined]

    def indices(self) -> tuple[int, ...]:
        """The op index of each edge."""
        return tuple(_OP_INDEX[op] for op in self.ops)

    def to_json(self) -> dict[str, Any]:
        return {"space": "nb201", "arch": self.to_string()}


__all__ = [
    "EDGES",
    "NB201Cell",
    "OPS",
    "all_representatives",
    "canonical_form",
    "check_ops",
    "live_edges",
    "parameter_count",
    "parse_string",
    "representative",
    "to_string",
]
