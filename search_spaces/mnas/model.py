"""The Accel-NASBench (MnasNet / EfficientNet-B0 skeleton) network for an :class:`MnasArch`.

Layer by layer as :mod:`search_spaces.mnas.plan` describes it, with the
benchmark's GPU settings: SiLU activations (``activation="relu"`` gives its
FPGA variant), squeeze-excite with a SiLU inside and a sigmoid gate,
stochastic depth growing linearly to 0.2 over the layers (training only),
dropout 0.2 before the classifier, and the benchmark's initialisation
(Kaiming-normal fan-out convs, unit batch norms, uniform +-1/sqrt(classes)
linear weights). Its parameter count is
:func:`~search_spaces.mnas.plan.count_parameters`, which matches the
benchmark's ``model_info.params`` for every record.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from search_spaces.mnas.arch import MnasArch
from search_spaces.mnas.plan import (
    DROPOUT,
    HEAD_CHANNELS,
    OUT_CHANNELS,
    STEM_CHANNELS,
    STOCHASTIC_DEPTH,
    LayerPlan,
    layer_plan,
)

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU}


def _conv_bn(
    c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, activation=None
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Global pool, 1x1 conv down, activation, 1x1 conv up, sigmoid gate."""

    def __init__(self, channels: int, squeeze: int, activation) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.mean(x, dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(self.activation(self.fc1(scale))))


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand], kxk depthwise, [squeeze-excite], 1x1 project."""

    def __init__(self, plan: LayerPlan, drop_path: float, activation) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if plan.expanded != plan.in_channels:
            layers.append(_conv_bn(plan.in_channels, plan.expanded, 1, activation=activation))
        layers.append(
            _conv_bn(
                plan.expanded, plan.expanded, plan.kernel, plan.stride,
                groups=plan.expanded, activation=activation,
            )
        )
        if plan.squeeze:
            layers.append(SqueezeExcite(plan.expanded, plan.squeeze, activation))
        layers.append(_conv_bn(plan.expanded, plan.out_channels, 1))
        self.block = nn.Sequential(*layers)
        self.residual = plan.residual
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if not self.residual:
            return out
        if self.training and self.drop_path > 0.0:
            keep = 1.0 - self.drop_path
            mask = torch.empty(out.shape[0], 1, 1, 1, dtype=out.dtype, device=out.device).bernoulli_(keep)
            out = out * mask / keep
        return out + x


class MnasNet(nn.Module):
    """Stem, the seven stages of ``arch``, head, pooled linear classifier: image logits."""

    def __init__(
        self,
        arch: MnasArch,
        num_classes: int = 1000,
        *,
        dropout: float = DROPOUT,
        stochastic_depth: float = STOCHASTIC_DEPTH,
        activation: str = "silu",
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        act = ACTIVATIONS[activation]
        plan = layer_plan(arch)
        self.stem = _conv_bn(3, STEM_CHANNELS, 3, 2, activation=act)
        stages: list[list[nn.Module]] = [[] for _ in arch.blocks]
        for index, layer in enumerate(plan):
            stages[layer.stage].append(MBConv(layer, stochastic_depth * index / len(plan), act))
        self.stages = nn.Sequential(*(nn.Sequential(*s) for s in stages))
        self.head = _conv_bn(OUT_CHANNELS[-1], HEAD_CHANNELS, 1, activation=act)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.out_features)
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.stages(self.stem(x)))
        return self.classifier(self.dropout(torch.flatten(torch.mean(x, dim=(2, 3)), 1)))


def build_mnas_model(arch: MnasArch, num_classes: int = 1000, **config) -> MnasNet:
    """The network of ``arch``; ``config``: ``dropout``, ``stochastic_depth``, ``activation``."""
    return MnasNet(arch, num_classes, **config)


__all__ = ["MBConv", "MnasNet", "SqueezeExcite", "build_mnas_model"]
