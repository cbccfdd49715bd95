"""nasframe: distributed neural-architecture search and benchmarking.

The public API is re-exported here; submodules behind it are private unless
documented. Heavy libraries (torch, ray, xgboost) load only when used.
"""

from nasframe.core import (
    Architecture,
    EvalResult,
    Evaluator,
    Fidelity,
    InvalidArchitecture,
    SearchSpace,
    Searcher,
    Surrogate,
    load_space,
)

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "EvalResult",
    "Evaluator",
    "Fidelity",
    "InvalidArchitecture",
    "SearchSpace",
    "Searcher",
    "Surrogate",
    "__version__",
    "load_space",
]
