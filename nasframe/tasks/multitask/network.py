"""The branched multi-task network of a :class:`~nasframe.tasks.multitask.space.Branching` tree.

The backbone is a small plain CNN of ``L`` blocks (block ``l``: ``depth``
conv3x3-BatchNorm-ReLU units; the first block ``channels`` wide, the others
twice that; blocks 1 and 2 halve the resolution). The tree decides how many
copies of each block exist: one per group of tasks at that layer, fed by its
parent group's block, so shared layers are computed once per input and a
branch point duplicates everything below it (BMTAS' cost model). Each task
ends in a small head on its last group's features:

- ``class`` heads (one per object): the features average-pooled to 2x2 (so
  that the left and right halves of the canvas stay apart), then a linear
  layer to the classes;
- ``dense`` heads (segmentation, edges): a 1x1 convolution to the per-pixel
  outputs, upsampled bilinearly to the label maps' side, whatever the input
  size (so a recipe's ``image_size`` changes the cost, never the labels).
"""

from __future__ import annotations

import zlib
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

HEAD_KINDS = ("class", "dense")


def block_plan(num_layers: int, channels: int) -> list[tuple[int, int]]:
    """``(width, stride)`` of each backbone block."""
    return [(channels if layer == 0 else 2 * channels, 2 if layer in (1, 2) else 1) for layer in range(num_layers)]


def conv_block(inputs: int, width: int, stride: int, depth: int) -> nn.Sequential:
    """``depth`` conv3x3-BN-ReLU units, the first with ``stride``."""
    units: list[nn.Module] = []
    for unit in range(depth):
        units += [nn.Conv2d(inputs if unit == 0 else width, width, 3, stride=stride if unit == 0 else 1, padding=1,
                            bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    return nn.Sequential(*units)


class Head(nn.Module):
    """One task's output layer (see the module docstring)."""

    def __init__(self, kind: str, width: int, outputs: int, out_side: int) -> None:
        super().__init__()
        if kind not in HEAD_KINDS:
            raise ValueError(f"head kind: one of {HEAD_KINDS}, got {kind!r}")
        self.kind, self.out_side = kind, out_side
        self.layer = nn.Linear(4 * width, outputs) if kind == "class" else nn.Conv2d(width, outputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "class":
            return self.layer(torch.flatten(F.adaptive_avg_pool2d(x, 2), 1))
        return F.interpolate(self.layer(x), size=(self.out_side, self.out_side), mode="bilinear", align_corners=False)


def _seeded(base: int, name: str, make: Callable[[], nn.Module]) -> nn.Module:
    """``make()`` initialised from ``base`` and the module's task names alone, not from what was built before it.

    So a task's branch starts from the same weights in every tree that gives
    it that branch, and the all-separate network *is* the single-task
    baselines side by side (same seed: the same initial weights, hence, with
    no gradient clipping across branches, the same trained weights).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed((base + zlib.crc32(name.encode())) % 2**63)
        return make()


def _key(layer: int, group: tuple[int, ...]) -> str:
    return f"l{layer}_g" + "_".join(map(str, group))


class BranchedNet(nn.Module):
    """The network of ``groupings`` (one set partition of task indices per layer, each refining the last).

    ``heads``: per task index, ``(name, kind, outputs)``; the forward pass
    returns ``{name: output}``.
    """

    def __init__(self, groupings: Sequence[Sequence[tuple[int, ...]]], *, heads: Sequence[tuple[str, str, int]],
                 channels: int = 16, depth: int = 1, in_channels: int = 1, out_side: int = 32) -> None:
        super().__init__()
        self.groupings = [tuple(tuple(g) for g in layer) for layer in groupings]
        if sum(len(g) for g in self.groupings[0]) != len(heads):
            raise ValueError(f"{len(heads)} heads for a tree of {sum(len(g) for g in self.groupings[0])} tasks")
        plan = block_plan(len(self.groupings), channels)
        self.names = [name for name, _, _ in heads]
        self.blocks = nn.ModuleDict()
        self.parents: dict[tuple[int, tuple[int, ...]], tuple[int, ...] | None] = {}
        base = int(torch.randint(0, 2**62, (1,)))  # one draw of the caller's seed; each module derives its own
        for layer, grouping in enumerate(self.groupings):
            inputs = in_channels if layer == 0 else plan[layer - 1][0]
            for group in grouping:
                name = f"{layer}:" + ",".join(self.names[t] for t in group)
                self.blocks[_key(layer, group)] = _seeded(base, name, lambda: conv_block(inputs, *plan[layer], depth))
                self.parents[layer, group] = None if layer == 0 else self._group(layer - 1, group[0])
        self.heads = nn.ModuleDict({name: _seeded(base, f"head:{name}", lambda: Head(kind, plan[-1][0], outputs,
                                                                                      out_side))
                                    for name, kind, outputs in heads})

    def _group(self, layer: int, task: int) -> tuple[int, ...]:
        return next(g for g in self.groupings[layer] if task in g)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}
        for layer, grouping in enumerate(self.groupings):
            for group in grouping:  # each block once per input, however many tasks share it
                parent = self.parents[layer, group]
                source = x if parent is None else features[layer - 1, parent]
                features[layer, group] = self.blocks[_key(layer, group)](source)
        last = len(self.groupings) - 1
        return {name: self.heads[name](features[last, self._group(last, task)]) for task, name in enumerate(self.names)}


__all__ = ["HEAD_KINDS", "BranchedNet", "Head", "block_plan", "conv_block"]
