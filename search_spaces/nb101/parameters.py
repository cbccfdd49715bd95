"""NAS-Bench-101 channel arithmetic and parameter counts, without torch.

The channel rule decides the width of every vertex of a cell; the network
builder (:mod:`search_spaces.nb101.model`) and the exact parameter count of
the shipped ``nb101`` benchmark both use it. It lives apart from the builder
so that a benchmark answering ``params`` does not import torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from search_spaces.nb101.cell import NB101Cell


def vertex_channels(
    matrix: Sequence[Sequence[int]], in_channels: int, out_channels: int
) -> list[int]:
    """Output channels of every vertex of a pruned cell, by the official rule.

    The vertices feeding the output share ``out_channels`` evenly, the first
    ones taking the remainder, so that their concatenation has exactly
    ``out_channels``. The input->output edge is not counted as a feeder: its
    projection is *added* to the concatenation, not concatenated. Every other
    interior vertex takes the max over its interior successors, so channels
    never grow along an edge and a wider tensor only ever needs truncating.
    A vertex feeding the output keeps its share without looking at its
    successors; that is safe because shares go in vertex order with the
    remainder first, so everything downstream of it is at most as wide.
    """
    n = len(matrix)
    out = n - 1
    channels = [0] * n
    channels[0], channels[out] = in_channels, out_channels
    feeders = [v for v in range(1, out) if matrix[v][out]]
    if out_channels < len(feeders):
        raise ValueError(
            f"{out_channels} output channels cannot be split among {len(feeders)} vertices"
        )
    share, remainder = divmod(out_channels, max(len(feeders), 1))
    for rank, v in enumerate(feeders):
        channels[v] = share + (rank < remainder)
    for v in range(out - 1, 0, -1):
        if not matrix[v][out]:
            channels[v] = max(channels[w] for w in range(v + 1, out) if matrix[v][w])
    return channels


def _conv_bn_parameters(in_channels: int, out_channels: int, kernel_size: int) -> int:
    """A bias-free convolution and its affine batch norm (gamma and beta)."""
    return kernel_size * kernel_size * in_channels * out_channels + 2 * out_channels


#: weights of an interior vertex's operation, per kernel size (pooling has none)
_KERNEL = {"conv3x3-bn-relu": 3, "conv1x1-bn-relu": 1, "maxpool3x3": 0}


def _cell_parameters(cell: NB101Cell, in_channels: int, out_channels: int) -> int:
    """Parameters of one :class:`NB101CellModule`, from the same channel rule."""
    matrix, n = cell.matrix, cell.num_vertices
    channels = vertex_channels(matrix, in_channels, out_channels)
    total = sum(_conv_bn_parameters(in_channels, channels[v], 1) for v in range(1, n) if matrix[0][v])
    for v in range(1, n - 1):
        kernel = _KERNEL[cell.ops[v]]
        if kernel:
            total += _conv_bn_parameters(channels[v], channels[v], kernel)
    return total


def network_parameters(
    cell: NB101Cell,
    *,
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
    num_classes: int = 10,
    in_channels: int = 3,
) -> int:
    """Trainable parameters of :func:`build_nb101_model`'s network, counted without building it.

    Arithmetic over the same channel rule, about a thousand times faster than
    counting a meta-device network (which the test suite checks it against):
    fast enough for a benchmark to answer ``params`` exactly for every query.
    """
    total = _conv_bn_parameters(in_channels, stem_channels, 3)
    channels = stem_channels
    for stack in range(num_stacks):
        width = channels if stack == 0 else 2 * channels
        # the stack's first cell may widen; the others are alike, so count one of them
        total += _cell_parameters(cell, channels, width)
        if cells_per_stack > 1:
            total += (cells_per_stack - 1) * _cell_parameters(cell, width, width)
        channels = width
    return total + channels * num_classes + num_classes


def parameter_counts(cells: Sequence[NB101Cell]) -> np.ndarray:
    """:func:`network_parameters` at the official configuration, for a batch of cells.

    Equal to the ``trainable_parameters`` of the published data for every
    record; the shipped ``nb101`` benchmark answers ``params`` with it.
    """
    return np.fromiter((network_parameters(c) for c in cells), dtype=np.int64, count=len(cells))
