"""Every raw spelling of a NAS-Bench-Graph architecture, mapped to its representative in bulk.

:func:`~search_spaces.nbgraph.arch.valid_hash` walks one spelling in a few
microseconds of Python, as the benchmark's own ``Arch.valid_hash`` does; that
walk is what made a query from raw ``(link, ops)`` specs slower than the
package's dict (issue 17). The raw space is small, though: 24 link patterns x
9**4 op assignments = 157,464 spellings. And the canonical form's relabelling
depends only on the link pattern and on *which* nodes are ``skip``, never on
the other ops: ``regularize`` reads the pattern, ``move_skip_op`` tests
``op == "skip"``. So the whole map takes 24 x 15 relabellings, found by running
valid_hash's own steps on placeholder ops, then applied to arrays of op
indices; only ``equalpart_sort`` looks at op values, and it vectorises. The
map is built once per process (tens of milliseconds), and validating a raw
spelling becomes an index into it.

A spelling's *raw index* is its link pattern's position in
:data:`~search_spaces.nbgraph.arch.ALL_LINKS` followed by its four op indices,
in base 9 (all-``skip`` spellings are in the map too, answered ``-1``).
``tests/test_nbgraph.py`` checks the map against ``valid_hash`` on every
spelling.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product
from typing import Any

import numpy as np

from search_spaces.nbgraph.arch import (
    ALL_LINKS,
    HASH_BASE,
    LINKS,
    NUM_NODES,
    OP_SETS,
    OPS,
    SKIP,
    _SORTED_POSITIONS,
    NBGraphArch,
    _move_skip_ops,
    _regularize,
)

_SKIP_INDEX = OPS.index(SKIP)
#: raw link pattern -> its position in ALL_LINKS
_LINK_INDEX = {link: i for i, link in enumerate(ALL_LINKS)}
_OP_INDEX = {op: i for i, op in enumerate(OPS)}
_RADIX = len(OPS)
_SPELLINGS_PER_LINK = _RADIX**NUM_NODES


def _relabelling(link: tuple[int, ...], skips: int) -> tuple[int, tuple[int | None, ...]]:
    """The canonical pattern's position in LINKS and, per canonical node, the raw node whose op lands
    there (``None`` for a skip: every skip has the same digit, so which one moved there does not matter).

    ``skips`` has bit ``i`` set where raw node ``i + 1`` is ``skip``.
    """
    placeholders = [SKIP if skips >> i & 1 else str(i) for i in range(NUM_NODES)]
    canonical, ops = _regularize(link, placeholders)
    canonical, ops = _move_skip_ops(canonical, ops)
    return LINKS.index(tuple(canonical)), tuple(None if op == SKIP else int(op) for op in ops)


def _sort_equal_parts(pattern: int, digits: np.ndarray) -> np.ndarray:
    """``equalpart_sort`` (``arch._sort_equal_parts``) on rows of op indices of one canonical pattern."""
    link = LINKS[pattern]
    if link == (0, 0, 1, 2):  # two chains: ordered by (first op, second op)
        swap = (digits[:, 0] > digits[:, 1]) | ((digits[:, 0] == digits[:, 1]) & (digits[:, 2] > digits[:, 3]))
        digits[swap] = digits[swap][:, [1, 0, 3, 2]]
        return digits
    positions = _SORTED_POSITIONS.get(link)
    if positions:
        positions = list(positions)
        digits[:, positions] = np.sort(digits[:, positions], axis=1)
    return digits


@lru_cache(maxsize=1)
def canonical_codes() -> np.ndarray:
    """``valid_hash`` of every raw spelling, by raw index; ``-1`` for the all-skip ones."""
    assignments = np.array(list(product(range(_RADIX), repeat=NUM_NODES)), dtype=np.int64)
    skip_masks = (assignments == _SKIP_INDEX) @ (1 << np.arange(NUM_NODES))
    codes = np.full(len(ALL_LINKS) * _SPELLINGS_PER_LINK, -1, dtype=np.int64)
    place = HASH_BASE ** np.arange(NUM_NODES - 1, -1, -1)
    for link_index, link in enumerate(ALL_LINKS):
        for skips in range(2**NUM_NODES - 1):  # the last mask is all-skip
            rows = np.flatnonzero(skip_masks == skips)
            pattern, sources = _relabelling(link, skips)
            digits = np.full((len(rows), NUM_NODES), _SKIP_INDEX, dtype=np.int64)
            for position, source in enumerate(sources):
                if source is not None:
                    digits[:, position] = assignments[rows, source]
            digits = _sort_equal_parts(pattern, digits)
            codes[link_index * _SPELLINGS_PER_LINK + rows] = pattern * HASH_BASE**NUM_NODES + digits @ place
    codes.flags.writeable = False
    return codes


@lru_cache(maxsize=None)
def representatives(op_set: str = "all") -> list[NBGraphArch | None]:
    """Per raw index, the architecture a spelling is (``None`` where it is all-skip or uses an op
    outside ``op_set``): one shared instance per architecture."""
    codes = canonical_codes()
    allowed = np.isin(np.arange(_RADIX), [OPS.index(op) for op in OP_SETS[op_set]])
    digits = (np.arange(len(codes))[:, None] // _RADIX ** np.arange(NUM_NODES - 1, -1, -1)) % _RADIX
    usable = (codes >= 0) & allowed[digits].all(axis=1)
    unique, inverse = np.unique(codes[usable], return_inverse=True)
    archs = [NBGraphArch._of_code(int(code)) for code in unique]
    found: list[NBGraphArch | None] = [None] * len(codes)
    for raw, which in zip(np.flatnonzero(usable).tolist(), inverse.tolist()):
        found[raw] = archs[which]
    return found


@lru_cache(maxsize=None)
def enumerate_archs(op_set: str = "all") -> tuple[NBGraphArch, ...]:
    """Every distinct architecture over ``OP_SETS[op_set]``, in hash order (26,206 for all ops, 2,021
    for the proteins set): the distinct representatives of all spellings."""
    unique = {arch.hash: arch for arch in representatives(op_set) if arch is not None}
    return tuple(unique[code] for code in sorted(unique))


def from_raw(link: Any, ops: Any, op_set: str = "all") -> NBGraphArch | None:
    """The architecture ``(link, ops)`` spells, or ``None`` where this fast path cannot tell.

    ``None`` means "validate it the slow way": anything but a 4-int link and
    4 known op names, an all-skip spelling, or an op outside ``op_set``. The
    slow way then raises the error that names what is wrong (or accepts what
    this path declines to judge, such as numpy integers).
    """
    try:
        a, b, c, d = link
        p, q, r, s = ops
        if not (a.__class__ is b.__class__ is c.__class__ is d.__class__ is int):  # bools, floats: the slow way
            return None
        raw = _LINK_INDEX[(a, b, c, d)]
        raw = ((raw * _RADIX + _OP_INDEX[p]) * _RADIX + _OP_INDEX[q]) * _RADIX + _OP_INDEX[r]
        return representatives(op_set)[raw * _RADIX + _OP_INDEX[s]]
    except (KeyError, TypeError, ValueError):
        return None


__all__ = ["canonical_codes", "enumerate_archs", "from_raw", "representatives"]
