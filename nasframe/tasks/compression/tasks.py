"""The compression tasks: prune a cached, pre-trained ResNet by a method, then fine-tune it.

Each task searches its own space and composes an image-classification task
(Fashion-MNIST by default, CIFAR-10 from a user's folder) for data, loss and
accuracy. ``build_model`` loads the base (training and caching it on first
use, :mod:`nasframe.tasks.compression.base`), prunes it to the architecture,
and returns the smaller network; the trainer's recipe epochs are the
fine-tuning.

- :class:`FilterPruning`: ``prune-hrank``, ``prune-filtersketch``,
  ``prune-l1``, ``prune-random``; space: prune ratios per stage (or block);
  objectives: accuracy (max), FLOPs and parameters (min).
- :class:`LotteryTicket`: ``lottery``; space: IMP sparsity schedules;
  objectives: accuracy (max), non-zero parameters (min).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cached_property
from itertools import islice
from typing import Any, ClassVar

import torch

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.task import Objective, Task
from nasframe.tasks.compression.base import BaseNetwork, load_base
from nasframe.tasks.delegate import ImageDelegate
from nasframe.tasks.compression.baselines import l1_scores, random_scores
from nasframe.tasks.compression.filtersketch import prune_filtersketch
from nasframe.tasks.compression.hrank import average_ranks
from nasframe.tasks.compression.lottery import find_ticket
from nasframe.tasks.compression.lottery_space import (
    SparsitySchedule,
    SparsityScheduleSpace,
)
from nasframe.tasks.compression.resnet import ResNet, ResNetConfig
from nasframe.tasks.compression.space import PruneRatioSpace
from nasframe.tasks.compression.surgery import kept_filters, prune_by_scores
from nasframe.tasks.costs import count_nonzero
from nasframe.tasks.recipe import Recipe, RecipeError

METHODS = ("hrank", "filtersketch", "l1", "random")
#: the base network's training when the user gives none: CPU-sized (a minute or two), so a first search
#: starts quickly; docs/TASKS.md's main study trains the base 20 epochs on the whole split (93.2%, 21 CPU minutes)
DEFAULT_BASE_RECIPE = Recipe(epochs=3, batch_size=128, lr=0.1, weight_decay=5e-4, data_fraction=0.2)


class CompressionTask(ImageDelegate):
    """What the compression tasks share: the image task, the base network's shape and training, the seed.

    ``dataset``: an image task or a dataset name (``path`` for one read from
    a folder, e.g. CIFAR-10); ``widths``/``blocks``: the base ResNet
    (ResNet-20 of widths 8/16/32 by default); ``base_recipe``/``base_seed``:
    its training (a :class:`Recipe`, or a mapping of fields that change
    :data:`DEFAULT_BASE_RECIPE`, as ``--task-option base_recipe='{"epochs": 20,
    "data_fraction": 1.0}'`` gives it); ``base_path``: a base file of the
    user's instead of the cache; ``seed``: the task's random choices.
    """

    def __init__(self, dataset: str | Task = "fashion-mnist", *, path: str | None = None,
                 widths: tuple[int, int, int] = (8, 16, 32), blocks: int = 3,
                 base_recipe: Recipe | Mapping[str, Any] | None = None,
                 base_seed: int = 0, base_path: str | None = None, seed: int = 0) -> None:
        if isinstance(dataset, str):
            from nasframe.tasks.image import ImageClassification

            dataset = ImageClassification(dataset, path=path)
        super().__init__(dataset)
        self.config = ResNetConfig(tuple(widths), blocks, getattr(dataset, "in_channels", 1),
                                   getattr(dataset, "num_classes", 10))
        if isinstance(base_recipe, Mapping):  # unknown fields are a RecipeError naming them, and where
            try:
                base_recipe = Recipe.from_dict({**DEFAULT_BASE_RECIPE.to_dict(), **base_recipe})
            except RecipeError as exc:
                raise RecipeError(f"compression task field 'base_recipe': {exc}") from None
        self.base_recipe = base_recipe or DEFAULT_BASE_RECIPE
        self.base_seed, self.base_path, self.seed = base_seed, base_path, seed

    @cached_property
    def base(self) -> BaseNetwork:
        """The pre-trained dense network (trained and cached on first use)."""
        return load_base(self.images, self.config, self.base_recipe, self.base_seed, path=self.base_path)

    def fingerprint(self) -> dict[str, Any]:
        return {"task": self.name, "data": self.images.fingerprint(), "base": self.config.to_dict(),
                "base_recipe": self.base_recipe.to_dict(), "base_seed": self.base_seed, "seed": self.seed}

    def _arch_seed(self, space: SearchSpace, arch: Architecture) -> int:
        """A seed for this task's seed and this architecture (random choices differ per arch, repeat per seed)."""
        text = f"{self.seed}/{space.canonical_hash(arch)}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "little")

    def _space_of(self, space: SearchSpace, kind: type) -> Any:
        if not isinstance(space, kind):
            raise InvalidSetting(f"task {self.name!r} searches a {kind.__name__}, not the space {space.name!r}")
        return space


