"""The NAS-Bench-101 hash of many cells at once, bit for bit the official one.

:func:`graph_util.official_hash` spends its time in Python: one ``hashlib``
call, one sort and one string join per vertex and iteration (~230 us per
7-vertex cell). Hashing the whole space (423,624 cells, ~2.9M vertices,
~20M vertex updates) that way takes minutes. This module runs the same
algorithm vectorised over all vertices of all cells at once:

* MD5 is computed in numpy over ``uint32`` arrays, one element per message,
  so one numpy call advances tens of thousands of digests by one MD5 step.
  Messages are held word-major (word ``j`` of every message is one contiguous
  row), the layout those calls need. This is the floor of the cost: about
  100 ns per 64-byte block, so ~240 ns per vertex update.
* Every vertex's current hash is kept as ``(hi, lo)``, its digest read as two
  big-endian integers (they order exactly like the hex strings the reference
  sorts), and as 8 words of hex characters. Sorting a vertex's neighbours is a
  short compare-exchange network over all vertices at once.
* A message is never built as a string: its words are the hex words of the
  hashes it names, shifted into place for the 1- and 2-byte offsets the ``|``
  separators cause, over a constant template that already holds the
  separators and the MD5 padding.
* Equal messages are hashed once. Early iterations only see a vertex's close
  neighbourhood, which many cells share (iteration 1 of the whole space has
  ~40k distinct messages for 2.5M vertices); later ones are nearly all
  distinct, so deduplication stops once it stops paying.

Nothing here assumes upper-triangular matrices: the hash only uses degrees and
neighbour sets, so any 0/1 adjacency matrix is hashed exactly as the reference
does (relabelled, non-topologically ordered specs included).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np

# -- MD5 over numpy arrays (RFC 1321) -----------------------------------------

_MD5_INIT = np.array([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476], dtype=np.uint32)
#: per-step left-rotation amounts
_MD5_SHIFT = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
#: per-step constants floor(|sin(i + 1)| * 2**32)
_MD5_K = [np.uint32(int(abs(np.sin(i + 1)) * 2**32)) for i in range(64)]
#: which message word each step reads
_MD5_WORD = [
    i if i < 16 else (5 * i + 1) % 16 if i < 32 else (3 * i + 5) % 16 if i < 48 else (7 * i) % 16
    for i in range(64)
]
#: messages per compression pass: large enough that numpy's per-call overhead
#: is small, small enough that the working rows stay in the CPU cache
_CHUNK = 32768


def _blocks(length: int) -> int:
    """MD5 blocks of a ``length``-byte message (0x80 and the 8-byte length appended)."""
    return (length + 8) // 64 + 1


def _compress(words: np.ndarray, active: Sequence[int]) -> np.ndarray:
    """Run the MD5 compression function over a batch of padded messages.

    ``words`` has shape ``(blocks, 16, M)``; messages are sorted longest first
    and ``active[b]`` counts those with more than ``b`` blocks, so block ``b``
    processes a prefix of the batch instead of masking finished messages.
    Returns the final state words, shape ``(4, M)`` (the digest is their
    little-endian bytes).
    """
    total = words.shape[2]
    out = np.empty((4, total), dtype=np.uint32)
    for start in range(0, total, _CHUNK):
        stop = min(total, start + _CHUNK)
        state = np.repeat(_MD5_INIT[:, None], stop - start, axis=1)
        scratch = np.empty((2, stop - start), dtype=np.uint32)
        for block, count in zip(words, active):
            n = min(stop, count) - start
            if n <= 0:
                break
            x = block[:, start : start + n]
            a, b, c, d = (state[i, :n].copy() for i in range(4))
            f, tmp = scratch[0, :n], scratch[1, :n]
            for i in range(64):
                # the four round functions, each in the form with fewest numpy calls
                if i < 16:
                    np.bitwise_xor(c, d, out=f)
                    np.bitwise_and(f, b, out=f)
                    np.bitwise_xor(f, d, out=f)
                elif i < 32:
                    np.bitwise_xor(b, c, out=f)
                    np.bitwise_and(f, d, out=f)
                    np.bitwise_xor(f, c, out=f)
                elif i < 48:
                    np.bitwise_xor(b, c, out=f)
                    np.bitwise_xor(f, d, out=f)
                else:
                    np.invert(d, out=f)
                    np.bitwise_or(f, b, out=f)
                    np.bitwise_xor(f, c, out=f)
                np.add(f, a, out=f)
                np.add(f, x[_MD5_WORD[i]], out=f)
                np.add(f, _MD5_K[i], out=f)
                shift = _MD5_SHIFT[i]
                np.left_shift(f, shift, out=tmp)
                np.right_shift(f, 32 - shift, out=f)
                np.bitwise_or(f, tmp, out=f)
                np.add(f, b, out=f)
                # rotate the roles instead of copying: the old ``a`` buffer is free now
                a, b, c, d, f = d, f, b, c, a
            for i, word in enumerate((a, b, c, d)):
                np.add(state[i, :n], word, out=state[i, :n])
        out[:, start:stop] = state
    return out


def _padding(length: int) -> np.ndarray:
    """The tail MD5 appends to a ``length``-byte message, as one padded buffer of zeros."""
    buf = np.zeros(_blocks(length) * 64, dtype=np.uint8)
    buf[length] = 0x80
    buf[-8:] = np.frombuffer(np.array(length * 8, dtype="<u8").tobytes(), dtype=np.uint8)
    return buf


def _digest_bytes(state: np.ndarray) -> np.ndarray:
    """``(4, M)`` state words -> ``(M, 16)`` digest bytes."""
    return np.ascontiguousarray(state.T).astype("<u4").view(np.uint8)


def md5_batch(groups: Sequence[np.ndarray]) -> list[np.ndarray]:
    """MD5 digests of several batches of equal-length messages, in one pass.

    Each group is a ``(M_i, L_i)`` uint8 array of ``M_i`` messages of ``L_i``
    bytes; the result holds one ``(M_i, 16)`` uint8 digest array per group,
    ``digest[j].tobytes() == hashlib.md5(group[j].tobytes()).digest()``. All
    groups share one compression pass, so many small groups cost little more
    than one large one.
    """
    groups = [np.ascontiguousarray(g, dtype=np.uint8) for g in groups]
    if any(g.ndim != 2 for g in groups):
        raise ValueError("each group must be a 2-D (messages, length) uint8 array")
    blocks = [_blocks(g.shape[1]) for g in groups]
    order = sorted(range(len(groups)), key=lambda i: -blocks[i])
    offsets = np.cumsum([0] + [len(groups[i]) for i in order])
    words = np.zeros((max(blocks, default=1), 16, int(offsets[-1])), dtype=np.uint32)
    for slot, i in enumerate(order):
        padded = np.tile(_padding(groups[i].shape[1]), (len(groups[i]), 1))
        padded[:, : groups[i].shape[1]] = groups[i]
        words[: blocks[i], :, offsets[slot] : offsets[slot + 1]] = (
            padded.view("<u4").reshape(len(padded), blocks[i], 16).transpose(1, 2, 0)
        )
    active = [int(offsets[sum(blocks[i] > b for i in order)]) for b in range(words.shape[0])]
    digests = _digest_bytes(_compress(words, active))
    result = [np.empty((0, 16), dtype=np.uint8)] * len(groups)
    for slot, i in enumerate(order):
        result[i] = digests[offsets[slot] : offsets[slot + 1]]
    return result


# -- digests: hex words and order keys ------------------------------------------------


def _hex_word_table() -> np.ndarray:
    """Little-endian uint16 of two digest bytes -> the uint32 holding their 4 hex characters."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).astype(np.uint32)
    pair = np.arange(1 << 16, dtype=np.uint32)
    first, second = pair & 0xFF, pair >> 8
    chars = (digits[first >> 4], digits[first & 0xF], digits[second >> 4], digits[second & 0xF])
    return chars[0] | chars[1] << 8 | chars[2] << 16 | chars[3] << 24


