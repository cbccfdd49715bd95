"""Two random views of a batch of images, as SimCLR's pretext task needs, made for the whole batch at once.

SimCLR (Chen et al. 2020) learns features that do not change under the
augmentations it draws, so those augmentations decide what "similar" means
for the neighbours SCAN mines later. On grey digits and clothes the
colour distortions of the paper do not apply; what is left is geometry
(random resized crop, a small rotation: one affine warp per image through
``grid_sample``) and photometric jitter (brightness, contrast), then the
recipe's cutout. Every draw comes from the caller's generator, so a
training is repeatable and resumes exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nasframe.tasks.augment import cutout

#: smallest share of the image side a crop keeps (SimCLR's random resized crop draws area 0.08-1 on
#: ImageNet; 28-pixel digits lose their identity below about half the side)
MIN_SCALE = 0.6
#: largest rotation, radians (digits: a 6 must not become a 9)
MAX_ROTATION = math.radians(15)
#: largest brightness shift and contrast factor change, in units of the normalised images
BRIGHTNESS, CONTRAST = 0.4, 0.4


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def random_affine(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image cropped at a random scale and place and rotated a little, resampled to its size.

    One affine matrix per image (scale, rotation, translation kept inside
    the image), applied to the batch by one ``affine_grid``/``grid_sample``.
    """
    n = x.shape[0]
    scale = _uniform(n, MIN_SCALE, 1.0, generator)
    angle = _uniform(n, -MAX_ROTATION, MAX_ROTATION, generator)
    # the crop's centre may move as far as the crop stays inside the image
    shift = (1.0 - scale)[:, None] * _uniform(2 * n, -1.0, 1.0, generator).view(n, 2)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_jitter(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image's contrast scaled around its mean and its brightness shifted, by random amounts."""
    n = x.shape[0]
    contrast = _uniform(n, 1.0 - CONTRAST, 1.0 + CONTRAST, generator).to(x.device, x.dtype).view(n, 1, 1, 1)
    brightness = _uniform(n, -BRIGHTNESS, BRIGHTNESS, generator).to(x.device, x.dtype).view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * contrast + mean + brightness


def simclr_view(x: torch.Tensor, cutout_length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One augmented view of a prepared (normalised) batch: affine crop, jitter, then cutout."""
    return cutout(random_jitter(random_affine(x, generator), generator), cutout_length, generator)
