"""The architecture value type every space, searcher and benchmark shares.

An architecture is an immutable value: two objects describing the same network
(for graph spaces: isomorphic cells) compare equal and hash equal. Equality is
delegated to :meth:`Architecture.canonical_key`, a string every space defines so
that it is stable across processes and Python versions (``hash()`` of a str is
salted per process, so the key itself, not Python's hash, is what gets stored).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from nasframe.core.errors import UserError


class InvalidArchitecture(UserError, ValueError):
    """An architecture violates a rule of its space; the message names the rule."""

    def __init__(self, space: str, rule: str, detail: str = "") -> None:
        self.space = space
        self.rule = rule
        self.detail = detail
        message = f"invalid {space} architecture: {rule}"
        super().__init__(f"{message} ({detail})" if detail else message)


class Architecture(ABC):
    """Base class of the per-space value types (frozen dataclasses).

    Subclasses validate and canonicalise in their constructor, so holding an
    instance means holding a valid architecture.
    """

    space_name: ClassVar[str]

    @abstractmethod
    def canonical_key(self) -> str:
        """A process-independent string identifying the canonical form."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict; ``space.from_json`` inverts it."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.canonical_key() == other.canonical_key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.canonical_key()))
