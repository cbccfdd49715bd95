"""The ENAS macro network (ENAS's ``GeneralChild``) for an :class:`ENASArch`.

Layout, as in ENAS's ``general_child.py`` with a fixed architecture (the
network ENAS and D-VAE train from scratch to evaluate one architecture):

* stem: 3x3 convolution ``in_channels -> channels`` (no bias) and batch norm;
* ``N`` layers; layer ``i`` applies its op to the previous output (the stem's
  for layer 0) and, for ``i > 0``, merges in the DAG nodes its skip bits
  select (bit ``j``: node ``j``, i.e. the stem for ``j = 0`` and layer
  ``j - 1`` otherwise, see :mod:`search_spaces.enas.arch`);
* after the layers in :func:`reduction_layers` (ENAS's ``pool_layers``:
  ``N//3 - 1`` and ``2*(N//3) - 1``, i.e. after layers 1 and 3 for ``N = 6``,
  3 and 7 for ``N = 12``, none for ``N < 3``) every kept output is halved in
  resolution by a factorized reduction that doubles its channels, so later
  skips see matching shapes;
* global average pool, dropout, linear classifier without bias (ENAS's ``fc``).

Operations (ENAS's fixed layer): a convolution op is a 1x1 ReLU-conv-BN
projection followed by a ReLU-conv-BN with the op's kernel; a separable op
uses a depthwise then a pointwise convolution there. Pools are 3x3, stride 1,
applied to the input directly and followed by nothing; average pooling does
not count padding (TensorFlow's ``SAME`` pooling). Convolutions have no bias
and He-normal (fan-in) weights, as ENAS's ``create_weight``.

Merging skips, ``skip_merge``:

* ``"concat"`` (default): ENAS's fixed-architecture layer, ``concat(selected
  earlier outputs, op output)`` then ReLU, 1x1 convolution back to the
  layer's channels, batch norm; applied on every layer after the first, even
  with no bit set. This is what "train this architecture" means in ENAS and
  in D-VAE's ``fully_train_ENAS.py``, and the skip bits change the network's
  capacity there (each selected input widens the 1x1 conv).
* ``"sum"``: the merge of ENAS's weight-sharing supernet, the sum of the op
  output and the selected earlier outputs, then batch norm. The supernet
  produced the accuracies in D-VAE's data file, so this mode is the closer
  one to that data's source (only the merge: the supernet's op branches are
  post-activation and its pools start with a 1x1 conv); skips then add no
  parameters except the reductions they keep alive.

Deliberate differences from ENAS, none changing the function computed:
ENAS factor-reduces *every* earlier output at a reduction layer, also those no
later layer reads; here only outputs a later layer reads are reduced, so that
no parameter is left without gradient. ENAS's fixed-architecture code builds
its two "separable" ops as ordinary convolutions (its branch for ops 0..3
only picks the kernel size); here they are separable, as in the supernet and
the ENAS paper. The defaults, ``channels=36`` and ``dropout=0.1``, are ENAS's
macro-search settings (``child_out_filters=36``, ``child_keep_prob=0.9``);
D-VAE fully trains its six-layer finds with ``channels=96, dropout=0.5``.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from search_spaces.enas.arch import OPS, ENASArch

SKIP_MERGES = ("concat", "sum")


def reduction_layers(num_layers: int) -> tuple[int, ...]:
    """Layers after which ENAS halves the resolution (its ``pool_layers``)."""
    distance = num_layers // 3
    return () if distance == 0 else (distance - 1, 2 * distance - 1)


def _relu_conv_bn(c_in: int, c_out: int, kernel_size: int) -> list[nn.Module]:
    return [
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(c_out),
    ]


def _relu_sep_conv_bn(channels: int, kernel_size: int) -> list[nn.Module]:
    return [
        nn.ReLU(inplace=False),
        nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels, bias=False),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels),
    ]


def operation(op: int, channels: int) -> nn.Module:
    """Op ``op`` (index into :data:`OPS`) on ``channels`` channels, resolution kept."""
    name = OPS[op]
    if name == "avg_pool3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "max_pool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    kernel_size = 3 if name.endswith("3x3") else 5
    body = (
        _relu_sep_conv_bn(channels, kernel_size)
        if name.startswith("sep_")
        else _relu_conv_bn(channels, channels, kernel_size)
    )
    return nn.Sequential(*_relu_conv_bn(channels, channels, 1), *body)


class FactorizedReduce(nn.Module):
    """ENAS's factorized reduction: half the resolution, ``c_in -> c_out`` channels.

    Two stride-2 1x1 convolutions, the second on the input shifted by one
    pixel (zero-padded at the far edge), concatenated and batch-normalised;
    together they see pixels a plain stride-2 conv would drop. Unlike DARTS's
    version there is no leading ReLU.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.path1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.path2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.path1(x), self.path2(shifted)], dim=1))


