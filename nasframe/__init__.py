"""nasframe: distributed neural-architecture search and benchmarking.

Everything a user needs is one import away::

    import nasframe as nf

    bench = nf.load_benchmark("nb101")
    history = nf.run_search(nf.make_searcher("evolution", bench.space), bench, budget=150)
    regret = nf.compare(["random", "evolution"], "nb101", budget=150, seeds=5)

The core vocabulary (``Searcher``, ``SearchSpace``, ...) and the registries
are imported here; everything else is imported on first attribute access
(module ``__getattr__``), so ``import nasframe`` loads no benchmark, model,
torch or Ray. Submodules behind this facade are private unless documented.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from nasframe.core import (
    BENCHMARKS,
    SEARCHERS,
    SPACES,
    SURROGATES,
    TASKS,
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

if TYPE_CHECKING:
    from benchmarks import load as load_benchmark
    from nasframe.comparison import compare
    from nasframe.experiment import Experiment
    from nasframe.runner import History, run_search
    from nasframe.searchers import make as make_searcher
    from surrogates import make_surrogate

__version__ = "0.1.0"

#: plug-in registration, one function per kind; each also works as a decorator
register_space = SPACES.register
register_searcher = SEARCHERS.register
register_surrogate = SURROGATES.register
register_benchmark = BENCHMARKS.register
register_task = TASKS.register

#: public name -> (module, attribute), imported on first access
_LAZY = {
    "load_benchmark": ("benchmarks", "load"),
    "make_searcher": ("nasframe.searchers", "make"),
    "make_surrogate": ("surrogates", "make_surrogate"),
    "run_search": ("nasframe.runner", "run_search"),
    "History": ("nasframe.runner", "History"),
    "Experiment": ("nasframe.experiment", "Experiment"),
    "compare": ("nasframe.comparison", "compare"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'nasframe' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Architecture",
    "BENCHMARKS",
    "EvalResult",
    "Evaluator",
    "Experiment",
    "Fidelity",
    "History",
    "InvalidArchitecture",
    "SEARCHERS",
    "SPACES",
    "SURROGATES",
    "SearchSpace",
    "Searcher",
    "Surrogate",
    "TASKS",
    "__version__",
    "compare",
    "load_benchmark",
    "load_space",
    "make_searcher",
    "make_surrogate",
    "register_benchmark",
    "register_searcher",
    "register_space",
    "register_surrogate",
    "register_task",
    "run_search",
]
