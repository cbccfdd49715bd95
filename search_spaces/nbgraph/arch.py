"""The NAS-Bench-Graph architecture value type and its canonical hash.

An architecture (Qin et al., "NAS-Bench-Graph", NeurIPS 2022; PyPI
``nas-bench-graph``) is a DAG of an input node 0 and four computing nodes
1..4. Node ``i`` takes exactly one input, ``link[i - 1]``, an earlier node
(``0 <= link[i - 1] < i``), and applies one operation of :data:`OPS` to it;
every leaf (a computing node nothing reads) feeds the output, which
concatenates them. So there are ``1 * 2 * 3 * 4 = 24`` link patterns and
``9 ** 4 - 1`` op assignments (all-``skip`` is excluded, it computes nothing).

Canonical form
--------------
The benchmark identifies an architecture by ``Arch(link, ops).valid_hash()``
(``nas_bench_graph/architecture.py``), and its tables are keyed by that
integer. It works in three steps, reproduced here step for step:

1. ``regularize``: relabel the computing nodes so that the link pattern is
   one of the nine sorted patterns of :data:`LINKS` (the other 15 patterns are
   relabellings of them), permuting the ops alike;
2. ``move_skip_op``: a ``skip`` node only forwards its input, so a skip node
   with children is bypassed (the children read its input) and moved to the
   front as a leaf of the input node, and so is a leaf skip that is its
   parent's only child or that only forwards the raw input; then two
   remaining relabellings are folded;
3. ``equalpart_sort``: computing nodes in interchangeable positions (siblings
   with the same parent and no children) get their ops sorted by op index.

The hash of the result is ``LINKS.index(link)`` followed by the four op
indices, in base ``len(OPS) + 1 = 10``. The benchmark's representatives are
exactly the architectures that are their own canonical form, and an
architecture is stored here as the representative its hash decodes to: two
instances are equal exactly when ``valid_hash`` gives the same number, and
:meth:`NBGraphArch.canonical_key` is that number in decimal, the key of the
benchmark's tables. ``tests/test_nbgraph.py`` checks the port against the
installed package over all 24 x (9**4 - 1) raw architectures.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from nasframe.core import Architecture, InvalidArchitecture

#: operations in the benchmark's ``gnn_list`` order, which defines the hash digits
OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
#: the reduced operation set of the ogbn-proteins table (its ``gnn_list_proteins``)
PROTEINS_OPS = ("gcn", "sage", "arma", "fc", "skip")
OP_SETS = {"all": OPS, "proteins": PROTEINS_OPS}
SKIP = "skip"
NUM_NODES = 4
#: the nine canonical link patterns, in the order that defines the hash's leading digit
LINKS = (
    (0, 0, 0, 0),
    (0, 0, 0, 1),
    (0, 0, 1, 1),
    (0, 0, 1, 2),
    (0, 0, 1, 3),
    (0, 1, 1, 1),
    (0, 1, 1, 2),
    (0, 1, 2, 2),
    (0, 1, 2, 3),
)
#: every raw link pattern: node i (0-based) reads one of the nodes 0..i
ALL_LINKS = tuple(product(*(range(i + 1) for i in range(NUM_NODES))))
HASH_BASE = len(OPS) + 1
_OP_INDEX = {op: i for i, op in enumerate(OPS)}

#: ``regularize``: raw pattern -> (canonical pattern, op positions to read, in order)
_REGULARIZE = {
    (0, 0, 0, 2): ((0, 0, 0, 1), (1, 0, 2, 3)),
    (0, 0, 0, 3): ((0, 0, 0, 1), (2, 0, 1, 3)),
    (0, 0, 1, 0): ((0, 0, 0, 1), (0, 1, 3, 2)),
    (0, 0, 2, 0): ((0, 0, 0, 1), (1, 0, 3, 2)),
    (0, 0, 2, 1): ((0, 0, 1, 2), (1, 0, 2, 3)),
    (0, 0, 2, 2): ((0, 0, 1, 1), (1, 0, 2, 3)),
    (0, 0, 2, 3): ((0, 0, 1, 3), (1, 0, 2, 3)),
    (0, 1, 0, 0): ((0, 0, 0, 1), (0, 2, 3, 1)),
    (0, 1, 0, 1): ((0, 0, 1, 1), (0, 2, 1, 3)),
    (0, 1, 0, 2): ((0, 0, 1, 3), (0, 2, 1, 3)),
    (0, 1, 0, 3): ((0, 0, 1, 2), (0, 2, 1, 3)),
    (0, 1, 1, 0): ((0, 0, 1, 1), (0, 3, 1, 2)),
    (0, 1, 1, 3): ((0, 1, 1, 2), (0, 2, 1, 3)),
    (0, 1, 2, 0): ((0, 0, 1, 3), (0, 3, 1, 2)),
    (0, 1, 2, 1): ((0, 1, 1, 2), (0, 1, 3, 2)),
}
#: ``equalpart_sort``: positions whose ops are sorted, per canonical pattern
_SORTED_POSITIONS = {
    (0, 0, 0, 0): (0, 1, 2, 3),
    (0, 0, 0, 1): (1, 2),
    (0, 0, 1, 1): (2, 3),
    (0, 1, 1, 1): (1, 2, 3),
    (0, 1, 2, 2): (2, 3),
}


def _invalid(rule: str, detail: str = "") -> InvalidArchitecture:
    return InvalidArchitecture("nbgraph", rule, detail)


def _regularize(link: tuple[int, ...], ops: list[str]) -> tuple[list[int], list[str]]:
    if link in _REGULARIZE:
        canonical, order = _REGULARIZE[link]
        return list(canonical), [ops[p] for p in order]
    return list(link), list(ops)


def _move_skip_ops(link: list[int], ops: list[str]) -> tuple[list[int], list[str]]:
    """The benchmark's ``move_skip_op``, statement for statement (it mutates while iterating)."""

    def move_one(k: int, link: list[int], ops: list[str]) -> tuple[list[int], list[str]]:
        ops = [ops[k]] + ops[:k] + ops[k + 1 :]
        for i, father in enumerate(link):
            if father == k + 1:
                link[i] = link[k]
            if father <= k:
                link[i] = link[i] + 1
        return [0] + link[:k] + link[k + 1 :], ops

    def forwards_raw_input(k: int) -> bool:
        while k > -1:
            if ops[k] != SKIP:
                return False
            k = link[k] - 1
        return True

    for i in range(len(link)):
        if ops[i] != SKIP:
            continue
        has_child = has_sibling = False
        for j, father in enumerate(link):
            if father == i + 1:
                has_child = True
            elif j != i and father == link[i]:
                has_sibling = True
        if has_child or not has_sibling or (forwards_raw_input(i) and not has_child):
            link, ops = move_one(i, link, ops)
    if link == [0, 1, 2, 1]:
        link, ops = [0, 1, 1, 2], ops[:2] + [ops[3], ops[2]]
    elif link == [0, 1, 1, 3]:
        link, ops = [0, 1, 1, 2], [ops[0], ops[2], ops[1], ops[3]]
    return link, ops


