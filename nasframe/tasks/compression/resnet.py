"""The network every compression task prunes: a CIFAR-style ResNet (He et al. 2016, section 4.2).

A 3x3 stem, three stages of basic blocks (stride 1, 2, 2), global average
pooling and a linear classifier; shortcuts are identity, zero-padded and
subsampled where a stage changes width (the parameter-free "option A" of the
paper, what HRank's and FilterSketch's CIFAR ResNets use). ResNet-20 is
``blocks=3``, ResNet-56 ``blocks=9``.

Pruning removes filters of the *first* convolution of each basic block only
(the usual HRank / FilterSketch ResNet setting): the block's output, which the
shortcut adds to, keeps its width, so no residual shape changes. A pruned
network is therefore just this network built with thinner ``inner`` widths;
:mod:`nasframe.tasks.compression.surgery` fills it from the dense one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasframe.core.errors import InvalidSetting


@dataclass(frozen=True)
class ResNetConfig:
    """The dense network's shape: stage widths, blocks per stage, input channels and classes."""

    widths: tuple[int, int, int] = (16, 32, 64)
    blocks: int = 3
    in_channels: int = 1
    num_classes: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != 3 or any(w < 1 for w in self.widths):
            raise InvalidSetting(f"resnet field 'widths'={self.widths!r}: three positive stage widths")
        for name in ("blocks", "in_channels", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidSetting(f"resnet field {name!r}={value!r}: a positive integer")

    @property
    def num_blocks(self) -> int:
        return 3 * self.blocks

    def block_names(self) -> list[str]:
        """``stage{s}.block{b}`` of every basic block, in forward order (the prunable layers)."""
        return [f"stage{s}.block{b}" for s in range(3) for b in range(self.blocks)]

    def dense_inner(self) -> tuple[int, ...]:
        """Every block's first-convolution width in the dense network: its stage's width."""
        return tuple(w for w in self.widths for _ in range(self.blocks))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["widths"] = list(self.widths)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResNetConfig:
        return cls(**{**data, "widths": tuple(data["widths"])})


class BasicBlock(nn.Module):
    """conv3x3 (``inner`` filters, the prunable ones) - BN - ReLU - conv3x3 - BN, plus the shortcut."""

    def __init__(self, in_width: int, inner: int, out_width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_width, inner, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, out_width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_width)
        self.stride = stride
        self.pad = out_width - in_width

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad > 0:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


@dataclass
class _Widths:
    """The inner widths a network is built with (validated against its config)."""

    config: ResNetConfig
    inner: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        self.inner = tuple(self.inner) or self.config.dense_inner()
        if len(self.inner) != self.config.num_blocks:
            raise InvalidSetting(f"resnet field 'inner': {self.config.num_blocks} block widths "
                                 f"(3 stages x {self.config.blocks} blocks), got {len(self.inner)}")
        for name, width in zip(self.config.block_names(), self.inner):
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise InvalidSetting(f"resnet field 'inner' of {name}: a positive number of filters, got {width!r}")


class ResNet(nn.Module):
    """The CIFAR-style ResNet of ``config``; ``inner`` gives each block's first-conv width (default: dense)."""

    def __init__(self, config: ResNetConfig, inner: tuple[int, ...] | list[int] = ()) -> None:
        super().__init__()
        self.config = config
        self.inner = _Widths(config, tuple(inner)).inner
        w0 = config.widths[0]
        self.stem = nn.Conv2d(config.in_channels, w0, 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(w0)
        blocks, width, index = [], w0, 0
        for stage, out_width in enumerate(config.widths):
            for b in range(config.blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                blocks.append(BasicBlock(width, self.inner[index], out_width, stride))
                width, index = out_width, index + 1
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(width, config.num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.stem_bn(self.stem(x)))
        for block in self.blocks:
            out = block(out)
        return self.fc(out.mean(dim=(2, 3)))


__all__ = ["BasicBlock", "ResNet", "ResNetConfig"]
