"""Files and folders that appear whole or not at all.

Every artefact nasframe writes (indexes, data files, saved models,
benchmarks) goes through these two helpers: the content is written to a
temporary sibling and renamed over the target only when complete (and, for
files, synced), so a crash or a kill leaves the previous version intact and
no half-written file behind. ``os.replace`` is atomic within one file system,
which a sibling guarantees. :func:`check_writable_folder` lets a command
refuse an output folder it cannot write before it does any work;
:func:`pin_settings` ties a results folder to the settings it was made with.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Collection, Iterator, Mapping

from nasframe.core.errors import NotWritable, SettingsMismatch


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", **open_args: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` that replaces it when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are ordinary shared files
        with os.fdopen(fd, mode, **open_args) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary folder beside ``path`` that replaces it when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_writable_folder(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """``path`` if files can be written in it (or in the folder it would be created in); else :class:`NotWritable`.

    Commands call this before fitting or training for minutes, so that an
    unwritable output fails at once. The check writes (and removes) a probe
    file rather than trusting permission bits, which say nothing of a
    read-only mount and are ignored for root. Nothing is created for good: a
    refused or failed run leaves no empty folder behind.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing.parent != existing:  # where the folder would be created
        existing = existing.parent
    if not existing.is_dir():
        raise NotWritable(f"{what} {path}: {existing} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".nasframe-write-check.", dir=existing)
    except OSError as exc:
        raise NotWritable(f"{what} {path} cannot be written: {exc.strerror} ({existing})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def pin_settings(path: str | os.PathLike[str], settings: Mapping[str, Any], *, what: str,
                 growing: Collection[str] = (), write: bool = True) -> None:
    """Record ``settings`` in the JSON file ``path`` on first use; refuse other settings later.

    A results folder that resumes (an experiment's store, a BPE study) must
    hold the results of one configuration: results of another mixed in would
    silently change its report, so other settings raise
    :class:`SettingsMismatch` naming every field that differs (``what`` says
    what the folder holds). Fields in ``growing`` are lists that may gain
    items (an experiment given more seeds): every recorded item must still
    be there, and the record grows. ``write=False`` only checks, for a caller
    that must not write before its work can start.
    """
    path = Path(path)
    given = json.loads(json.dumps(dict(settings), sort_keys=True, default=repr))  # as it will read back
    stored: dict[str, Any] = {}
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SettingsMismatch(f"{path} (the settings of this {what}) is not valid JSON ({exc}); "
                                   "remove it to record the current settings") from None
        differences = _setting_differences(stored, given, set(growing))
        if differences:
            raise SettingsMismatch(f"{path.parent} holds another {what}: " + "; ".join(differences)
                                   + f" (recorded in {path.name}); use a new folder or the same settings")
    if write and given != stored:
        with atomic_file(path, "w") as handle:
            json.dump(given, handle, indent=1, sort_keys=True)


#: a field one side does not have
_ABSENT = object()


def _setting_differences(stored: Mapping[str, Any], given: Mapping[str, Any], growing: set[str],
                         prefix: str = "") -> list[str]:
    """``field: <recorded> there, <given> here`` per differing field, nested mappings field by field."""
    out = []
    for key in sorted(set(stored) | set(given)):
        name, old, new = f"{prefix}{key}", stored.get(key, _ABSENT), given.get(key, _ABSENT)
        if isinstance(old, dict) and isinstance(new, dict):
            out += _setting_differences(old, new, growing, f"{name}.")
        elif name in growing and isinstance(old, list) and isinstance(new, list):
            missing = [item for item in old if item not in new]
            if missing:
                out.append(f"{name}: {_shown(missing)} recorded there, missing here")
        elif old != new:
            out.append(f"{name}: {_shown(old)} there, {_shown(new)} here")
    return out



def _shown(value: Any, limit: int = 80) -> str:
    """A setting's value for a message, cut to ``limit`` characters (lists of hashes are long)."""
    text = "not set" if value is _ABSENT else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
