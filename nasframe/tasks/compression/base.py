"""The pre-trained base network every compression task starts from: trained once, cached with a checksum.

Pruning methods compare *how* they cut one trained network, so every trial of
a study must start from the same weights. The base is trained by the generic
:class:`~nasframe.tasks.trainer.Trainer` on the task's data (a dense ResNet is
the all-zero-ratio architecture of :class:`PruneRatioSpace`), and cached as
``$NASFRAME_CACHE/compression/base-<dataset>-<key>.pt`` next to a JSON record:
what network and training made it (the key is a hash of that) and the
sha256 of the weights file. Three weight sets are kept: at initialisation,
after the first epoch (what lottery tickets rewind to) and final.

A file whose bytes do not match its checksum, or whose record names another
network, dataset or recipe, is refused (:class:`BaseMismatch`, naming the
differing fields), never silently used. Both files are written atomically
(:func:`~nasframe.core.files.atomic_file`), the record last, so a kill leaves
either the previous cache or no record, and a base without a record is
retrained.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nasframe.core.errors import UserError
from nasframe.core.task import Task
from nasframe.tasks.artifacts import cache_path, read_record, write_artifact
from nasframe.tasks.delegate import ImageDelegate
from nasframe.tasks.compression.resnet import ResNet, ResNetConfig
from nasframe.tasks.compression.space import PruneRatioSpace
from nasframe.tasks.recipe import Recipe

#: the weight sets a cached base holds
STATES = ("init", "early", "final")


class BaseMismatch(UserError, ValueError):
    """A cached or given base network is of another network or training, or its file is corrupt."""


@dataclass
class BaseNetwork:
    """A trained dense ResNet: its config, its three weight sets and the record it was cached with."""

    config: ResNetConfig
    states: dict[str, dict[str, torch.Tensor]]
    record: dict[str, Any]

    def model(self, which: str = "final") -> ResNet:
        """A fresh dense network holding the ``which`` weights (``init``, ``early`` or ``final``)."""
        net = ResNet(self.config)
        net.load_state_dict(self.states[which])
        return net

    @property
    def val_accuracy(self) -> float:
        return float(self.record["val_accuracy"])


class _DenseTraining(ImageDelegate):
    """The image task, training a fresh dense ResNet of ``config`` and keeping a reference to it."""

    def __init__(self, images: Task, config: ResNetConfig) -> None:
        super().__init__(images)
        self.config = config
        self.name, self.objectives = images.name, images.objectives
        self.model: ResNet | None = None
        self.init: dict[str, torch.Tensor] = {}

    def build_model(self, space: Any, arch: Any, recipe: Any, model_options: dict[str, Any]) -> ResNet:
        self.model = ResNet(self.config)
        self.init = copy.deepcopy(self.model.state_dict())
        return self.model

    def fingerprint(self) -> dict[str, Any]:
        return {**self.images.fingerprint(), "dense": self.config.to_dict()}


def identity(images: Task, config: ResNetConfig, recipe: Recipe, seed: int) -> dict[str, Any]:
    """What makes a base: the network, the data (task fingerprint and split sizes), the training recipe and seed.

    The split sizes are recorded because a task's fingerprint may not say how
    much of the training set went to validation: a base trained on another
    split would have seen validation images.
    """
    data = dict(images.fingerprint())
    for split in ("train", "val", "test"):
        if hasattr(getattr(images, split, None), "__len__"):
            data[f"{split}_size"] = len(getattr(images, split))
    return {"config": config.to_dict(), "data": data, "recipe": recipe.to_dict(), "seed": seed}


def default_path(images: Task, ident: dict[str, Any]) -> Path:
    return cache_path("compression", f"base-{images.name}", ident)


def _read(path: Path, config: ResNetConfig) -> dict[str, dict[str, torch.Tensor]]:
    try:
        states = torch.load(path, map_location="cpu", weights_only=True)
    except (EOFError, RuntimeError, pickle.UnpicklingError) as exc:
        raise BaseMismatch(f"base network {path} is not readable ({type(exc).__name__}: {exc})") from exc
    if not isinstance(states, dict) or set(states) != set(STATES):
        raise BaseMismatch(f"base network {path}: expected the weight sets {STATES}")
    try:
        ResNet(config).load_state_dict(states["final"])
    except RuntimeError as exc:
        raise BaseMismatch(f"base network {path} does not fit the network {config}: {exc}") from None
    return states


def train_base(images: Task, config: ResNetConfig, recipe: Recipe, seed: int,
               device: str | torch.device | None = None) -> tuple[dict[str, dict[str, torch.Tensor]], float]:
    """Train a dense ResNet of ``config`` with the generic trainer; its three weight sets and val accuracy."""
    from nasframe.tasks.trainer import Trainer

    dense = _DenseTraining(images, config)
    space = PruneRatioSpace(config.blocks)
    early: dict[str, torch.Tensor] = {}

    def keep_early(metrics: dict[str, Any], folder: Any) -> None:
        if metrics["epoch"] == 1 and dense.model is not None:
            early.update({k: v.detach().cpu().clone() for k, v in dense.model.state_dict().items()})

    result = Trainer(dense, recipe, device=device, seed=seed).fit(space, space.validate((0.0, 0.0, 0.0)),
                                                                 on_epoch=keep_early)
    final = {k: v.detach().cpu().clone() for k, v in dense.model.state_dict().items()}  # type: ignore[union-attr]
    return {"init": dense.init, "early": early, "final": final}, result.objectives.get(
        images.primary.name, result.val_accuracy)


def load_base(images: Task, config: ResNetConfig, recipe: Recipe, seed: int = 0, *, path: str | Path | None = None,
              device: str | torch.device | None = None) -> BaseNetwork:
    """The cached base of (``images``, ``config``, ``recipe``, ``seed``), trained and cached on first use.

    ``path`` names a base file of the user's: it must exist with its record
    and match; without ``path`` the cache is used and filled.
    """
    ident = identity(images, config, recipe, seed)
    given = path is not None
    path = Path(path) if given else default_path(images, ident)
    record = read_record(path, ident, BaseMismatch, "base network")
    if record is not None:
        return BaseNetwork(config, _read(path, config), record)
    if given:
        raise BaseMismatch(f"base network {path}: no such file with its record {path.with_suffix('.json').name}")
    states, accuracy = train_base(images, config, recipe, seed, device)
    return BaseNetwork(config, states, write_artifact(path, states, ident, val_accuracy=accuracy))


__all__ = ["STATES", "BaseMismatch", "BaseNetwork", "identity", "load_base", "train_base"]
