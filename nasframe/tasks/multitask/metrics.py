"""Per-task metrics of the multi-task canvases, and the multi-task performance Δm.

- ``accuracy`` of each object's class;
- ``miou``: mean intersection over union of the segmentation classes
  (background included), from one confusion matrix accumulated over the
  whole split (scikit-learn's ``confusion_matrix``); classes absent from
  both prediction and truth are left out of the mean;
- ``fscore`` of the edges: the F1 of edge pixels (logit > 0) accumulated
  over the split: the dataset-level, fixed-threshold form of the BSDS
  boundary F-measure the multi-task survey reports ("odsF"). BSDS matches
  boundaries within 0.0075 of the image diagonal, a third of a pixel on a
  32-pixel canvas, so pixels match exactly here (``tolerance=0``);
  ``tolerance=k`` counts a predicted pixel within ``k`` pixels of a true one
  as correct (and a true one as found), by dilation instead of BSDS'
  one-to-one assignment.

Δm (Vandenhende et al., arXiv 2004.13379, eq. in §4.1; also Maninis et al.
2019) is the mean relative change of every task's metric against its
single-task baseline, in percent:
``Δm = 100/T * sum_t (-1)^{l_t} (M_mt,t - M_st,t) / M_st,t`` with
``l_t = 1`` when lower is better. All four metrics here are higher-is-better.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix

#: a baseline metric below this is floored to it in Δm's ratio (a baseline that learned nothing, e.g. a
#: one-epoch edge detector predicting no edge, would otherwise make Δm infinite)
BASELINE_FLOOR = 0.01


def confusion(pred: torch.Tensor, truth: torch.Tensor, num_classes: int) -> np.ndarray:
    """The ``(num_classes, num_classes)`` confusion matrix of label maps (rows: truth)."""
    return confusion_matrix(truth.reshape(-1).cpu().numpy(), pred.reshape(-1).cpu().numpy(),
                            labels=np.arange(num_classes))


def mean_iou(matrix: np.ndarray) -> float:
    """Mean IoU over the classes present in the truth or the prediction of a confusion matrix."""
    hits = np.diag(matrix).astype(float)
    union = matrix.sum(0) + matrix.sum(1) - hits
    present = union > 0
    return float((hits[present] / union[present]).mean()) if present.any() else 0.0


def edge_counts(logits: torch.Tensor, truth: torch.Tensor, tolerance: int = 0) -> np.ndarray:
    """``[matched predicted, predicted, matched true, true]`` edge pixels of a batch (see the module docstring)."""
    pred = (logits.float() > 0).float().reshape(truth.shape[0], 1, *truth.shape[-2:])
    true = truth.float().reshape(pred.shape)
    size = 2 * tolerance + 1
    near_true = F.max_pool2d(true, size, stride=1, padding=tolerance)
    near_pred = F.max_pool2d(pred, size, stride=1, padding=tolerance)
    return np.array([float((pred * near_true).sum()), float(pred.sum()), float((true * near_pred).sum()),
                     float(true.sum())])


def fscore(counts: np.ndarray) -> float:
    """The F1 of :func:`edge_counts` summed over a split (0 when nothing is predicted or nothing is true)."""
    precision = counts[0] / counts[1] if counts[1] else 0.0
    recall = counts[2] / counts[3] if counts[3] else 0.0
    return float(2 * precision * recall / (precision + recall)) if precision + recall > 0 else 0.0


def delta_m(multi: Mapping[str, float], single: Mapping[str, float], lower_is_better: frozenset[str] = frozenset(),
            floor: float = BASELINE_FLOOR) -> float:
    """Δm in percent of the multi-task metrics ``multi`` against the single-task ``single`` (same keys)."""
    if set(multi) != set(single) or not multi:
        raise KeyError(f"Δm compares the same tasks: multi-task {sorted(multi)}, single-task {sorted(single)}")
    terms = [(-1.0 if name in lower_is_better else 1.0) * (multi[name] - single[name]) / max(single[name], floor)
             for name in multi]
    return 100.0 * float(np.mean(terms))


__all__ = ["BASELINE_FLOOR", "confusion", "delta_m", "edge_counts", "fscore", "mean_iou"]
