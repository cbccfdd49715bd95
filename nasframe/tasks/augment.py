"""Batched image augmentation on tensors: random crop with padding, horizontal flip, cutout.

Applied to a whole batch at once (one gather, one mask) instead of image by
image, so augmentation stays a small share of a CPU training step. The
standard CIFAR recipe (DARTS, NB101): pad by 1/8 of the side, crop back at a
random offset, flip half the images, then cut out one square per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image zero-padded by ``padding`` and cropped back to its size at its own random offset."""
    if padding <= 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    # random draws on the (CPU) generator, so a run is the same on any device
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None, :])  # (n, h)
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None, :])  # (n, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # advanced indexing on (n, H, W) after moving channels last: picks each image's window
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Half of the images (at random) mirrored left-right."""
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
    if not flip.any():
        return x
    out = x.clone()
    out[flip] = x[flip].flip(-1)
    return out


def cutout(x: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One ``length`` x ``length`` square per image set to zero, centred anywhere (clipped at borders),
    as DeVries & Taylor (2017) and the DARTS recipe do."""
    if length <= 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1), generator=generator).to(x.device)
    cx = torch.randint(0, w, (n, 1, 1), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    top, left = cy - length // 2, cx - length // 2
    hole = (ys >= top) & (ys < top + length) & (xs >= left) & (xs < left + length)
    return x * (~hole)[:, None, :, :].to(x.dtype)
