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

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")
#: "32": float32; "16": float16 autocast + gradient scaling on CUDA, bfloat16 autocast on CPU
PRECISIONS = ("32", "16")


class RecipeError(ValueError):
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

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> RecipeError:
            return RecipeError(f"recipe field {name!r}={getattr(self, name)!r}: {why}")

        for name in ("epochs", "batch_size", "channels", "layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise bad(name, "must be a positive integer")
        if not self.lr > 0:
            raise bad("lr", "must be positive")
        if not 0 <= self.momentum < 1:
            raise bad("momentum", "must be in [0, 1)")
        if self.weight_decay < 0:
            raise bad("weight_decay", "must be >= 0")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise bad("schedule", f"one of {SCHEDULES}")
        if self.precision not in PRECISIONS:
            raise bad("precision", f"one of {PRECISIONS}")
        if self.image_size is not None and (not isinstance(self.image_size, int) or self.image_size < 4):
            raise bad("image_size", "an integer >= 4, or None for the dataset's size")
        if not 0 < self.data_fraction <= 1:
            raise bad("data_fraction", "must be in (0, 1]")
        if not isinstance(self.cutout, int) or self.cutout < 0:
            raise bad("cutout", "a non-negative integer (pixels)")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise bad("grad_clip", "positive, or None for no clipping")

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
        return asdict(self)

    def replace(self, **changes: Any) -> "Recipe":
        """A copy with ``changes`` (validated like any recipe)."""
        return replace(self, **changes) if changes else self


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["epochs=4", "lr=0.1"]`` (the CLI's ``--recipe`` options) as typed values for :class:`Recipe`."""
    types = {f.name: f.type for f in fields(Recipe)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in types:
            raise RecipeError(f"recipe override {item!r}: expected FIELD=VALUE with FIELD one of {sorted(types)}")
        kind = types[key]
        text = text.strip()
        try:
            if text.lower() == "none":
                out[key] = None
            elif "bool" in kind:
                out[key] = text.lower() in ("1", "true", "yes", "on")
            elif "int" in kind and "float" not in kind:
                out[key] = int(text)
            elif "float" in kind:
                out[key] = float(text)
            else:
                out[key] = text
        except ValueError:
            raise RecipeError(f"recipe override {item!r}: {text!r} is not a {kind}") from None
    return out
