"""Every NAS-Bench-101 cell, enumerated once and indexed by official hash.

NAS-Bench-101 holds 423,624 unique cells. The published generator loops over
all ~2M upper-triangular 7x7 matrices times 243 op assignments and hashes
each survivor in Python. Here the work is split so that almost nothing is
done twice:

1. Per vertex count ``n`` (2..7), all upper-triangular matrices with at most
   ``max_edges`` edges are bit codes; a vertex lies on an input->output path
   exactly when it has a predecessor and a successor (vertices are in
   topological order), so already-pruned shapes are found with a few vectorised
   mask tests.
2. Shapes are deduplicated by an exact canonical form: the smallest adjacency
   code over all permutations of the middle vertices (input and output carry
   their own labels, so they never move).
3. Labelling a shape with ops gives isomorphic cells exactly when the
   labellings differ by an automorphism of the shape, so one labelling per
   automorphism orbit is kept (the one with the smallest code).
4. The representatives are hashed with :func:`batch_hash`; the hashes must be
   pairwise distinct (the official count is reproduced only if the hash
   separates every isomorphism class), which the build checks.

The result is stored as :class:`NB101Index`, sorted by hash, in
``$NASFRAME_CACHE/nb101_index.npz`` (default ``~/.cache/nasframe``).
"""

from __future__ import annotations

import itertools
import os
import sys
import time
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np

from nasframe.core.errors import UserError
from nasframe.core.files import atomic_file
from search_spaces.nb101.cell import (
    CODE_INPUT,
    CODE_OUTPUT,
    CODE_PADDING,
    INPUT,
    MAX_EDGES,
    MAX_VERTICES,
    OPS,
    OUTPUT,
    NB101Cell,
)
from search_spaces.nb101.fast_hash import batch_hash
from search_spaces.nb101.md5 import hex_digests

NUM_CELLS = 423_624
INDEX_FILE = "nb101_index.npz"
#: bumped whenever the file layout changes, so stale files are refused
FORMAT_VERSION = 1
_UPPER = np.triu_indices(MAX_VERTICES, k=1)


def cache_dir() -> Path:
    """``$NASFRAME_CACHE``, or ``~/.cache/nasframe``."""
    return Path(os.environ.get("NASFRAME_CACHE") or Path.home() / ".cache" / "nasframe")


def default_index_path() -> Path:
    return cache_dir() / INDEX_FILE


# -- enumeration -------------------------------------------------------------------


def full_dags(n: int, max_edges: int = MAX_EDGES) -> np.ndarray:
    """Upper-triangular ``n``-vertex matrices with every vertex on an input->output path.

    Returned as ``(S, n, n)`` uint8, at most ``max_edges`` edges each. In
    topological order a vertex is reachable from the input iff every vertex
    but the input has a predecessor, and symmetrically for the output, so
    this is a degree test on bit codes rather than a graph search.
    """
    rows, cols = np.triu_indices(n, k=1)
    codes = np.arange(2 ** len(rows), dtype=np.uint32)
    keep = np.bitwise_count(codes) <= max_edges
    bits = np.uint32(1) << np.arange(len(rows), dtype=np.uint32)
    for v in range(n):
        if v > 0:
            keep &= (codes & bits[cols == v].sum(dtype=np.uint32)) != 0
        if v < n - 1:
            keep &= (codes & bits[rows == v].sum(dtype=np.uint32)) != 0
    kept = codes[keep]
    matrices = np.zeros((len(kept), n, n), dtype=np.uint8)
    matrices[:, rows, cols] = (kept[:, None] & bits) != 0
    return matrices


def middle_permutations(n: int) -> np.ndarray:
    """All vertex permutations of an ``n``-vertex cell that fix input and output, ``(P, n)``.

    The identity comes first.
    """
    middle = [list(p) for p in itertools.permutations(range(1, n - 1))]
    return np.array([[0, *p, n - 1] for p in middle], dtype=np.int64).reshape(len(middle), n)


