"""The fixed skeleton of the Accel-NASBench network and its per-layer plan (no torch).

The skeleton is EfficientNet-B0's, as Accel-NASBench trains it
(``models/accelbenchnet.py`` of afzalxo/ANB-DatasetCollection, a variant of
torchvision's EfficientNet): a 3x3 stride-2 stem to 32 channels; seven
stages with strides ``1, 2, 2, 2, 1, 2, 1`` and output channels
``16, 24, 40, 80, 112, 192, 320``; a 1x1 head to ``4 * 320 = 1280``
channels; global average pooling, dropout 0.2 and a linear classifier.

Inside a stage the first layer has the stage's stride and input channels,
the others stride 1 and the stage's output channels. An MBConv layer expands
to ``make_divisible(c_in * e, 8)`` channels with a 1x1 conv (skipped when that
equals ``c_in``, i.e. ``e = 1``), applies a ``k x k`` depthwise conv, an
optional squeeze-excite of ``max(1, c_in // 4)`` channels (1x1 convs with
bias, on the layer's *input* width as in the benchmark), and projects with a
1x1 conv; convs have no bias, each is followed by batch norm (the projection
by no activation); a residual connection is added when the stride is 1 and
the widths agree.

:func:`count_parameters` is the parameter count of that network, which
``tests/test_mnas_nb301.py`` checks against the ``model_info.params`` of every
one of the 5,138 Accel-NASBench records.
"""

from __future__ import annotations

from typing import NamedTuple

from search_spaces.mnas.arch import MnasArch

STEM_CHANNELS = 32
STRIDES = (1, 2, 2, 2, 1, 2, 1)
OUT_CHANNELS = (16, 24, 40, 80, 112, 192, 320)
IN_CHANNELS = (STEM_CHANNELS, *OUT_CHANNELS[:-1])
HEAD_CHANNELS = 4 * OUT_CHANNELS[-1]
DROPOUT = 0.2
STOCHASTIC_DEPTH = 0.2


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor``, never below 90% of it (MobileNet's rule)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class LayerPlan(NamedTuple):
    """One MBConv layer: where it sits and its widths."""

    stage: int
    in_channels: int
    out_channels: int
    expanded: int
    kernel: int
    stride: int
    #: squeeze-excite width, 0 when the layer has none
    squeeze: int

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


def layer_plan(arch: MnasArch) -> list[LayerPlan]:
    """Every MBConv layer of ``arch``'s network, in order."""
    plan = []
    for stage, block in enumerate(arch.blocks):
        for layer in range(block.layers):
            c_in = IN_CHANNELS[stage] if layer == 0 else OUT_CHANNELS[stage]
            plan.append(
                LayerPlan(
                    stage=stage,
                    in_channels=c_in,
                    out_channels=OUT_CHANNELS[stage],
                    expanded=make_divisible(c_in * block.expansion),
                    kernel=block.kernel,
                    stride=STRIDES[stage] if layer == 0 else 1,
                    squeeze=max(1, c_in // 4) if block.se else 0,
                )
            )
    return plan


def count_parameters(arch: MnasArch, num_classes: int = 1000) -> int:
    """Trainable parameters of :func:`~search_spaces.mnas.model.build_mnas_model` (no torch needed)."""
    total = 3 * STEM_CHANNELS * 9 + 2 * STEM_CHANNELS
    for layer in layer_plan(arch):
        c_in, c_mid, c_out = layer.in_channels, layer.expanded, layer.out_channels
        if c_mid != c_in:
            total += c_in * c_mid + 2 * c_mid
        total += c_mid * layer.kernel**2 + 2 * c_mid
        if layer.squeeze:
            total += 2 * c_mid * layer.squeeze + layer.squeeze + c_mid
        total += c_mid * c_out + 2 * c_out
    total += OUT_CHANNELS[-1] * HEAD_CHANNELS + 2 * HEAD_CHANNELS
    return total + HEAD_CHANNELS * num_classes + num_classes


__all__ = [
    "DROPOUT",
    "HEAD_CHANNELS",
    "IN_CHANNELS",
    "OUT_CHANNELS",
    "STEM_CHANNELS",
    "STOCHASTIC_DEPTH",
    "STRIDES",
    "LayerPlan",
    "count_parameters",
    "layer_plan",
    "make_divisible",
]