class ENASLayer(nn.Module):
    """One layer: its op on the previous output, then the skip merge (layers > 0)."""

    def __init__(self, op: int, skip_bits: Sequence[int], channels: int, skip_merge: str) -> None:
        super().__init__()
        self.op = operation(op, channels)
        #: DAG nodes (0 = stem, j = layer j - 1) merged into this layer's output
        self.sources = tuple(j for j, bit in enumerate(skip_bits) if bit)
        self.skip_merge = skip_merge
        self.merge: nn.Module | None = None
        if len(skip_bits) > 0:  # ENAS merges on every layer but the first
            if skip_merge == "concat":
                self.merge = nn.Sequential(*_relu_conv_bn((len(self.sources) + 1) * channels, channels, 1))
            else:
                self.merge = nn.BatchNorm2d(channels)

    def forward(self, states: Sequence[torch.Tensor | None]) -> torch.Tensor:
        """``states[k]`` is DAG node ``k``'s output so far; the last one is this layer's input."""
        previous = states[-1]
        assert previous is not None
        out = self.op(previous)
        if self.merge is None:
            return out
        skipped = [states[j] for j in self.sources]
        if self.skip_merge == "concat":
            return self.merge(torch.cat([*skipped, out], dim=1))
        for tensor in skipped:
            out = out + tensor
        return self.merge(out)


class ENASNetwork(nn.Module):
    """Stem, the architecture's ``N`` layers with ENAS's reductions, pooled linear head.

    ``forward(x)`` returns logits. ``reduction_layers`` lists the layers
    after which the resolution halves; ``out_channels`` is the classifier's
    input width (``channels * 2 ** len(reduction_layers)``).
    """

    def __init__(
        self,
        arch: ENASArch,
        *,
        channels: int = 36,
        num_classes: int = 10,
        in_channels: int = 3,
        dropout: float = 0.1,
        skip_merge: str = "concat",
    ) -> None:
        super().__init__()
        sizes = {"channels": channels, "num_classes": num_classes, "in_channels": in_channels}
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if skip_merge not in SKIP_MERGES:
            raise ValueError(f"skip_merge must be one of {SKIP_MERGES}, got {skip_merge!r}")
        self.arch = arch
        self.skip_merge = skip_merge
        self.reduction_layers = reduction_layers(arch.num_layers)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.layers = nn.ModuleList()
        #: per reduction layer: DAG node id -> its reduction (only nodes read later)
        self.reductions = nn.ModuleDict()
        width = channels
        for i, op in enumerate(arch.ops):
            self.layers.append(ENASLayer(op, arch.skips[i], width, skip_merge))
            if i in self.reduction_layers:
                self.reductions[str(i)] = nn.ModuleDict(
                    {str(k): FactorizedReduce(width, 2 * width) for k in self._read_after(i)}
                )
                width *= 2
        self.out_channels = width
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(width, num_classes, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")

    def _read_after(self, layer: int) -> list[int]:
        """DAG nodes ``0..layer+1`` that a layer after ``layer`` reads."""
        later = range(layer + 1, self.arch.num_layers)
        return [
            k
            for k in range(layer + 2)
            if k == layer + 1 or any(k < i and self.arch.skips[i][k] for i in later)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states: list[torch.Tensor | None] = [self.stem(x)]
        for i, layer in enumerate(self.layers):
            states.append(layer(states))
            if str(i) in self.reductions:
                reducers = self.reductions[str(i)]
                # outputs no later layer reads are dropped, not reduced
                states = [reducers[str(k)](s) if str(k) in reducers else None for k, s in enumerate(states)]
        out = states[-1]
        assert out is not None
        return self.classifier(self.dropout(torch.flatten(self.global_pooling(out), 1)))


def build_enas_model(arch: ENASArch, **config: Any) -> ENASNetwork:
    """The ENAS macro network of ``arch``; ``config`` is :class:`ENASNetwork`'s keywords
    (``channels=36, num_classes=10, in_channels=3, dropout=0.1, skip_merge="concat"``).

    For D-VAE's full training of six-layer architectures pass
    ``channels=96, dropout=0.5``.
    """
    return ENASNetwork(arch, **config)
