"""The single-task baselines Δm is measured against: one network per task, trained once per recipe, cached.

Δm compares a branched network with the same backbone trained for each
task alone, *under the same recipe* (epochs, data, width, image size...),
so every recipe has its own baselines. They are trained with the generic
:class:`~nasframe.tasks.trainer.Trainer` (a :class:`SingleTask` per task:
the canvases, one head, that task's loss and metric) and cached as
``$NASFRAME_CACHE/multitask/baselines-<key>.pt`` (their weights) next to a
JSON record: what made them (data, tasks, recipe, seed; the key is a hash of
that), the sha256 of the weights file and their validation and test
metrics. A file whose bytes differ from the checksum, or whose record is of
another training, is refused (:class:`BaselineMismatch` naming the fields).
Both files are written atomically, the record last: a killed training leaves
no record, and the baselines are then trained again.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np
import torch

from nasframe.core.errors import UserError
from nasframe.core.task import Objective, Task
from nasframe.tasks.artifacts import cache_path, read_record, write_artifact
from nasframe.tasks.multitask.heads import evaluate_tasks, metric_name, total_loss

SPLITS = ("val", "test")


class BaselineMismatch(UserError, ValueError):
    """A cached single-task baseline file is corrupt or of another training."""


class SingleTask(Task):
    """One task of a multi-task ``parent`` alone: its data, one network (the backbone and the task's head)."""

    objectives: ClassVar[tuple[Objective, ...]] = ()

    def __init__(self, parent: Any, task: str) -> None:
        self.parent, self.task = parent, task
        self.name = f"{parent.name}/{task}"
        self.objectives = (Objective(metric_name(task), "max"),)  # type: ignore[misc]
        self.model: torch.nn.Module | None = None

    def training_subset(self, fraction: float) -> np.ndarray:
        return self.parent.training_subset(fraction)

    def train_batches(self, recipe: Any, generator: torch.Generator, subset: np.ndarray, device: Any) -> Iterator:
        return self.parent.train_batches(recipe, generator, subset, device)

    def eval_batches(self, split: str, recipe: Any, device: Any) -> Iterator:
        return self.parent.eval_batches(split, recipe, device)

    def build_model(self, space: Any, arch: Any, recipe: Any, model_options: dict[str, Any]) -> torch.nn.Module:
        self.model = self.parent.network(((tuple([(0,)]),) * self.parent.layers), [self.task], recipe)
        return self.model

    def loss(self, model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        return total_loss(model(batch[0]), batch, model.edge_pos_weight)

    def evaluate(self, model: torch.nn.Module, split: str, recipe: Any, device: Any) -> dict[str, float]:
        return evaluate_tasks(model, self.eval_batches(split, recipe, device), [self.task], self.parent.num_classes)

    def costs(self, model: torch.nn.Module, space: Any, arch: Any, recipe: Any) -> dict[str, float]:
        return self.parent.network_costs(model, recipe)

    def fingerprint(self) -> dict[str, Any]:
        return {**self.parent.fingerprint(), "single_task": self.task}


def identity(parent: Any, recipe: Any, seed: int) -> dict[str, Any]:
    """What makes a set of baselines: the data and tasks (the parent's fingerprint), the recipe, the seed."""
    return {"data": parent.fingerprint(), "recipe": recipe.to_dict(), "seed": seed}


def train_baselines(parent: Any, recipe: Any, seed: int, device: Any = None
                    ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, dict[str, float]]]:
    """Train one network per task of ``parent`` under ``recipe``; their weights and ``{split: {metric: value}}``."""
    from nasframe.tasks.trainer import Trainer

    space = parent.search_space()
    states: dict[str, dict[str, torch.Tensor]] = {}
    metrics: dict[str, dict[str, float]] = {split: {} for split in SPLITS}
    for task in parent.tasks:
        single = SingleTask(parent, task)
        result = Trainer(single, recipe, device=device, seed=seed, evaluate_test=True).fit(space, space.all_shared())
        states[task] = {k: v.detach().cpu().clone() for k, v in single.model.state_dict().items()}  # type: ignore
        for split in SPLITS:
            metrics[split][metric_name(task)] = float(result.history[-1][f"{split}_{metric_name(task)}"])
    return states, metrics


def load_baselines(parent: Any, recipe: Any, seed: int = 0, *, device: Any = None) -> dict[str, dict[str, float]]:
    """The baselines' metrics of (``parent``, ``recipe``, ``seed``), trained and cached on first use."""
    ident = identity(parent, recipe, seed)
    path = cache_path("multitask", "baselines", ident)
    record = read_record(path, ident, BaselineMismatch, "single-task baselines")
    if record is not None:
        return record["metrics"]
    # a fork of the random state: training the baselines must not change the caller's (the branched
    # network is initialised next, and must be the same whether the baselines were cached or not)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        states, metrics = train_baselines(parent, recipe, seed, device)
    return write_artifact(path, states, ident, metrics=metrics)["metrics"]


__all__ = ["BaselineMismatch", "SingleTask", "identity", "load_baselines", "train_baselines"]
