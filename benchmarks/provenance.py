"""Which data a surrogate benchmark was fitted on, named so that any machine can check it.

A model card that records ``/home/alice/data/nb101.json`` says nothing on
another machine and leaks the first one's layout. The card records the file
name and the sha256 of its bytes instead: the name says what to look for, the
checksum proves that a file found elsewhere is the same data (so a held-out
split rebuilt from it is the split the benchmark was scored on).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping

_CHUNK = 1 << 20


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file, or of a folder's files (relative names and bytes, in sorted order)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            # the name goes in too: renaming a result file changes the data set
            digest.update(member.relative_to(path).as_posix().encode() + b"\0")
            digest.update(bytes.fromhex(sha256(member)))
        return digest.hexdigest()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def data_reference(source: str | Path) -> dict[str, str]:
    """``{"file": name, "sha256": hex}`` for a result file or folder.

    A source that is not on disk (a synthetic table, a named dataset) is
    recorded by its text alone: there are no bytes to check.
    """
    path = Path(source)
    if not path.exists():
        return {"file": str(source)}
    return {"file": path.name, "sha256": sha256(path)}


def find_data(reference: Mapping[str, str], where: str | Path | None) -> Path:
    """The file or folder under ``where`` that ``reference`` names, checked by checksum.

    ``where`` is the data itself or a folder to search by file name (such as
    the shared data kit); ``None`` is an error that says what to look for. A
    match by name with other bytes is an error, never a silent substitute:
    its split would not be the recorded one.
    """
    name, expected = reference["file"], reference.get("sha256")
    if where is None:
        raise FileNotFoundError(f"the data is {name} (sha256 {expected}): give its file or a folder holding it")
    where = Path(where)
    if not where.exists():
        raise FileNotFoundError(f"{where} does not exist (looking for {name})")
    if where.name == name or where.is_file():
        candidates = [where]
    else:
        candidates = sorted(where.rglob(name))
        if not candidates:
            raise FileNotFoundError(f"no {name} under {where}")
    for candidate in candidates:
        if expected is None or sha256(candidate) == expected:
            return candidate
    raise ValueError(
        f"{', '.join(map(str, candidates))}: not the recorded data {name} (sha256 {expected}); different data?"
    )
