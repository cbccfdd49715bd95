"""``--storage``: where a job's results live, given once as a local path, an NFS path or a filesystem URI.

On one machine any folder will do; on a cluster the result store is written
by the driver (which may run on the head node, under ``nasframe submit``) and
Ray Tune's trials write their checkpoints from whichever node runs them, and a
trial that lost its node resumes on another one from that checkpoint. So the
place must be storage *every node sees*: a shared (NFS) mount at the same path
on every node, or a pyarrow filesystem URI (``s3://bucket/prefix``,
``gs://...``, ``hdfs://...``; ``file:///...`` is a local path). This module is
the one place that reads the option:

- :func:`resolve` turns the text into an absolute path or a checked URI
  (refusing a URI scheme no filesystem serves, naming the option), so a
  relative path is never resolved later against a worker's or a job's
  working directory;
- :func:`child` names a part inside it (the result store, Tune's folder),
  joined as a URI or as a path;
- :func:`tune_storage` is what Tune's ``RunConfig(storage_path=...)`` gets
  (Tune takes URIs natively).

The :class:`~nasframe.store.ResultStore` is given ``child(storage, "store")``.
"""

from __future__ import annotations

import os
from pathlib import Path

from nasframe.core.errors import InvalidSetting

#: the URI schemes pyarrow opens itself (``pyarrow.fs.FileSystem.from_uri``)
PYARROW_SCHEMES = frozenset({"s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss"})
#: the folder of a ``--storage`` holding the result store, and the one holding Tune's experiments
STORE_DIR, TUNE_DIR = "store", "tune"


def is_uri(text: str) -> bool:
    """Whether ``text`` names a remote filesystem (``scheme://...``) rather than a path on this machine."""
    scheme, sep, _ = str(text).partition("://")
    return bool(sep) and scheme.isidentifier() and scheme.lower() != "file" and len(scheme) > 1


def resolve(text: str | os.PathLike[str], option: str = "--storage") -> str:
    """The absolute path or the URI that ``text`` names; a URI no filesystem serves is refused naming ``option``.

    ``file:///x`` is the local path ``/x``. Only a URI's scheme is checked
    here, without a connection (credentials and buckets are checked by the
    first write, when the settings are recorded before any run), so a scheme
    nothing can write to fails before any work.
    """
    text = str(text).strip()
    if not text:
        raise InvalidSetting(f"{option}: empty; give a folder or a URI such as s3://bucket/prefix")
    if text.lower().startswith("file://"):
        return str(Path(text[len("file://"):]).expanduser().resolve())
    if not is_uri(text):
        return str(Path(text).expanduser().resolve())
    scheme = text.partition("://")[0].lower()
    if scheme not in known_schemes():
        raise InvalidSetting(f"{option} {text!r}: no filesystem for {scheme}:// (pyarrow opens "
                             f"{', '.join(sorted(PYARROW_SCHEMES))}; fsspec packages add others); give a folder "
                             "every node sees or such a URI")
    return text.rstrip("/")


def known_schemes() -> set[str]:
    """URI schemes a store or Tune can write to: pyarrow's own, and those of the installed fsspec packages."""
    schemes = set(PYARROW_SCHEMES)
    try:
        from fsspec.registry import known_implementations
    except ImportError:
        return schemes
    return schemes | {name.lower() for name in known_implementations}


def child(base: str, *parts: str) -> str:
    """``parts`` inside ``base`` (a path from :func:`resolve` or a URI), joined the way ``base`` needs."""
    if is_uri(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(base, *parts))


def tune_storage(base: str) -> str:
    """Ray Tune's ``storage_path`` inside ``base``: its experiments and checkpoints, reachable from every node."""
    return child(base, TUNE_DIR)


__all__ = ["STORE_DIR", "TUNE_DIR", "child", "is_uri", "resolve", "tune_storage"]
