"""Built-in search algorithms, all behind the :class:`nasframe.Searcher` ask/tell API.

``nasframe.searchers.make("evolution", space, seed=0)`` builds one by its
registry name; third-party searchers join through the ``nasframe.searchers``
entry-point group.
"""

from __future__ import annotations

from typing import Any

from nasframe.core import SearchSpace, Searcher
from nasframe.core.registry import searchers as registry
from nasframe.searchers._bananas import BANANAS
from nasframe.searchers._bo import SurrogateBO
from nasframe.searchers._evolution import RegularizedEvolution
from nasframe.searchers._extrapolation import PredictorExtrapolation
from nasframe.searchers._latent_bo import LatentBO
from nasframe.searchers._local import LocalSearch
from nasframe.searchers._optuna import OptunaSearcher
from nasframe.searchers._random import RandomSearch
from nasframe.searchers._reinforce import REINFORCE


# also declared as entry points; registered here too so that they are found
# before the package metadata is reinstalled (same classes either way)
for _newer in (LatentBO, PredictorExtrapolation):
    registry.register(_newer.name, _newer)


def make(name: str, space: SearchSpace, *, seed: int = 0, **options: Any) -> Searcher:
    """A new searcher registered as ``name`` on ``space``."""
    return registry.create(name, space=space, seed=seed, **options)


def names() -> list[str]:
    return registry.names()


__all__ = ["BANANAS", "LatentBO", "SurrogateBO", "LocalSearch", "OptunaSearcher", "PredictorExtrapolation", "REINFORCE", "RandomSearch", "RegularizedEvolution", "make", "names"]
