"""Image classification: a dataset, its seeded train/val/test split, batches under a recipe, and the
:class:`~nasframe.core.task.Task` that trains a space's networks on it with cross-entropy.

The split is a pure function of the dataset and ``seed``: the validation
images (what a search sees) are a fixed share of the official training set,
and the official test set stays untouched for the final numbers. Sets
published without a test split (MNIST-5k, digits) hold out a further seeded
share as test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from nasframe.core import Architecture, SearchSpace
from nasframe.core.task import Objective, Task
from nasframe.tasks.augment import cutout, random_crop, random_flip
from nasframe.tasks.costs import count_flops, count_parameters
from nasframe.tasks.datasets import DATASET_READERS, PATH_DATASETS, DatasetError, ImageDataset
from nasframe.tasks.networks import build_network, check_network
from nasframe.tasks.recipe import Recipe


@dataclass(frozen=True)
class Split:
    """Images (``uint8``) and labels of one split."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


class ImageClassification(Task):
    """A classification task on one :class:`~nasframe.tasks.datasets.ImageDataset`.

    ``dataset`` is a loaded dataset or a name of :data:`~nasframe.tasks.datasets.DATASET_READERS`
    (``path`` is then passed to loaders that read a user's folder).
    ``val_fraction`` of the training images become the validation split,
    drawn with ``seed``; ``test_fraction`` is used only for sets without an
    official test split.

    Objectives: validation accuracy (maximised), then two costs of the built
    network, FLOPs and parameters (minimised). The space is any registered
    one that says what a recipe's channels and layers mean for it
    (``SearchSpace.network_options``); nb101 by default.
    """

    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("accuracy", "max"), Objective("flops", "min", cost=True), Objective("params", "min", cost=True))
    default_space: ClassVar[str | None] = "nb101"

    def __init__(
        self,
        dataset: ImageDataset | str = "fashion-mnist",
        *,
        path: str | None = None,
        val_fraction: float = 1 / 6,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        if isinstance(dataset, str):
            if dataset not in DATASET_READERS:
                raise DatasetError(f"unknown dataset {dataset!r}; known: {sorted(DATASET_READERS)}")
            if path is not None and dataset not in PATH_DATASETS:
                raise DatasetError(f"dataset {dataset!r} ships with its package and takes no path")
            dataset = DATASET_READERS[dataset](path) if dataset in PATH_DATASETS else DATASET_READERS[dataset]()
        if not 0 < val_fraction < 1 or not 0 < test_fraction < 1:
            raise ValueError(f"val_fraction and test_fraction must be in (0, 1), got {val_fraction}, {test_fraction}")
        self.dataset = dataset
        self.name = dataset.name
        self.seed = seed
        rng = np.random.default_rng(seed)
        x, y = dataset.x_train, dataset.y_train
        if dataset.x_test is None:
            order = rng.permutation(len(y))
            cut = int(round(len(y) * test_fraction))
            self.test = Split(x[order[:cut]], y[order[:cut]])
            x, y = x[order[cut:]], y[order[cut:]]
        else:
            self.test = Split(dataset.x_test, dataset.y_test)
        order = rng.permutation(len(y))
        cut = int(round(len(y) * val_fraction))
        self.val = Split(x[order[:cut]], y[order[:cut]])
        self.train = Split(x[order[cut:]], y[order[cut:]])
        # per-channel statistics of the training split, in [0, 1] units
        scaled = self.train.x.astype(np.float32) / dataset.max_value
        self.mean = torch.tensor(scaled.mean(axis=(0, 2, 3)), dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(scaled.std(axis=(0, 2, 3)), dtype=torch.float32).view(1, -1, 1, 1)
        self._on_device: dict[tuple[str, str], torch.Tensor] = {}

    def __getstate__(self) -> dict:
        # device copies are a cache of this process; Ray ships the numpy arrays only
        return {**self.__dict__, "_on_device": {}}

    def __repr__(self) -> str:
        return (f"ImageClassification({self.name!r}, train={len(self.train)}, val={len(self.val)}, "
                f"test={len(self.test)}, seed={self.seed})")

    @property
    def in_channels(self) -> int:
        return self.dataset.image_shape[0]

    @property
    def image_side(self) -> int:
        return self.dataset.image_shape[-1]

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    def split(self, name: str) -> Split:
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {name!r}")
        return getattr(self, name)

    def training_subset(self, fraction: float) -> np.ndarray:
        """Indices of the training images a recipe with ``data_fraction`` uses: a class-balanced,
        seeded subset, the same for every architecture (so their accuracies are comparable)."""
        if fraction >= 1.0:
            return np.arange(len(self.train))
        rng = np.random.default_rng(self.seed + 1)
        keep = []
        for label in np.unique(self.train.y):
            members = np.flatnonzero(self.train.y == label)
            keep.append(rng.choice(members, max(1, int(round(len(members) * fraction))), replace=False))
        return np.sort(np.concatenate(keep))

    def images(self, split: str, device: torch.device | str = "cpu") -> torch.Tensor:
        """A split's ``uint8`` images as one tensor on ``device`` (kept there after the first call:
        on a GPU, batches are then cut, normalised and augmented without host copies)."""
        key = (split, str(device))
        if key not in self._on_device:
            # a copy: arrays from Ray's object store are read-only, which torch refuses to share
            self._on_device[key] = torch.tensor(self.split(split).x, device=device)
        return self._on_device[key]

    def prepare(self, x: np.ndarray | torch.Tensor, recipe: Recipe) -> torch.Tensor:
        """``uint8`` images as normalised float tensors at the recipe's image size."""
        x = torch.as_tensor(x) if isinstance(x, torch.Tensor) or x.flags.writeable else torch.tensor(x)
        batch = x.float().div_(self.dataset.max_value)
        batch = (batch - self.mean.to(batch.device)) / self.std.to(batch.device)
        if recipe.image_size is not None and recipe.image_size != batch.shape[-1]:
            batch = F.interpolate(batch, size=(recipe.image_size, recipe.image_size), mode="bilinear",
                                  align_corners=False, antialias=True)
        return batch

    def augment(self, batch: torch.Tensor, recipe: Recipe, generator: torch.Generator) -> torch.Tensor:
        """The recipe's augmentation of a prepared training batch."""
        if recipe.augment:
            batch = random_crop(batch, max(1, batch.shape[-1] // 8), generator)
            if self.dataset.flip_invariant:
                batch = random_flip(batch, generator)
        return cutout(batch, recipe.cutout, generator)

    def train_batches(self, recipe: Recipe, generator: torch.Generator, subset: np.ndarray | None = None,
                      device: torch.device | str = "cpu") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of shuffled, augmented training batches (the last, smaller batch included).

        On a CUDA ``device`` the images stay on the device (:meth:`images`) and
        batches are made there; on the CPU they are cut from the numpy array.
        """
        subset = self.training_subset(recipe.data_fraction) if subset is None else subset
        order = subset[torch.randperm(len(subset), generator=generator).numpy()]
        on_device = torch.device(device).type != "cpu"
        x = self.images("train", device) if on_device else self.train.x
        y = torch.tensor(self.train.y, device=device)  # a copy: object-store arrays are read-only
        for start in range(0, len(order), recipe.batch_size):
            idx = np.sort(order[start:start + recipe.batch_size])  # sorted: faster gather, same batch
            rows = torch.from_numpy(idx).to(device)
            yield self.augment(self.prepare(x[rows] if on_device else x[idx], recipe), recipe, generator), y[rows]

    def eval_batches(self, split: str, recipe: Recipe, batch_size: int = 256,
                     device: torch.device | str = "cpu") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The whole ``split`` in order, prepared at the recipe's image size, not augmented."""
        on_device = torch.device(device).type != "cpu"
        x = self.images(split, device) if on_device else self.split(split).x
        y = torch.tensor(self.split(split).y, device=device)
        for start in range(0, len(y), batch_size):
            yield self.prepare(x[start:start + batch_size], recipe), y[start:start + batch_size]

    # -- the Task protocol: model, step, evaluation -----------------------------------------------------------

    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Recipe,
                    model_options: dict[str, Any]) -> torch.nn.Module:
        return build_network(space, arch, recipe, self.in_channels, self.num_classes, model_options)

    def check_trainable(self, space: SearchSpace, recipe: Recipe) -> None:
        check_network(space, recipe, self.in_channels, self.num_classes, self.dataset.image_shape[-1])

    def loss(self, model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(model(x), y)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, recipe: Recipe, device: Any) -> dict[str, float]:
        model.eval()
        correct = torch.zeros((), dtype=torch.long, device=device)
        total = 0
        for x, y in self.eval_batches(split, recipe, device=device):
            correct += (model(x).argmax(dim=1) == y).sum()
            total += len(y)
        return {"accuracy": int(correct) / total}

    def costs(self, model: torch.nn.Module, space: SearchSpace, arch: Architecture, recipe: Recipe) -> dict[str, float]:
        side = recipe.image_size or self.dataset.image_shape[-1]
        example = torch.zeros(1, self.in_channels, side, side, device=next(model.parameters()).device)
        return {"flops": float(count_flops(model, example)), "params": float(count_parameters(model))}

    def fingerprint(self) -> dict[str, Any]:
        return {"task": self.name, "split_seed": self.seed, "split": [len(self.train), len(self.val), len(self.test)]}
