"""The shared vocabulary: value types and interfaces only, no heavy imports."""

from nasframe.core.architecture import Architecture, InvalidArchitecture
from nasframe.core.protocols import Evaluator, Surrogate
from nasframe.core.registry import Registry, benchmarks, load_space, searchers, spaces, tasks
from nasframe.core.results import EvalResult, Fidelity
from nasframe.core.searcher import Searcher
from nasframe.core.space import SearchSpace

__all__ = [
    "Architecture",
    "EvalResult",
    "Evaluator",
    "Fidelity",
    "InvalidArchitecture",
    "Registry",
    "SearchSpace",
    "Searcher",
    "Surrogate",
    "benchmarks",
    "load_space",
    "searchers",
    "spaces",
    "tasks",
]
