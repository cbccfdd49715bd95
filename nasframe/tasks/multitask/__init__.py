"""Multi-task branching (BMTAS, arXiv 2008.10292): where a multi-task network should split, against Δm and cost.

- :mod:`~nasframe.tasks.multitask.data`: two objects per canvas; four tasks (classes, segmentation, edges);
- :mod:`~nasframe.tasks.multitask.space`: :class:`BranchingSpace`, one refining grouping of the tasks per layer;
- :mod:`~nasframe.tasks.multitask.network`: the branched CNN of a tree;
- :mod:`~nasframe.tasks.multitask.metrics`: accuracy, mIoU, edge F-score, Δm;
- :mod:`~nasframe.tasks.multitask.baselines`: the single-task networks, trained once per recipe and cached;
- :mod:`~nasframe.tasks.multitask.task`: :class:`MultitaskBranching`, registered as ``multitask-branching``.

Imports are lazy so that naming the package loads no torch.
"""

from __future__ import annotations

from typing import Any

_NAMES = {"Branching": "space", "BranchingSpace": "space", "MultitaskBranching": "task", "delta_m": "metrics"}


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(name)
    from importlib import import_module

    return getattr(import_module(f"nasframe.tasks.multitask.{_NAMES[name]}"), name)


__all__ = sorted(_NAMES)
