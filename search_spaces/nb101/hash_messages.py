"""The building blocks of the vectorised NB101 hash: its messages, assembled from hex words.

Each vertex update hashes ``sorted in-hashes | sorted out-hashes | own hash``
and a cell's fingerprint hashes ``str(sorted vertex hashes)``. A message is
never built as a string: every hash is kept as :class:`Hashes` (an order key
and its hex words), a vertex's neighbours are sorted with a compare-exchange
network over all vertices at once, and a message's words are the hex words
of the hashes it names, shifted into place for the 1- and 2-byte offsets the
``|`` separators cause, over a constant :class:`Layout` template that already
holds the separators and the MD5 padding. :func:`unique_rows` lets equal
messages be hashed once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np

from search_spaces.nb101.md5 import CHUNK, HEX_WORDS, compress, padding

class Hashes(NamedTuple):
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
    def from_state(cls, state: np.ndarray) -> "Hashes":
        """From ``(4, M)`` MD5 state words (the digest is their little-endian bytes)."""
        swapped = state.byteswap().astype(np.uint64)
        hex_words = np.empty((8, state.shape[1]), dtype=np.uint32)
        hex_words[0::2] = HEX_WORDS[state & np.uint32(0xFFFF)]
        hex_words[1::2] = HEX_WORDS[state >> np.uint32(16)]
        return cls(
            (swapped[0] << np.uint64(32)) | swapped[1],
            (swapped[2] << np.uint64(32)) | swapped[3],
            hex_words,
        )

    def update(self, at: np.ndarray, new: "Hashes", source: np.ndarray) -> None:
        """Set hashes ``at`` to ``new``'s hashes ``source``, in place."""
        self.hi[at] = new.hi[source]
        self.lo[at] = new.lo[source]
        self.hex[:, at] = new.hex[:, source]

    def take(self, source: np.ndarray) -> "Hashes":
        # ``hex[:, source]`` comes out transposed in memory; ``np.take`` would
        # copy the whole table on every call unless it is C-contiguous
        return Hashes(self.hi[source], self.lo[source], np.ascontiguousarray(self.hex[:, source]))


def sort_by_hash(vertices: np.ndarray, hashes: Hashes) -> np.ndarray:
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


def unique_rows(rows: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
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


class Layout(NamedTuple):
    """Where the hashes of one kind of message go.

    ``template`` holds every constant byte (separators, MD5 padding, length)
    as ``(blocks * 16,)`` words; hash ``j`` of a row lands at byte ``offsets[j]``.
    """

    template: np.ndarray
    offsets: tuple[int, ...]

    @property
    def blocks(self) -> int:
        return len(self.template) // 16


def _layout(length: int, constants: dict[int, bytes], offsets: Sequence[int]) -> Layout:
    buf = padding(length)
    for at, text in constants.items():
        buf[at : at + len(text)] = np.frombuffer(text, dtype=np.uint8)
    return Layout(buf.view("<u4").astype(np.uint32), tuple(offsets))


@lru_cache(maxsize=None)
def vertex_layout(k: int, m: int) -> Layout:
    """``in_1..in_k | out_1..out_m | own``: the update message of a vertex."""
    return _layout(
        32 * (k + m + 1) + 2,
        {32 * k: b"|", 32 * (k + m) + 1: b"|"},
        [32 * i for i in range(k)] + [32 * k + 1 + 32 * j for j in range(m)] + [32 * (k + m) + 2],
    )


@lru_cache(maxsize=None)
def fingerprint_layout(n: int) -> Layout:
    """``str(sorted_hashes)`` = ``['h1', 'h2', ...]``: the final message of a cell."""
    return _layout(
        36 * n,
        {0: b"['", **{36 * i - 2: b"', '" for i in range(1, n)}, 36 * n - 2: b"']"},
        [2 + 36 * i for i in range(n)],
    )


def _assemble(out: np.ndarray, layout: Layout, rows: np.ndarray, hex_words: np.ndarray) -> None:
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


def md5_messages(jobs: Sequence[tuple[Layout, np.ndarray]], hex_words: np.ndarray) -> list[np.ndarray]:
    """MD5 state ``(4, M_j)`` of every message of every ``(layout, rows)`` job, one pass.

    Jobs are laid end to end, longest messages first, and cut into chunks of
    :data:`CHUNK` messages, so each numpy call of the MD5 loop covers many
    small jobs at once and only one chunk of message words exists at a time.
    """
    order = sorted(range(len(jobs)), key=lambda j: -jobs[j][0].blocks)
    offsets = np.cumsum([0, *(len(jobs[j][1]) for j in order)]).tolist()
    states = np.empty((4, offsets[-1]), dtype=np.uint32)
    for start in range(0, offsets[-1], CHUNK):
        stop = min(offsets[-1], start + CHUNK)
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
        states[:, start:stop] = compress(words.reshape(-1, 16, stop - start), active)
    result = [states[:, :0]] * len(jobs)
    for slot, j in enumerate(order):
        result[j] = states[:, offsets[slot] : offsets[slot + 1]]
    return result


__all__ = [
    "Hashes",
    "Layout",
    "fingerprint_layout",
    "md5_messages",
    "sort_by_hash",
    "unique_rows",
    "vertex_layout",
]
