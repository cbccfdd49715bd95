"""What each of the four tasks is: its head, its loss, its metric; shared by the multi-task network and the
single-task baselines so that both are trained and judged identically.

A batch is ``(x, left, right, seg, edge)`` whatever tasks a network has, so
one data pipeline serves every tree and every baseline.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nasframe.tasks.multitask.metrics import confusion, edge_counts, fscore, mean_iou

#: per task: head kind, metric name, position of its label in a batch
TASKS: dict[str, tuple[str, str, int]] = {
    "left": ("class", "accuracy", 1),
    "right": ("class", "accuracy", 2),
    "seg": ("dense", "miou", 3),
    "edge": ("dense", "fscore", 4),
}


def metric_name(task: str) -> str:
    """The key a task's metric is reported under (``left_accuracy``, ``seg_miou``, ``edge_fscore``)."""
    return f"{task}_{TASKS[task][1]}"


def head_specs(tasks: Sequence[str], num_classes: int) -> list[tuple[str, str, int]]:
    """``(name, kind, outputs)`` per task for :class:`~nasframe.tasks.multitask.network.BranchedNet`."""
    outputs = {"left": num_classes, "right": num_classes, "seg": 1 + num_classes, "edge": 1}
    return [(t, TASKS[t][0], outputs[t]) for t in tasks]


def task_loss(task: str, output: torch.Tensor, batch: tuple, edge_pos_weight: float) -> torch.Tensor:
    """One task's loss: cross-entropy for classes and segmentation, weighted binary cross-entropy for edges
    (edge pixels are ~10% of a canvas; without the weight a detector learns to predict none)."""
    label = batch[TASKS[task][2]]
    if task == "edge":
        weight = torch.tensor(edge_pos_weight, device=output.device, dtype=torch.float32)
        return F.binary_cross_entropy_with_logits(output[:, 0].float(), label.float(), pos_weight=weight)
    return F.cross_entropy(output.float(), label.long())


def total_loss(outputs: dict[str, torch.Tensor], batch: tuple, edge_pos_weight: float) -> torch.Tensor:
    """The unweighted sum of the tasks' losses (BMTAS trains its branched networks with fixed task weights)."""
    return sum(task_loss(task, out, batch, edge_pos_weight) for task, out in outputs.items())  # type: ignore[return-value]


@torch.no_grad()
def evaluate_tasks(model: torch.nn.Module, batches: Iterable[tuple], tasks: Sequence[str],
                   num_classes: int) -> dict[str, float]:
    """Every task's metric over all ``batches`` (accumulated over the split, not averaged per batch)."""
    model.eval()
    correct = {t: 0 for t in tasks if TASKS[t][0] == "class"}
    total = 0
    matrix = np.zeros((1 + num_classes, 1 + num_classes), dtype=np.int64)
    edges = np.zeros(4)
    for batch in batches:
        outputs: dict[str, Any] = model(batch[0])
        total += len(batch[0])
        for task in correct:
            correct[task] += int((outputs[task].argmax(1) == batch[TASKS[task][2]]).sum())
        if "seg" in tasks:
            matrix += confusion(outputs["seg"].argmax(1), batch[3], 1 + num_classes)
        if "edge" in tasks:
            edges += edge_counts(outputs["edge"], batch[4])
    metrics = {metric_name(t): correct[t] / max(total, 1) for t in correct}
    if "seg" in tasks:
        metrics[metric_name("seg")] = mean_iou(matrix)
    if "edge" in tasks:
        metrics[metric_name("edge")] = fscore(edges)
    return metrics


__all__ = ["TASKS", "evaluate_tasks", "head_specs", "metric_name", "task_loss", "total_loss"]
