"""The DARTS CIFAR network (DARTS's ``NetworkCIFAR``) for a :class:`DARTSGenotype`.

Layout, as in DARTS's evaluation network: a 3x3 conv stem with
``3 * init_channels`` channels and batch norm; ``layers`` cells, where the
cells at ``layers // 3`` and ``2 * layers // 3`` are reduction cells (stride
2, channels doubled); global average pooling and a linear classifier. Each
cell first maps its two inputs to ``C`` channels (a 1x1 ReLU-conv-BN, or a
FactorizedReduce for c_{k-2} when the previous cell halved the resolution),
then computes its four nodes and concatenates them (``4 * C`` channels).

Defaults are NAS-Bench-301's training network: ``init_channels=32`` and
``layers=8`` (DARTS's final CIFAR-10 model is 36 and 20). NB301 trained with
the auxiliary tower and drop-path 0.2; both are off by default so that the
module is a plain classifier (``forward`` returns logits) unless asked.

Two deliberate generalisations of DARTS, identical to it on 32x32 inputs:
FactorizedReduce zero-pads its shifted branch, so odd resolutions work too,
and the auxiliary head ends with a global average pool, so it accepts feature
maps larger than DARTS's 8x8 (it needs at least 8x8 after the second reduction,
i.e. inputs of 29 pixels or more).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from search_spaces.darts.genotype import CELL_TYPES, NODES, NUM_INPUTS, Cell, DARTSGenotype

#: the stem widens to this many times ``init_channels`` (hard-coded in DARTS too)
STEM_MULTIPLIER = 3


class ReLUConvBN(nn.Sequential):
    """ReLU, 1x1 convolution without bias (batch norm follows), batch norm: a cell's preprocessing."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing every other pixel.

    Two stride-2 1x1 convolutions, the second on the input shifted by one
    pixel, concatenated: together they see every pixel of each 2x2 block's
    diagonal. The shifted branch zero-pads at the far edge so both branches
    have the same size for odd inputs too (on even inputs this is DARTS's
    ``x[:, :, 1:, 1:]``).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


def _separable(channels: int, kernel_size: int, stride: int, dilation: int) -> nn.Sequential:
    """ReLU, depthwise (possibly dilated) conv, pointwise conv, batch norm."""
    padding = dilation * (kernel_size - 1) // 2
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(
            channels, channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=channels, bias=False,
        ),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels),
    )


def _sep_conv(channels: int, kernel_size: int, stride: int) -> nn.Sequential:
    """DARTS's sep_conv: two separable blocks, only the first strided."""
    return nn.Sequential(
        _separable(channels, kernel_size, stride, dilation=1),
        _separable(channels, kernel_size, 1, dilation=1),
    )


#: op name -> module builder(channels, stride); pools are BN-free as in DARTS's evaluation network
OPERATIONS: dict[str, Callable[[int, int], nn.Module]] = {
    "max_pool_3x3": lambda c, stride: nn.MaxPool2d(3, stride=stride, padding=1),
    "avg_pool_3x3": lambda c, stride: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "skip_connect": lambda c, stride: nn.Identity() if stride == 1 else FactorizedReduce(c, c),
    "sep_conv_3x3": lambda c, stride: _sep_conv(c, 3, stride),
    "sep_conv_5x5": lambda c, stride: _sep_conv(c, 5, stride),
    "dil_conv_3x3": lambda c, stride: _separable(c, 3, stride, dilation=2),
    "dil_conv_5x5": lambda c, stride: _separable(c, 5, stride, dilation=2),
}


