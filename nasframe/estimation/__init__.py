"""Budgeted performance estimation (BPE): what a cheap training recipe tells about the full one.

- :mod:`~nasframe.estimation.bpe`: BPE configurations as a typed space over recipe fields;
- :mod:`~nasframe.estimation.mip`: Minimum Importance Pruning and its result (which renders the report);
- :mod:`~nasframe.estimation.evaluator`: the Ray-backed, resumable BPE evaluator MIP calls;
- :mod:`~nasframe.estimation.importance`: the random-forest importance MIP uses;
- :mod:`~nasframe.estimation.trials`: the real BPE trials of Zheng et al. (CVPR 2020).
"""

from nasframe.estimation.bpe import BPEParameter, BPESpace, config_key, image_bpe_space
from nasframe.estimation.importance import hyperparameter_importance
from nasframe.estimation.evaluator import BPEEvaluator, rank_correlations
from nasframe.estimation.mip import MIPResult, MIPRound, minimum_importance_pruning
from nasframe.estimation.trials import HYPERPARAMETERS, BPEFormatError, BPETrials, load_bpe_trials

__all__ = [
    "HYPERPARAMETERS",
    "BPEEvaluator",
    "BPEFormatError",
    "BPEParameter",
    "BPESpace",
    "BPETrials",
    "MIPResult",
    "MIPRound",
    "config_key",
    "hyperparameter_importance",
    "image_bpe_space",
    "load_bpe_trials",
    "minimum_importance_pruning",
    "rank_correlations",
]
