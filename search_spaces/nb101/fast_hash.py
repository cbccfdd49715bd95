"""The NAS-Bench-101 hash of many cells at once, bit for bit the official one.

:func:`graph_util.official_hash` spends its time in Python: one ``hashlib``
call, one sort and one string join per vertex and iteration, so hashing the
whole space (423,624 cells) that way takes minutes. This module runs the
same algorithm vectorised over all vertices of all cells at once:

* MD5 runs in numpy over thousands of messages per call
  (:mod:`~search_spaces.nb101.md5`).
* Every vertex's current hash is kept as an order key and as hex words, and
  a message is assembled from those words, never as a string
  (:mod:`~search_spaces.nb101.hash_messages`).
* Vertices are grouped by (in-degree, out-degree), so the messages of a
  group share one layout, and cells by size, so the vertices still being
  updated at any iteration are a prefix of each group.
* Equal messages are hashed once. Early iterations only see a vertex's close
  neighbourhood, which many cells share; later ones are nearly all distinct,
  so deduplication stops once it stops paying.

Nothing here assumes upper-triangular matrices: the hash only uses degrees and
neighbour sets, so any 0/1 adjacency matrix is hashed exactly as the reference
does (relabelled, non-topologically ordered specs included). Timings are in
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple, Sequence

import numpy as np

from search_spaces.nb101.hash_messages import (
    Hashes,
    Layout,
    fingerprint_layout,
    md5_messages,
    sort_by_hash,
    unique_rows,
    vertex_layout,
)
from search_spaces.nb101.md5 import digest_bytes, hex_digests

class _Graphs(NamedTuple):
    """All cells as one vertex-level graph; vertices numbered cell after cell,
    cells of equal size together, sizes ascending (``order`` maps back)."""

    order: np.ndarray
    sizes: np.ndarray  # per cell, in vertex numbering order
    size_of_vertex: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    targets: np.ndarray


def _as_graphs(
    matrices: Sequence[np.ndarray] | np.ndarray, labels: Sequence[Sequence[int]] | np.ndarray
) -> _Graphs:
    """Check the input and flatten it into one graph (see :class:`_Graphs`)."""
    if isinstance(matrices, np.ndarray) and matrices.ndim == 3:
        sizes = np.full(len(matrices), matrices.shape[1], dtype=np.int64)
    else:
        try:  # shapes are checked below, once per group of equal size
            sizes = np.fromiter(map(len, matrices), dtype=np.int64, count=len(matrices))
        except TypeError:
            raise ValueError("every matrix must be square with at least one vertex") from None
    order = np.argsort(sizes, kind="stable")
    parts: list[list[np.ndarray]] = [[], [], [], []]
    base = 0
    for n in np.unique(sizes).tolist():
        members = order[sizes[order] == n]
        if isinstance(matrices, np.ndarray) and matrices.ndim == 3:
            stacked = matrices[members]
        else:
            try:
                stacked = np.asarray([matrices[i] for i in members])
            except ValueError:  # ragged: some matrix of this length is not square
                stacked = np.zeros(0)
        group_labels = np.asarray(
            labels[members] if isinstance(labels, np.ndarray) else [labels[i] for i in members]
        )
        if n < 1 or stacked.shape != (len(members), n, n):
            raise ValueError("every matrix must be square with at least one vertex")
        if group_labels.shape != (len(members), n):
            raise ValueError("every cell needs exactly one label per vertex")
        if not np.isin(stacked, (0, 1)).all():
            raise ValueError("adjacency matrices must hold only 0 and 1")
        cell, src, dst = np.nonzero(stacked)
        parts[0].append(np.full(len(members) * n, n))
        parts[1].append(group_labels.reshape(-1).astype(np.int64))
        parts[2].append(base + cell * n + src)
        parts[3].append(base + cell * n + dst)
        base += len(members) * n
    flat = [np.concatenate(p).astype(np.int64) if p else np.zeros(0, np.int64) for p in parts]
    return _Graphs(order, sizes[order], *flat)


class _DegreeClass(NamedTuple):
    """Vertices with in-degree ``k`` and out-degree ``m``: their messages share
    one layout. Members are sorted by cell size, largest first, so the vertices
    still being updated at any iteration are a prefix."""

    k: int
    m: int
    members: np.ndarray
    ins: np.ndarray  # (P, k) in-neighbours
    outs: np.ndarray  # (P, m) out-neighbours
    size: np.ndarray  # (P,) cell size of each member


def _degree_classes(graphs: _Graphs) -> tuple[np.ndarray, np.ndarray, list[_DegreeClass]]:
    """In-degrees, out-degrees and the vertices grouped by the pair (see :class:`_DegreeClass`)."""
    count = len(graphs.size_of_vertex)
    src, dst = graphs.sources, graphs.targets
    in_deg = np.bincount(dst, minlength=count)
    out_deg = np.bincount(src, minlength=count)
    in_src = src[np.argsort(dst, kind="stable")]
    out_dst = dst[np.argsort(src, kind="stable")]
    in_ptr, out_ptr = np.cumsum(in_deg) - in_deg, np.cumsum(out_deg) - out_deg
    pairs = in_deg * (count + 1) + out_deg
    classes = []
    for pair in np.unique(pairs).tolist():
        k, m = divmod(pair, count + 1)
        members = np.flatnonzero(pairs == pair)
        members = members[np.argsort(-graphs.size_of_vertex[members], kind="stable")]
        classes.append(
            _DegreeClass(
                k, m, members,
                in_src[in_ptr[members][:, None] + np.arange(k)],
                out_dst[out_ptr[members][:, None] + np.arange(m)],
                graphs.size_of_vertex[members],
            )
        )
    return in_deg, out_deg, classes


def _initial_hashes(graphs: _Graphs, in_deg: np.ndarray, out_deg: np.ndarray) -> tuple[np.ndarray, Hashes]:
    """Iteration-0 hashes md5(str((out_degree, in_degree, label))) of every vertex.

    Few distinct triples exist, so they are hashed with hashlib directly.
    Returns ``(equality-consistent id per vertex, hashes per vertex)``.
    """
    labels = graphs.labels
    triples = np.stack([out_deg, in_deg, labels - labels.min(initial=0)], axis=1)
    first, inverse = unique_rows(triples, int(triples.max(initial=0)) + 1)
    text = zip(out_deg[first].tolist(), in_deg[first].tolist(), labels[first].tolist())
    digests = np.frombuffer(b"".join(hashlib.md5(str(t).encode()).digest() for t in text), dtype=np.uint8)
    hashes = Hashes.from_state(np.ascontiguousarray(digests.view("<u4").reshape(-1, 4).T))
    return inverse, hashes.take(inverse)


#: keep deduplicating messages while an iteration still removes more than this
#: fraction of them; later iterations see whole cells and are nearly all distinct
_DEDUPE_WORTHWHILE = 0.1


class _Updates(NamedTuple):
    """The vertex-update messages of one iteration.

    ``jobs`` are ``(layout, rows of hash indices)``; the new hash of vertex
    ``members[j][i]`` is message ``inverse[j][i]`` of job ``j``.
    """

    jobs: list[tuple[Layout, np.ndarray]]
    members: list[np.ndarray]
    inverse: list[np.ndarray]
    vertices: int


def _vertex_updates(
    classes: list[_DegreeClass], step: int, current: Hashes, canon: np.ndarray | None, canon_count: int
) -> _Updates:
    """Messages ``sorted in-hashes | sorted out-hashes | own hash`` of the
    vertices of cells with at least ``step`` vertices; deduplicated when
    ``canon`` (ids equal exactly when hashes are equal) is given."""
    updates = _Updates([], [], [], 0)
    for cls in classes:
        live = int(np.count_nonzero(cls.size >= step))
        if live == 0:
            continue
        members = cls.members[:live]
        ins, outs = sort_by_hash(cls.ins[:live], current), sort_by_hash(cls.outs[:live], current)
        rows = np.concatenate([ins, outs, members[:, None]], axis=1)
        if canon is not None:
            first, inverse = unique_rows(canon[rows], canon_count)
            rows = rows[first]
        else:
            inverse = np.arange(live)
        updates.jobs.append((vertex_layout(cls.k, cls.m), rows))
        updates.members.append(members)
        updates.inverse.append(inverse)
    return updates._replace(vertices=sum(len(m) for m in updates.members))


#: cells hashed per pass: the per-vertex tables and message rows of ~20k cells
#: stay in the CPU cache; larger passes are slower per cell (and use more
#: memory) while deduplicating across more cells gains little
_CELLS_PER_PASS = 20_000


def batch_hash(
    matrices: Sequence[np.ndarray] | np.ndarray, labels: Sequence[Sequence[int]] | np.ndarray
) -> list[str]:
    """The official NAS-Bench-101 hash of many cells, equal to :func:`official_hash`.

    ``matrices`` is a sequence of square 0/1 adjacency matrices (sizes may
    differ) or one ``(B, n, n)`` array; ``labels`` gives one int label per
    vertex (-1 input, -2 output, 0/1/2 ops). Cells are hashed as given, like the
    reference: prune them first. Any directed graph is accepted, upper
    triangular or not.
    """
    if len(matrices) != len(labels):
        raise ValueError(f"{len(matrices)} matrices but {len(labels)} label lists")
    return [
        key
        for start in range(0, len(matrices), _CELLS_PER_PASS)
        for key in _hash_pass(
            matrices[start : start + _CELLS_PER_PASS], labels[start : start + _CELLS_PER_PASS]
        )
    ]


def _hash_pass(
    matrices: Sequence[np.ndarray] | np.ndarray, labels: Sequence[Sequence[int]] | np.ndarray
) -> list[str]:
    graphs = _as_graphs(matrices, labels)
    in_deg, out_deg, classes = _degree_classes(graphs)
    # ``current`` holds every vertex's hash of the last iteration; ``canon`` ids
    # are equal exactly when those hashes are, while messages are deduplicated
    canon, current = _initial_hashes(graphs, in_deg, out_deg)
    canon_count = int(canon.max(initial=-1)) + 1
    sizes, counts = np.unique(graphs.sizes, return_counts=True)
    starts = np.cumsum([0, *(sizes * counts)]).tolist()
    cells_of_size = {n: (starts[i], c) for i, (n, c) in enumerate(zip(sizes.tolist(), counts.tolist()))}
    fingerprints: dict[int, np.ndarray] = {}
    largest = int(sizes.max(initial=0))
    for step in range(1, largest + 2):
        updates = _vertex_updates(classes, step, current, canon, canon_count)
        jobs = list(updates.jobs)
        # cells with ``step - 1`` vertices are done: their fingerprint reads the
        # same hashes as this iteration's updates, so it joins the same MD5 pass
        finished = cells_of_size.get(step - 1)
        if finished is not None:
            start, count = finished
            cells = np.arange(start, start + count * (step - 1)).reshape(count, step - 1)
            jobs.append((fingerprint_layout(step - 1), sort_by_hash(cells, current)))
        states = md5_messages(jobs, current.hex)
        if finished is not None:
            fingerprints[step - 1] = states.pop()
        if not updates.jobs:
            continue
        offsets = np.cumsum([0, *(state.shape[1] for state in states)])
        message = np.concatenate([offset + inverse for offset, inverse in zip(offsets, updates.inverse)])
        members = np.concatenate(updates.members)
        current.update(members, Hashes.from_state(np.concatenate(states, axis=1)), message)
        if canon is not None:
            canon[members], canon_count = message, int(offsets[-1])
            if offsets[-1] > (1 - _DEDUPE_WORTHWHILE) * updates.vertices:
                canon = None
    state = np.concatenate([fingerprints[n] for n in sizes.tolist()] or [np.zeros((4, 0), np.uint32)], axis=1)
    result = np.empty(len(graphs.order), dtype="S32")
    result[graphs.order] = hex_digests(digest_bytes(state)).view("S32").reshape(-1)
    return result.astype("U32").tolist()


__all__ = ["batch_hash"]
