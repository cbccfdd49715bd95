"""The NAS-Bench-201 network (torch) for an :class:`NB201Cell`.

The macro skeleton every NB201 result was trained with (Dong & Yang 2020,
their ``TinyNetwork``):

* stem: 3x3 convolution to ``C`` channels (no bias) and BatchNorm;
* three stages of ``N`` cells at ``C``, ``2C`` and ``4C`` channels (NB201: 16,
  32, 64 and N = 5), separated by residual reduction blocks: a stride-2
  ReLU-Conv3x3-BN then a ReLU-Conv3x3-BN, added to a 2x2 average pool followed
  by a 1x1 convolution of the block's input;
* BatchNorm, ReLU, global average pool, linear classifier.

Inside a cell node ``j`` sums ``op(node i)`` over its input edges. Operations
(stride 1, channels kept): ``nor_conv_kxk`` is ReLU, kxk convolution (no
bias), BatchNorm (affine); ``avg_pool_3x3`` a 3x3 average pool that does not
count the padding; ``skip_connect`` the identity; ``none`` zero (no module).
With NB201's shape the parameter count equals NB201's ``params`` for the real
records of ``naslib_zc_nasbench201.json`` (``tests/test_nb201.py``).
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch
from torch import nn

from search_spaces.nb201.cell import EDGES, NONE, NUM_NODES, NB201Cell, check_ops


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution without bias, affine BatchNorm: NB201's parametric op."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


def make_op(name: str, channels: int) -> nn.Module:
    """The module of one non-``none`` edge operation."""
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity()
    raise ValueError(f"no module for NB201 operation {name!r}")


class Cell(nn.Module):
    """One NB201 cell: node ``t`` sums ``op(node s)`` over the non-``none`` edges ``s -> t``."""

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        self.edges = [(s, t) for (s, t), op in zip(EDGES, ops) if op != NONE]
        self.ops = nn.ModuleList(make_op(op, channels) for op in ops if op != NONE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in range(1, NUM_NODES):
            terms = [op(nodes[s]) for (s, t), op in zip(self.edges, self.ops) if t == target]
            nodes.append(torch.stack(terms).sum(0) if terms else torch.zeros_like(x))
        return nodes[-1]


class ResidualReduction(nn.Module):
    """NB201's reduction block: a stride-2 basic residual block with a pooled 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """Stem, three stages of cells with residual reductions between them, classifier."""

    def __init__(self, ops: Sequence[str], channels: int, cells_per_stage: int, num_classes: int,
                 in_channels: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        layers: list[nn.Module] = []
        width = channels
        for stage in range(3):
            if stage:
                layers.append(ResidualReduction(width, width * 2))
                width *= 2
            layers += [Cell(ops, width) for _ in range(cells_per_stage)]
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.cells(self.stem(x))).flatten(1))


def build_nb201_model(
    cell: NB201Cell | Sequence[str],
    channels: int = 16,
    cells_per_stage: int = 5,
    num_classes: int = 10,
    in_channels: int = 3,
    device: str | torch.device | None = None,
) -> NB201Network:
    """The NB201 network of ``cell`` (NB201: ``channels=16``, ``cells_per_stage=5``;
    CIFAR-100: 100 classes, ImageNet16-120: 120).

    An :class:`NB201Cell` builds its stored representative, whose dead edges
    are ``none`` (no module). A raw spelling (six op names, in official edge
    order) builds exactly as written, dead branches included: that is the
    network NB201 trained, whose ``params`` it records.
    """
    ops = cell.ops if isinstance(cell, NB201Cell) else check_ops(cell)
    if channels < 1 or cells_per_stage < 1:
        raise ValueError(f"channels and cells_per_stage must be >= 1, got {channels}, {cells_per_stage}")
    with torch.device(device) if device is not None else contextlib.nullcontext():
        return NB201Network(ops, channels, cells_per_stage, num_classes, in_channels)


__all__ = ["NB201Network", "build_nb201_model", "make_op"]
