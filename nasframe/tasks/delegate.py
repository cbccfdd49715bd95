"""A task built on an image-classification task: it takes the images' data, loss, evaluation and costs,
and overrides what differs (the model, the objectives, the training step).

The compression tasks prune a network of the images' task; later tasks add
an embedding head, a second stage or their own objectives on the same data.
Composition rather than inheritance from
:class:`~nasframe.tasks.image.ImageClassification`: the delegate's splits are
shared (one dataset in memory, one split seed) and its public surface stays
the Task protocol.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch

from nasframe.core.task import Task


class ImageDelegate(Task):
    """A task that takes its data, loss, evaluation and costs from an image-classification task (``images``);
    subclasses say how the model is built (and may add objectives)."""

    def __init__(self, images: Task) -> None:
        self.images = images

    @property
    def image_side(self) -> int | None:
        return self.images.image_side

    def training_subset(self, fraction: float) -> np.ndarray:
        return self.images.training_subset(fraction)

    def train_batches(self, recipe: Any, generator: torch.Generator, subset: np.ndarray, device: Any) -> Iterator:
        return self.images.train_batches(recipe, generator, subset, device=device)

    def eval_batches(self, split: str, recipe: Any, device: Any) -> Iterator:
        return self.images.eval_batches(split, recipe, device=device)

    def loss(self, model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        return self.images.loss(model, batch)

    def evaluate(self, model: torch.nn.Module, split: str, recipe: Any, device: Any) -> dict[str, float]:
        return self.images.evaluate(model, split, recipe, device)

    def costs(self, model: torch.nn.Module, space: Any, arch: Any, recipe: Any) -> dict[str, float]:
        return self.images.costs(model, space, arch, recipe)