def _sort_equal_parts(link: list[int], ops: list[str]) -> list[str]:
    ops = list(ops)
    key = tuple(link)
    if key == (0, 0, 1, 2):
        # two chains 0 -> a -> c and 0 -> b -> d: order them by (first op, second op)
        first, second = _OP_INDEX[ops[0]], _OP_INDEX[ops[1]]
        if first > second or (first == second and _OP_INDEX[ops[2]] > _OP_INDEX[ops[3]]):
            ops = [ops[1], ops[0], ops[3], ops[2]]
        return ops
    positions = _SORTED_POSITIONS.get(key)
    if positions:
        for position, op in zip(positions, sorted((ops[p] for p in positions), key=_OP_INDEX.__getitem__)):
            ops[position] = op
    return ops


def valid_hash(link: Sequence[int], ops: Sequence[str]) -> int:
    """NAS-Bench-Graph's ``Arch(link, ops).valid_hash()`` of a checked raw architecture."""
    canonical_link, canonical_ops = _regularize(tuple(link), list(ops))
    canonical_link, canonical_ops = _move_skip_ops(canonical_link, canonical_ops)
    canonical_ops = _sort_equal_parts(canonical_link, canonical_ops)
    code = LINKS.index(tuple(canonical_link))
    for op in canonical_ops:
        code = code * HASH_BASE + _OP_INDEX[op]
    return code


