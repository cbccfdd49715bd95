"""The ask/tell contract of search algorithms.

A searcher proposes architectures and learns from their results; it never
evaluates anything itself. Where evaluation happens (a batched benchmark call,
Ray tasks, Ray Tune trials) is the runner's decision, which is what lets the
same searcher drive a microsecond surrogate query and a day-long training job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

from nasframe.core.architecture import Architecture
from nasframe.core.results import EvalResult


class Searcher(ABC):
    """Base class of search algorithms (modelled on Ray Tune's suggest/complete)."""

    @abstractmethod
    def ask(self, n: int = 1) -> list[Architecture]:
        """Up to ``n`` architectures to evaluate next."""

    @abstractmethod
    def tell(self, archs: Sequence[Architecture], results: Sequence[EvalResult]) -> None:
        """Report results for architectures previously returned by :meth:`ask`."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume; must be picklable.

        The default captures the instance ``__dict__``, which is right for
        searchers whose state is plain data, numpy generators and architectures.
        """
        return dict(self.__dict__)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
