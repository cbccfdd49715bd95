"""Built-in search algorithms, all behind the :class:`nasframe.Searcher` ask/tell API.

``nasframe.searchers.make("evolution", space, seed=0)`` builds one by its
registry name (:data:`nasframe.core.SEARCHERS`, where the built-ins are
registered below); third-party searchers join with one ``SEARCHERS.register``
call or through the ``nasframe.searchers`` entry-point group.

A searcher that fits a model to its results builds on the model-based
toolkit exported here: :class:`ModelBasedSearcher` (initial design and refit
schedule; a subclass supplies ``_propose``), :class:`PredictorSearcher` (an
ensemble of a surrogate family over a mutation pool; BANANAS and
SurrogateBO are its presets), the acquisition functions and the candidate
pool. ``SearchSpace.sample_distinct`` draws new random architectures.
"""

from __future__ import annotations

from typing import Any

from nasframe.core import SearchSpace, Searcher
from nasframe.core.registry import SEARCHERS
from nasframe.searchers._acquisition import ACQUISITIONS, acquisition_scores, expected_improvement, top_indices
from nasframe.searchers._candidates import mutation_candidates
from nasframe.searchers._evolution import RegularizedEvolution
from nasframe.searchers._extrapolation import PredictorExtrapolation
from nasframe.searchers._latent_bo import LatentBO
from nasframe.searchers._local import LocalSearch
from nasframe.searchers._model_based import ModelBasedSearcher
from nasframe.searchers._optuna import OptunaSearcher
from nasframe.searchers._pareto_evolution import ParetoEvolution
from nasframe.searchers._predictor import BANANAS, PredictorSearcher, SurrogateBO
from nasframe.searchers._random import RandomSearch
from nasframe.searchers._reinforce import REINFORCE

SEARCHERS.register("random", RandomSearch)
SEARCHERS.register("evolution", RegularizedEvolution)
SEARCHERS.register("mo-evolution", ParetoEvolution)
SEARCHERS.register("local", LocalSearch)
SEARCHERS.register("optuna", OptunaSearcher)
SEARCHERS.register("reinforce", REINFORCE)
SEARCHERS.register("bananas", BANANAS)
SEARCHERS.register("bo", SurrogateBO)
SEARCHERS.register("latent-bo", LatentBO)
SEARCHERS.register("extrapolate", PredictorExtrapolation)


def make(name: str, space: SearchSpace, *, seed: int = 0, **options: Any) -> Searcher:
    """A new searcher registered as ``name`` on ``space``."""
    return SEARCHERS.create(name, space=space, seed=seed, **options)


def names() -> list[str]:
    return SEARCHERS.names()


__all__ = [
    # the built-ins
    "BANANAS",
    "LatentBO",
    "LocalSearch",
    "OptunaSearcher",
    "ParetoEvolution",
    "PredictorExtrapolation",
    "REINFORCE",
    "RandomSearch",
    "RegularizedEvolution",
    "SurrogateBO",
    # the model-based toolkit, for new searchers of that kind
    "ACQUISITIONS",
    "ModelBasedSearcher",
    "PredictorSearcher",
    "acquisition_scores",
    "expected_improvement",
    "mutation_candidates",
    "top_indices",
    # by name
    "make",
    "names",
]
