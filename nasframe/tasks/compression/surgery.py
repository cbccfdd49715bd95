"""Filter pruning as network surgery: a thinner ResNet filled from the dense one.

Every method in this package decides, per basic block, what the block's first
convolution becomes: a *selection* of the dense filters (HRank, L1 norm,
random), or *new* filters (FilterSketch's sketch). Either way the pruned
network is :class:`~nasframe.tasks.compression.resnet.ResNet` built with the
smaller ``inner`` widths, every other weight copied unchanged, so a block
pruned by nothing computes exactly what it did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nasframe.core.errors import InvalidSetting
from nasframe.tasks.compression.resnet import ResNet, ResNetConfig


class PruneError(InvalidSetting):
    """A prune request the network cannot honour (a ratio out of range, a layer left with no filter...)."""


def check_ratio(name: str, ratio: float) -> float:
    """``ratio`` as a float in [0, 1); a :class:`PruneError` naming ``name`` otherwise."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= float(ratio) < 1:
        raise PruneError(f"prune ratio of {name}: must be a number in [0, 1), got {ratio!r}")
    return float(ratio)


def kept_filters(config: ResNetConfig, ratios: Sequence[float]) -> list[int]:
    """Filters each block keeps under one prune ratio per block: ``floor((1 - ratio) * width)``.

    Raises :class:`PruneError` for a wrong number of ratios, a ratio outside
    [0, 1) or a block left with no filter (the network would be cut in two).
    """
    names = config.block_names()
    if len(ratios) != len(names):
        raise PruneError(f"prune ratios: one per block ({len(names)} for 3 stages x {config.blocks} blocks), "
                         f"got {len(ratios)}")
    kept = []
    for name, ratio, width in zip(names, ratios, config.dense_inner()):
        count = math.floor((1.0 - check_ratio(name, ratio)) * width + 1e-9)
        if count < 1:
            raise PruneError(f"prune ratio {ratio} of {name} leaves none of its {width} filters; "
                             f"the largest ratio it takes is {1 - 1 / width:.3f}")
        kept.append(count)
    return kept


@dataclass
class BlockFilters:
    """What one block's first convolution becomes: its weight, its BatchNorm's state (``None``: fresh) and
    the second convolution's weight over the new channels."""

    conv1: torch.Tensor
    bn1: dict[str, torch.Tensor] | None
    conv2: torch.Tensor


def selected(block: torch.nn.Module, keep: torch.Tensor) -> BlockFilters:
    """The filters ``keep`` (indices) of ``block``, with their BatchNorm channels and the matching inputs of conv2."""
    keep = keep.sort().values
    bn = block.bn1
    state = {"weight": bn.weight.detach()[keep], "bias": bn.bias.detach()[keep],
             "running_mean": bn.running_mean[keep], "running_var": bn.running_var[keep]}
    return BlockFilters(block.conv1.weight.detach()[keep], state, block.conv2.weight.detach()[:, keep])


def top_filters(scores: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the ``count`` highest ``scores``, ties to the lower index (so the choice is reproducible)."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return torch.tensor(order[:count], dtype=torch.long)


def rebuild(dense: ResNet, blocks: Sequence[BlockFilters]) -> ResNet:
    """A new network whose blocks' first convolutions are ``blocks``; every other weight copied from ``dense``."""
    if len(blocks) != len(dense.blocks):
        raise PruneError(f"surgery: {len(dense.blocks)} blocks in the network, {len(blocks)} given")
    pruned = ResNet(dense.config, [int(b.conv1.shape[0]) for b in blocks])
    state = {k: v for k, v in dense.state_dict().items()
             if ".conv1." not in k and ".bn1." not in k and not k.endswith(".conv2.weight")}
    pruned.load_state_dict(state, strict=False)
    with torch.no_grad():
        for new, old, filters in zip(pruned.blocks, dense.blocks, blocks):
            new.conv1.weight.copy_(filters.conv1)
            new.conv2.weight.copy_(filters.conv2)
            if filters.bn1 is not None:
                for name, value in filters.bn1.items():
                    getattr(new.bn1, name).copy_(value)
                new.bn1.num_batches_tracked.copy_(old.bn1.num_batches_tracked)
    return pruned


def prune_by_scores(dense: ResNet, scores: Sequence[torch.Tensor], kept: Sequence[int]) -> ResNet:
    """Keep, in each block, the ``kept[i]`` filters of highest ``scores[i]`` (one score per dense filter)."""
    for name, block, score in zip(dense.config.block_names(), dense.blocks, scores):
        if len(score) != block.conv1.out_channels:
            raise PruneError(f"scores of {name}: one per filter ({block.conv1.out_channels}), got {len(score)}")
    return rebuild(dense, [selected(block, top_filters(score, count))
                           for block, score, count in zip(dense.blocks, scores, kept)])


__all__ = ["BlockFilters", "PruneError", "check_ratio", "kept_filters", "prune_by_scores", "rebuild", "selected",
           "top_filters"]