_HEX_WORDS = _hex_word_table()


def hex_digests(digests: np.ndarray) -> np.ndarray:
    """``(M, 16)`` digest bytes -> ``(M, 32)`` ASCII bytes of their lowercase hex."""
    return _HEX_WORDS[np.ascontiguousarray(digests).view("<u2")].astype("<u4").view(np.uint8)


class _Hashes(NamedTuple):
    """Digests in the two forms the algorithm needs, one column per hash.

    ``(hi, lo)`` are the digest bytes read as two big-endian integers, so they
    order exactly like the hex strings the reference sorts; ``hex`` holds the
    32 hex characters as 8 little-endian words, word-major ``(8, N)`` like the
    message words they are copied into.
    """

    hi: np.ndarray
    lo: np.ndarray
    hex: np.ndarray

    @classmethod
    def from_state(cls, state: np.ndarray) -> "_Hashes":
        """From ``(4, M)`` MD5 state words (the digest is their little-endian bytes)."""
        swapped = state.byteswap().astype(np.uint64)
        hex_words = np.empty((8, state.shape[1]), dtype=np.uint32)
        hex_words[0::2] = _HEX_WORDS[state & np.uint32(0xFFFF)]
        hex_words[1::2] = _HEX_WORDS[state >> np.uint32(16)]
        return cls(
            (swapped[0] << np.uint64(32)) | swapped[1],
            (swapped[2] << np.uint64(32)) | swapped[3],
            hex_words,
        )

    def update(self, at: np.ndarray, new: "_Hashes", source: np.ndarray) -> None:
        """Set hashes ``at`` to ``new``'s hashes ``source``, in place."""
        self.hi[at] = new.hi[source]
        self.lo[at] = new.lo[source]
        self.hex[:, at] = new.hex[:, source]

    def take(self, source: np.ndarray) -> "_Hashes":
        # ``hex[:, source]`` comes out transposed in memory; ``np.take`` would
        # copy the whole table on every call unless it is C-contiguous
        return _Hashes(self.hi[source], self.lo[source], np.ascontiguousarray(self.hex[:, source]))


