"""A recipe's ``channels`` and ``layers`` turned into a space's network.

Each space's ``build_model`` has its own knobs; a recipe has two generic
ones. Every space says what they mean for it (``SearchSpace.network_options``),
so the trainer and the BPE search need not know any space; this module only
puts that in the recipe's terms. A space without a translation can still be
trained by passing its own ``build_model`` keywords as ``model_options``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.registry import SPACES, load_space
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


def check_network(space: SearchSpace, recipe: Recipe, in_channels: int, num_classes: int, side: int) -> None:
    """Refuse, before training, a space without a network for a recipe or a recipe that cannot fit in memory."""
    try:
        space.network_options(channels=recipe.channels, layers=recipe.layers, in_channels=in_channels,
                              num_classes=num_classes)
    except NotImplementedError:
        raise InvalidSetting(f"space {space.name!r} has no network to train from a recipe "
                             f"(trainable spaces: {', '.join(_trainable_spaces())})") from None
    except ValueError as exc:  # the space names the recipe field it cannot honour
        raise InvalidSetting(f"--recipe for space {space.name!r}: {exc}") from None
    recipe.check_memory(recipe.image_size or side, *training_memory())


def _trainable_spaces() -> list[str]:
    """The registered spaces that translate a recipe into a network (for the error message)."""
    found = []
    for name in SPACES.names():
        try:
            load_space(name).network_options(channels=16, layers=3, in_channels=3, num_classes=10)
            found.append(name)
        except (NotImplementedError, ValueError):
            pass
    return found


def training_memory() -> tuple[int, str]:
    """Bytes a training here can use, and where: the first GPU's memory, else this machine's RAM."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory, "the GPU"
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine's memory"