class FilterPruning(CompressionTask):
    """Filter pruning of the base ResNet by ``method`` (one of :data:`METHODS`); see the module docstring.

    ``granularity`` is the space's (``"stage"`` or ``"block"``); HRank ranks
    filters on ``rank_batches`` training batches of ``rank_batch_size`` images.
    ``recalibrate_batches`` > 0 re-estimates every BatchNorm's running
    statistics of the pruned network on that many training batches (of
    ``rank_batch_size``) before fine-tuning, with no weight changed
    (``torch.optim.swa_utils.update_bn``). Off by default, as in the papers:
    a block's second BatchNorm was fitted to sums over all its inputs, so
    right after pruning every method sits near chance, whatever it kept, and
    a short fine-tuning then spends itself re-fitting those statistics.
    """

    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("accuracy", "max"), Objective("flops", "min", cost=True), Objective("params", "min", cost=True))

    def __init__(self, method: str = "hrank", dataset: str | Task = "fashion-mnist", *, granularity: str = "stage",
                 rank_batches: int = 5, rank_batch_size: int = 128, recalibrate_batches: int = 0,
                 **options: Any) -> None:
        if method not in METHODS:
            raise InvalidSetting(f"filter pruning field 'method': one of {METHODS}, got {method!r}")
        if rank_batches < 1 or rank_batch_size < 1:
            raise InvalidSetting("filter pruning fields 'rank_batches' and 'rank_batch_size' must be >= 1")
        if isinstance(recalibrate_batches, bool) or not isinstance(recalibrate_batches, int) or recalibrate_batches < 0:
            raise InvalidSetting(f"filter pruning field 'recalibrate_batches': an integer >= 0, "
                                 f"got {recalibrate_batches!r}")
        super().__init__(dataset, **options)
        self.method, self.granularity = method, granularity
        self.rank_batches, self.rank_batch_size = rank_batches, rank_batch_size
        self.recalibrate_batches = recalibrate_batches
        self.name = f"prune-{method}"
        self._ranks: dict[Any, list[torch.Tensor]] = {}

    def search_space(self) -> PruneRatioSpace:
        return PruneRatioSpace(self.config.blocks, self.granularity)

    def fingerprint(self) -> dict[str, Any]:
        extra = {"recalibrate_batches": self.recalibrate_batches} if self.recalibrate_batches else {}
        return {**super().fingerprint(), "rank_batches": self.rank_batches, "rank_batch_size": self.rank_batch_size,
                **extra}

    def rank_images(self, recipe: Recipe, count: int | None = None) -> list[torch.Tensor]:
        """The training batches HRank ranks filters on: the first ``rank_batches`` (or ``count``) of the
        (seeded) training split."""
        batches = self.images.eval_batches("train", recipe, batch_size=self.rank_batch_size, device="cpu")
        return [x for x, _ in islice(batches, self.rank_batches if count is None else count)]

    def scores(self, dense: ResNet, recipe: Recipe, seed: int) -> list[torch.Tensor]:
        """Per block, the method's score of every filter (higher: kept first)."""
        if self.method == "l1":
            return l1_scores(dense)
        if self.method == "random":
            return random_scores(dense, torch.Generator().manual_seed(seed))
        key = recipe.image_size
        if key not in self._ranks:  # the base and the images are fixed: rank once per image size
            self._ranks[key] = average_ranks(dense, self.rank_images(recipe))
        return self._ranks[key]

    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Recipe,
                    model_options: dict[str, Any]) -> ResNet:
        """The base pruned to ``arch``'s ratios by the method (on the CPU; the trainer moves it)."""
        space = self._space_of(space, PruneRatioSpace)
        if space.blocks != self.config.blocks:
            raise InvalidSetting(f"task {self.name!r}: the space has {space.blocks} blocks per stage, "
                                 f"the base network {self.config.blocks}")
        kept = kept_filters(self.config, space.block_ratios(arch))
        dense = self.base.model("final")
        if self.method == "filtersketch":
            pruned = prune_filtersketch(dense, kept)
        else:
            pruned = prune_by_scores(dense, self.scores(dense, recipe, self._arch_seed(space, arch)), kept)
        if self.recalibrate_batches:
            torch.optim.swa_utils.update_bn(self.rank_images(recipe, self.recalibrate_batches), pruned)
        return pruned


