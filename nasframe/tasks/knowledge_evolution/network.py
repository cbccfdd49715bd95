"""The split network of Knowledge Evolution (KELS, kernel-level convolutional-aware splitting).

The network is a small VGG-style CNN (the paper splits ResNets and VGG11-bn;
a plain stack keeps the split exact and cheap on a CPU): three stages of
``layers`` conv3x3-BN-ReLU units of widths ``C, 2C, 4C``, a 2x2 max-pool
after the first two stages, global average pooling and a linear classifier.

KELS splits every layer the way the official code does
(``layers/conv_type.py`` of github ahmdtaha/knowledge_evolution): in a
convolution of ``O`` filters over ``I`` channels, the fit hypothesis is the
first ``ceil(k O)`` filters restricted to the first ``ceil(k I)`` input
channels (all input channels for the first convolution, which sees the
image); in the classifier, every class over the first ``ceil(k I)``
features. Because the fit part of a layer reads only the fit part of the
layer before, the fit hypothesis alone *is* a smaller dense network, the
slim network (:func:`extract_slim`). At the start of every generation after
the first, the weights outside the fit hypothesis are drawn again (PyTorch's
default initialisation, as the official ``split_reinitialize``); BatchNorm
and the classifier's bias are kept, as there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from nasframe.core.errors import InvalidSetting


@dataclass(frozen=True)
class ConvNetConfig:
    """The network's shape: stage widths, conv units per stage, input channels, classes."""

    widths: tuple[int, ...]
    layers: int = 1
    in_channels: int = 1
    num_classes: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) < 1 or any(w < 1 for w in self.widths):
            raise InvalidSetting(f"knowledge-evolution network field 'widths'={self.widths!r}: positive widths")
        for name in ("layers", "in_channels", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidSetting(f"knowledge-evolution network field {name!r}={value!r}: a positive integer")

    @classmethod
    def from_channels(cls, channels: int, layers: int, in_channels: int, num_classes: int) -> "ConvNetConfig":
        """The family's network for a recipe's ``channels`` (first stage width) and ``layers`` (units per stage)."""
        return cls((channels, 2 * channels, 4 * channels), layers, in_channels, num_classes)

    def slim(self, split_rate: float) -> "ConvNetConfig":
        """The shape of the fit hypothesis alone: every width cut to its fit size."""
        return replace(self, widths=tuple(fit_size(w, split_rate) for w in self.widths))


def fit_size(n: int, split_rate: float) -> int:
    """``ceil(k n)``, the official rounding, without float noise (``0.3 * 10`` is 3.0000000000000004)."""
    return max(1, math.ceil(round(n * split_rate, 6)))


class ConvNet(nn.Module):
    """The dense (or slim) network; see the module docstring."""

    def __init__(self, config: ConvNetConfig) -> None:
        super().__init__()
        self.config = config
        units: list[nn.Module] = []
        width = config.in_channels
        for stage, out in enumerate(config.widths):
            for _ in range(config.layers):
                units += [nn.Conv2d(width, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                width = out
            if stage < len(config.widths) - 1:
                units.append(nn.MaxPool2d(2, ceil_mode=True))  # ceil: a 5-pixel map still halves to 3, never 0
        self.features = nn.Sequential(*units)
        self.classifier = nn.Linear(width, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))

    def convs(self) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
        """Every convolution with its BatchNorm, in forward order."""
        modules = list(self.features)
        return [(m, modules[i + 1]) for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]


def fit_masks(net: ConvNet, split_rate: float) -> list[tuple[nn.Module, torch.Tensor]]:
    """Every split layer with its boolean fit mask (True: kept across generations), convolutions then classifier."""
    out = []
    for i, (conv, _) in enumerate(net.convs()):
        mask = torch.zeros_like(conv.weight, dtype=torch.bool)
        inputs = conv.in_channels if i == 0 else fit_size(conv.in_channels, split_rate)
        mask[:fit_size(conv.out_channels, split_rate), :inputs] = True
        out.append((conv, mask))
    mask = torch.zeros_like(net.classifier.weight, dtype=torch.bool)
    mask[:, :fit_size(net.classifier.in_features, split_rate)] = True
    out.append((net.classifier, mask))
    return out


@torch.no_grad()
def reset_hypothesis(net: ConvNet, split_rate: float) -> None:
    """Draw every weight outside the fit hypothesis again (PyTorch's default init of conv and linear weights)."""
    for layer, mask in fit_masks(net, split_rate):
        fresh = torch.empty_like(layer.weight)
        nn.init.kaiming_uniform_(fresh, a=math.sqrt(5))
        layer.weight.copy_(torch.where(mask, layer.weight, fresh))


@torch.no_grad()
def extract_slim(net: ConvNet, split_rate: float) -> ConvNet:
    """The fit hypothesis as a dense network of its own (weights and BatchNorm statistics copied)."""
    slim = ConvNet(net.config.slim(split_rate)).to(net.classifier.weight.device)
    slim.train(net.training)
    for (conv, bn), (small, small_bn) in zip(net.convs(), slim.convs()):
        small.weight.copy_(conv.weight[:small.out_channels, :small.in_channels])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(small_bn, name).copy_(getattr(bn, name)[:small.out_channels])
        small_bn.num_batches_tracked.copy_(bn.num_batches_tracked)
    slim.classifier.weight.copy_(net.classifier.weight[:, :slim.classifier.in_features])
    slim.classifier.bias.copy_(net.classifier.bias)
    return slim


def generation_starts(generations: int, epochs: int) -> tuple[int, ...]:
    """The first epoch of every generation when ``epochs`` are shared by ``generations`` (as evenly as whole
    epochs allow: generation ``g`` starts at ``floor(g E / G)``)."""
    if generations > epochs:
        raise InvalidSetting(f"knowledge-evolution: generations={generations} need at least as many epochs; the "
                             f"recipe field 'epochs'={epochs} is the budget of all generations together")
    return tuple(g * epochs // generations for g in range(generations))


class SplitNetwork(nn.Module):
    """A :class:`ConvNet` with its split and its generations: the model the trainer trains.

    ``generation`` (a buffer, so a checkpoint holds it) is the 0-based index
    of the generation the weights are in; :meth:`start_epoch` moves it on and
    re-initialises the reset hypothesis when an epoch opens a new generation.
    """

    def __init__(self, config: ConvNetConfig, split_rate: float, starts: tuple[int, ...],
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        if isinstance(split_rate, bool) or not isinstance(split_rate, (int, float)) or not 0 < split_rate < 1:
            raise InvalidSetting(f"knowledge-evolution: split rate 'k'={split_rate!r} must be in (0, 1)")
        self.net = ConvNet(config)
        self.split_rate, self.starts, self.label_smoothing = split_rate, tuple(starts), label_smoothing
        self.register_buffer("generation", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def generation_of(self, epoch: int) -> int:
        return sum(1 for s in self.starts if s <= epoch) - 1

    def start_epoch(self, epoch: int) -> bool:
        """Enter ``epoch``'s generation; True if it is a new one (the reset hypothesis was re-initialised)."""
        target = self.generation_of(epoch)
        if target <= int(self.generation):
            return False
        reset_hypothesis(self.net, self.split_rate)
        self.generation.fill_(target)
        return True

    def slim(self) -> ConvNet:
        return extract_slim(self.net, self.split_rate)
