"""Lottery tickets: iterative magnitude pruning (IMP) with weight rewinding, on ``torch.nn.utils.prune`` masks.

IMP (Frankle & Carbin 2019; with rewinding, Frankle et al. 2020; for
recognition models, Chen et al., arXiv 2012.04643) repeats: train, remove the
smallest-magnitude surviving weights, *rewind* the survivors to their values
at initialisation or early in training, and train again. The final ticket is
the rewound, masked network, trained once more (here: by the trainer, with the
task's recipe).

The weights pruned are those of every convolution and of the classifier (the
stem included, as in the paper's ResNets); BatchNorm parameters and biases
are kept. Masks are ``torch.nn.utils.prune`` reparametrisations
(``weight_orig`` x ``weight_mask``), so a pruned weight stays zero through
training and a checkpoint of the model restores its masks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn
from torch.nn.utils import prune

from nasframe.tasks.compression.resnet import ResNet
from nasframe.tasks.compression.surgery import PruneError

#: trains a masked network in place (the lottery task passes the generic trainer)
TrainFn = Callable[[nn.Module], None]


def prunable(model: nn.Module) -> dict[str, nn.Module]:
    """The layers whose weights IMP prunes, by name: every ``Conv2d`` and ``Linear``."""
    return {name: m for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def effective_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every prunable layer's weight as the network uses it (masked where a mask is applied)."""
    return {name: m.weight.detach() for name, m in prunable(model).items()}


def magnitude_masks(weights: Mapping[str, torch.Tensor], sparsity: float, scope: str,
                    previous: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """0/1 masks removing the smallest-magnitude weights until ``sparsity`` of all of them are gone.

    ``scope="global"`` ranks all weights together, ``"layer"`` removes
    ``sparsity`` of each layer. Weights already masked in ``previous`` stay
    removed (IMP only ever removes more). Ties at the threshold are broken by
    position, so exactly the requested count goes.
    """
    if not 0 <= sparsity < 1:
        raise PruneError(f"lottery field 'sparsity': must be in [0, 1), got {sparsity}")
    if scope not in ("global", "layer"):
        raise PruneError(f"lottery field 'scope': 'global' or 'layer', got {scope!r}")
    previous = previous or {}
    scores = {name: torch.where(previous.get(name, torch.ones_like(w)).bool(), w.abs(), torch.full_like(w, -1.0))
              for name, w in weights.items()}
    groups = [list(scores)] if scope == "global" else [[name] for name in scores]
    masks: dict[str, torch.Tensor] = {}
    for group in groups:
        flat = torch.cat([scores[name].flatten() for name in group])
        removed = round(sparsity * flat.numel())
        mask = torch.ones_like(flat)
        if removed:
            mask[torch.argsort(flat, stable=True)[:removed]] = 0.0
        start = 0
        for name in group:
            size = scores[name].numel()
            masks[name] = mask[start:start + size].view_as(scores[name])
            start += size
    return masks


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """Attach ``masks`` to ``model``'s prunable layers as ``torch.nn.utils.prune`` masks (in place)."""
    layers = prunable(model)
    unknown = sorted(set(masks) - set(layers))
    if unknown:
        raise PruneError(f"lottery masks name layers the network does not have: {unknown}")
    for name, mask in masks.items():
        if prune.is_pruned(layers[name]):
            prune.remove(layers[name], "weight")
        prune.custom_from_mask(layers[name], "weight", mask.to(layers[name].weight.device))
    return model


def sparsity_of(model: nn.Module) -> float:
    """The share of prunable weights that are zero."""
    weights = effective_weights(model).values()
    total = sum(w.numel() for w in weights)
    return sum(int((w == 0).sum()) for w in weights) / max(total, 1)


def find_ticket(make_dense: Callable[[], ResNet], trained: Mapping[str, torch.Tensor],
                rewind: Mapping[str, torch.Tensor], round_sparsities: list[float], scope: str,
                train: TrainFn) -> ResNet:
    """IMP: from the ``trained`` dense weights, prune to each of ``round_sparsities`` in turn, rewinding the
    survivors to ``rewind`` and retraining (``train``) between rounds; returns the last rewound, masked
    network (untrained: the caller trains the ticket).

    ``make_dense`` builds an empty dense network of the base's shape.
    """
    current = make_dense()
    current.load_state_dict(trained)
    masks: dict[str, torch.Tensor] | None = None
    ticket = current
    for index, sparsity in enumerate(round_sparsities):
        masks = magnitude_masks(effective_weights(current), sparsity, scope, masks)
        ticket = make_dense()
        ticket.load_state_dict(rewind)
        apply_masks(ticket, masks)
        if index + 1 < len(round_sparsities):
            train(ticket)
            current = ticket
    return ticket


__all__ = ["apply_masks", "effective_weights", "find_ticket", "magnitude_masks", "prunable", "sparsity_of"]
