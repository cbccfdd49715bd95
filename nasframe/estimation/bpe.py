"""BPE configurations as a typed space over the fields of a training recipe.

A BPE (budgeted performance estimate) is a full recipe with some fields made
cheaper. :class:`BPESpace` names the fields that may change and their
choices, ordered from cheapest to dearest, holds the ones MIP has fixed, and
turns a configuration into a :class:`~nasframe.tasks.Recipe`. Every choice is
validated against :class:`Recipe` when the space is built, so a typo is an
error at once, not after an hour of training.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nasframe.tasks.recipe import Recipe, RecipeError


@dataclass(frozen=True)
class BPEParameter:
    """One recipe field MIP may change, with its choices from cheapest to dearest.

    ``cost_exponent`` says how training cost grows with the value relative
    to the full recipe's (``(value / full) ** exponent``): 1 for epochs,
    data fraction and layers, 2 for image side, ~1.5 for channels at the
    small widths trained here, 0 for cost-neutral fields (learning rate,
    cutout). It only orders candidates before any is measured; MIP then
    calibrates it on measured costs.
    """

    name: str
    choices: tuple[Any, ...]
    cost_exponent: float = 0.0

    def __post_init__(self) -> None:
        if not self.choices:
            raise RecipeError(f"BPE parameter {self.name!r} has no choices")
        if len(set(map(str, self.choices))) != len(self.choices):
            raise RecipeError(f"BPE parameter {self.name!r} repeats a choice: {self.choices}")


def _numeric(value: Any) -> float:
    """A choice as a number for the forests (precision "16" -> 16.0, None -> 0.0)."""
    if value is None:
        return 0.0
    return float(value)


class BPESpace:
    """The BPE configurations reachable from ``full`` by changing ``parameters``; ``fixed`` are pinned."""

    def __init__(self, full: Recipe, parameters: Sequence[BPEParameter], fixed: Mapping[str, Any] | None = None):
        known = {f.name for f in fields(Recipe)}
        self.full = full
        self.parameters = {p.name: p for p in parameters}
        self.fixed = dict(fixed or {})
        for p in parameters:
            if p.name not in known:
                raise RecipeError(f"BPE parameter {p.name!r} is not a recipe field; known: {sorted(known)}")
            for choice in p.choices:
                full.replace(**{p.name: choice})  # raises RecipeError naming the field and value
        for name, value in self.fixed.items():
            if name not in self.parameters or value not in self.parameters[name].choices:
                raise RecipeError(f"cannot fix {name}={value!r}: not a choice of this BPE space")

    def __repr__(self) -> str:
        return f"BPESpace(free={self.free}, fixed={self.fixed})"

    @property
    def names(self) -> list[str]:
        return list(self.parameters)

    @property
    def free(self) -> list[str]:
        return [n for n in self.parameters if n not in self.fixed]

    def size(self) -> int:
        return int(np.prod([len(self.parameters[n].choices) for n in self.free]))

    def fix(self, name: str, value: Any) -> "BPESpace":
        """The smaller space with ``name`` pinned to ``value``."""
        return BPESpace(self.full, list(self.parameters.values()), {**self.fixed, name: value})

    def sample(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """``n`` configurations drawn uniformly (fixed fields at their values)."""
        out = []
        for _ in range(n):
            config = {}
            for name, p in self.parameters.items():
                config[name] = self.fixed[name] if name in self.fixed else p.choices[rng.integers(len(p.choices))]
            out.append(config)
        return out

    def recipe(self, config: Mapping[str, Any]) -> Recipe:
        unknown = set(config) - set(self.parameters)
        if unknown:
            raise RecipeError(f"BPE configuration has fields outside the space: {sorted(unknown)}")
        return self.full.replace(**dict(config))

    def full_value(self, name: str) -> Any:
        """The full recipe's value of ``name``; where the full recipe leaves it to the data
        (``image_size=None``: the dataset's size), the largest choice."""
        value = getattr(self.full, name)
        return value if value is not None else max(self.parameters[name].choices, key=_numeric)

    def dearest(self) -> Recipe:
        """The recipe with every free field at its largest choice: the most memory any configuration takes
        (checked before the study starts)."""
        return self.recipe({name: self.fixed.get(name, max(p.choices, key=_numeric))
                            for name, p in self.parameters.items()})

    def cost_proxy(self, config: Mapping[str, Any]) -> float:
        """Relative training cost of ``config`` against the full recipe, before any measurement."""
        proxy = 1.0
        for name, p in self.parameters.items():
            if p.cost_exponent:
                proxy *= (_numeric(config[name]) / _numeric(self.full_value(name))) ** p.cost_exponent
        return proxy

    def frame(self, configs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Configurations as a numeric table (one column per parameter), what the forests fit."""
        return pd.DataFrame([{n: _numeric(c[n]) for n in self.parameters} for c in configs])


def config_key(config: Mapping[str, Any]) -> str:
    """A stable short name of one configuration (file names, de-duplication)."""
    text = json.dumps({k: config[k] for k in sorted(config)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: the values image_bpe_space tries for the fields it only makes cheaper (those up to the full recipe's)
_LADDERS = {"epochs": (1, 2, 4, 8), "data_fraction": (0.05, 0.1, 0.25, 0.5, 1.0), "channels": (4, 8, 16, 32)}


def image_bpe_space(full: Recipe, image_size: int) -> BPESpace:
    """The default BPE space for image classification: Zheng et al.'s 8 hyper-parameters plus data fraction.

    Choices stop at the full recipe's value except layers, which the paper
    found the most important and whose deeper setting can pay for itself.
    """
    sides = sorted({max(8, image_size // 2), max(8, (3 * image_size) // 4), image_size})
    cheaper = {name: tuple(v for v in ladder if v <= getattr(full, name)) for name, ladder in _LADDERS.items()}
    for name, choices in cheaper.items():
        if not choices:  # refused here, before the reference set trains at the full recipe
            smallest = _LADDERS[name][0]
            raise RecipeError(f"full recipe {name}={getattr(full, name)} leaves BPE nothing cheaper to try: "
                              f"give the full recipe {name} >= {smallest}")
    return BPESpace(full, [
        BPEParameter("epochs", cheaper["epochs"], 1.0),
        BPEParameter("data_fraction", cheaper["data_fraction"], 1.0),
        BPEParameter("channels", cheaper["channels"], 1.5),
        BPEParameter("layers", (full.layers, full.layers + 1), 1.0),
        BPEParameter("image_size", tuple(sides), 2.0),
        BPEParameter("batch_size", (256, 128, 64), 0.0),
        BPEParameter("lr", (full.lr * 2, full.lr, full.lr / 2), 0.0),
        BPEParameter("precision", ("32", "16"), 0.0),
        BPEParameter("cutout", (0, max(2, image_size // 4)), 0.0),
    ])
