"""The metric task's data: seen and unseen classes, seeded label noise, and P x K batches.

Pure functions of arrays and seeds, so every architecture of a search sees
the same images, the same flipped labels and (for one trainer seed) the
same batches.
"""

from __future__ import annotations

import numpy as np
import torch

from nasframe.core.errors import InvalidSetting


def class_rows(labels: np.ndarray, classes: range) -> np.ndarray:
    """Indices of the rows whose label is one of ``classes`` (seen for training, unseen for evaluation)."""
    return np.flatnonzero((labels >= classes.start) & (labels < classes.stop))


def balanced_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded, class-balanced ``fraction`` of the rows (at least one per class), sorted."""
    if fraction >= 1.0:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = [rng.choice(rows, max(1, int(round(len(rows) * fraction))), replace=False)
            for rows in (np.flatnonzero(labels == label) for label in np.unique(labels))]
    return np.sort(np.concatenate(keep))


def flip_labels(labels: np.ndarray, fraction: float, num_classes: int, seed: int) -> np.ndarray:
    """``labels`` with ``round(fraction * n)`` of them, drawn with ``seed``, moved to another class at random.

    The same rows and new labels for every architecture and epoch (noise is
    a property of the data set, not of one training). Labels are in
    ``0..num_classes-1``; a flipped label never equals the true one.
    """
    if not 0.0 <= fraction < 1.0:
        raise InvalidSetting(f"recipe task option 'label_noise'={fraction!r}: a fraction in [0, 1)")
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    rows = rng.choice(len(labels), int(round(fraction * len(labels))), replace=False)
    # an offset in 1..C-1 modulo C is a uniformly drawn *other* class
    noisy[rows] = (labels[rows] + rng.integers(1, num_classes, len(rows))) % num_classes
    return noisy


def pk_batches(labels: np.ndarray, subset: np.ndarray, batch_size: int, per_class: int,
               generator: torch.Generator) -> list[np.ndarray]:
    """One epoch of P x K batches of ``subset``'s rows: ``P`` classes, about ``batch_size / P`` images each.

    ``P = min(classes, batch_size // per_class)``: every class in a batch has
    at least ``per_class`` images, so the triplet loss always finds
    positives. Each class's rows are drawn without replacement, reshuffled
    when used up. ``len(subset) // batch_size`` batches (at least one), all of
    exactly ``batch_size`` rows, drawn from ``generator`` (the trainer's, so
    a resumed training continues the same sequence).
    """
    classes = np.unique(labels[subset])
    pools = {c: subset[labels[subset] == c] for c in classes}
    queues: dict[int, list[int]] = {c: [] for c in classes}
    p = max(1, min(len(classes), batch_size // per_class))
    sizes = np.full(p, batch_size // p)
    sizes[: batch_size % p] += 1
    batches = []
    for _ in range(max(1, len(subset) // batch_size)):
        chosen = classes[torch.randperm(len(classes), generator=generator)[:p].numpy()]
        rows = [_draw(pools[c], queues[c], int(k), generator) for c, k in zip(chosen, sizes)]
        batches.append(np.sort(np.concatenate(rows)))
    return batches


def _draw(pool: np.ndarray, queue: list[int], count: int, generator: torch.Generator) -> np.ndarray:
    """``count`` rows of one class: the next ones of its shuffled queue, refilled with a new shuffle when empty."""
    out = []
    while len(out) < count:
        if not queue:
            queue.extend(pool[torch.randperm(len(pool), generator=generator).numpy()].tolist())
        take = min(count - len(out), len(queue))
        out.extend(queue[:take])
        del queue[:take]
    return np.asarray(out, dtype=np.int64)