def _permuted_codes(matrices: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """``(S, P)`` int64 codes of every matrix relabelled by every permutation.

    The code reads all ``n*n`` entries as bits, so it identifies the relabelled
    graph exactly, whether or not it is still upper triangular.
    """
    n = matrices.shape[1]
    weights = (np.int64(1) << np.arange(n * n, dtype=np.int64)).reshape(n, n)
    # relabelling by p moves entry (u, v) to (p[u], p[v]), i.e. gives it weight weights[p[u], p[v]]
    moved = weights[perms[:, :, None], perms[:, None, :]]  # (P, n, n)
    return np.einsum("suv,puv->sp", matrices.astype(np.int64), moved)


def _orbit_representatives(automorphisms: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """Op labellings, one per orbit of the given automorphisms, ``(L, n - 2)``.

    A labelling is kept when its base-3 code is the smallest in its orbit;
    labelling ``lab`` relabelled by ``p`` is ``lab`` read through ``p``'s inverse.
    """
    n = perms.shape[1]
    labellings = np.array(list(itertools.product(range(len(OPS)), repeat=n - 2)), dtype=np.int64)
    powers = len(OPS) ** np.arange(n - 2)
    codes = labellings @ powers
    keep = np.ones(len(labellings), dtype=bool)
    for perm in perms[automorphisms]:
        inverse = np.argsort(perm)[1:-1] - 1
        keep &= codes <= labellings[:, inverse] @ powers
    return labellings[keep]


def enumerate_cells(
    max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES, log: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One spec per isomorphism class of valid cells with up to ``max_vertices`` vertices.

    Returns ``(matrices (N, 7, 7) uint8, labels (N, 7) int8, num_vertices (N,)
    uint8)`` in the official padded layout: an ``n``-vertex cell fills the
    top-left ``n x n`` block, padding vertices have label -3. Unhashed and in
    no particular order; :func:`build_index` hashes and sorts them.
    """
    if not 2 <= max_vertices <= MAX_VERTICES:
        raise ValueError(f"max_vertices must be in 2..{MAX_VERTICES}, got {max_vertices}")
    parts = []
    for n in range(2, max_vertices + 1):
        start = time.perf_counter()
        dags = full_dags(n, max_edges)
        perms = middle_permutations(n)
        codes = _permuted_codes(dags, perms)
        _, first = np.unique(codes.min(axis=1), return_index=True)
        shapes, shape_codes = dags[first], codes[first]
        # automorphisms: relabellings that reproduce the shape's own code
        automorphisms = shape_codes == shape_codes[:, :1]
        groups, group_of = np.unique(automorphisms, axis=0, return_inverse=True)
        matrices, labellings = [], []
        for g, group in enumerate(groups):
            members = shapes[group_of.reshape(-1) == g]
            ops = _orbit_representatives(group, perms)
            matrices.append(np.repeat(members, len(ops), axis=0))
            labellings.append(np.tile(ops, (len(members), 1)))
        matrices_n, labels_n = np.concatenate(matrices), np.concatenate(labellings)
        padded = np.zeros((len(matrices_n), MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
        padded[:, :n, :n] = matrices_n
        labels = np.full((len(matrices_n), MAX_VERTICES), CODE_PADDING, dtype=np.int8)
        labels[:, 0], labels[:, 1 : n - 1], labels[:, n - 1] = CODE_INPUT, labels_n, CODE_OUTPUT
        parts.append((padded, labels, np.full(len(padded), n, dtype=np.uint8)))
        if log:
            _log(
                f"n={n}: {len(dags):,} pruned shapes, {len(shapes):,} up to isomorphism, "
                f"{len(padded):,} labelled cells ({time.perf_counter() - start:.2f}s)"
            )
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))  # type: ignore[return-value]


def _log(message: str) -> None:
    print(f"[nb101 index] {message}", file=sys.stderr, flush=True)


# -- the index ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class NB101Index:
    """Enumerated NB101 cells sorted by official hash, with vectorised views.

    ``matrices`` (N, 7, 7) uint8, ``labels`` (N, 7) int8 and ``num_vertices``
    (N,) use the official padded layout (top-left block, label -3 for
    padding), so batches of cells can be sampled or encoded without building
    :class:`NB101Cell` objects. ``hashes[i]`` is the official hash of row ``i``.
    """

    hashes: np.ndarray
    matrices: np.ndarray
    labels: np.ndarray
    num_vertices: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    def __repr__(self) -> str:
        return f"NB101Index({len(self):,} cells)"

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    @cached_property
    def num_edges(self) -> np.ndarray:
        return self.matrices.sum(axis=(1, 2), dtype=np.int64).astype(np.uint8)

    def _find(self, key: str) -> int | None:
        i = int(np.searchsorted(self.hashes, key))
        return i if i < len(self.hashes) and self.hashes[i] == key else None

    def index_of(self, key: str) -> int:
        """Row of the cell with official hash ``key``; ``KeyError`` when it is not in the space."""
        i = self._find(key)
        if i is None:
            raise KeyError(f"no NB101 cell has hash {key!r}")
        return i

    def cell(self, i: int) -> NB101Cell:
        """Row ``i`` as a cell (its hash is known, so it is not recomputed)."""
        i = int(i)
        n = int(self.num_vertices[i])
        codes = self.labels[i, :n].tolist()
        ops = (INPUT, *(OPS[c] for c in codes[1:-1]), OUTPUT)
        cell = NB101Cell(tuple(map(tuple, self.matrices[i, :n, :n].tolist())), ops)
        cell.__dict__["_hash"] = str(self.hashes[i])  # fills the cached_property
        return cell

    def cells(self, indices: Iterable[int]) -> list[NB101Cell]:
        rows = indices if isinstance(indices, np.ndarray) else list(indices)
        return [self.cell(i) for i in np.asarray(rows, dtype=np.int64).reshape(-1)]

    def lookup(self, key: str) -> NB101Cell:
        """The cell whose official hash is ``key``; ``KeyError`` naming it when absent."""
        return self.cell(self.index_of(key))


def build_index(
    max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES, log: bool = False
) -> NB101Index:
    """Enumerate, hash and sort the cells; refuse to return if two classes share a hash."""
    start = time.perf_counter()
    matrices, labels, num_vertices = enumerate_cells(max_vertices, max_edges, log=log)
    if log:
        _log(f"hashing {len(matrices):,} cells")
    hashes = np.empty(len(matrices), dtype="U32")
    for n in np.unique(num_vertices).tolist():
        rows = np.flatnonzero(num_vertices == n)
        hashes[rows] = batch_hash(matrices[rows, :n, :n], labels[rows, :n])
    order = np.argsort(hashes)
    hashes = hashes[order]
    collisions = int(np.count_nonzero(hashes[1:] == hashes[:-1]))
    if collisions:
        raise RuntimeError(f"{collisions} non-isomorphic NB101 cells share an official hash")
    index = NB101Index(hashes, matrices[order], labels[order], num_vertices[order])
    if log:
        _log(f"{len(index):,} unique cells in {time.perf_counter() - start:.1f}s")
    return index


# -- on-disk form ------------------------------------------------------------------------
# Compact: a 16-byte digest, a 21-bit edge code and 7 int8 labels per cell
# (docs/SPACES.md gives the file's size). The 7x7 matrices are rebuilt on load.
# A build killed while writing leaves at most a ``.nb101_index.npz.*.tmp``
# file next to the index, never a partial index.


def _edge_codes(matrices: np.ndarray) -> np.ndarray:
    bits = np.uint32(1) << np.arange(len(_UPPER[0]), dtype=np.uint32)
    return (matrices[:, _UPPER[0], _UPPER[1]].astype(np.uint32) * bits).sum(axis=1, dtype=np.uint32)


def _edge_matrices(codes: np.ndarray) -> np.ndarray:
    bits = np.uint32(1) << np.arange(len(_UPPER[0]), dtype=np.uint32)
    matrices = np.zeros((len(codes), MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
    matrices[:, _UPPER[0], _UPPER[1]] = (codes[:, None] & bits) != 0
    return matrices


def write_index(index: NB101Index, path: str | Path) -> None:
    """Save atomically: write a temporary file next to ``path``, then rename it.

    ``os.replace`` is atomic on one filesystem, so a reader (or a crashed or
    killed build) only ever sees the old file or the complete new one.
    """
    digests = np.frombuffer(bytes.fromhex("".join(index.hashes.tolist())), dtype=np.uint8)
    with atomic_file(path, "wb") as handle:
        np.savez_compressed(
            handle,
            format_version=np.array(FORMAT_VERSION),
            digests=digests.reshape(-1, 16),
            edges=_edge_codes(index.matrices),
            labels=index.labels,
            num_vertices=index.num_vertices,
        )


class CorruptIndexError(UserError, ValueError):
    """The index file cannot be read back; the message names the file."""


def read_index(path: str | Path) -> NB101Index:
    """Load an index file; :class:`CorruptIndexError` naming it if unreadable or inconsistent."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"])
            if version != FORMAT_VERSION:
                raise ValueError(f"format version {version}, this code reads {FORMAT_VERSION}")
            digests, edges = data["digests"], data["edges"]
            labels, num_vertices = data["labels"], data["num_vertices"]
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise CorruptIndexError(
            f"NB101 index {path} is unreadable ({exc}); rebuild it with `nasframe space enumerate nb101` "
            "or load_index(rebuild=True)"
        ) from exc
    count = len(digests)
    shapes = (digests.shape, edges.shape, labels.shape, num_vertices.shape)
    if shapes != ((count, 16), (count,), (count, MAX_VERTICES), (count,)):
        raise CorruptIndexError(f"NB101 index {path} has inconsistent array shapes {shapes}")
    hashes = hex_digests(np.asarray(digests, dtype=np.uint8)).view("S32").reshape(-1).astype("U32")
    if not (hashes[1:] > hashes[:-1]).all():
        raise CorruptIndexError(f"NB101 index {path} is not strictly sorted by hash")
    return NB101Index(hashes, _edge_matrices(edges), labels.astype(np.int8), num_vertices.astype(np.uint8))


_LOADED: dict[Path, tuple[tuple[int, int], NB101Index]] = {}


def load_index(path: str | Path | None = None, rebuild: bool = False) -> NB101Index:
    """The index of all 423,624 cells, read from ``path`` or built and saved there first.

    ``path`` defaults to ``$NASFRAME_CACHE/nb101_index.npz``. A missing file is
    built (progress on stderr) and written atomically. A
    corrupt or incomplete file is *not* silently rebuilt: it raises
    :class:`CorruptIndexError` naming the file, since an unexpected bad file
    is worth knowing about; ``rebuild=True`` replaces it. Loaded indexes are
    reused within the process while the file is unchanged.
    """
    path = Path(path) if path is not None else default_index_path()
    if rebuild or not path.exists():
        write_index(build_index(log=True), path)
        _log(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _LOADED.get(path.resolve())
    if cached is not None and cached[0] == key:
        return cached[1]
    index = read_index(path)
    if len(index) != NUM_CELLS:
        raise CorruptIndexError(
            f"NB101 index {path} holds {len(index):,} cells, the space has {NUM_CELLS:,}; "
            "rebuild it with `nasframe space enumerate nb101` or load_index(rebuild=True)"
        )
    _LOADED[path.resolve()] = (key, index)
    return index
