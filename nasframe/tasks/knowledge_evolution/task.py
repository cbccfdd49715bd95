"""Knowledge Evolution (KE; Taha, Shrivastava and Davis, CVPR 2021, arXiv 2103.05152) as a task.

KE trains a network on little data for ``G`` generations. The network is
split (:mod:`.network`, KELS): the fit hypothesis (the first ``k`` share of
every layer's filters) carries over from one generation to the next, the
reset hypothesis (the rest) is re-initialised at the start of each
generation, and every generation is a full training with a fresh optimiser
and learning-rate schedule. Generations push knowledge into the fit
hypothesis, which, extracted alone, is a slim network ``k`` times as wide.

What is searched: the split rate and the number of generations
(:class:`~.space.KESplitSpace`). Objectives: the dense network's accuracy
(primary), the slim network's accuracy, and the slim network's FLOPs and
parameters (the dense network's costs are fixed by the recipe, the slim
network's vary with ``k``: that is the trade-off a search can explore).

**The recipe's epochs are the budget of all generations together**
(generation ``g`` starts at epoch ``floor(g E / G)``), so every architecture
of a search costs the same and ``G = 1`` is the same-budget baseline: one
long training. The trainer restarts the schedule and clears the optimiser
at each generation (:meth:`KnowledgeEvolution.restart_epochs`), as the
official code builds a new optimiser per generation. The validation
metrics are recorded every epoch with ``val_generation`` (1-based), so a
history shows each generation's dense and slim accuracy
(:func:`per_generation`).

Data: a seeded, class-balanced subset of ``samples_per_class`` training
images per class (a recipe option; KE is a method for small data), drawn
from the recipe's ``data_fraction`` of the image task's training split;
validation and test are the image task's, untouched.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.task import Objective, Task
from nasframe.tasks.costs import count_flops, count_parameters
from nasframe.tasks.delegate import ImageDelegate
from nasframe.tasks.knowledge_evolution.network import (
    ConvNetConfig,
    SplitNetwork,
    generation_starts,
)
from nasframe.tasks.knowledge_evolution.space import DEFAULT_GENERATIONS, DEFAULT_SPLIT_RATES, KESplit, KESplitSpace
from nasframe.tasks.networks import training_memory


class KnowledgeEvolution(ImageDelegate):
    """Knowledge Evolution on a small, class-balanced subset of an image dataset; see the module docstring.

    ``dataset``: an image task or a dataset name (``path`` for one read from
    a folder); ``val_fraction``: the image task's validation share;
    ``seed``: which images form the small training subset; ``split_rates``
    and ``generations``: the grids of the default space.
    """

    name = "knowledge-evolution"
    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("accuracy", "max"), Objective("slim_accuracy", "max"),
        Objective("slim_flops", "min", cost=True), Objective("slim_params", "min", cost=True))
    #: the official sample run trains with label smoothing 0.1 (``smthTrue``); 0 turns it off
    recipe_options: ClassVar[dict[str, Any]] = {"samples_per_class": 20, "label_smoothing": 0.1}

    def __init__(self, dataset: str | Task = "fashion-mnist", *, path: str | None = None, val_fraction: float = 1 / 6,
                 seed: int = 0, split_rates: tuple[float, ...] = DEFAULT_SPLIT_RATES,
                 generations: tuple[int, ...] = DEFAULT_GENERATIONS) -> None:
        if isinstance(dataset, str):
            from nasframe.tasks.image import ImageClassification

            dataset = ImageClassification(dataset, path=path, val_fraction=val_fraction)
        super().__init__(dataset)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidSetting(f"knowledge-evolution field 'seed'={seed!r}: an integer")
        self.seed = seed
        self.space = KESplitSpace(split_rates, generations)
        self.name = "knowledge-evolution"

    def __repr__(self) -> str:
        return f"KnowledgeEvolution({self.images!r}, seed={self.seed}, space={self.space!r})"

    def search_space(self) -> KESplitSpace:
        return self.space

    def fingerprint(self) -> dict[str, Any]:
        return {"task": self.name, "data": self.images.fingerprint(), "seed": self.seed}

    # -- data ------------------------------------------------------------------------------------------------

    def small_subset(self, subset: np.ndarray, samples_per_class: int) -> np.ndarray:
        """``samples_per_class`` training indices of every class, drawn from ``subset`` with the task's seed."""
        labels = self.images.train.y
        rng = np.random.default_rng([self.seed, 2103_05152])  # the paper's id: a stream no other draw shares
        keep = []
        for label in np.unique(labels):
            members = subset[labels[subset] == label]
            if len(members) < samples_per_class:
                raise InvalidSetting(f"recipe task option 'samples_per_class'={samples_per_class}: class {label} "
                                     f"has only {len(members)} training images under this data_fraction")
            keep.append(rng.choice(members, samples_per_class, replace=False))
        return np.sort(np.concatenate(keep))

    def train_batches(self, recipe: Any, generator: torch.Generator, subset: np.ndarray, device: Any) -> Iterator:
        small = self.small_subset(np.asarray(subset), self.option(recipe, "samples_per_class"))
        return self.images.train_batches(recipe, generator, small, device=device)

    # -- checks ----------------------------------------------------------------------------------------------

    def _split_space(self, space: SearchSpace) -> KESplitSpace:
        if not isinstance(space, KESplitSpace):
            raise InvalidSetting(f"task {self.name!r} searches a KESplitSpace (split rate x generations), "
                                 f"not the space {space.name!r}")
        return space

    def check_arch(self, space: SearchSpace, arch: Architecture) -> None:
        self._split_space(space).validate(arch)

    def check_trainable(self, space: SearchSpace, recipe: Any) -> None:
        """Refuse a foreign space, options out of range, fewer epochs than generations, too few images."""
        space = self._split_space(space)
        per_class, smoothing = self.option(recipe, "samples_per_class"), self.option(recipe, "label_smoothing")
        if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
            raise InvalidSetting(f"recipe task option 'samples_per_class'={per_class!r}: a positive integer")
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not 0 <= smoothing < 1:
            raise InvalidSetting(f"recipe task option 'label_smoothing'={smoothing!r}: a number in [0, 1)")
        if recipe.epochs < space.max_generations:
            raise InvalidSetting(f"recipe field 'epochs'={recipe.epochs}: the space has up to "
                                 f"generations={space.max_generations}, and the epochs are the budget of all "
                                 f"generations together (at least one each); raise epochs or narrow the "
                                 f"task's 'generations' grid")
        self.small_subset(self.training_subset(recipe.data_fraction), per_class)
        recipe.check_memory(recipe.image_size or self.image_side, *training_memory())

    # -- model, generations, step, evaluation -----------------------------------------------------------------

    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Any,
                    model_options: dict[str, Any]) -> SplitNetwork:
        split: KESplit = self._split_space(space).validate(arch)
        config = ConvNetConfig.from_channels(recipe.channels, recipe.layers, self.images.in_channels,
                                             self.images.num_classes)
        return SplitNetwork(config, split.split_rate, generation_starts(split.generations, recipe.epochs),
                            label_smoothing=float(self.option(recipe, "label_smoothing")))

    def restart_epochs(self, space: SearchSpace, arch: Architecture, recipe: Any) -> tuple[int, ...]:
        """Every generation after the first restarts the optimiser and the schedule."""
        split: KESplit = self._split_space(space).validate(arch)
        return generation_starts(split.generations, recipe.epochs)[1:]

    def before_epoch(self, model: torch.nn.Module, epoch: int, recipe: Any) -> None:
        model.start_epoch(epoch)

    def loss(self, model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(model(x), y, label_smoothing=model.label_smoothing)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, recipe: Any, device: Any) -> dict[str, float]:
        """Dense and slim accuracy on ``split``, and the (1-based) generation the weights are in."""
        model.eval()
        slim = model.slim().eval()
        correct = torch.zeros(2, dtype=torch.long, device=device)
        total = 0
        for x, y in self.eval_batches(split, recipe, device=device):
            correct[0] += (model(x).argmax(dim=1) == y).sum()
            correct[1] += (slim(x).argmax(dim=1) == y).sum()
            total += len(y)
        dense, thin = (int(c) / total for c in correct)
        return {"accuracy": dense, "slim_accuracy": thin, "generation": float(int(model.generation) + 1)}

    def costs(self, model: torch.nn.Module, space: SearchSpace, arch: Architecture, recipe: Any) -> dict[str, float]:
        """The slim network's FLOPs and parameters (the objectives), and the dense network's FLOPs."""
        side = recipe.image_size or self.image_side
        example = torch.zeros(1, self.images.in_channels, side, side, device=next(model.parameters()).device)
        slim = model.slim()
        return {"slim_flops": float(count_flops(slim, example)), "slim_params": float(count_parameters(slim)),
                "flops": float(count_flops(model, example))}


def per_generation(history: list[dict[str, Any]], prefix: str = "val_") -> list[dict[str, float]]:
    """The metrics at the last epoch of every generation of a training's ``history`` (the trainer's)."""
    last: dict[int, dict[str, Any]] = {}
    for row in history:
        last[int(row[f"{prefix}generation"])] = row
    return [{"generation": g, "epoch": int(last[g]["epoch"]), "accuracy": float(last[g][f"{prefix}accuracy"]),
             "slim_accuracy": float(last[g][f"{prefix}slim_accuracy"])} for g in sorted(last)]


__all__ = ["KnowledgeEvolution", "per_generation"]
