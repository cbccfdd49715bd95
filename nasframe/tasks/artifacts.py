"""Networks a task trains once and caches: a compression task's base, multi-task single-task baselines.

Every trial of a study must start from the same trained weights (or compare
with the same baselines), so they are trained once per *identity* (what made
them: data, network, recipe, seed) and cached as
``$NASFRAME_CACHE/<kind>/<stem>-<key>.pt`` (the weights; the key is a hash of
the identity) next to a JSON record: the identity, the sha256 of the weights
file and what the task keeps of the training (its metrics).

A weights file whose bytes differ from the recorded checksum, or whose
record names another identity, is refused with the differing fields named,
never silently used. Both files are written atomically
(:func:`~nasframe.core.files.atomic_file`), the record last, so a kill
leaves either the previous cache or no record, and without a record the
artefact is trained again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from benchmarks.provenance import sha256
from nasframe.core.files import atomic_file
from search_spaces.nb101.enumeration import cache_dir


def cache_path(kind: str, stem: str, identity: dict[str, Any]) -> Path:
    """Where the artefact of ``identity`` is cached: ``$NASFRAME_CACHE/<kind>/<stem>-<key>.pt``."""
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_dir() / kind / f"{stem}-{key}.pt"


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        return {k: v for key, value in data.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


def check_record(path: Path, record: dict[str, Any], identity: dict[str, Any], error: type[Exception],
                 what: str) -> None:
    """Refuse (``error``) an artefact whose bytes differ from its recorded checksum, or whose record is of
    another identity; nested identity fields are named by their dotted path (``recipe.epochs``)."""
    if record.get("sha256") != sha256(path):
        raise error(f"{what} {path}: its sha256 differs from the one recorded in "
                    f"{path.with_suffix('.json').name} (corrupt or replaced); delete both to retrain")
    stored = _flat(json.loads(json.dumps(record.get("identity", {}), default=str)))
    given = _flat(json.loads(json.dumps(identity, default=str)))
    differing = [f"{k}: {stored.get(k, 'not set')!r} there, {given.get(k, 'not set')!r} here"
                 for k in sorted(set(stored) | set(given)) if stored.get(k) != given.get(k)]
    if differing:
        raise error(f"{what} {path} is of another training: " + "; ".join(differing))


def read_record(path: Path, identity: dict[str, Any], error: type[Exception], what: str) -> dict[str, Any] | None:
    """The checked record of the artefact at ``path``; ``None`` when it has none yet (to be trained)."""
    record_path = path.with_suffix(".json")
    if not (path.is_file() and record_path.is_file()):
        return None
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{what} record {record_path} is not valid JSON ({exc})") from None
    check_record(path, record, identity, error, what)
    return record


def write_artifact(path: Path, states: Any, identity: dict[str, Any], **kept: Any) -> dict[str, Any]:
    """Save ``states`` (torch) and then its record (identity, sha256, ``kept``), each atomically; the record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as handle:
        torch.save(states, handle)
    record = {"identity": identity, "sha256": sha256(path), **kept}
    with atomic_file(path.with_suffix(".json"), "w") as handle:
        json.dump(record, handle, indent=1, sort_keys=True, default=str)
    return record
