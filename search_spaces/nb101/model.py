"""The NAS-Bench-101 network as a torch module, faithful to the official builder.

Faithful means the same layers and channel arithmetic as NAS-Bench-101's
TensorFlow model, so that at the official configuration (stem 128, 3 stacks of
3 cells, 10 classes) the parameter count equals the ``trainable_parameters``
field of the published data for every cell; the test suite checks all 1,000
real records. Initialisation and batch-norm constants follow the official code
too, since they shape how the network trains.

Construction works on the meta device (``device="meta"`` or inside
``with torch.device("meta"):``), which allocates nothing: counting the
parameters of a full-size network then needs no memory and no
initialisation of its millions of floats.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from search_spaces.nb101.cell import NB101Cell
from search_spaces.nb101.parameters import network_parameters, parameter_counts, vertex_channels

#: PyTorch momentum equal to the official TensorFlow decay of 0.997
OFFICIAL_BN_MOMENTUM = 0.003
BN_EPSILON = 1e-5
#: stddev of a standard normal truncated at +-2, which TF's variance scaling divides out
_TRUNCATED_NORMAL_STD = 0.87962566103423978

Device = torch.device | str | None


def _official_conv(
    in_channels: int, out_channels: int, kernel_size: int, device: Device
) -> nn.Conv2d:
    """Same-padded conv without bias (batch norm's beta would cancel it), TF-initialised.

    The official model uses TensorFlow's fan-in variance scaling (a normal
    truncated at two stddevs, rescaled to variance 1/fan_in); PyTorch's default
    has a third of that variance, which slows early training of a deep ReLU
    stack. Initialising here rather than in a pass over the finished model
    keeps meta-device construction cheap.
    """
    conv = nn.Conv2d(
        in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False, device=device
    )
    std = math.sqrt(1.0 / (in_channels * kernel_size * kernel_size)) / _TRUNCATED_NORMAL_STD
    nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
    return conv


class ConvBnRelu(nn.Sequential):
    """Convolution, then affine batch norm (gamma 1, beta 0 as in TF), then ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        bn_momentum: float = OFFICIAL_BN_MOMENTUM,
        device: Device = None,
    ) -> None:
        super().__init__(
            _official_conv(in_channels, out_channels, kernel_size, device),
            nn.BatchNorm2d(out_channels, eps=BN_EPSILON, momentum=bn_momentum, device=device),
            nn.ReLU(inplace=True),
        )


def _operation(op: str, channels: int, bn_momentum: float, device: Device) -> nn.Module:
    """The module of one interior vertex; its input already has ``channels`` channels."""
    if op == "conv3x3-bn-relu":
        return ConvBnRelu(channels, channels, 3, bn_momentum=bn_momentum, device=device)
    if op == "conv1x1-bn-relu":
        return ConvBnRelu(channels, channels, 1, bn_momentum=bn_momentum, device=device)
    if op == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise ValueError(f"unknown NB101 operation {op!r}")


class NB101CellModule(nn.Module):
    """One cell: interior vertices sum their inputs, the output concatenates.

    Edges out of the input vertex go through a 1x1 conv-bn-relu projection to
    the destination's width; edges between interior vertices truncate to the
    destination's width (the leading channels, no parameters).
    """

    def __init__(
        self,
        cell: NB101Cell,
        in_channels: int,
        out_channels: int,
        *,
        bn_momentum: float = OFFICIAL_BN_MOMENTUM,
        device: Device = None,
    ) -> None:
        super().__init__()
        matrix = cell.matrix
        n = cell.num_vertices
        self.channels = vertex_channels(matrix, in_channels, out_channels)
        #: per vertex, the interior vertices feeding it
        self.sources = [[u for u in range(1, v) if matrix[u][v]] for v in range(n)]
        #: 1x1 projections of the cell input, keyed by destination vertex
        self.projections = nn.ModuleDict(
            {
                str(v): ConvBnRelu(
                    in_channels, self.channels[v], 1, bn_momentum=bn_momentum, device=device
                )
                for v in range(1, n)
                if matrix[0][v]
            }
        )
        self.ops = nn.ModuleList(
            _operation(cell.ops[v], self.channels[v], bn_momentum, device) for v in range(1, n - 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = len(self.channels) - 1
        values = [x]
        for v in range(1, out):
            width = self.channels[v]
            inputs = [values[u][:, :width] for u in self.sources[v]]
            if str(v) in self.projections:
                inputs.append(self.projections[str(v)](x))
            values.append(self.ops[v - 1](sum(inputs[1:], start=inputs[0])))
        parts = [values[u] for u in self.sources[out]]
        projected = self.projections[str(out)](x) if str(out) in self.projections else None
        if not parts:
            return projected
        result = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return result if projected is None else result + projected


class NB101Network(nn.Module):
    """Stem, stacks of identical cells with downsampling in between, pooled dense head.

    Before every stack but the first, a 2x2 stride-2 max-pool halves the
    resolution and the cells double the channels (the first cell of the stack
    widens; pooling itself has no parameters). ``ceil_mode`` matches
    TensorFlow's "same" padding when a side is odd.
    """

    def __init__(
        self,
        cell: NB101Cell,
        *,
        stem_channels: int,
        num_stacks: int,
        cells_per_stack: int,
        num_classes: int,
        in_channels: int,
        bn_momentum: float,
        device: Device,
    ) -> None:
        super().__init__()
        self.cell = cell
        layers: list[nn.Module] = [
            ConvBnRelu(in_channels, stem_channels, 3, bn_momentum=bn_momentum, device=device)
        ]
        channels = stem_channels
        for stack in range(num_stacks):
            width = channels if stack == 0 else 2 * channels
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
            for _ in range(cells_per_stack):
                layers.append(
                    NB101CellModule(cell, channels, width, bn_momentum=bn_momentum, device=device)
                )
                channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes, device=device)
        # TensorFlow's dense-layer defaults, as in the official model
        nn.init.xavier_uniform_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def build_nb101_model(
    cell: NB101Cell,
    *,
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
    num_classes: int = 10,
    in_channels: int = 3,
    bn_momentum: float = OFFICIAL_BN_MOMENTUM,
    device: Device = None,
) -> NB101Network:
    """The network of ``cell``; the defaults are the official CIFAR-10 configuration.

    Shrink ``stem_channels``/``num_stacks``/``cells_per_stack`` for cheap
    training; ``stem_channels`` must be at least the number of vertices
    feeding the output (at most 4, by the nine-edge limit), which the channel
    split needs. The official ``bn_momentum`` averages over ~300 steps: raise
    it (e.g. PyTorch's 0.1) for runs so short that the running statistics
    would otherwise lag.

    ``device`` is where the parameters are created; ``None`` follows torch's
    default, so ``with torch.device("meta"):`` works as well. ``"meta"``
    allocates nothing, for counting parameters; passing it here rather than
    through the context manager skips the Python-level dispatch the context
    adds to every tensor operation. Building
    on a GPU directly avoids initialising on the CPU and copying.
    """
    return NB101Network(
        cell,
        stem_channels=stem_channels,
        num_stacks=num_stacks,
        cells_per_stack=cells_per_stack,
        num_classes=num_classes,
        in_channels=in_channels,
        bn_momentum=bn_momentum,
        device=device,
    )


def count_parameters(module: nn.Module) -> int:
    """Trainable parameter count, as NAS-Bench-101's ``trainable_parameters`` defines it."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["build_nb101_model", "count_parameters", "network_parameters", "parameter_counts", "vertex_channels"]
