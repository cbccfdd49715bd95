"""``multitask-branching``: where should a multi-task network branch? (BMTAS, arXiv 2008.10292)

Bruggemann et al. search the tree of a branched multi-task network: which
tasks share each layer of a backbone, trading the multi-task performance
Δm (Vandenhende et al., arXiv 2004.13379) against the network's
multiply-adds. Here the data are composite canvases built offline
(:mod:`nasframe.tasks.multitask.data`: two objects per canvas; tasks: the
left and right objects' classes, a segmentation map, its edges); the space
is :class:`~nasframe.tasks.multitask.space.BranchingSpace` over a small
4-block CNN (:mod:`~nasframe.tasks.multitask.network`); Δm is measured
against single-task baselines trained once per recipe and cached
(:mod:`~nasframe.tasks.multitask.baselines`).

Objectives: ``delta_m`` (max, percent), ``madds`` and ``params`` (min).
Recipe: ``channels`` is the first block's width (the others twice it),
``layers`` the conv units per block; ``augment`` shifts image and label maps
together (random crop, padding 1/8 of the side: flips would swap left and
right); task option ``edge_pos_weight`` weighs edge pixels in their loss.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.task import Objective, Task
from nasframe.tasks.augment import cutout, random_crop
from nasframe.tasks.costs import count_flops, count_parameters
from nasframe.tasks.multitask.baselines import load_baselines
from nasframe.tasks.multitask.data import build_splits
from nasframe.tasks.multitask.heads import TASKS, evaluate_tasks, head_specs, metric_name, total_loss
from nasframe.tasks.multitask.metrics import BASELINE_FLOOR, delta_m
from nasframe.tasks.multitask.network import BranchedNet
from nasframe.tasks.multitask.space import TASK_NAMES, BranchingSpace
from nasframe.tasks.networks import training_memory

SOURCES = ("mnist5k", "fashion-mnist", "digits")


def _positive_int(field: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidSetting(f"multitask-branching field {field!r}: an integer >= {least}, got {value!r}")
    return value


class MultitaskBranching(Task):
    """The branched multi-task task; see the module docstring.

    ``dataset``: the source images (:data:`SOURCES`); ``tasks``: a subset
    (two or more) of ``left``, ``right``, ``seg``, ``edge``; ``layers``: the
    backbone's blocks (the space's depth); ``side``/``object_side``: canvas
    and object size; ``*_canvases``: canvases per split; ``seed``: the
    data; ``baseline_seed``: the single-task trainings.
    """

    name = "multitask-branching"
    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("delta_m", "max"), Objective("madds", "min", cost=True), Objective("params", "min", cost=True))
    recipe_options: ClassVar[dict[str, Any]] = {"edge_pos_weight": 4.0}

    def __init__(self, dataset: str = "fashion-mnist", *, tasks: Sequence[str] = TASK_NAMES, layers: int = 4,
                 side: int = 32, object_side: int = 16, train_canvases: int = 4000, val_canvases: int = 1000,
                 test_canvases: int = 1000, seed: int = 0, baseline_seed: int = 0) -> None:
        from nasframe.tasks.datasets import DATASET_READERS

        if dataset not in SOURCES:
            raise InvalidSetting(f"multitask-branching field 'dataset': one of {SOURCES}, got {dataset!r}")
        tasks = tuple(tasks)
        if len(tasks) < 2 or len(set(tasks)) != len(tasks) or not set(tasks) <= set(TASKS):
            raise InvalidSetting(f"multitask-branching field 'tasks': two or more distinct of {tuple(TASKS)}, "
                                 f"got {tasks!r}")
        self.layers = _positive_int("layers", layers)
        self.object_side = _positive_int("object_side", object_side, 4)
        self.side = _positive_int("side", side, 2 * object_side)
        self.counts = {split: _positive_int(f"{split}_canvases", n) for split, n in
                       (("train", train_canvases), ("val", val_canvases), ("test", test_canvases))}
        self.dataset, self.tasks, self.seed, self.baseline_seed = dataset, tasks, seed, baseline_seed
        source = DATASET_READERS[dataset]()
        self.num_classes = source.num_classes
        self.splits = build_splits(source.x_train, source.y_train, source.max_value, counts=self.counts,
                                   side=self.side, object_side=self.object_side, seed=seed)
        scaled = self.splits["train"].x.astype(np.float32) / 255
        self.mean, self.std = float(scaled.mean()), float(scaled.std())
        self._baselines: dict[str, dict[str, dict[str, float]]] = {}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"MultitaskBranching({self.dataset!r}, tasks={self.tasks}, {sizes}, seed={self.seed})"

    @property
    def image_side(self) -> int:
        return self.side

    def search_space(self) -> BranchingSpace:
        return BranchingSpace(self.tasks, self.layers)

    def fingerprint(self) -> dict[str, Any]:
        return {"task": self.name, "dataset": self.dataset, "tasks": list(self.tasks), "layers": self.layers,
                "side": self.side, "object_side": self.object_side, "canvases": self.counts, "seed": self.seed,
                "baseline_seed": self.baseline_seed}

    # -- data -------------------------------------------------------------------------------------------------

    def training_subset(self, fraction: float) -> np.ndarray:
        """A seeded subset of the training canvases, the same for every architecture and the baselines."""
        n = len(self.splits["train"])
        if fraction >= 1.0:
            return np.arange(n)
        rng = np.random.default_rng(self.seed + 1)
        return np.sort(rng.choice(n, max(1, int(round(n * fraction))), replace=False))

    def _batch(self, split: str, idx: np.ndarray, recipe: Any, generator: torch.Generator | None,
               device: Any) -> tuple[torch.Tensor, ...]:
        """Canvases ``idx`` of ``split`` as ``(x, left, right, seg, edge)``; augmented when ``generator`` is given."""
        data = self.splits[split]
        x = torch.tensor(data.x[idx], dtype=torch.float32) / 255
        seg, edge = torch.tensor(data.seg[idx], dtype=torch.float32), torch.tensor(data.edge[idx], dtype=torch.float32)
        if generator is not None and recipe.augment:
            # one crop for image and label maps alike; zero padding is background in all three
            moved = random_crop(torch.cat([x, seg[:, None], edge[:, None]], 1), max(1, self.side // 8), generator)
            x, seg, edge = moved[:, :1], moved[:, 1], moved[:, 2]
        x = (x - self.mean) / self.std
        if recipe.image_size is not None and recipe.image_size != self.side:
            x = F.interpolate(x, size=(recipe.image_size, recipe.image_size), mode="bilinear", align_corners=False,
                              antialias=True)
        if generator is not None:
            x = cutout(x, recipe.cutout, generator)
        labels = (torch.tensor(data.left[idx]), torch.tensor(data.right[idx]), seg.long(), edge.long())
        return tuple(t.to(device) for t in (x, *labels))

    def train_batches(self, recipe: Any, generator: torch.Generator, subset: np.ndarray,
                      device: Any = "cpu") -> Iterator[tuple[torch.Tensor, ...]]:
        subset = self.training_subset(recipe.data_fraction) if subset is None else subset
        order = subset[torch.randperm(len(subset), generator=generator).numpy()]
        for start in range(0, len(order), recipe.batch_size):
            yield self._batch("train", np.sort(order[start:start + recipe.batch_size]), recipe, generator, device)

    def eval_batches(self, split: str, recipe: Any, device: Any = "cpu") -> Iterator[tuple[torch.Tensor, ...]]:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        for start in range(0, len(self.splits[split]), 256):
            yield self._batch(split, np.arange(start, min(start + 256, len(self.splits[split]))), recipe, None, device)

    # -- checks -----------------------------------------------------------------------------------------------

    def check_trainable(self, space: SearchSpace, recipe: Any) -> None:
        if not isinstance(space, BranchingSpace) or space.tasks != self.tasks or space.layers != self.layers:
            raise InvalidSetting(f"--space: task {self.name!r} searches a multitask-branching space of the tasks "
                                 f"{self.tasks} and {self.layers} layers, not {space!r}")
        weight = self.option(recipe, "edge_pos_weight")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or not 0 < weight <= 100:
            raise InvalidSetting(f"recipe task option 'edge_pos_weight'={weight!r}: a number in (0, 100]")
        if recipe.image_size is not None and recipe.image_size < 8:
            raise InvalidSetting(f"recipe field 'image_size'={recipe.image_size}: at least 8 for the canvases "
                                 f"(two objects side by side)")
        recipe.check_memory(recipe.image_size or self.side, *training_memory())

    def check_arch(self, space: SearchSpace, arch: Architecture) -> None:
        space.validate(arch)

    # -- model, step, evaluation ------------------------------------------------------------------------------

    def network(self, groupings: Any, tasks: Sequence[str], recipe: Any) -> BranchedNet:
        """The branched network of ``groupings`` for ``tasks`` sized by ``recipe`` (also the baselines' builder)."""
        net = BranchedNet(groupings, heads=head_specs(tasks, self.num_classes), channels=recipe.channels,
                          depth=recipe.layers, in_channels=1, out_side=self.side)
        net.edge_pos_weight = float(self.option(recipe, "edge_pos_weight"))  # what loss() reads (no recipe there)
        return net

    def baselines(self, recipe: Any, device: Any = None) -> dict[str, dict[str, float]]:
        """The single-task baselines' metrics under ``recipe`` by split (trained and cached on first use)."""
        key = json.dumps(recipe.to_dict(), sort_keys=True, default=str)
        if key not in self._baselines:
            self._baselines[key] = load_baselines(self, recipe, self.baseline_seed, device=device)
            weak = {k: v for k, v in self._baselines[key]["val"].items() if v < BASELINE_FLOOR}
            if weak:  # Δm divides by these: one near 0 makes that task's term dominate every Δm of this recipe
                warnings.warn(f"multitask-branching: single-task baselines that learned nothing under this recipe "
                              f"({weak}); their Δm terms divide by {BASELINE_FLOOR} and dominate Δm: train longer "
                              f"(epochs, data_fraction, lr)", RuntimeWarning, stacklevel=2)
        return self._baselines[key]

    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Any,
                    model_options: dict[str, Any]) -> torch.nn.Module:
        self.baselines(recipe)  # before the first epoch, so that a trial's evaluations only read them
        return self.network(space.validate(arch).groupings, self.tasks, recipe)

    def loss(self, model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        return total_loss(model(batch[0]), batch, model.edge_pos_weight)

    def evaluate(self, model: torch.nn.Module, split: str, recipe: Any, device: Any) -> dict[str, float]:
        """Every task's metric and Δm against the single-task baselines on the same split."""
        metrics = evaluate_tasks(model, self.eval_batches(split, recipe, device), self.tasks, self.num_classes)
        single = self.baselines(recipe, device)[split]
        metrics["delta_m"] = delta_m({metric_name(t): metrics[metric_name(t)] for t in self.tasks},
                                     {metric_name(t): single[metric_name(t)] for t in self.tasks})
        return metrics

    def network_costs(self, model: torch.nn.Module, recipe: Any) -> dict[str, float]:
        """Multiply-adds of one forward pass (torch's FLOPs / 2) and trainable parameters."""
        side = recipe.image_size or self.side
        example = torch.zeros(1, 1, side, side, device=next(model.parameters()).device)
        return {"madds": count_flops(model, example) / 2, "params": float(count_parameters(model))}

    def costs(self, model: torch.nn.Module, space: SearchSpace, arch: Architecture, recipe: Any) -> dict[str, float]:
        return self.network_costs(model, recipe)


__all__ = ["SOURCES", "MultitaskBranching"]
