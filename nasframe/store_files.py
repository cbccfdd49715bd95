"""The files of a result store, wherever they are: a folder here (local disk, NFS) or a pyarrow filesystem URI.

:class:`~nasframe.store.ResultStore` decides *what* is written (immutable
part files, each published once under a unique name); this module decides
*how* a file is published so that a reader never sees half of it, and says
what each kind of storage guarantees:

- **A folder** (a local disk, or an NFS mount at the same path on every
  node; ``file:///x`` is the folder ``/x``): a file is written in full under
  a hidden temporary name in the same folder, fsynced, renamed to its final
  name (``os.replace``: one atomic operation, on NFS too, where a rename is
  one server call) and the folder is fsynced. Temporaries of a killed
  writer are never read (their names start with ``.tmp-``) and are removed
  on open once their writer is gone.
- **An object store** (``s3://``, ``gs://``, ``hdfs://``... through
  :func:`pyarrow.fs.FileSystem.from_uri`; a scheme pyarrow lacks through
  an installed fsspec package): there is no rename, no hard link
  and, in pyarrow, no create-if-absent, so nothing here relies on them. A
  file is written straight to its final name in one upload (S3's conditional
  ``If-None-Match`` write would give create-if-absent, but pyarrow does not
  expose it, so it is not used): an object (a
  multipart upload too, once completed) becomes visible complete or not at
  all, and S3 lists it consistently right after the write (S3 is strongly
  consistent for reads and lists since December 2020; GCS likewise). An
  upload cut short leaves no object.

Both publish only under names nobody else uses (time, host, process and a
random part), so publishing never replaces anything; which copy of a run
counts when two writers raced to store it is decided by the reader
(:mod:`nasframe.store`), not by the storage.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: temporaries whose writer we cannot check (another host) are removed after this many seconds
STALE_TMP_SECONDS = 24 * 3600
TMP_PREFIX = ".tmp-"
#: this host, as a token without '-' (temporary names are '.tmp-<pid>-<host>-<uuid>-<name>.part')
HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:12]


def _is_uri(text: str) -> bool:
    from nasframe.storage import is_uri

    return is_uri(text)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unique_name(prefix: str, suffix: str) -> str:
    """``<prefix><ms since epoch>-<host>-<pid>-<random><suffix>``: sorts by time of writing, never reused."""
    return f"{prefix}{int(time.time() * 1000):013d}-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"


class StoreFiles:
    """One store's root, local (``local`` is its :class:`~pathlib.Path`) or remote (``local`` is ``None``)."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        text = os.fspath(location)
        if isinstance(location, os.PathLike) or not _is_uri(text):
            if text.lower().startswith("file://"):
                text = text[len("file://"):]
            self.local: Path | None = Path(text)
            self.uri = str(self.local)
            self.fs: Any = None
            self.root = str(self.local)
        else:
            from pyarrow import fs

            self.local = None
            self.uri = text.rstrip("/")
            try:
                self.fs, self.root = fs.FileSystem.from_uri(self.uri)
            except (ValueError, OSError) as exc:
                self.fs, self.root = _fsspec(self.uri, exc)
            self.root = self.root.rstrip("/")

    def __str__(self) -> str:
        return self.uri

    def _full(self, name: str) -> str:
        return f"{self.root}/{name}" if name else self.root

    def shown(self, name: str) -> str:
        """``name`` inside the store, as a person would type it (path or URI)."""
        return str(self.local / name) if self.local is not None else f"{self.uri}/{name}"

    # -- listing and reading -------------------------------------------------------------------------

    def list(self, folder: str = "", suffix: str = ".parquet") -> list[str]:
        """Names (not paths) of the published files in ``folder`` ending in ``suffix``, sorted; none if absent."""
        if self.local is not None:
            try:
                names = os.listdir(self.local / folder)
            except (FileNotFoundError, NotADirectoryError):
                return []
        else:
            from pyarrow import fs

            infos = self.fs.get_file_info(fs.FileSelector(self._full(folder), allow_not_found=True))
            names = [info.base_name for info in infos if info.type == fs.FileType.File]
        return sorted(n for n in names if n.endswith(suffix) and not n.startswith("."))

    def exists(self, name: str) -> bool:
        if self.local is not None:
            return (self.local / name).is_file()
        from pyarrow import fs

        return self.fs.get_file_info(self._full(name)).type == fs.FileType.File

    def read_bytes(self, name: str) -> bytes:
        if self.local is not None:
            return (self.local / name).read_bytes()
        with self.fs.open_input_stream(self._full(name)) as stream:
            return stream.read()

    def parquet(self, name: str) -> Any:
        """A :class:`pyarrow.parquet.ParquetFile` of ``name`` (reads the footer only)."""
        import pyarrow.parquet as pq

        if self.local is not None:
            return pq.ParquetFile(self.local / name)
        return pq.ParquetFile(self.fs.open_input_file(self._full(name)))

    def read_table(self, name: str, columns: Sequence[str] | None = None, filters: Any = None) -> Any:
        """The Parquet file ``name`` as a table: only ``columns`` (``None``: all), only rows passing ``filters``."""
        import pyarrow.parquet as pq

        if self.local is not None:
            return pq.read_table(self.local / name, columns=columns, filters=filters)
        return pq.read_table(self._full(name), columns=columns, filters=filters, filesystem=self.fs)

    # -- publishing ----------------------------------------------------------------------------------

    def publish(self, name: str, write: Any) -> None:
        """Make ``name`` appear complete or not at all; ``write(handle)`` writes its bytes to a binary handle."""
        if self.local is None:
            # object stores have no folders (this is then a no-op); HDFS and the like need them
            self.fs.create_dir(self._full(name.rpartition("/")[0]), recursive=True)
            with self.fs.open_output_stream(self._full(name)) as stream:
                write(stream)
            return
        final = self.local / name
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f"{TMP_PREFIX}{os.getpid()}-{HOST}-{uuid.uuid4().hex}-{final.name}.part"
        try:
            with open(tmp, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
            _sync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def write_text(self, name: str, text: str) -> None:
        self.publish(name, lambda handle: handle.write(text.encode()))

    def clean_temporaries(self, folders: Sequence[str]) -> int:
        """Remove temporaries whose writer is gone; returns how many were removed (a folder store only).

        A temporary of this host is removed when its writer process no longer
        exists; one of another host (a shared folder) once it is older than
        :data:`STALE_TMP_SECONDS`. Object stores have none (an unfinished upload leaves no object).
        """
        if self.local is None:
            return 0
        removed = 0
        now = time.time()
        for folder in folders:
            for tmp in (self.local / folder).glob(f"{TMP_PREFIX}*"):
                pid_text, host, _rest = (tmp.name[len(TMP_PREFIX):].split("-", 2) + ["", ""])[:3]
                try:
                    age = now - tmp.stat().st_mtime
                except FileNotFoundError:
                    continue
                ours = host == HOST and pid_text.isdigit()
                if (ours and not _pid_alive(int(pid_text))) or age > STALE_TMP_SECONDS:
                    tmp.unlink(missing_ok=True)
                    removed += 1
        return removed


def _fsspec(uri: str, why: Exception) -> tuple[Any, str]:
    """A scheme pyarrow lacks, through an installed fsspec package (wrapped as a pyarrow filesystem)."""
    try:
        import fsspec
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        filesystem, root = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError, OSError) as exc:
        raise ValueError(f"result store {uri!r}: pyarrow cannot open this filesystem ({why}) and fsspec "
                         f"neither ({exc})") from None
    return PyFileSystem(FSSpecHandler(filesystem)), root


def _sync_dir(path: Path) -> None:
    """fsync a folder, so a rename in it survives a crash (best effort: some filesystems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def dumps(value: Any) -> bytes:
    """JSON bytes with sorted keys (``repr`` for what JSON cannot hold): how the store writes facts."""
    return json.dumps(value, sort_keys=True, default=repr).encode()


__all__ = ["HOST", "STALE_TMP_SECONDS", "StoreFiles", "dumps", "unique_name"]
