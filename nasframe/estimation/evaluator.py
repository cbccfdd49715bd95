"""The BPE evaluator MIP calls: a fixed set of architectures trained on Ray under each BPE recipe.

A BPE is scored by how well the accuracies it gives rank the architectures
like full training does, and by what it costs. Trainings are slow and a
study may be killed, so every training result is a file of its own, written
atomically: a re-run trains only what is missing and reproduces the scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
from scipy.stats import kendalltau, spearmanr

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.files import atomic_file, pin_settings
from nasframe.estimation.bpe import config_key
from nasframe.core.task import Task
from nasframe.tasks import Recipe


def rank_correlations(estimate: Sequence[float], reference: Sequence[float]) -> tuple[float, float]:
    """Spearman and Kendall correlation of a BPE's accuracies with the reference ones."""
    return float(spearmanr(estimate, reference).statistic), float(kendalltau(estimate, reference).statistic)


class BPEEvaluator:
    """Trains a fixed set of architectures under BPE recipes on Ray and scores them against a reference.

    The reference is the same architectures trained with the full recipe
    (:meth:`reference`, test accuracy); a BPE is scored by the Spearman and
    Kendall correlation of its *validation* accuracies (what a search would
    see) with the reference, and by its cost ratio, its mean training
    seconds per architecture over the reference's. Every training result is
    a JSON file in ``folder`` (written atomically), so re-running after a kill
    trains only what is missing.
    """

    def __init__(self, task: Task, space: SearchSpace, archs: Sequence[Architecture],
                 full: Recipe, folder: str | Path, *, seed: int = 0,
                 resources: dict[str, float] | None = None) -> None:
        self.task, self.space, self.archs, self.full = task, space, list(archs), full
        self.folder = Path(folder)
        self.seed = seed
        self.resources = resources
        self.hashes = [space.canonical_hash(a) for a in self.archs]
        if len(set(self.hashes)) != len(self.hashes):
            raise InvalidSetting("the reference architectures must be distinct: the space drew a repeat; "
                                 "try another seed")
        self._reference: pd.DataFrame | None = None
        self._check_manifest()

    def _check_manifest(self) -> None:
        """Pin the folder to this study: stored trainings of another task, space, set of
        architectures, full recipe or seed must not be mixed into this one's scores."""
        manifest = {"task": self.task.name, "task_data": self.task.fingerprint(), "space": self.space.name,
                    "archs": self.hashes, "full": self.full.to_dict(), "seed": self.seed}
        pin_settings(self.folder / "manifest.json", manifest, what="BPE study")

    def _train(self, recipes: dict[str, tuple[Recipe, int]], evaluate_test: bool) -> dict[str, pd.DataFrame]:
        """Train every architecture under every (recipe, seed) not already stored; per key, a frame."""
        from nasframe.training import train_many

        jobs = []
        for key, (recipe, seed) in recipes.items():
            for arch, h in zip(self.archs, self.hashes):
                if not (self.folder / key / f"{h}.json").is_file():
                    jobs.append((key, recipe, arch, h, seed))

        def store(index: int, r: Any) -> None:
            key, recipe, _, h, seed = jobs[index]
            (self.folder / key).mkdir(parents=True, exist_ok=True)
            with atomic_file(self.folder / key / f"{h}.json", "w") as handle:
                json.dump({"arch": h, "recipe": recipe.to_dict(), "seed": seed, "val_accuracy": r.val_accuracy,
                           "test_accuracy": r.test_accuracy, "seconds": r.seconds, "params": r.params}, handle)

        if jobs:
            train_many(self.task, self.space, [j[2] for j in jobs], [j[1] for j in jobs], seed=[j[4] for j in jobs],
                       evaluate_test=evaluate_test, resources=self.resources, on_result=store)
        return {key: pd.DataFrame([json.loads((self.folder / key / f"{h}.json").read_text()) for h in self.hashes])
                for key in recipes}

    def reference(self) -> pd.DataFrame:
        """The architectures trained with the full recipe: one row each (val/test accuracy, seconds)."""
        if self._reference is None:
            self._reference = self._train({"full": (self.full, self.seed)}, evaluate_test=True)["full"]
        return self._reference

    def describe_reference(self) -> str:
        """The reference as text: what was trained on what, its test accuracies and time per architecture."""
        reference = self.reference()
        accuracy = reference["test_accuracy"]
        return (f"reference: {len(self.archs)} {self.space.name} architectures on {self.task.name}, {self.full}\n"
                f"  test accuracy median {accuracy.median():.4f} (min {accuracy.min():.4f}, "
                f"max {accuracy.max():.4f}), {reference['seconds'].mean():.1f} s per architecture")

    def __call__(self, configs: list[dict[str, Any]], replicate: int = 0) -> pd.DataFrame:
        """Score ``configs``; ``replicate`` r > 0 trains them again with training seed ``seed + r``
        (stored apart), to measure how much a correlation owes to one seed's luck."""
        reference = self.reference()
        full_cost = reference["seconds"].mean()
        keys = [config_key(c) + (f"-r{replicate}" if replicate else "") for c in configs]
        recipes = {k: (self.full.replace(**c), self.seed + replicate) for k, c in zip(keys, configs)}
        trained = self._train(recipes, evaluate_test=False)
        rows = []
        for config, key in zip(configs, keys):
            frame = trained[key]
            spearman, kendall = rank_correlations(frame["val_accuracy"], reference["test_accuracy"])
            rows.append({**config, "spearman": spearman, "kendall": kendall,
                         "cost_ratio": frame["seconds"].mean() / full_cost,
                         "seconds_per_arch": frame["seconds"].mean(),
                         "mean_val_accuracy": frame["val_accuracy"].mean()})
        return pd.DataFrame(rows)
