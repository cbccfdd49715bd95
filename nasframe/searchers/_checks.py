"""Argument checks shared by the searchers' constructors.

A bad setting should fail when the searcher is built, with a message naming
it, not rounds later inside a model fit or a sampling loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def require_integers(*checks: tuple[str, Any, int]) -> None:
    """Raise ``ValueError`` naming the first ``(label, value, low)`` whose value is not an integer >= ``low``.

    ``bool`` is refused although it is an ``int``: ``candidates=True`` is a
    mistake, not a count of one.
    """
    for label, value, low in checks:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")


__all__ = ["require_integers"]
