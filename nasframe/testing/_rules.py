"""The one way the checks fail: an ``AssertionError`` naming the plug-in and the rule."""

from __future__ import annotations

from typing import Any


def require(condition: Any, who: str, rule: str, detail: str = "") -> None:
    """Fail with ``"<who> breaks '<rule>'"`` (plus ``detail``) unless ``condition`` holds.

    A plain ``assert`` would vanish under ``python -O`` and say nothing about
    which promise of the contract failed; this names it.
    """
    if not condition:
        message = f"{who} breaks {rule!r}"
        raise AssertionError(f"{message}: {detail}" if detail else message)
