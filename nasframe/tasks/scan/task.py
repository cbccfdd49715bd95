"""``scan``: SCAN's unsupervised image classification of a searched backbone, as one generic training.

The first ``pretext_epochs`` epochs train SimCLR (NT-Xent between two
views of every image, :mod:`.views`). Before the first SCAN epoch
:meth:`ScanClustering.before_epoch` mines every training image's
``neighbours`` nearest images in the pretext embedding and fits the
k-means baseline on the same features, both kept as buffers of the model;
the next epochs train the whole network with the SCAN loss between an
image and a random one of its neighbours; the last ``selflabel_epochs``
(0 by default) self-label: the confident predictions of the images become
the targets of their strongly augmented views. Each stage starts with a
fresh optimiser and schedule (:meth:`ScanClustering.restart_epochs`), as
the official code trains them separately. A checkpoint holds the stage and
the neighbours, so a resumed training is the uninterrupted one.

Training batches are ``(view, partner view, training-split index)``: the
partner is the image itself in the pretext stage, a mined neighbour in the
SCAN stage; in self-labelling the first view is the image unaugmented (the
weak view) and the second an augmented one of the same image. No training
label is ever read (the training subset is drawn without them too); labels
only score the clusters on val and test.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np
import torch

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.task import Objective, Task
from nasframe.tasks.delegate import ImageDelegate
from nasframe.tasks.image import ImageClassification
from nasframe.tasks.networks import build_network, check_network
from nasframe.tasks.recipe import Recipe
from nasframe.tasks.scan.clustering import cluster_scores, kmeans_clusters, mine_neighbours
from nasframe.tasks.scan.losses import nt_xent, scan_loss, self_label_loss
from nasframe.tasks.scan.model import CLUSTERING, SELF_LABELLING, ScanModel
from nasframe.tasks.scan.options import DEFAULTS, ScanSettings, resolve
from nasframe.tasks.scan.views import simclr_view

#: the splits whose k-means clusters on the pretext features are frozen at the switch
SCORED_SPLITS = ("val", "test")


class ScanClustering(ImageDelegate):
    """SCAN on ``dataset`` (MNIST-5k by default; ``"fashion-mnist"``, ``"digits"``, a folder's
    ``"cifar10"`` with ``path``, or a built image task); ``seed`` draws the splits and the k-means start.

    Objectives: Hungarian clustering accuracy (primary), NMI, ARI on the
    validation split (max), then FLOPs and parameters (min). ``evaluate``
    also reports ``kmeans_accuracy``/``kmeans_nmi``/``kmeans_ari``: k-means
    on the pretext embedding (frozen at the switch), the paper's baseline.
    """

    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("accuracy", "max"), Objective("nmi", "max"), Objective("ari", "max"),
        Objective("flops", "min", cost=True), Objective("params", "min", cost=True))
    default_space: ClassVar[str | None] = "nb101"
    recipe_options: ClassVar[dict[str, Any]] = DEFAULTS

    def __init__(self, dataset: str | Task = "mnist5k", *, path: str | None = None, val_fraction: float = 1 / 6,
                 test_fraction: float = 0.2, seed: int = 0) -> None:
        if isinstance(dataset, str):
            dataset = ImageClassification(dataset, path=path, val_fraction=val_fraction,
                                          test_fraction=test_fraction, seed=seed)
        super().__init__(dataset)
        self.name = "scan"
        self.seed = seed
        # as many clusters as the data has classes, unless the recipe says otherwise
        self.recipe_options = {**DEFAULTS, "clusters": int(dataset.num_classes)}
        #: the neighbour table of the model in training, refreshed from its buffer before every epoch
        self._partners: np.ndarray | None = None
        #: whether the model in training self-labels (its batches' first view is then not augmented)
        self._weak_first = False

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_partners": None, "_weak_first": False}

    def __repr__(self) -> str:
        return f"ScanClustering({self.images!r})"

    def fingerprint(self) -> dict[str, Any]:
        return {"task": self.name, "data": self.images.fingerprint()}

    def settings(self, recipe: Recipe) -> ScanSettings:
        """The recipe's SCAN options, defaults filled in, range-checked (errors name the option)."""
        options = {**self.recipe_options, **getattr(recipe, "task_options", {})}
        return resolve(options, recipe.epochs, len(self.training_subset(recipe.data_fraction)))

    # -- data: no labels in training ------------------------------------------------------------------------------

    def training_subset(self, fraction: float) -> np.ndarray:
        """A seeded uniform share of the training split, drawn without its labels (the images' own
        task balances classes, which would leak them)."""
        size = len(self.images.train)
        if fraction >= 1.0:
            return np.arange(size)
        rng = np.random.default_rng(self.seed + 1)
        return np.sort(rng.choice(size, max(2, int(round(size * fraction))), replace=False))

    def train_batches(self, recipe: Recipe, generator: torch.Generator, subset: np.ndarray | None = None,
                      device: Any = "cpu") -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One epoch of ``(view, partner view, index)`` batches in a random order; see the module docstring."""
        subset = self.training_subset(recipe.data_fraction) if subset is None else subset
        partners = self._partners
        if partners is not None and len(partners) != len(subset):
            raise RuntimeError(f"the model's neighbour table has {len(partners)} rows for {len(subset)} images")
        order = torch.randperm(len(subset), generator=generator).numpy()
        images = self.images.train.x
        for start in range(0, len(order), recipe.batch_size):
            rows = order[start:start + recipe.batch_size]
            anchors = subset[rows]
            if partners is None:
                mates = anchors
            else:  # one of each image's mined neighbours, drawn afresh every epoch
                mates = partners[rows, torch.randint(0, partners.shape[1], (len(rows),), generator=generator).numpy()]
            views = [self.images.prepare(images[i], recipe).to(device) for i in (anchors, mates)]
            first = views[0] if self._weak_first else simclr_view(views[0], recipe.cutout, generator)
            yield first, simclr_view(views[1], recipe.cutout, generator), torch.from_numpy(anchors)

    # -- model, stages, step ------------------------------------------------------------------------------------

    def check_trainable(self, space: SearchSpace, recipe: Recipe) -> None:
        settings = self.settings(recipe)
        if recipe.batch_size < 2:
            raise InvalidSetting(f"recipe field 'batch_size'={recipe.batch_size}: SimCLR contrasts the images of a "
                                 f"batch, so it needs at least 2")
        if not recipe.augment:
            raise InvalidSetting("recipe field 'augment'=False: SCAN's pretext task learns from augmented views")
        check_network(space, recipe, self.images.in_channels, settings.feature_dim, self.images.image_side)

    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Recipe,
                    model_options: dict[str, Any]) -> ScanModel:
        settings = self.settings(recipe)
        backbone = build_network(space, arch, recipe, self.images.in_channels, settings.feature_dim, model_options)
        sizes = {split: len(self.images.split(split)) for split in SCORED_SPLITS}
        return ScanModel(backbone, settings, len(self.training_subset(recipe.data_fraction)), sizes)

    def restart_epochs(self, space: SearchSpace, arch: Architecture, recipe: Recipe) -> tuple[int, ...]:
        """The SCAN and the self-labelling stages each start with a fresh optimiser and schedule."""
        settings = self.settings(recipe)
        starts = (settings.pretext_epochs, recipe.epochs - settings.selflabel_epochs)
        return tuple(sorted({e for e in starts if 0 < e < recipe.epochs}))

    def before_epoch(self, model: torch.nn.Module, epoch: int, recipe: Recipe) -> None:
        """At the first SCAN epoch, mine the neighbours and freeze the k-means baseline (once: a resumed
        model already holds them), at the first self-labelling epoch switch the loss; before every epoch,
        point the batches at the model's neighbours (SCAN stage only)."""
        settings = self.settings(recipe)
        if epoch >= settings.pretext_epochs and not model.clustering:
            self.switch(model, recipe)
        if settings.selflabel_epochs and epoch >= recipe.epochs - settings.selflabel_epochs:
            model.stage.fill_(SELF_LABELLING)
        self._weak_first = model.self_labelling
        self._partners = model.neighbours.cpu().numpy() if model.clustering and not model.self_labelling else None

    @torch.no_grad()
    def switch(self, model: ScanModel, recipe: Recipe) -> None:
        """End the pretext stage: neighbours and k-means clusters from the pretext embedding, into the model."""
        settings = self.settings(recipe)
        subset = self.training_subset(recipe.data_fraction)
        train = self.embeddings(model, "train", recipe, subset)
        model.neighbours.copy_(torch.from_numpy(subset[mine_neighbours(train, settings.neighbours)]))
        found = kmeans_clusters(train, [self.embeddings(model, s, recipe) for s in SCORED_SPLITS],
                                settings.clusters, self.seed)
        for split, clusters in zip(SCORED_SPLITS, found):
            getattr(model, f"pretext_clusters_{split}").copy_(torch.from_numpy(clusters))
        model.stage.fill_(CLUSTERING)

    def loss(self, model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        view, partner, _ = batch
        both = torch.cat([view, partner])  # one pass: BatchNorm sees both views, as SimCLR's code does
        if model.clustering:
            logits = model(both)
            if model.self_labelling:
                return self_label_loss(logits[:len(view)], logits[len(view):], model.confidence)
            return scan_loss(logits[:len(view)], logits[len(view):], model.entropy_weight)
        z = model.embed(both)
        return nt_xent(z[:len(view)], z[len(view):], model.temperature)

    # -- evaluation -----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def embeddings(self, model: ScanModel, split: str, recipe: Recipe, rows: np.ndarray | None = None,
                   batch_size: int = 256) -> np.ndarray:
        """The pretext embedding of the images ``rows`` of ``split`` (all by default), in order, not augmented
        (float32, on the host)."""
        model.eval()
        device = next(model.parameters()).device
        images = self.images.split(split).x
        images = images if rows is None else images[rows]
        out = [model.embed(self.images.prepare(images[start:start + batch_size], recipe).to(device)).cpu()
               for start in range(0, len(images), batch_size)]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, recipe: Any, device: Any) -> dict[str, float]:
        model.eval()
        logits, labels = [], []
        for x, y in self.images.eval_batches(split, recipe, device=device):
            logits.append(model(x).float().cpu())
            labels.append(y.cpu())
        truth = torch.cat(labels).numpy()
        scores = cluster_scores(truth, torch.cat(logits).argmax(dim=1).numpy())
        baseline = self._baseline_clusters(model, split, recipe)
        scores.update({f"kmeans_{name}": value for name, value in cluster_scores(truth, baseline).items()})
        return scores

    def _baseline_clusters(self, model: ScanModel, split: str, recipe: Recipe) -> np.ndarray:
        """k-means clusters of ``split`` on the pretext embedding: frozen at the switch, else the current one's."""
        frozen = getattr(model, f"pretext_clusters_{split}", None)
        if model.clustering and frozen is not None:
            return frozen.cpu().numpy()
        train = self.embeddings(model, "train", recipe, self.training_subset(recipe.data_fraction))
        clusters = self.settings(recipe).clusters
        return kmeans_clusters(train, [self.embeddings(model, split, recipe)], clusters, self.seed)[0]


__all__ = ["SCORED_SPLITS", "ScanClustering"]
