"""Saved benchmark folders carried to Ray workers by content, so they work on every node.

A saved surrogate benchmark folder (``nasframe benchmark build --out my-bench``)
is resolved in the driver to a loader holding the folder's absolute path
(:func:`benchmarks.catalog.factory`). That path exists on the driver's machine
only: a worker on another node of a cluster, or the head node running a job
of ``nasframe submit``, would fail to load it. :func:`share_benchmarks`
replaces such loaders, before runs are sent to Ray, by a
:class:`ShippedBenchmark`: the folder packed once (a few MB), put once into
Ray's object store, and referenced by every run. A worker unpacks it once per
node into a folder named by the content's digest, and loads it from there;
its process cache (:func:`nasframe.worker.load_benchmark`) keys it by that
digest, so an edited folder is never confused with the old one.

Registered benchmarks (shipped ones, nas-bench-graph tables, plug-ins) are
not touched: every node builds those from its own installation.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

#: where workers unpack shipped benchmarks, one folder per content digest
CACHE_DIR_NAME = "nasframe-benchmarks"


@dataclass(frozen=True)
class ShippedBenchmark:
    """A benchmark factory holding a saved folder's content (bytes, or a Ray object ref of them).

    Calling it unpacks the folder on this machine (once per digest) and loads it.
    """

    folder: str
    digest: str
    content: Any

    def __call__(self) -> Any:
        from benchmarks.surrogate import MANIFEST, SurrogateBenchmark

        target = Path(tempfile.gettempdir()) / CACHE_DIR_NAME / self.digest
        if not (target / MANIFEST).is_file():
            data = self.content
            if not isinstance(data, (bytes, bytearray)):
                import ray

                data = ray.get(data)
            _unpack(bytes(data), target)
        return SurrogateBenchmark.load(target)

    def __repr__(self) -> str:  # the worker's cache key: the content, not the path
        return f"ShippedBenchmark({self.folder!r}, sha256={self.digest})"


def saved_folder(factory: Callable[..., Any]) -> str | None:
    """The folder a :func:`benchmarks.catalog.factory` loader of a saved benchmark reads, else ``None``."""
    from benchmarks.surrogate import SurrogateBenchmark

    if not isinstance(factory, functools.partial) or factory.keywords or len(factory.args) != 1:
        return None
    if getattr(factory.func, "__func__", None) is not SurrogateBenchmark.load.__func__:
        return None
    return str(factory.args[0])


def pack(folder: str | os.PathLike[str]) -> tuple[bytes, str]:
    """The folder as gzipped tar bytes, and the SHA-256 of its files (names and contents, in sorted order)."""
    root = Path(folder)
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root).as_posix()
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
            archive.add(path, arcname=relative, recursive=False)
    return buffer.getvalue(), digest.hexdigest()


def _unpack(data: bytes, target: Path) -> None:
    """Unpack into ``target`` through a temporary sibling renamed into place (concurrent workers race safely)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(scratch, filter="data")
        try:
            os.rename(scratch, target)
        except OSError:  # another worker of this node published it first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def share_benchmarks(specs: Sequence[Any], put: Callable[[bytes], Any] | None = None) -> list[Any]:
    """``specs`` (:class:`~nasframe.worker.RunSpec`) with every saved-folder loader replaced by a
    :class:`ShippedBenchmark`; each folder packed and ``put`` once (default ``ray.put``: one object
    in the object store, referenced by every run of it)."""
    if put is None:
        import ray

        put = ray.put
    shipped: dict[str, ShippedBenchmark] = {}
    out = []
    for spec in specs:
        folder = saved_folder(spec.benchmark_factory)
        if folder is None:
            out.append(spec)
            continue
        if folder not in shipped:
            data, digest = pack(folder)
            shipped[folder] = ShippedBenchmark(folder, digest, put(data))
        out.append(dataclasses.replace(spec, benchmark_factory=shipped[folder]))
    return out


__all__ = ["ShippedBenchmark", "pack", "saved_folder", "share_benchmarks"]
