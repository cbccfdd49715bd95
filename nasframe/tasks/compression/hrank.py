"""HRank (Lin et al., CVPR 2020, arXiv 2002.10179): keep the filters whose feature maps have high rank.

The premise: the average rank of the feature maps a filter produces is
nearly the same whichever batch of images it is measured on, so a few
batches rank the filters of a trained network, and low-rank maps carry less
information. As in the official code (github lmbxmu/HRank,
``rank_generation.py``), a block's maps are taken after its first
convolution's BatchNorm and ReLU, the rank of each map (one image, one
channel, an ``H x W`` matrix) is ``matrix_rank``, and a filter's score is the
mean over images. :func:`rank_premise` measures the premise itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

import numpy as np
import torch
import torch.nn.functional as F

from nasframe.core.errors import InvalidSetting
from nasframe.tasks.compression.resnet import ResNet


def feature_map_ranks(maps: torch.Tensor) -> torch.Tensor:
    """The rank of every ``H x W`` map of a ``(batch, channels, H, W)`` tensor, as ``(batch, channels)`` floats."""
    return torch.linalg.matrix_rank(maps.float()).float()


@torch.no_grad()
def batch_ranks(dense: ResNet, images: torch.Tensor) -> list[torch.Tensor]:
    """Per block, every filter's feature-map rank averaged over the images of one batch (eval mode)."""
    collected: list[torch.Tensor] = []

    def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        collected.append(feature_map_ranks(F.relu(output)).mean(dim=0).cpu())

    handles = [block.bn1.register_forward_hook(hook) for block in dense.blocks]
    was_training = dense.training
    dense.eval()
    try:
        dense(images)
    finally:
        dense.train(was_training)
        for handle in handles:
            handle.remove()
    return collected


def average_ranks(dense: ResNet, batches: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """Per block, every filter's feature-map rank averaged over all images of ``batches`` (HRank's score)."""
    totals: list[torch.Tensor] | None = None
    seen = 0
    for images in batches:
        ranks = batch_ranks(dense, images)
        totals = [r * len(images) for r in ranks] if totals is None else \
            [t + r * len(images) for t, r in zip(totals, ranks)]
        seen += len(images)
    if totals is None:
        raise InvalidSetting("hrank: needs at least one batch of images to rank the filters")
    return [t / seen for t in totals]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (ties get their average rank)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:  # a constant vector has no order: equal only to another constant
        return 1.0 if np.ptp(a) == np.ptp(b) else 0.0
    return float(spearmanr(a, b).statistic)


def rank_premise(dense: ResNet, batches: Iterable[torch.Tensor]) -> dict[str, float]:
    """HRank's premise, measured: the Spearman correlation of all filters' average ranks between every
    pair of ``batches`` (each batch ranked on its own), over all filters pooled and within each block
    (HRank compares filters within a layer). Returns the minimum and mean over pairs, the number of
    batches and filters, the lowest and the mean within-block value and each block's mean."""
    per_batch = [batch_ranks(dense, images) for images in batches]
    if len(per_batch) < 2:
        raise InvalidSetting("hrank premise: needs at least two batches to compare")
    whole = [torch.cat(ranks).numpy() for ranks in per_batch]
    pairs = [_spearman(whole[i], whole[j]) for i, j in combinations(range(len(whole)), 2)]
    per_block = [[_spearman(per_batch[i][k].numpy(), per_batch[j][k].numpy())
                  for i, j in combinations(range(len(per_batch)), 2)] for k in range(len(per_batch[0]))]
    return {"spearman_min": min(pairs), "spearman_mean": float(np.mean(pairs)), "batches": len(per_batch),
            "filters": len(whole[0]), "per_block_min": float(min(min(b) for b in per_block)),
            "per_block_mean": float(np.mean([np.mean(b) for b in per_block])),
            "per_block": [float(np.mean(b)) for b in per_block]}


__all__ = ["average_ranks", "batch_ranks", "feature_map_ranks", "rank_premise"]
