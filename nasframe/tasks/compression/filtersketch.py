"""FilterSketch (Lin et al., arXiv 2001.08514): pruned filters that keep the weights' second-order information.

A layer's ``n`` filters are the rows of ``W`` (``n x d``, ``d = in x k x k``).
FilterSketch replaces them by ``l < n`` new filters, the rows of a
*frequent-directions* sketch ``B`` of ``W`` (Liberty, KDD 2013), chosen so
that ``B^T B`` approximates the covariance ``W^T W``: for every input patch
``x``, ``||B x||`` stays close to ``||W x||``. The guarantee of the
sketch built here (:func:`frequent_directions`, the textbook algorithm, one
shrink per row once the sketch is full) is
``0 <= x^T (W^T W - B^T B) x <= ||W||_F^2 / l`` for unit ``x``.

How the network is rebuilt follows the official ResNet code
(github lmbxmu/FilterSketch, ``sketch_cifar.py``, ``load_resnet_sketch_model``):
a block's first convolution gets the sketched filters, its BatchNorm starts
fresh (unit scale, zero shift and statistics), and the second convolution's
input channels are sketched likewise. Two deliberate differences: the
official loop stops inserting rows once fewer than ``l / 2`` remain (those
filters never reach the sketch); here every filter does. And the official
code forms the second convolution's channel rows with ``view`` (a reshape
that mixes channels); here each row is one input channel's weights
(a transpose), which is what sketching "the channel dimension" means.
A block pruned by ratio 0 is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nasframe.core.errors import InvalidSetting
from nasframe.tasks.compression.resnet import ResNet
from nasframe.tasks.compression.surgery import BlockFilters, rebuild, selected


def frequent_directions(rows: torch.Tensor, size: int) -> torch.Tensor:
    """A ``size x d`` frequent-directions sketch of the ``n x d`` matrix ``rows``.

    Rows are inserted one by one into an empty row of the sketch; when none
    is empty the sketch is rotated onto its singular vectors and every
    squared singular value shrunk by the smallest one, which empties the
    last row. With ``size >= n`` the sketch is ``rows`` itself.
    """
    if size < 1:
        raise InvalidSetting(f"frequent directions: sketch size must be >= 1, got {size}")
    rows = rows.detach().double()
    n, d = rows.shape
    if size >= n:
        return rows.clone().float()
    sketch = torch.zeros(size, d, dtype=torch.float64)
    filled = 0
    for row in rows:
        if filled == size:
            _, sigma, vh = torch.linalg.svd(sketch, full_matrices=False)
            shrunk = torch.sqrt(torch.clamp(sigma ** 2 - sigma[-1] ** 2, min=0.0))
            sketch = torch.zeros(size, d, dtype=torch.float64)
            sketch[: len(sigma)] = shrunk[:, None] * vh
            filled = size - 1
        sketch[filled] = row
        filled += 1
    return sketch.float()


def sketch_block(block: torch.nn.Module, count: int) -> BlockFilters:
    """``block`` with ``count`` sketched first-conv filters and its second conv's inputs sketched to match."""
    w1, w2 = block.conv1.weight.detach(), block.conv2.weight.detach()
    if count >= w1.shape[0]:
        return selected(block, torch.arange(w1.shape[0]))
    conv1 = frequent_directions(w1.reshape(w1.shape[0], -1), count).reshape(count, *w1.shape[1:])
    channel_rows = w2.transpose(0, 1).reshape(w2.shape[1], -1)  # one row per input channel
    conv2 = frequent_directions(channel_rows, count).reshape(count, w2.shape[0], *w2.shape[2:]).transpose(0, 1)
    return BlockFilters(conv1, None, conv2.contiguous())


def prune_filtersketch(dense: ResNet, kept: Sequence[int]) -> ResNet:
    """Replace block ``i``'s first-conv filters by a ``kept[i]``-row sketch."""
    return rebuild(dense, [sketch_block(block, count) for block, count in zip(dense.blocks, kept)])


__all__ = ["frequent_directions", "prune_filtersketch", "sketch_block"]
