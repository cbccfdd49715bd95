"""Pure functions on NAS-Bench-101 cell graphs: pruning and the official hash.

A cell is an upper-triangular 0/1 adjacency matrix (vertex 0 is the input,
the last vertex the output) with one label per vertex. These functions take
and return plain numpy arrays / lists so they can be reused by the batched
enumeration code and by tests without constructing cell objects.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np


def reachable_from_input(matrix: np.ndarray) -> np.ndarray:
    """Boolean mask of vertices with a path from vertex 0 (itself included).

    Upper-triangularity means vertices are already in topological order, so
    one forward sweep suffices.
    """
    n = matrix.shape[0]
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    for v in range(1, n):
        seen[v] = bool(np.any(matrix[:v, v].astype(bool) & seen[:v]))
    return seen


def reaches_output(matrix: np.ndarray) -> np.ndarray:
    """Boolean mask of vertices with a path to the last vertex (itself included)."""
    n = matrix.shape[0]
    seen = np.zeros(n, dtype=bool)
    seen[n - 1] = True
    for v in range(n - 2, -1, -1):
        seen[v] = bool(np.any(matrix[v, v + 1 :].astype(bool) & seen[v + 1 :]))
    return seen


def prune(matrix: np.ndarray, labels: Sequence) -> tuple[np.ndarray, list] | None:
    """Drop every vertex that is not on an input -> output path.

    Such vertices cannot influence the network's output, so NAS-Bench-101
    removes them before hashing or building anything. Returns ``None`` when the
    input and the output are disconnected (the spec has no network at all).
    """
    keep = reachable_from_input(matrix) & reaches_output(matrix)
    if not (keep[0] and keep[-1]):
        return None
    idx = np.flatnonzero(keep)
    return matrix[np.ix_(idx, idx)], [labels[i] for i in idx]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


#: md5 of each ``(out_degree, in_degree, label)`` triple seen so far (a few dozen exist)
_initial: dict[tuple[int, int, int], str] = {}


def hash_cell(matrix: np.ndarray | Sequence[Sequence[int]], labels: Sequence[int]) -> str:
    """:func:`official_hash` of one cell, equal bit for bit, about 1.5x faster.

    The path for a few cells at a time (a searcher's ask, one query), where
    :func:`~search_spaces.nb101.fast_hash.batch_hash`'s set-up costs more
    than it saves. The same algorithm, with neighbour lists built once instead
    of scanning matrix entries every iteration and the initial hashes
    memoised; the reference stays written plainly.
    """
    rows = matrix.tolist() if isinstance(matrix, np.ndarray) else [list(row) for row in matrix]
    n = len(rows)
    ins = [[w for w in range(n) if rows[w][v]] for v in range(n)]
    outs = [[w for w in range(n) if rows[v][w]] for v in range(n)]
    hashes = []
    for v in range(n):
        triple = (len(outs[v]), len(ins[v]), int(labels[v]))
        known = _initial.get(triple)
        if known is None:
            known = _initial[triple] = _md5(str(triple))
        hashes.append(known)
    md5 = hashlib.md5
    for _ in range(n):
        hashes = [
            md5(
                (
                    "".join(sorted([hashes[w] for w in ins[v]]))
                    + "|"
                    + "".join(sorted([hashes[w] for w in outs[v]]))
                    + "|"
                    + hashes[v]
                ).encode()
            ).hexdigest()
            for v in range(n)
        ]
    return _md5(str(sorted(hashes)))


def official_hash(matrix: np.ndarray, labels: Sequence[int]) -> str:
    """The NAS-Bench-101 fingerprint of a pruned cell, bit for bit.

    This is the published algorithm written plainly (one Python loop per
    vertex and iteration); it is the reference the vectorised batch version is
    checked and timed against. Labels: input -1, output -2, ops 0/1/2.

    Each vertex starts from md5 of ``(out_degree, in_degree, label)``; V times
    it becomes md5 of its sorted in-neighbour hashes, ``|``, sorted
    out-neighbour hashes, ``|``, its own hash (a Weisfeiler-Lehman refinement,
    hence invariant to vertex relabelling); the fingerprint hashes the sorted
    vertex hashes.
    """
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    in_degree = matrix.sum(axis=0).tolist()
    out_degree = matrix.sum(axis=1).tolist()
    hashes = [_md5(str((out_degree[v], in_degree[v], int(labels[v])))) for v in range(n)]
    for _ in range(n):
        hashes = [
            _md5(
                "".join(sorted(hashes[w] for w in range(n) if matrix[w, v]))
                + "|"
                + "".join(sorted(hashes[w] for w in range(n) if matrix[v, w]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return _md5(str(sorted(hashes)))
