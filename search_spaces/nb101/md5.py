"""MD5 (RFC 1321) of many messages at once, in numpy, bit for bit ``hashlib``'s.

The NB101 hash is thousands of MD5s of short messages per cell. ``hashlib``
pays a Python call per message; here one numpy call advances tens of
thousands of digests by one MD5 step, with the messages held word-major
(word ``j`` of every message is one contiguous row), the layout those calls
need. That step cost is the floor of :mod:`~search_spaces.nb101.fast_hash`.
Digests also come out as lowercase hex, the text the NB101 hash feeds back
into its next messages.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

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
CHUNK = 32768


def num_blocks(length: int) -> int:
    """MD5 blocks of a ``length``-byte message (0x80 and the 8-byte length appended)."""
    return (length + 8) // 64 + 1


def compress(words: np.ndarray, active: Sequence[int]) -> np.ndarray:
    """Run the MD5 compression function over a batch of padded messages.

    ``words`` has shape ``(blocks, 16, M)``; messages are sorted longest first
    and ``active[b]`` counts those with more than ``b`` blocks, so block ``b``
    processes a prefix of the batch instead of masking finished messages.
    Returns the final state words, shape ``(4, M)`` (the digest is their
    little-endian bytes).
    """
    total = words.shape[2]
    out = np.empty((4, total), dtype=np.uint32)
    for start in range(0, total, CHUNK):
        stop = min(total, start + CHUNK)
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


def padding(length: int) -> np.ndarray:
    """The tail MD5 appends to a ``length``-byte message, as one padded buffer of zeros."""
    buf = np.zeros(num_blocks(length) * 64, dtype=np.uint8)
    buf[length] = 0x80
    buf[-8:] = np.frombuffer(np.array(length * 8, dtype="<u8").tobytes(), dtype=np.uint8)
    return buf


def digest_bytes(state: np.ndarray) -> np.ndarray:
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
    blocks = [num_blocks(g.shape[1]) for g in groups]
    order = sorted(range(len(groups)), key=lambda i: -blocks[i])
    offsets = np.cumsum([0] + [len(groups[i]) for i in order])
    words = np.zeros((max(blocks, default=1), 16, int(offsets[-1])), dtype=np.uint32)
    for slot, i in enumerate(order):
        padded = np.tile(padding(groups[i].shape[1]), (len(groups[i]), 1))
        padded[:, : groups[i].shape[1]] = groups[i]
        words[: blocks[i], :, offsets[slot] : offsets[slot + 1]] = (
            padded.view("<u4").reshape(len(padded), blocks[i], 16).transpose(1, 2, 0)
        )
    active = [int(offsets[sum(blocks[i] > b for i in order)]) for b in range(words.shape[0])]
    digests = digest_bytes(compress(words, active))
    result = [np.empty((0, 16), dtype=np.uint8)] * len(groups)
    for slot, i in enumerate(order):
        result[i] = digests[offsets[slot] : offsets[slot + 1]]
    return result


# -- digests as hex text ------------------------------------------------------------


def _hex_word_table() -> np.ndarray:
    """Little-endian uint16 of two digest bytes -> the uint32 holding their 4 hex characters."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).astype(np.uint32)
    pair = np.arange(1 << 16, dtype=np.uint32)
    first, second = pair & 0xFF, pair >> 8
    chars = (digits[first >> 4], digits[first & 0xF], digits[second >> 4], digits[second & 0xF])
    return chars[0] | chars[1] << 8 | chars[2] << 16 | chars[3] << 24


HEX_WORDS = _hex_word_table()


def hex_digests(digests: np.ndarray) -> np.ndarray:
    """``(M, 16)`` digest bytes -> ``(M, 32)`` ASCII bytes of their lowercase hex."""
    return HEX_WORDS[np.ascontiguousarray(digests).view("<u2")].astype("<u4").view(np.uint8)


__all__ = ["CHUNK", "HEX_WORDS", "compress", "digest_bytes", "hex_digests", "md5_batch", "num_blocks", "padding"]