class LotteryTicket(CompressionTask):
    """Lottery tickets of the base ResNet by IMP with rewinding; see :mod:`nasframe.tasks.compression.lottery`.

    Rounds before the last retrain the masked network with the trainer's
    recipe; the returned ticket is rewound and untrained (the trainer trains it).
    """

    name = "lottery"
    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("accuracy", "max"), Objective("nonzero_params", "min", cost=True))

    def __init__(self, dataset: str | Task = "fashion-mnist", **options: Any) -> None:
        super().__init__(dataset, **options)
        self.name = "lottery"

    def search_space(self) -> SparsityScheduleSpace:
        return SparsityScheduleSpace()

    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Recipe,
                    model_options: dict[str, Any]) -> ResNet:
        schedule: SparsitySchedule = self._space_of(space, SparsityScheduleSpace).validate(arch)
        base = self.base

        def retrain(model: torch.nn.Module) -> None:
            from nasframe.tasks.trainer import Trainer

            Trainer(_Fixed(self, model), recipe, seed=self.seed).fit(space, schedule)
            model.cpu()

        return find_ticket(lambda: ResNet(self.config), base.states["final"], base.states[schedule.rewind],
                           schedule.round_sparsities(), schedule.scope, retrain)

    def costs(self, model: torch.nn.Module, space: Any, arch: Any, recipe: Any) -> dict[str, float]:
        return {"nonzero_params": float(count_nonzero(model))}


class _Fixed(ImageDelegate):
    """The lottery task with its model fixed: the trainer trains ``model`` itself (one IMP round)."""

    def __init__(self, task: LotteryTicket, model: torch.nn.Module) -> None:
        super().__init__(task.images)
        self.name, self.objectives, self.model, self.outer = f"{task.name}-round", task.objectives, model, task

    def build_model(self, space: Any, arch: Any, recipe: Any, model_options: dict[str, Any]) -> torch.nn.Module:
        return self.model

    def costs(self, model: torch.nn.Module, space: Any, arch: Any, recipe: Any) -> dict[str, float]:
        return self.outer.costs(model, space, arch, recipe)


def hrank_task(dataset: str = "fashion-mnist", **options: Any) -> FilterPruning:
    """``prune-hrank``: filters ranked by their feature maps' average rank."""
    return FilterPruning("hrank", dataset, **options)


def filtersketch_task(dataset: str = "fashion-mnist", **options: Any) -> FilterPruning:
    """``prune-filtersketch``: filters replaced by a frequent-directions sketch of the trained ones."""
    return FilterPruning("filtersketch", dataset, **options)


def l1_task(dataset: str = "fashion-mnist", **options: Any) -> FilterPruning:
    """``prune-l1``: the filters of largest L1 norm (baseline)."""
    return FilterPruning("l1", dataset, **options)


def random_task(dataset: str = "fashion-mnist", **options: Any) -> FilterPruning:
    """``prune-random``: a random subset of filters (baseline)."""
    return FilterPruning("random", dataset, **options)


#: registry names and import strings of the factories (:mod:`nasframe.tasks` registers them)
REGISTERED = {f"prune-{m}": f"nasframe.tasks.compression.tasks:{m}_task" for m in METHODS} | {
    "lottery": "nasframe.tasks.compression.tasks:LotteryTicket"}

__all__ = [
    "DEFAULT_BASE_RECIPE",
    "METHODS",
    "REGISTERED",
    "CompressionTask",
    "FilterPruning",
    "LotteryTicket",
    "filtersketch_task",
    "hrank_task",
    "l1_task",
    "random_task",
]