def decode_hash(code: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The (link, ops) a hash spells (the benchmark's representative)."""
    digits = []
    for _ in range(NUM_NODES):
        code, digit = divmod(code, HASH_BASE)
        digits.append(digit)
    if not 0 <= code < len(LINKS) or any(d >= len(OPS) for d in digits):
        raise _invalid("not a NAS-Bench-Graph hash", str(code))
    return LINKS[code], tuple(OPS[d] for d in reversed(digits))


def _check(link: Any, ops: Any) -> tuple[tuple[int, ...], tuple[str, ...]]:
    if isinstance(link, (str, bytes)) or not isinstance(link, Sequence):
        raise _invalid("link is a sequence of 4 input node ids", type(link).__name__)
    if isinstance(ops, (str, bytes)) or not isinstance(ops, Sequence):
        raise _invalid("ops is a sequence of 4 operation names", type(ops).__name__)
    if len(link) != NUM_NODES or len(ops) != NUM_NODES:
        raise _invalid(
            f"an architecture has {NUM_NODES} computing nodes (4 links and 4 ops)",
            f"{len(link)} links, {len(ops)} ops",
        )
    checked = []
    for i, source in enumerate(link):
        if isinstance(source, bool) or not isinstance(source, numbers.Integral):
            raise _invalid("a link is an integer node id", f"node {i + 1}: {source!r}")
        if not 0 <= source <= i:
            raise _invalid(
                "node i reads an earlier node (link of node i in 0..i-1, 0 = the input)",
                f"node {i + 1}: link {source}",
            )
        checked.append(int(source))
    for i, op in enumerate(ops):
        if op not in _OP_INDEX:
            raise _invalid("unknown operation", f"node {i + 1}: {op!r}; allowed: {', '.join(OPS)}")
    if all(op == SKIP for op in ops):
        raise _invalid("at least one operation is not 'skip' (an all-skip network computes nothing)")
    return tuple(checked), tuple(ops)


@dataclass(frozen=True, eq=False)
class NBGraphArch(Architecture):
    """A NAS-Bench-Graph architecture: one input link and one op per computing node.

    ``link[i]`` is the node that computing node ``i + 1`` reads (0 is the
    graph's input features) and ``ops[i]`` its operation. The constructor
    checks the rules and stores the benchmark's representative of the
    architecture (module docstring), so instances are equal exactly when the
    benchmark's ``valid_hash`` is.
    """

    link: tuple[int, ...]
    ops: tuple[str, ...]

    space_name = "nbgraph"

    def __post_init__(self) -> None:
        link, ops = _check(self.link, self.ops)
        code = valid_hash(link, ops)
        link, ops = decode_hash(code)
        object.__setattr__(self, "link", link)
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "_code", code)
        # the string key is what tables are indexed by: made once, not per lookup
        object.__setattr__(self, "_key", str(code))

    @classmethod
    def _of_code(cls, code: int) -> "NBGraphArch":
        """The representative of a ``valid_hash`` known to be canonical, without re-checking it:
        how :mod:`~search_spaces.nbgraph.spellings` makes the space's 26,206 instances in bulk."""
        arch = object.__new__(cls)
        link, ops = decode_hash(code)
        for name, value in (("link", link), ("ops", ops), ("_code", code), ("_key", str(code))):
            object.__setattr__(arch, name, value)
        return arch

    @classmethod
    def from_hash(cls, code: int | str) -> "NBGraphArch":
        """The architecture of a benchmark table key (an int or its decimal string)."""
        try:
            number = int(code)
        except (TypeError, ValueError):
            raise _invalid("a hash is an integer", repr(code)) from None
        link, ops = decode_hash(number)
        arch = cls(link, ops)
        if arch._code != number:
            raise _invalid("hash is not the canonical form of its architecture", f"{number} -> {arch._code}")
        return arch

    @property
    def hash(self) -> int:
        """The benchmark's integer hash (the tables' key)."""
        return self._code  # type: ignore[attr-defined]

    def leaves(self) -> tuple[int, ...]:
        """Computing nodes (1..4) that feed the output: those no node reads."""
        read = set(self.link)
        return tuple(v for v in range(1, NUM_NODES + 1) if v not in read)

    def canonical_key(self) -> str:
        """``valid_hash`` in decimal: the chain ``(0, 1, 2, 3)`` of gcn, gat, sage, fc is
        ``"81047"`` (pattern 8, then op indices 1, 0, 4, 7)."""
        return self._key  # type: ignore[attr-defined]

    def to_json(self) -> dict[str, Any]:
        return {"space": "nbgraph", "link": list(self.link), "ops": list(self.ops)}


__all__ = [
    "ALL_LINKS",
    "LINKS",
    "NBGraphArch",
    "OPS",
    "OP_SETS",
    "PROTEINS_OPS",
    "decode_hash",
    "valid_hash",
]
