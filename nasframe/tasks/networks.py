"""A recipe's ``channels`` and ``layers`` turned into a space's network.

Each space's ``build_model`` has its own knobs; a recipe has two generic
ones. Every space says what they mean for it (``SearchSpace.network_options``),
so the trainer and the BPE search need not know any space; this module only
puts that in the recipe's terms. A space without a translation can still be
trained by passing its own ``build_model`` keywords as ``model_options``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nasframe.core import Architecture, SearchSpace
from nasframe.tasks.recipe import Recipe, RecipeError

if TYPE_CHECKING:
    import torch


def build_network(space: SearchSpace, arch: Architecture, recipe: Recipe, in_channels: int, num_classes: int,
                  model_options: dict[str, Any] | None = None) -> "torch.nn.Module":
    """The torch network of ``arch`` sized by ``recipe`` for images of ``in_channels`` and ``num_classes``."""
    try:
        config = space.network_options(
            channels=recipe.channels, layers=recipe.layers, in_channels=in_channels, num_classes=num_classes
        )
    except NotImplementedError as missing:
        if not model_options:
            raise RecipeError(f"{missing}; pass its build_model keywords as model_options") from None
        config = {}
    except ValueError as error:  # the space names the recipe field it cannot honour
        raise RecipeError(f"recipe {error}") from None
    config.update(model_options or {})
    return space.build_model(arch, **config)
