"""A training recipe: every setting that decides what one training of one architecture costs.

The fields are the BPE hyper-parameters of Zheng et al. (epochs, batch size,
learning rate, layers, channels, image size, precision, cutout) plus the data
fraction, optimiser, weight decay and schedule. A budgeted performance
estimate *is* a recipe, so :mod:`nasframe.estimation` searches over these
same fields.

``channels`` and ``layers`` mean what the space's network builder makes of
them (:mod:`nasframe.tasks.networks`): NB101's stem channels and cells per
stack, DARTS' initial channels and cells, ENAS' channels (an ENAS
architecture fixes its own depth).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from nasframe.core.errors import UserError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")
#: "32": float32; "16": float16 autocast + gradient scaling on CUDA, bfloat16 autocast on CPU
PRECISIONS = ("32", "16")


#: stem-sized feature maps one training step keeps per layer (see :meth:`Recipe.training_bytes`)
ACTIVATIONS_PER_LAYER = 12
#: the words ``--recipe augment=...`` accepts, and what they mean
BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


class RecipeError(UserError, ValueError):
    """A training recipe has an unknown field or a value out of range."""


@dataclass(frozen=True)
class Recipe:
    """How to train: see the module docstring. Defaults are a small, CPU-sized full training."""

    epochs: int = 4
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 3e-4
    schedule: str = "cosine"
    channels: int = 16
    layers: int = 1
    #: side of the (square) training images; ``None``: the dataset's own
    image_size: int | None = None
    #: share of the training split used (the same seeded subset every epoch)
    data_fraction: float = 1.0
    precision: str = "32"
    #: side of the cutout square in pixels; 0: off
    cutout: int = 0
    #: random crop (padding 1/8 of the side) and, where the task allows, flips
    augment: bool = True
    grad_clip: float | None = 5.0
    #: settings only one task reads (a metric task's loss, a weight of a regulariser...), declared with their
    #: defaults in the task's ``recipe_options`` and checked by it; empty for the tasks that have none
    task_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_integers(self)
        _check_reals(self)
        _check_choices(self)
        _check_task_options(self)

    def training_bytes(self, side: int) -> int:
        """A low estimate of the memory one training step takes on images of ``side`` pixels.

        Activations kept for the backward pass dominate: about
        :data:`ACTIVATIONS_PER_LAYER` stem-sized feature maps per layer and
        per stem, each ``batch_size x channels x side x side`` numbers. The
        constant was measured on NB101 networks (peak memory of one step);
        DARTS and ENAS networks keep more, so this under-estimates them and
        only refuses recipes that surely cannot fit.
        """
        number_bytes = 2 if self.precision == "16" else 4
        return number_bytes * self.batch_size * self.channels * side * side * ACTIVATIONS_PER_LAYER * (1 + self.layers)

    def check_memory(self, side: int, available: int, where: str = "this machine") -> None:
        """Refuse (:class:`RecipeError`) a recipe whose :meth:`training_bytes` exceed ``available`` bytes.

        Called before training, so that ``image_size=1000`` is an error at
        once instead of a process that grows until the system kills it.
        """
        needed = self.training_bytes(side)
        if needed > available:
            raise RecipeError(
                f"recipe image_size={side}, batch_size={self.batch_size}, channels={self.channels}, "
                f"layers={self.layers} needs at least {needed / 2**30:.1f} GiB to train, more than the "
                f"{available / 2**30:.1f} GiB of {where}; lower image_size, batch_size or channels"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Recipe":
        """A recipe from a mapping (JSON, a Tune config); unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RecipeError(f"unknown recipe field(s) {unknown}; known: {sorted(known)}")
        typed = dict(values)
        if typed.get("precision") is not None:
            typed["precision"] = str(typed["precision"])
        return cls(**typed)

    def to_dict(self) -> dict[str, Any]:
        # without task options the dict is the one recipes had before tasks could add settings, so the
        # fingerprints of existing checkpoints and stored results still match
        values = asdict(self)
        if not values["task_options"]:
            del values["task_options"]
        return values

    def replace(self, **changes: Any) -> "Recipe":
        """A copy with ``changes`` (validated like any recipe)."""
        return replace(self, **changes) if changes else self


def _bad(recipe: Recipe, name: str, why: str) -> RecipeError:
    """The error for one field: its name and value, then what it must be."""
    return RecipeError(f"recipe field {name!r}={getattr(recipe, name)!r}: {why}")


