"""Performance surrogates: tree models, GNNs, graph embeddings, ensembles, metrics.

The public API, imported on first use so that ``import surrogates`` stays
light (the tree families never import torch; the GNN families never import
XGBoost or LightGBM)::

    from surrogates import make_surrogate, regression_report
    model = make_surrogate("xgb", space, members=10).fit(archs, y)
    mean, std = model.predict(candidates)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from nasframe.core.registry import SURROGATES
from surrogates.base import Surrogate

if TYPE_CHECKING:
    from nasframe.core import SearchSpace
    from surrogates.ensemble import FamilyEnsemble
    from surrogates.mlp import MLPSurrogate
    from surrogates.gnn import GCNSurrogate, GINSurrogate
    from surrogates.hpo import TuneResult, tune_surrogate
    from surrogates.metrics import regression_report
    from surrogates.trees import LGBSurrogate, RFSurrogate, XGBSurrogate

#: public name -> module that defines it
_LAZY = {
    "XGBSurrogate": "surrogates.trees",
    "LGBSurrogate": "surrogates.trees",
    "RFSurrogate": "surrogates.trees",
    "GINSurrogate": "surrogates.gnn",
    "GCNSurrogate": "surrogates.gnn",
    "FamilyEnsemble": "surrogates.ensemble",
    "MLPSurrogate": "surrogates.mlp",
    "tune_surrogate": "surrogates.hpo",
    "TuneResult": "surrogates.hpo",
    "regression_report": "surrogates.metrics",
}


# the built-in families, by import string: registering imports none of them
SURROGATES.register("xgb", "surrogates.trees:XGBSurrogate")
SURROGATES.register("lgb", "surrogates.trees:LGBSurrogate")
SURROGATES.register("rf", "surrogates.trees:RFSurrogate")
SURROGATES.register("gin", "surrogates.gnn:GINSurrogate")
SURROGATES.register("gcn", "surrogates.gnn:GCNSurrogate")
SURROGATES.register("mlp", "surrogates.mlp:MLPSurrogate")
SURROGATES.register("vsgae-mlp", "surrogates.vsgae_mlp:VSGAEMLPSurrogate")
SURROGATES.register("ensemble", "surrogates.ensemble:FamilyEnsemble")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'surrogates' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def make_surrogate(family: str, space: "SearchSpace", **kwargs: Any) -> Surrogate:
    """A new, unfitted surrogate of ``family`` ("xgb", "lgb", "rf", "gin", "gcn"...).

    ``kwargs`` are ``members``, ``seed`` and the family's hyper-parameters.
    """
    return SURROGATES.factory(family)(space, **kwargs)


__all__ = [
    "Surrogate",
    "make_surrogate",
    "regression_report",
    "tune_surrogate",
    "TuneResult",
    "XGBSurrogate",
    "LGBSurrogate",
    "RFSurrogate",
    "GINSurrogate",
    "GCNSurrogate",
    "FamilyEnsemble",
    "MLPSurrogate",
]