def _sort_by_hash(vertices: np.ndarray, hashes: _Hashes) -> np.ndarray:
    """Each row of vertex indices reordered so their hashes ascend.

    Rows are short (a vertex's neighbours), so a column-wise bubble-sort
    network of compare-exchanges, each a few numpy calls over all rows, beats
    ``np.argsort(axis=1)``, which pays per row. Comparing ``(hi, lo)`` is exact.
    """
    k = vertices.shape[1]
    if k < 2:
        return vertices
    cols = [vertices[:, i] for i in range(k)]
    his = [hashes.hi[c] for c in cols]
    los = [hashes.lo[c] for c in cols]
    for last in range(k - 1, 0, -1):
        for j in range(last):
            swap = (his[j] > his[j + 1]) | ((his[j] == his[j + 1]) & (los[j] > los[j + 1]))
            for col in (cols, his, los):
                col[j], col[j + 1] = np.where(swap, col[j + 1], col[j]), np.where(swap, col[j], col[j + 1])
    return np.stack(cols, axis=1)


def _unique_rows(rows: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact deduplication of integer rows with entries in ``[0, base)``.

    Columns are packed into one int64 key (mixed radix ``base``); when the next
    column would overflow, the key is first replaced by its dense rank, which
    keeps the packing exact for any width. A 1-D ``np.unique`` is far faster
    than ``np.unique(axis=0)``. Returns ``(ascending index of one row per
    distinct row, inverse into it)``; ascending keeps later gathers local.
    """
    key = rows[:, 0].astype(np.int64)
    bound = base
    for column in rows.T[1:]:
        if bound > np.iinfo(np.int64).max // base:
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
            bound = int(key.max()) + 1
        key = key * base + column
        bound *= base
    _, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1)
    representative = np.empty(int(inverse.max(initial=-1)) + 1, dtype=np.int64)
    representative[inverse] = np.arange(len(inverse))
    order = np.argsort(representative)
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return representative[order], position[inverse]


# -- messages assembled from hex words -----------------------------------------------


class _Layout(NamedTuple):
    """Where the hashes of one kind of message go.

    ``template`` holds every constant byte (separators, MD5 padding, length)
    as ``(blocks * 16,)`` words; hash ``j`` of a row lands at byte ``offsets[j]``.
    """

    template: np.ndarray
    offsets: tuple[int, ...]

    @property
    def blocks(self) -> int:
        return len(self.template) // 16


def _layout(length: int, constants: dict[int, bytes], offsets: Sequence[int]) -> _Layout:
    buf = _padding(length)
    for at, text in constants.items():
        buf[at : at + len(text)] = np.frombuffer(text, dtype=np.uint8)
    return _Layout(buf.view("<u4").astype(np.uint32), tuple(offsets))


@lru_cache(maxsize=None)
def _vertex_layout(k: int, m: int) -> _Layout:
    """``in_1..in_k | out_1..out_m | own``: the update message of a vertex."""
    return _layout(
        32 * (k + m + 1) + 2,
        {32 * k: b"|", 32 * (k + m) + 1: b"|"},
        [32 * i for i in range(k)] + [32 * k + 1 + 32 * j for j in range(m)] + [32 * (k + m) + 2],
    )


@lru_cache(maxsize=None)
def _fingerprint_layout(n: int) -> _Layout:
    """``str(sorted_hashes)`` = ``['h1', 'h2', ...]``: the final message of a cell."""
    return _layout(
        36 * n,
        {0: b"['", **{36 * i - 2: b"', '" for i in range(1, n)}, 36 * n - 2: b"']"},
        [2 + 36 * i for i in range(n)],
    )


def _assemble(out: np.ndarray, layout: _Layout, rows: np.ndarray, hex_words: np.ndarray) -> None:
    """Write the words of messages ``rows`` (hash indices into ``hex_words``) into ``out``.

    ``out`` is ``(blocks * 16, M)`` and ``hex_words`` ``(8, N)``, both
    word-major. A hash at byte offset ``4q + s`` fills words ``q..q+8``: its
    words shifted up by ``s`` bytes, plus the bytes that spill into the next
    word (little-endian words, so "up" is a left shift).
    """
    words, moved = np.empty((2, 8, len(rows)), dtype=np.uint32)
    out[:] = layout.template[:, None]
    for column, at in enumerate(layout.offsets):
        np.take(hex_words, rows[:, column], axis=1, out=words, mode="clip")
        q, s = divmod(at, 4)
        if s == 0:
            out[q : q + 8] |= words
        else:
            np.left_shift(words, np.uint32(8 * s), out=moved)
            out[q : q + 8] |= moved
            np.right_shift(words, np.uint32(32 - 8 * s), out=moved)
            out[q + 1 : q + 9] |= moved


def _md5_messages(jobs: Sequence[tuple[_Layout, np.ndarray]], hex_words: np.ndarray) -> list[np.ndarray]:
    """MD5 state ``(4, M_j)`` of every message of every ``(layout, rows)`` job, one pass.

    Jobs are laid end to end, longest messages first, and cut into chunks of
    :data:`_CHUNK` messages, so each numpy call of the MD5 loop covers many
    small jobs at once and only one chunk of message words exists at a time.
    """
    order = sorted(range(len(jobs)), key=lambda j: -jobs[j][0].blocks)
    offsets = np.cumsum([0, *(len(jobs[j][1]) for j in order)]).tolist()
    states = np.empty((4, offsets[-1]), dtype=np.uint32)
    for start in range(0, offsets[-1], _CHUNK):
        stop = min(offsets[-1], start + _CHUNK)
        pieces = [
            (slot, max(start, offsets[slot]), min(stop, offsets[slot + 1]))
            for slot in range(len(order))
            if offsets[slot] < stop and offsets[slot + 1] > start
        ]
        words = np.empty((jobs[order[pieces[0][0]]][0].blocks * 16, stop - start), dtype=np.uint32)
        active = [0] * (len(words) // 16)
        for slot, lo, hi in pieces:
            layout, rows = jobs[order[slot]]
            part = rows[lo - offsets[slot] : hi - offsets[slot]]
            _assemble(words[: layout.blocks * 16, lo - start : hi - start], layout, part, hex_words)
            active[: layout.blocks] = [hi - start] * layout.blocks
        states[:, start:stop] = _compress(words.reshape(-1, 16, stop - start), active)
    result = [states[:, :0]] * len(jobs)
    for slot, j in enumerate(order):
        result[j] = states[:, offsets[slot] : offsets[slot + 1]]
    return result


# -- the batched NB101 hash --------------------------------------------------------


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


def _initial_hashes(graphs: _Graphs, in_deg: np.ndarray, out_deg: np.ndarray) -> tuple[np.ndarray, _Hashes]:
    """Iteration-0 hashes md5(str((out_degree, in_degree, label))) of every vertex.

    Few distinct triples exist, so they are hashed with hashlib directly.
    Returns ``(equality-consistent id per vertex, hashes per vertex)``.
    """
    labels = graphs.labels
    triples = np.stack([out_deg, in_deg, labels - labels.min(initial=0)], axis=1)
    first, inverse = _unique_rows(triples, int(triples.max(initial=0)) + 1)
    text = zip(out_deg[first].tolist(), in_deg[first].tolist(), labels[first].tolist())
    digests = np.frombuffer(b"".join(hashlib.md5(str(t).encode()).digest() for t in text), dtype=np.uint8)
    hashes = _Hashes.from_state(np.ascontiguousarray(digests.view("<u4").reshape(-1, 4).T))
    return inverse, hashes.take(inverse)


#: keep deduplicating messages while an iteration still removes more than this
#: fraction of them; later iterations see whole cells and are nearly all distinct
_DEDUPE_WORTHWHILE = 0.1


class _Updates(NamedTuple):
    """The vertex-update messages of one iteration.

    ``jobs`` are ``(layout, rows of hash indices)``; the new hash of vertex
    ``members[j][i]`` is message ``inverse[j][i]`` of job ``j``.
    """

    jobs: list[tuple[_Layout, np.ndarray]]
    members: list[np.ndarray]
    inverse: list[np.ndarray]
    vertices: int


def _vertex_updates(
    classes: list[_DegreeClass], step: int, current: _Hashes, canon: np.ndarray | None, canon_count: int
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
        ins, outs = _sort_by_hash(cls.ins[:live], current), _sort_by_hash(cls.outs[:live], current)
        rows = np.concatenate([ins, outs, members[:, None]], axis=1)
        if canon is not None:
            first, inverse = _unique_rows(canon[rows], canon_count)
            rows = rows[first]
        else:
            inverse = np.arange(live)
        updates.jobs.append((_vertex_layout(cls.k, cls.m), rows))
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
            jobs.append((_fingerprint_layout(step - 1), _sort_by_hash(cells, current)))
        states = _md5_messages(jobs, current.hex)
        if finished is not None:
            fingerprints[step - 1] = states.pop()
        if not updates.jobs:
            continue
        offsets = np.cumsum([0, *(state.shape[1] for state in states)])
        message = np.concatenate([offset + inverse for offset, inverse in zip(offsets, updates.inverse)])
        members = np.concatenate(updates.members)
        current.update(members, _Hashes.from_state(np.concatenate(states, axis=1)), message)
        if canon is not None:
            canon[members], canon_count = message, int(offsets[-1])
            if offsets[-1] > (1 - _DEDUPE_WORTHWHILE) * updates.vertices:
                canon = None
    state = np.concatenate([fingerprints[n] for n in sizes.tolist()] or [np.zeros((4, 0), np.uint32)], axis=1)
    result = np.empty(len(graphs.order), dtype="S32")
    result[graphs.order] = hex_digests(_digest_bytes(state)).view("S32").reshape(-1)
    return result.astype("U32").tolist()