def _check_integers(recipe: Recipe) -> None:
    """Counts and sizes: whole numbers (a bool is not one, though Python says it is an int)."""

    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    for name in ("epochs", "batch_size", "channels", "layers"):
        if not integer(getattr(recipe, name)) or getattr(recipe, name) < 1:
            raise _bad(recipe, name, "must be a positive integer")
    if recipe.image_size is not None and (not integer(recipe.image_size) or recipe.image_size < 4):
        raise _bad(recipe, "image_size", "an integer >= 4, or None for the dataset's size")
    if not integer(recipe.cutout) or recipe.cutout < 0:
        raise _bad(recipe, "cutout", "a non-negative integer (pixels)")
    if recipe.image_size is not None and recipe.cutout > recipe.image_size:
        raise _bad(recipe, "cutout", f"larger than the images (image_size={recipe.image_size})")


def _check_reals(recipe: Recipe) -> None:
    """Rates and fractions: finite numbers in range (``inf`` and ``nan`` parse as floats but train nothing)."""
    ranges = {"lr": ("must be a finite number > 0", lambda v: v > 0),
              "momentum": ("must be in [0, 1)", lambda v: 0 <= v < 1),
              "weight_decay": ("must be a finite number >= 0", lambda v: v >= 0),
              "data_fraction": ("must be in (0, 1]", lambda v: 0 < v <= 1),
              "grad_clip": ("a finite number > 0, or None for no clipping", lambda v: v > 0)}
    for name, (why, ok) in ranges.items():
        value = getattr(recipe, name)
        if value is None and name == "grad_clip":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or not ok(value):
            raise _bad(recipe, name, why)


def _check_choices(recipe: Recipe) -> None:
    """Named options: one of their known values."""
    for name, choices in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("precision", PRECISIONS)):
        if getattr(recipe, name) not in choices:
            raise _bad(recipe, name, f"one of {choices}")
    if not isinstance(recipe.augment, bool):
        raise _bad(recipe, "augment", "true or false")


def _check_task_options(recipe: Recipe) -> None:
    """Task options: a mapping of names to JSON scalars (the task checks names and ranges, see ``Task.check_options``)."""
    options = recipe.task_options
    if not isinstance(options, Mapping):
        raise _bad(recipe, "task_options", "a mapping of option names to values")
    for name, value in options.items():
        if not isinstance(name, str) or not (value is None or isinstance(value, (bool, int, float, str))):
            raise _bad(recipe, "task_options", f"option {name!r}={value!r}: names are strings and values numbers, "
                                               f"strings, booleans or None")
    object.__setattr__(recipe, "task_options", dict(options))  # a private copy: the recipe is frozen


def _option_kind(default: Any) -> str:
    """The type name :func:`parse_overrides` parses a task option's text as, from the option's default."""
    if isinstance(default, bool):
        return "bool"
    return {int: "int", float: "float"}.get(type(default), "str")


def parse_overrides(items: list[str] | tuple[str, ...],
                    task_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``["epochs=4", "lr=0.1"]`` (the CLI's ``--recipe`` options) as typed values for :class:`Recipe`.

    ``task_options`` are the task's own settings with their defaults
    (``Task.recipe_options``): ``loss=proxynca`` then lands in the recipe's
    ``task_options``, typed like the default.
    """
    types = {f.name: f.type for f in fields(Recipe) if f.name != "task_options"}
    extra = {name: _option_kind(default) for name, default in (task_options or {}).items()}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or (key not in types and key not in extra):
            raise RecipeError(f"recipe override {item!r}: expected FIELD=VALUE with FIELD one of {sorted(types)}"
                              + (f" or a task option of {sorted(extra)}" if extra else ""))
        kind = types[key] if key in types else extra[key]
        text = text.strip()
        try:
            if text.lower() == "none":
                out[key] = None
            elif "bool" in kind:
                out[key] = BOOLEANS[text.lower()]
            elif "int" in kind and "float" not in kind:
                out[key] = int(text)
            elif "float" in kind:
                out[key] = float(text)
            else:
                out[key] = text
        except (KeyError, ValueError):
            expected = "true or false" if "bool" in kind else f"a {kind}"
            raise RecipeError(f"recipe override {item!r}: {text!r} is not {expected}") from None
    if extra:
        out["task_options"] = {key: out.pop(key) for key in list(out) if key in extra}
    return out