def drop_path(x: torch.Tensor, prob: float) -> torch.Tensor:
    """Zero whole samples of an op's output with probability ``prob``, rescaling the rest."""
    keep = 1.0 - prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class DARTSCell(nn.Module):
    """One normal or reduction cell: eight ops into four summed nodes, concatenated."""

    def __init__(
        self, cell: Cell, c_prev_prev: int, c_prev: int, channels: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (
            FactorizedReduce(c_prev_prev, channels) if reduction_prev else ReLUConvBN(c_prev_prev, channels)
        )
        self.preprocess1 = ReLUConvBN(c_prev, channels)
        self.sources = tuple(source for _, source in cell)
        # only edges out of the cell inputs change resolution in a reduction cell
        self.ops = nn.ModuleList(
            OPERATIONS[op](channels, 2 if reduction and source < NUM_INPUTS else 1) for op, source in cell
        )
        self.out_channels = len(NODES) * channels

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for v in range(len(NODES)):
            total = None
            for e in (2 * v, 2 * v + 1):
                op = self.ops[e]
                h = op(states[self.sources[e]])
                # identities are never dropped, as in DARTS: dropping them removes no capacity
                if self.training and drop_prob > 0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                total = h if total is None else total + h
            states.append(total)
        return torch.cat(states[NUM_INPUTS:], dim=1)


class AuxiliaryHead(nn.Sequential):
    """DARTS's CIFAR auxiliary classifier, for the 8x8 maps after the second reduction."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),  # identity on 8x8 inputs (1x1 here), general elsewhere
            nn.Flatten(),
            nn.Linear(768, num_classes),
        )


class DARTSNetwork(nn.Module):
    """Stem, ``layers`` cells with two reduction cells, pooled linear classifier.

    ``forward(x)`` returns logits; with ``auxiliary=True`` and in training
    mode it returns ``(logits, aux_logits)``. Drop-path applies in training
    mode with probability ``drop_path_prob`` (the attribute, which training
    loops usually ramp up per epoch, or the ``drop_path_prob`` argument of
    ``forward``).
    """

    def __init__(
        self,
        genotype: DARTSGenotype,
        *,
        init_channels: int = 32,
        layers: int = 8,
        num_classes: int = 10,
        in_channels: int = 3,
        auxiliary: bool = False,
        drop_path_prob: float = 0.0,
    ) -> None:
        super().__init__()
        if layers < 3:
            raise ValueError(
                f"layers must be at least 3 (two reduction cells and a normal one), got {layers}"
            )
        if not 0.0 <= drop_path_prob < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {drop_path_prob}")
        self.genotype = genotype
        self.drop_path_prob = drop_path_prob
        self.reduction_layers = (layers // 3, 2 * layers // 3)
        stem_channels = STEM_MULTIPLIER * init_channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(stem_channels),
        )
        c_prev_prev, c_prev, channels = stem_channels, stem_channels, init_channels
        reduction_prev = False
        self.cells = nn.ModuleList()
        aux_channels = 0
        for i in range(layers):
            reduction = i in self.reduction_layers
            if reduction:
                channels *= 2
            cell = DARTSCell(
                genotype.cell(CELL_TYPES[reduction]), c_prev_prev, c_prev, channels, reduction, reduction_prev
            )
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.out_channels
            if i == self.reduction_layers[1]:
                aux_channels = c_prev
        self.auxiliary_head = AuxiliaryHead(aux_channels, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(
        self, x: torch.Tensor, drop_path_prob: float | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        prob = self.drop_path_prob if drop_path_prob is None else drop_path_prob
        aux_logits = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, prob)
            if i == self.reduction_layers[1] and self.auxiliary_head is not None and self.training:
                aux_logits = self.auxiliary_head(s1)
        logits = self.classifier(torch.flatten(self.global_pooling(s1), 1))
        return logits if aux_logits is None else (logits, aux_logits)


def build_darts_model(
    genotype: DARTSGenotype,
    *,
    init_channels: int = 32,
    layers: int = 8,
    num_classes: int = 10,
    in_channels: int = 3,
    auxiliary: bool = False,
    drop_path_prob: float = 0.0,
) -> DARTSNetwork:
    """The DARTS CIFAR network of ``genotype``; defaults are NB301's 32 channels, 8 cells.

    For NB301's training recipe pass ``auxiliary=True, drop_path_prob=0.2``
    (weight the auxiliary loss by 0.4, as DARTS does).
    """
    return DARTSNetwork(
        genotype,
        init_channels=init_channels,
        layers=layers,
        num_classes=num_classes,
        in_channels=in_channels,
        auxiliary=auxiliary,
        drop_path_prob=drop_path_prob,
    )
