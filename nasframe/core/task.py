"""What architectures are trained *for*: the Task protocol.

A task bundles everything that differs between a classification search, a
pruning search or a metric-learning search, so that the trainer, Ray
trainings, the Tune trainable, MIP/BPE and the CLI stay task-agnostic:

- its **data** (seeded splits, batches under a recipe),
- the **space** it searches (a registered one, or its own),
- how a **model** is built from an architecture and a recipe,
- its **training step** (the loss of one batch) and its **evaluation**,
- its **objectives**: named metrics, each maximised or minimised, and costs
  (FLOPs, parameters...) measured on the built model.

The first objective is the primary one: it is what a single-objective
searcher maximises (``EvalResult.val_accuracy`` carries it, or a
scalarisation of all of them, see :mod:`nasframe.pareto`). Every objective is
kept per trial in ``EvalResult.objectives``.

The class is abstract but carries no torch import: models and batches are
torch objects only in the subclasses (:mod:`nasframe.tasks`), which keeps the
core free of heavy libraries. Plug-in points mirror scikit-learn's: override
the abstract methods, register the class in :data:`nasframe.core.TASKS`, and
check it with :func:`nasframe.testing.check_task`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Sequence

import numpy as np

from nasframe.core.architecture import Architecture
from nasframe.core.errors import InvalidSetting
from nasframe.core.space import SearchSpace

if TYPE_CHECKING:
    import torch

DIRECTIONS = ("max", "min")


@dataclass(frozen=True)
class Objective:
    """One named objective of a task.

    ``cost`` objectives (FLOPs, parameters, latency) are measured on the built
    model and need no training; the others are metrics of the trained model
    on a split, recorded per epoch as ``val_<name>`` (and ``test_<name>``).
    """

    name: str
    direction: str = "max"
    cost: bool = False

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise InvalidSetting(f"objective {self.name!r}: direction must be 'max' or 'min', got {self.direction!r}")

    @property
    def sign(self) -> float:
        """+1 for a maximised objective, -1 for a minimised one: ``sign * value`` is always maximised."""
        return 1.0 if self.direction == "max" else -1.0

    def __str__(self) -> str:
        return f"{self.name}:{self.direction}"


def parse_objectives(text: str, task: "Task") -> tuple[Objective, ...]:
    """``"accuracy:max,flops:min"`` as the task's objectives, in that order.

    A direction may be omitted (the task's own is used); one that contradicts
    the task's is refused rather than silently searching for worse models.
    """
    known = {o.name: o for o in task.objectives}
    chosen: list[Objective] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, direction = item.partition(":")
        if name not in known:
            raise InvalidSetting(f"--objectives: task {task.name!r} has no objective {name!r}; "
                                 f"it has {', '.join(map(str, task.objectives))}")
        if direction and direction != known[name].direction:
            raise InvalidSetting(f"--objectives: {name!r} is {known[name].direction}imised by task {task.name!r}, "
                                 f"not {direction}imised")
        if known[name] in chosen:
            raise InvalidSetting(f"--objectives: {name!r} is named twice")
        chosen.append(known[name])
    if not chosen:
        raise InvalidSetting("--objectives: name at least one objective, e.g. 'accuracy:max,flops:min'")
    return tuple(chosen)


class Task(ABC):
    """Base class of tasks; see the module docstring."""

    #: registry name; instances may refine it (the dataset they read)
    name: str = ""
    #: the first is the primary metric; costs follow the metrics by convention
    objectives: ClassVar[tuple[Objective, ...]] = ()
    #: registry name of the space searched when the user names none; ``None``: the task has its own
    default_space: ClassVar[str | None] = None
    #: the task's own training settings and their defaults (``--recipe loss=proxynca``); a recipe carries
    #: the ones a user set in ``recipe.task_options``, read back with :meth:`option`
    recipe_options: ClassVar[dict[str, Any]] = {}

    def search_space(self) -> SearchSpace:
        """The space this task searches by default."""
        if self.default_space is None:
            raise NotImplementedError(f"task {self.name!r} must override search_space()")
        from nasframe.core.registry import load_space

        return load_space(self.default_space)

    @property
    def metrics(self) -> tuple[Objective, ...]:
        """The objectives measured by training (not costs)."""
        return tuple(o for o in self.objectives if not o.cost)

    @property
    def primary(self) -> Objective:
        return self.objectives[0]

    @property
    def image_side(self) -> int | None:
        """The side of the task's (square) input images, for recipes that resize them; None: no images."""
        return None

    def check_arch(self, space: SearchSpace, arch: Architecture) -> None:
        """Refuse an architecture this task cannot train (default: any valid one of ``space`` is fine)."""

    def check_trainable(self, space: SearchSpace, recipe: Any) -> None:
        """Refuse, before any training starts, a space or recipe this task cannot train
        (a :class:`~nasframe.core.errors.UserError` naming the setting; default: accept)."""

    def option(self, recipe: Any, name: str) -> Any:
        """The value of the task option ``name`` under ``recipe``: the recipe's, else the task's default."""
        if name not in self.recipe_options:
            raise KeyError(f"task {self.name!r} declares no recipe option {name!r}")
        return getattr(recipe, "task_options", {}).get(name, self.recipe_options[name])

    def check_options(self, recipe: Any) -> None:
        """Refuse task options this task does not declare, or of another type than their default.

        Called by the trainer before anything is built: an option meant for
        another task (or misspelt) would otherwise be silently ignored.
        Tasks check their options' ranges in :meth:`check_trainable`.
        """
        for name, value in getattr(recipe, "task_options", {}).items():
            if name not in self.recipe_options:
                known = ", ".join(sorted(self.recipe_options)) or "none"
                raise InvalidSetting(f"recipe task option {name!r}: task {self.name!r} has no such option "
                                     f"(its options: {known})")
            default = self.recipe_options[name]
            numeric = isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
            if value is not None and default is not None and type(value) is not type(default) and not numeric:
                raise InvalidSetting(f"recipe task option {name!r}={value!r}: task {self.name!r} expects a "
                                     f"{type(default).__name__} (default {default!r})")

    # -- data ---------------------------------------------------------------------------------------------------

    @abstractmethod
    def training_subset(self, fraction: float) -> np.ndarray:
        """Indices of the training examples a recipe's ``data_fraction`` uses, the same for every architecture."""

    @abstractmethod
    def train_batches(self, recipe: Any, generator: "torch.Generator", subset: np.ndarray,
                      device: Any) -> Iterator[tuple]:
        """One epoch of training batches; ``batch[0]`` has one row per example."""

    @abstractmethod
    def eval_batches(self, split: str, recipe: Any, device: Any) -> Iterator[tuple]:
        """The whole ``split`` (``"val"`` or ``"test"``) in order, not augmented."""

    # -- model, step, evaluation ----------------------------------------------------------------------------------

    @abstractmethod
    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Any,
                    model_options: dict[str, Any]) -> "torch.nn.Module":
        """The untrained (or, for compression, pruned pre-trained) network of ``arch`` under ``recipe``."""

    def before_epoch(self, model: "torch.nn.Module", epoch: int, recipe: Any) -> None:
        """Called by the trainer before training epoch ``epoch`` (0-based), also after a resume.

        The plug-in point of multi-stage methods: re-initialising part of a
        network between generations, switching from a pretext stage to a
        clustering stage. State it changes must live in the model (parameters
        or buffers) so that a checkpoint holds it. Default: nothing.
        """

    def restart_epochs(self, space: SearchSpace, arch: Architecture, recipe: Any) -> tuple[int, ...]:
        """Epochs (0-based, after the first) at whose start the trainer restarts the optimiser and the schedule.

        For multi-stage methods whose stages are each a full training (Knowledge
        Evolution's generations): one cosine over all the stages would train
        the later ones at a vanishing learning rate. At each such epoch the
        trainer clears the optimiser's state (momentum, Adam's moments) and
        runs the recipe's schedule over each cycle on its own. Default: none,
        one cycle over the recipe's epochs (the trainer is then unchanged).
        """
        return ()

    def param_groups(self, model: "torch.nn.Module", recipe: Any) -> list[dict[str, Any]] | None:
        """The optimiser's parameter groups, or None (default): one group of all parameters at the recipe's rate.

        Each group is ``{"params": [...], "lr_scale": s}``: the trainer gives it
        ``s`` times the recipe's learning rate (the schedule scales every group
        alike); other keys (``weight_decay``...) pass to the optimiser as
        they are. The groups must hold every trainable parameter exactly once.
        For parameters that need their own rate, such as ProxyNCA's proxies.
        """
        return None

    @abstractmethod
    def loss(self, model: "torch.nn.Module", batch: tuple) -> "torch.Tensor":
        """The scalar loss of one training batch (called under the trainer's autocast)."""

    @abstractmethod
    def evaluate(self, model: "torch.nn.Module", split: str, recipe: Any, device: Any) -> dict[str, float]:
        """Every non-cost objective of the trained ``model`` on ``split``, by name."""

    @abstractmethod
    def costs(self, model: "torch.nn.Module", space: SearchSpace, arch: Architecture, recipe: Any) -> dict[str, float]:
        """Every cost objective of the built ``model``, by name."""

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint of a training on this task must match (dataset, split seed, base network...)."""
        return {"task": self.name}

    def objective_values(self, metrics: dict[str, float], costs: dict[str, float],
                         prefix: str = "val_") -> dict[str, float]:
        """The objective vector of one trained model from its ``val_``-prefixed metrics and its costs."""
        values = {}
        for objective in self.objectives:
            source, key = (costs, objective.name) if objective.cost else (metrics, prefix + objective.name)
            if key not in source:
                raise KeyError(f"task {self.name!r} did not report objective {objective.name!r}")
            values[objective.name] = float(source[key])
        return values


def signed(values: dict[str, float], objectives: Sequence[Objective]) -> np.ndarray:
    """The objective vector with every component maximised (minimised ones negated), in ``objectives``' order."""
    return np.array([o.sign * values[o.name] for o in objectives], dtype=float)
