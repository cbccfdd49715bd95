"""The shared vocabulary: value types and interfaces only, no heavy imports."""

from nasframe.core.architecture import Architecture, InvalidArchitecture
from nasframe.core.protocols import Evaluator, Surrogate
from nasframe.core.registry import BENCHMARKS, SEARCHERS, SPACES, SURROGATES, TASKS, Registry, load_space
from nasframe.core.results import EvalResult, Fidelity
from nasframe.core.searcher import Searcher
from nasframe.core.space import SearchSpace

__all__ = [
    "Architecture",
    "BENCHMARKS",
    "EvalResult",
    "Evaluator",
    "Fidelity",
    "InvalidArchitecture",
    "Registry",
    "SEARCHERS",
    "SPACES",
    "SURROGATES",
    "SearchSpace",
    "Searcher",
    "Surrogate",
    "TASKS",
    "load_space",
]
