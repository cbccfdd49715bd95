"""What a recipe's ``channels`` and ``layers`` mean in each space's network.

Each space's ``build_model`` has its own knobs; a recipe has two generic
ones. This table translates, so the trainer and the BPE search need not know
any space. A space missing here can still be trained by passing its own
``build_model`` keywords as ``model_options``.
"""

from __future__ import annotations

from typing import Any, Callable

from nasframe.core import Architecture, SearchSpace

from nasframe.tasks.recipe import Recipe, RecipeError


def _nb101(recipe: Recipe, in_channels: int, num_classes: int) -> dict[str, Any]:
    # three stacks as NB101 (two downsamplings), cells per stack = layers; PyTorch's BN momentum,
    # because the official 0.003 averages over ~300 steps and cheap trainings are shorter than that
    return {"stem_channels": recipe.channels, "num_stacks": 3, "cells_per_stack": recipe.layers,
            "in_channels": in_channels, "num_classes": num_classes, "bn_momentum": 0.1}


def _darts(recipe: Recipe, in_channels: int, num_classes: int) -> dict[str, Any]:
    if recipe.layers < 3:
        raise RecipeError(f"recipe field 'layers'={recipe.layers}: a DARTS network needs >= 3 cells")
    return {"init_channels": recipe.channels, "layers": recipe.layers, "in_channels": in_channels,
            "num_classes": num_classes}


def _enas(recipe: Recipe, in_channels: int, num_classes: int) -> dict[str, Any]:
    # an ENAS architecture *is* its sequence of layers: recipe.layers cannot change it
    return {"channels": recipe.channels, "in_channels": in_channels, "num_classes": num_classes, "dropout": 0.0}


#: space name -> (recipe, input channels, classes) -> build_model keywords
NETWORK_OPTIONS: dict[str, Callable[[Recipe, int, int], dict[str, Any]]] = {
    "nb101": _nb101,
    "darts": _darts,
    "nb301": _darts,
    "enas": _enas,
}


def build_network(space: SearchSpace, arch: Architecture, recipe: Recipe, in_channels: int, num_classes: int,
                  model_options: dict[str, Any] | None = None):
    """The torch network of ``arch`` sized by ``recipe`` for images of ``in_channels`` and ``num_classes``."""
    options = NETWORK_OPTIONS.get(space.name)
    if options is None and not model_options:
        raise RecipeError(
            f"space {space.name!r} has no recipe translation ({sorted(NETWORK_OPTIONS)} have); "
            f"pass its build_model keywords as model_options"
        )
    config = options(recipe, in_channels, num_classes) if options else {}
    config.update(model_options or {})
    return space.build_model(arch, **config)
