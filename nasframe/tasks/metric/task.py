"""``metric``: deep metric learning on seen classes, retrieval and clustering of unseen ones.

The space's network (NB101 by default, any space with a network) ends in
``embedding_dim`` outputs, L2-normalised (:class:`EmbeddingNet`). It trains
on the first ``seen_classes`` classes of an image set's training split
(Fashion-MNIST: T-shirt .. coat) with the triplet loss or ProxyNCA, plus
``-svmax * s_mu`` (SVMax), and is judged on the other classes, which it
never saw: Recall@1 (primary), Recall@4 and k-means NMI on the validation
split's unseen images (the official test split's for ``test_``). Every
training batch's mean singular value is checked against SVMax's analytic
bounds and reported per epoch (``mean_singular_value`` and its range).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Iterator

import numpy as np
import torch

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.task import Objective
from nasframe.tasks.costs import count_flops, count_parameters
from nasframe.tasks.delegate import ImageDelegate
from nasframe.tasks.image import ImageClassification, Split
from nasframe.tasks.metric.evaluation import kmeans_nmi, recall_at_k
from nasframe.tasks.metric.losses import (
    check_within_bounds,
    mean_singular_value,
    proxynca_loss,
    triplet_semihard_loss,
)
from nasframe.tasks.metric.model import EmbeddingNet, LossSettings
from nasframe.tasks.metric.sampling import balanced_subset, class_rows, flip_labels, pk_batches
from nasframe.tasks.networks import build_network, check_network
from nasframe.tasks.recipe import Recipe

LOSSES = ("triplet", "proxynca")


class MetricLearning(ImageDelegate):
    """The ``metric`` task; see the module docstring.

    ``dataset``: an image-set name (``fashion-mnist``, ``mnist5k``,
    ``digits``, ``cifar10`` with ``path``); classes ``0 .. seen_classes-1``
    are trained on, the rest evaluated; ``val_fraction`` and ``seed`` make
    the image task's split (and seed the label noise).
    """

    name = "metric"
    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("recall_at_1", "max"), Objective("recall_at_4", "max"), Objective("nmi", "max"),
        Objective("flops", "min", cost=True), Objective("params", "min", cost=True))
    default_space: ClassVar[str | None] = "nb101"
    recipe_options: ClassVar[dict[str, Any]] = {
        "loss": "triplet",         # "triplet" (semi-hard negatives) or "proxynca"
        "svmax": 0.0,              # weight of SVMax's -s_mu; 0: off
        "margin": 0.2,             # triplet margin on squared distances (FaceNet's 0.2)
        "temperature": 1 / 9,      # ProxyNCA's distance scale; 1 is the paper's, 1/9 the usual reimplementation's
        "proxy_lr_scale": 1.0,     # ProxyNCA's proxies learn at this multiple of the recipe's lr (ProxyNCA++: fast)
        "embedding_dim": 32,
        "label_noise": 0.0,        # share of training labels flipped to another seen class
        "images_per_class": 4,     # K of the P x K batches
    }

    def __init__(self, dataset: str = "fashion-mnist", *, path: str | None = None, seen_classes: int = 5,
                 val_fraction: float = 1 / 6, seed: int = 0) -> None:
        images = ImageClassification(dataset, path=path, val_fraction=val_fraction, seed=seed)
        if not 2 <= seen_classes <= images.num_classes - 2:
            raise InvalidSetting(f"metric task field 'seen_classes'={seen_classes!r}: between 2 and "
                                 f"{images.num_classes - 2} (both the seen and the unseen side need two classes)")
        super().__init__(images)
        self.seen_classes, self.seed = seen_classes, seed
        seen, unseen = range(0, seen_classes), range(seen_classes, images.num_classes)
        self.train = _restrict(images.train, seen)
        self.val, self.test = _restrict(images.val, unseen), _restrict(images.test, unseen)
        self._noisy: dict[float, np.ndarray] = {}

    def __repr__(self) -> str:
        return (f"MetricLearning({self.images.name!r}, seen={self.seen_classes}, train={len(self.train)}, "
                f"val={len(self.val)}, test={len(self.test)}, seed={self.seed})")

    def fingerprint(self) -> dict[str, Any]:
        return {"task": self.name, "data": self.images.fingerprint(), "seen_classes": self.seen_classes}

    # -- data -------------------------------------------------------------------------------------------------

    def training_subset(self, fraction: float) -> np.ndarray:
        return balanced_subset(self.train.y, fraction, self.seed + 1)

    def noisy_labels(self, fraction: float) -> np.ndarray:
        """The seen training labels with ``fraction`` of them flipped (fixed per task seed, cached)."""
        if fraction not in self._noisy:
            self._noisy[fraction] = (self.train.y if fraction == 0 else
                                     flip_labels(self.train.y, fraction, self.seen_classes, self.seed + 2))
        return self._noisy[fraction]

    def train_batches(self, recipe: Recipe, generator: torch.Generator, subset: np.ndarray | None = None,
                      device: Any = "cpu") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of augmented P x K batches of the seen classes, labelled with the (noisy) labels."""
        subset = self.training_subset(recipe.data_fraction) if subset is None else subset
        labels = self.noisy_labels(float(self.option(recipe, "label_noise")))
        per_class = int(self.option(recipe, "images_per_class"))
        for rows in pk_batches(labels, subset, recipe.batch_size, per_class, generator):
            x = self.images.prepare(self.train.x[rows], recipe).to(device)
            yield self.images.augment(x, recipe, generator), torch.as_tensor(labels[rows], device=device)

    def eval_batches(self, split: str, recipe: Recipe, device: Any = "cpu",
                     batch_size: int = 256) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The unseen classes' images of ``split`` (``val`` or ``test``) in order, not augmented."""
        if split not in ("val", "test"):
            raise ValueError(f"split must be 'val' or 'test', got {split!r}")
        data: Split = getattr(self, split)
        for start in range(0, len(data), batch_size):
            x = self.images.prepare(data.x[start:start + batch_size], recipe).to(device)
            yield x, torch.tensor(data.y[start:start + batch_size], device=device)  # a copy: Ray's arrays are read-only

    # -- model, step, evaluation -------------------------------------------------------------------------------

    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Recipe,
                    model_options: dict[str, Any]) -> EmbeddingNet:
        dim = int(self.option(recipe, "embedding_dim"))
        settings = LossSettings(**{key: self.option(recipe, key) for key in ("loss", "margin", "temperature",
                                                                             "svmax")})
        backbone = build_network(space, arch, recipe, self.images.in_channels, dim, model_options)
        proxies = self.seen_classes if settings.loss == "proxynca" else 0
        return EmbeddingNet(backbone, dim, proxies, settings)

    def check_trainable(self, space: SearchSpace, recipe: Recipe) -> None:
        check_metric_options({name: self.option(recipe, name) for name in self.recipe_options}, recipe.batch_size)
        check_network(space, recipe, self.images.in_channels, int(self.option(recipe, "embedding_dim")),
                      self.images.image_side)

    def param_groups(self, model: torch.nn.Module, recipe: Any) -> list[dict[str, Any]] | None:
        """ProxyNCA's proxies in a group of their own at ``proxy_lr_scale`` times the learning rate
        (None, the trainer's single group, when there are no proxies or the scale is 1)."""
        scale = float(self.option(recipe, "proxy_lr_scale"))
        if model.proxies is None or scale == 1.0:
            return None
        network = [p for name, p in model.named_parameters() if name != "proxies"]
        return [{"params": network}, {"params": [model.proxies], "lr_scale": scale}]

    def before_epoch(self, model: torch.nn.Module, epoch: int, recipe: Any) -> None:
        model.reset_singular_values()

    def loss(self, model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        """The loss, minus ``svmax`` times the batch's mean singular value (checked against its bounds)."""
        x, y = batch
        embeddings = model(x)
        settings: LossSettings = model.settings
        if settings.loss == "proxynca":
            loss = proxynca_loss(embeddings, y, model.proxies, settings.temperature)
        else:
            loss = triplet_semihard_loss(embeddings, y, settings.margin)
        if len(y) > model.dim or settings.svmax > 0:  # the bounds hold for b > d only (svmax > 0 demands it)
            s_mu = mean_singular_value(embeddings)
            check_within_bounds(float(s_mu.detach()), len(y), model.dim)
            model.record_singular_value(s_mu)
            if settings.svmax > 0:
                loss = loss - settings.svmax * s_mu
        return loss

    @torch.no_grad()
    def embed(self, model: torch.nn.Module, split: str, recipe: Recipe, device: Any) -> tuple[torch.Tensor,
                                                                                                 torch.Tensor]:
        """Every unseen image of ``split`` embedded by ``model`` (float32 unit rows), and its labels."""
        model.eval()
        pairs = [(model(x).float(), y) for x, y in self.eval_batches(split, recipe, device)]
        return torch.cat([e for e, _ in pairs]), torch.cat([y for _, y in pairs])

    def evaluate(self, model: torch.nn.Module, split: str, recipe: Recipe, device: Any) -> dict[str, float]:
        embeddings, labels = self.embed(model, split, recipe, device)
        recalls = recall_at_k(embeddings, labels, (1, 4))
        nmi = kmeans_nmi(embeddings.cpu().numpy(), labels.cpu().numpy(), seed=self.seed)
        return {"recall_at_1": recalls[1], "recall_at_4": recalls[4], "nmi": nmi, **model.singular_values()}

    def costs(self, model: torch.nn.Module, space: SearchSpace, arch: Architecture, recipe: Recipe) -> dict[str, float]:
        """FLOPs of one embedding and the parameters of the embedding network (proxies are training-only)."""
        side = recipe.image_size or self.images.image_side
        example = torch.zeros(1, self.images.in_channels, side, side, device=next(model.parameters()).device)
        return {"flops": float(count_flops(model, example)), "params": float(count_parameters(model.backbone))}


def _restrict(split: Split, classes: range) -> Split:
    rows = class_rows(split.y, classes)
    return Split(split.x[rows], split.y[rows])


def check_metric_options(options: dict[str, Any], batch_size: int) -> None:
    """Refuse options out of range, naming the option (and ``batch_size`` where the two conflict)."""
    def bad(name: str, why: str) -> InvalidSetting:
        return InvalidSetting(f"recipe task option {name!r}={options[name]!r}: {why}")

    if options["loss"] not in LOSSES:
        raise bad("loss", f"one of {LOSSES}")
    for name, ok, why in (("svmax", lambda v: v >= 0, ">= 0 (0: off)"), ("margin", lambda v: v > 0, "> 0"),
                          ("temperature", lambda v: v > 0, "> 0"), ("proxy_lr_scale", lambda v: v > 0, "> 0"),
                          ("label_noise", lambda v: 0 <= v < 1, "a fraction in [0, 1)")):
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
            raise bad(name, why)
    for name, low in (("embedding_dim", 2), ("images_per_class", 2)):
        if isinstance(options[name], bool) or not isinstance(options[name], int) or options[name] < low:
            raise bad(name, f"an integer >= {low}")
    if options["loss"] == "triplet" and batch_size < 2 * options["images_per_class"]:
        raise InvalidSetting(f"recipe field 'batch_size'={batch_size}: the triplet loss needs two classes per batch, "
                             f"at least 2 x images_per_class={options['images_per_class']} images")
    if options["svmax"] > 0 and options["embedding_dim"] >= batch_size:
        raise InvalidSetting(f"recipe task option 'embedding_dim'={options['embedding_dim']} >= recipe field "
                             f"'batch_size'={batch_size} with svmax={options['svmax']}: SVMax's bounds on the mean "
                             f"singular value assume a batch larger than the embedding")
