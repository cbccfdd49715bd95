"""Accel-NASBench's MnasNet-block space: 7 stages x (expansion, kernel, layers, squeeze-excite).

``plan`` describes the fixed skeleton without torch; ``model`` (torch) is
imported only by :meth:`MnasSpace.build_model`.
"""

from search_spaces.mnas.arch import (
    EFFICIENTNET_B0,
    EXPANSIONS,
    KERNELS,
    LAYER_CHOICES,
    NUM_BLOCKS,
    MnasArch,
    MnasBlock,
    from_accel_config,
    from_field_lists,
    to_accel_config,
)
from search_spaces.mnas.plan import count_parameters, layer_plan
from search_spaces.mnas.space import MnasSpace

__all__ = [
    "EFFICIENTNET_B0",
    "EXPANSIONS",
    "KERNELS",
    "LAYER_CHOICES",
    "NUM_BLOCKS",
    "MnasArch",
    "MnasBlock",
    "MnasSpace",
    "count_parameters",
    "from_accel_config",
    "from_field_lists",
    "layer_plan",
    "to_accel_config",
]
