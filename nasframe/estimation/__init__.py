"""Budgeted performance estimation (BPE): what a cheap training recipe tells about the full one.

So far: the real BPE trials of Zheng et al. (CVPR 2020) and the
random-forest importance analysis that Minimum Importance Pruning builds on.
"""

from nasframe.estimation.importance import hyperparameter_importance
from nasframe.estimation.trials import HYPERPARAMETERS, BPEFormatError, BPETrials, load_bpe_trials

__all__ = ["HYPERPARAMETERS", "BPEFormatError", "BPETrials", "hyperparameter_importance", "load_bpe_trials"]
