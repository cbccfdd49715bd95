"""Tasks: what the architectures of a space are trained *for*, on real data, offline.

The first task is image classification (:class:`ImageClassification`) on
Fashion-MNIST, MNIST-5k, scikit-learn digits or a local CIFAR-10. Tasks are
registered by name in :data:`nasframe.core.TASKS` (plug-ins add theirs with
``TASKS.register`` or under the ``nasframe.tasks`` entry-point group)::

    from nasframe.tasks import Recipe, Trainer, load_task

    task = load_task("fashion-mnist")
    result = Trainer(task, Recipe(epochs=4)).fit(space, arch, checkpoint_dir="ckpt/")
"""

from __future__ import annotations

from functools import partial
from typing import Any

from nasframe.core.registry import TASKS
from nasframe.tasks.datasets import DATASET_READERS, DatasetError, ImageDataset, read_idx
from nasframe.tasks.image import ImageClassification
from nasframe.tasks.recipe import Recipe, RecipeError, parse_overrides
from nasframe.tasks.trainer import CheckpointMismatch, Trainer, TrainResult

for _name in DATASET_READERS:
    TASKS.register(_name, partial(ImageClassification, _name))
# the compression tasks (nasframe.tasks.compression.tasks.REGISTERED), by import string: nothing loads until used
for _name in ("hrank", "filtersketch", "l1", "random"):
    TASKS.register(f"prune-{_name}", f"nasframe.tasks.compression.tasks:{_name}_task")
TASKS.register("lottery", "nasframe.tasks.compression.tasks:LotteryTicket")
# the tasks of the seed papers beyond compression (docs/TASKS.md), by import string as well
TASKS.register("metric", "nasframe.tasks.metric.task:MetricLearning")
TASKS.register("knowledge-evolution", "nasframe.tasks.knowledge_evolution.task:KnowledgeEvolution")
TASKS.register("spectral-upconv", "nasframe.tasks.spectral.task:SpectralUpconv")
TASKS.register("multitask-branching", "nasframe.tasks.multitask.task:MultitaskBranching")
TASKS.register("scan", "nasframe.tasks.scan.task:ScanClustering")


def load_task(name: str, **options: Any) -> ImageClassification:
    """The task registered as ``name`` (``"fashion-mnist"``, ``"mnist5k"``, ``"digits"``, ``"cifar10"``),
    built with ``options`` (``path=``, ``val_fraction=``, ``seed=``...)."""
    return TASKS.create(name, **options)


def task_names() -> list[str]:
    return TASKS.names()


__all__ = [
    "CheckpointMismatch",
    "DatasetError",
    "ImageClassification",
    "ImageDataset",
    "Recipe",
    "RecipeError",
    "TrainResult",
    "Trainer",
    "load_task",
    "parse_overrides",
    "read_idx",
    "task_names",
]
