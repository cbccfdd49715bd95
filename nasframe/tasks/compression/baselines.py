"""The baselines every filter-pruning criterion is compared with, in the same space and at the same cost.

``l1``: keep the filters of largest L1 norm (Li et al., "Pruning Filters for
Efficient ConvNets", 2017), the classic data-free criterion. ``random``: keep
a uniformly random subset. A criterion that does not beat ``random`` at equal
FLOPs has not shown that *which* filters it keeps matters.
"""

from __future__ import annotations

import torch

from nasframe.tasks.compression.resnet import ResNet


def l1_scores(dense: ResNet) -> list[torch.Tensor]:
    """Per block, the L1 norm of every first-convolution filter."""
    return [block.conv1.weight.detach().abs().sum(dim=(1, 2, 3)) for block in dense.blocks]


def random_scores(dense: ResNet, generator: torch.Generator) -> list[torch.Tensor]:
    """Per block, a uniform random score per filter: keeping the top ones keeps a uniform random subset."""
    return [torch.rand(block.conv1.out_channels, generator=generator) for block in dense.blocks]


__all__ = ["l1_scores", "random_scores"]
