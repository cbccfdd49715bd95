"""TFRecord files read and written without TensorFlow.

A TFRecord file is a plain sequence of records, each framed as::

    uint64  length          little-endian, of the data
    uint32  masked_crc32c(length bytes)
    bytes   data[length]
    uint32  masked_crc32c(data)

with ``masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8  (mod 2**32)``
over the CRC-32C (Castagnoli) checksum. Nothing else is in the file: no
header, no index, no compression (TensorFlow's optional GZIP/ZLIB variants
are not read here; the NAS-Bench-101 files are uncompressed).

The checksums come from ``google-crc32c`` (Google's C library, hardware
CRC-32C where the CPU has it), so verifying costs little next to parsing.
"""

from __future__ import annotations

import os
import struct
from typing import Iterable, Iterator

import google_crc32c

from nasframe.core.files import atomic_file
from nasframe.core.errors import UserError

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")  # length, masked CRC of the 8 length bytes
_FOOTER = struct.Struct("<I")  # masked CRC of the data
_READ_BUFFER = 1 << 20


class TFRecordError(UserError, ValueError):
    """A TFRecord file is corrupt or truncated.

    ``path``, ``record`` (0-based number of the bad record) and ``offset``
    (byte offset of that record's header in the file) say where; the message
    names all three.
    """

    def __init__(self, path: str | os.PathLike, record: int, offset: int, problem: str) -> None:
        self.path, self.record, self.offset, self.problem = str(path), record, offset, problem
        super().__init__(f"{self.path}: record {record} at byte offset {offset}: {problem}")


def crc32c(data: bytes) -> int:
    """The plain CRC-32C (Castagnoli) of ``data``."""
    return google_crc32c.value(data)


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C TFRecord stores (masking keeps CRCs of CRCs well-behaved)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def read_records(path: str | os.PathLike, verify: bool = True) -> Iterator[bytes]:
    """Yield the data of every record of the TFRecord file at ``path``, in order.

    ``verify=True`` checks both CRCs of every record. A record cut short by
    the end of the file, or (with ``verify``) a checksum that does not match,
    raises :class:`TFRecordError` naming the file, the record number and its
    byte offset; the records before it have been yielded already. With
    ``verify=False`` only the framing is checked, so a flipped data byte goes
    unnoticed, but a length that overruns the file is still caught before
    anything is allocated for it.
    """
    with open(path, "rb", buffering=_READ_BUFFER) as handle:
        size = os.fstat(handle.fileno()).st_size
        offset = 0
        number = 0
        read = handle.read
        while True:
            header = read(_HEADER.size)
            if not header:
                return
            if len(header) < _HEADER.size:
                raise TFRecordError(
                    path, number, offset,
                    f"truncated header: {len(header)} of {_HEADER.size} bytes before the end of the file",
                )
            length, length_crc = _HEADER.unpack(header)
            if verify and masked_crc32c(header[:8]) != length_crc:
                raise TFRecordError(path, number, offset, "length checksum mismatch (corrupt length field)")
            end = offset + _HEADER.size + length + _FOOTER.size
            if end > size:
                raise TFRecordError(
                    path, number, offset,
                    f"truncated record: it declares {length} data bytes and ends at byte {end}, "
                    f"the file has {size}",
                )
            data = read(length)
            (data_crc,) = _FOOTER.unpack(read(_FOOTER.size))
            if verify and masked_crc32c(data) != data_crc:
                raise TFRecordError(path, number, offset, "data checksum mismatch (corrupt record data)")
            yield data
            offset = end
            number += 1


def encode_record(data: bytes) -> bytes:
    """One record's bytes as they appear in the file (framing included)."""
    length = struct.pack("<Q", len(data))
    return length + _FOOTER.pack(masked_crc32c(length)) + data + _FOOTER.pack(masked_crc32c(data))


def write_records(path: str | os.PathLike, records: Iterable[bytes]) -> int:
    """Write ``records`` (bytes-like) as a TFRecord file; return how many were written.

    The file appears atomically: records go to a temporary file beside
    ``path`` that replaces it (``os.replace``) only once complete and synced,
    so readers never see a partial file, and an exception while ``records``
    is consumed leaves any previous file untouched and no temporary behind.
    """
    count = 0
    with atomic_file(path, "wb", buffering=_READ_BUFFER) as handle:
        for record in records:
            if not isinstance(record, (bytes, bytearray, memoryview)):
                raise TypeError(f"record {count} is {type(record).__name__}, TFRecord data must be bytes")
            handle.write(encode_record(bytes(record)))
            count += 1
    return count
