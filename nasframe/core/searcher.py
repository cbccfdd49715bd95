"""The ask/tell contract of search algorithms.

A searcher proposes architectures and learns from their results; it never
evaluates anything itself. Where evaluation happens (a batched benchmark call,
Ray tasks, Ray Tune trials) is the runner's decision, which is what lets the
same searcher drive a microsecond surrogate query and a day-long training job.

Plug-in points of a new searcher: :meth:`Searcher.ask` (required) and
:meth:`Searcher._observe` (optional: learn from new results). The base class
keeps the history, the seeded generator and the set of proposed hashes, and
its ``state_dict`` captures all of it, so most searchers resume for free.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np

from nasframe.core.architecture import Architecture
from nasframe.core.results import EvalResult
from nasframe.core.space import SearchSpace


class Searcher(ABC):
    """Base class of search algorithms (modelled on Ray Tune's suggest/complete).

    The objective is to maximise ``EvalResult.val_accuracy``. ``history``
    holds every ``(arch, result)`` told so far, in order; ``seen`` the
    canonical hashes of everything asked (searchers use it to avoid
    re-proposing an architecture). ``rng`` is the only randomness a searcher
    may use, so a seed fixes its trajectory.
    """

    #: registry name ("random", "evolution", ...)
    name: ClassVar[str] = ""
    #: True for searchers that take an ``objectives=`` option (``"name:max|min"`` strings) and search the
    #: Pareto front of those objectives (read from ``EvalResult.objectives``) instead of ``val_accuracy``
    multi_objective: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, *, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.history: list[tuple[Architecture, EvalResult]] = []
        self.seen: set[str] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space.name!r}, seed={self.seed})"

    @abstractmethod
    def ask(self, n: int = 1) -> list[Architecture]:
        """Up to ``n`` architectures to evaluate next (fewer only if the space is exhausted)."""

    def tell(self, archs: Sequence[Architecture], results: Sequence[EvalResult]) -> None:
        """Report results for architectures previously returned by :meth:`ask`."""
        if len(archs) != len(results):
            raise ValueError(f"tell() got {len(archs)} architectures but {len(results)} results")
        pairs = list(zip(archs, results))
        self.history.extend(pairs)
        self._observe(pairs)

    def _observe(self, pairs: list[tuple[Architecture, EvalResult]]) -> None:
        """Learn from newly told results (already appended to ``history``)."""

    def _mark(self, archs: Sequence[Architecture]) -> list[Architecture]:
        """Record ``archs`` as proposed; returns them (for ``return self._mark(...)``)."""
        self.seen.update(self.space.canonical_hashes(archs))
        return list(archs)

    def best(self) -> tuple[Architecture, EvalResult] | None:
        """The told result with the highest validation accuracy, or None."""
        if not self.history:
            return None
        return max(self.history, key=lambda pair: pair[1].val_accuracy)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume; must be picklable.

        The default deep-copies the instance ``__dict__`` except the space (a
        shared, immutable description), so a state kept in memory does not
        drift while the searcher runs on. That is right for searchers whose
        state is plain data, numpy generators, architectures and fitted
        models that pickle.
        """
        return {k: (v if k == "space" else copy.deepcopy(v)) for k, v in self.__dict__.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update({k: (v if k == "space" else copy.deepcopy(v)) for k, v in state.items()})
