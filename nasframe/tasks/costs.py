"""Costs measured on a built network: parameters, non-zero parameters, FLOPs.

FLOPs are counted by torch's own ``FlopCounterMode`` on one forward pass of a
single example (so they include every op torch dispatches, and nothing we
would have to keep in sync by hand), and reported as multiply-accumulates x 2,
torch's convention. Papers that quote "FLOPs" for ResNets usually mean MACs:
halve ours to compare.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: torch.nn.Module) -> int:
    """Trainable parameters (pruning masks of ``torch.nn.utils.prune`` are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_nonzero(model: torch.nn.Module) -> int:
    """Parameters that are not zero in the effective weights (a masked weight counts its zeros as pruned)."""
    total = 0
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            effective = getattr(module, name.removesuffix("_orig"), param) if name.endswith("_orig") else param
            total += int(torch.count_nonzero(effective.detach()))
    return total


@torch.no_grad()
def count_flops(model: torch.nn.Module, example: torch.Tensor) -> int:
    """FLOPs of one forward pass on ``example`` (a batch of one), in eval mode; the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
