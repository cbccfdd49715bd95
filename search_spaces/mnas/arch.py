"""The MnasNet-block architecture of Accel-NASBench, as a value type.

Accel-NASBench (Ahmad et al.; github.com/afzalxo/Accel-NASBench) searches
the MnasNet/EfficientNet-B0 macro skeleton: seven stages of MBConv layers
with a fixed channel and stride plan, where each stage (``block`` in the
benchmark's naming) chooses

* ``e``: the expansion ratio, 1, 4 or 6;
* ``k``: the depthwise kernel, 3 or 5;
* ``l``: the number of layers, 1..3 (block 5: 1..4);
* ``se``: squeeze-and-excitation on or off.

The value sets are the benchmark's ConfigSpace
(``configurationspaces/configuration_space_writer.py``): block 5 alone allows
four layers, as EfficientNet-B0's fourth-from-last stage has, and 1,059 of
the 5,138 trained records use it. Every choice changes the network, so there
are no equivalent spellings: the space has ``36**6 * 48 = 104,485,552,128``
distinct architectures and the canonical key is the choices written out.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from nasframe.core import Architecture, InvalidArchitecture

NUM_BLOCKS = 7
EXPANSIONS = (1, 4, 6)
KERNELS = (3, 5)
SE_CHOICES = (False, True)
#: layer choices per block (the benchmark's ConfigSpace lets block 5 go to 4)
LAYER_CHOICES = ((1, 2, 3),) * 5 + ((1, 2, 3, 4),) + ((1, 2, 3),)
#: the fields of one block, as the benchmark's configuration keys spell them
FIELDS = ("e", "k", "l", "se")


def _invalid(rule: str, detail: str = "") -> InvalidArchitecture:
    return InvalidArchitecture("mnas", rule, detail)


class MnasBlock(NamedTuple):
    """One stage: expansion ratio, kernel size, number of layers, squeeze-excite."""

    expansion: int
    kernel: int
    layers: int
    se: bool


def choices(block: int) -> tuple[tuple[Any, ...], ...]:
    """The allowed values of each field of block ``block`` (in :data:`FIELDS` order)."""
    return (EXPANSIONS, KERNELS, LAYER_CHOICES[block], SE_CHOICES)


def _check_int(value: Any, allowed: tuple[int, ...], rule: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) not in allowed:
        raise _invalid(rule, f"{where}: {value!r}; allowed: {', '.join(map(str, allowed))}")
    return int(value)


def _check_block(index: int, block: Any) -> MnasBlock:
    where = f"block {index}"
    if isinstance(block, Mapping):
        unknown = set(block) - set(FIELDS)
        missing = set(FIELDS) - set(block)
        if unknown or missing:
            raise _invalid(
                "a block dict has exactly the keys e, k, l, se",
                f"{where}: unknown {sorted(unknown)}, missing {sorted(missing)}",
            )
        block = tuple(block[f] for f in FIELDS)
    if isinstance(block, (str, bytes)) or not isinstance(block, Sequence) or len(block) != len(FIELDS):
        raise _invalid("a block is (expansion, kernel, layers, se)", f"{where}: {block!r}")
    e, k, layers, se = block
    expansion = _check_int(e, EXPANSIONS, "expansion ratio must be 1, 4 or 6", where)
    kernel = _check_int(k, KERNELS, "kernel size must be 3 or 5", where)
    allowed = LAYER_CHOICES[index]
    depth = _check_int(layers, allowed, f"block {index} has {allowed[0]}..{allowed[-1]} layers", where)
    if not isinstance(se, (bool, np.bool_)):
        raise _invalid("squeeze-excite (se) is a boolean", f"{where}: {se!r}")
    return MnasBlock(expansion, kernel, depth, bool(se))


@dataclass(frozen=True, eq=False)
class MnasArch(Architecture):
    """Seven :class:`MnasBlock` choices, one per stage of the fixed skeleton.

    ``blocks`` takes per stage an ``(expansion, kernel, layers, se)`` sequence
    or a ``{"e", "k", "l", "se"}`` dict; it is stored as a tuple of
    :class:`MnasBlock`.
    """

    blocks: tuple[MnasBlock, ...]

    space_name = "mnas"

    def __post_init__(self) -> None:
        blocks = self.blocks
        if isinstance(blocks, (str, bytes, Mapping)) or not isinstance(blocks, Sequence):
            raise _invalid("blocks is a sequence of 7 blocks", type(blocks).__name__)
        if len(blocks) != NUM_BLOCKS:
            raise _invalid(f"an architecture has {NUM_BLOCKS} blocks", f"got {len(blocks)}")
        object.__setattr__(self, "blocks", tuple(_check_block(i, b) for i, b in enumerate(blocks)))

    @property
    def num_layers(self) -> int:
        """Total MBConv layers (7..22)."""
        return sum(b.layers for b in self.blocks)

    @cached_property
    def _key(self) -> str:
        return "-".join(f"{b.expansion}{b.kernel}{b.layers}{int(b.se)}" for b in self.blocks)

    def canonical_key(self) -> str:
        """Per block ``<e><k><l><se 0/1>``, blocks joined by ``-``; EfficientNet-B0's
        choices are ``"1311-6321-6521-6331-6531-6541-6311"``."""
        return self._key

    def to_json(self) -> dict[str, Any]:
        return {
            "space": "mnas",
            "blocks": [{"e": b.expansion, "k": b.kernel, "l": b.layers, "se": b.se} for b in self.blocks],
        }


def from_accel_config(config: Mapping[str, Any]) -> MnasArch:
    """The architecture of an Accel-NASBench configuration ``{"block0_e": 6, ...}``.

    All 28 keys ``block{0..6}_{e,k,l,se}`` are required and no other key is
    allowed; ``se`` may be a bool or the strings ``"True"``/``"False"`` that
    ConfigSpace writes.
    """
    if not isinstance(config, Mapping):
        raise _invalid("an Accel-NASBench configuration is a dict", type(config).__name__)
    expected = {f"block{b}_{f}" for b in range(NUM_BLOCKS) for f in FIELDS}
    unknown = sorted(set(config) - expected)
    missing = sorted(expected - set(config), key=lambda k: (int(k[5]), FIELDS.index(k.split("_", 1)[1])))
    if unknown:
        raise _invalid("unknown Accel-NASBench configuration key", ", ".join(map(repr, unknown)))
    if missing:
        raise _invalid("missing Accel-NASBench configuration key", ", ".join(missing))
    blocks = []
    for b in range(NUM_BLOCKS):
        se = config[f"block{b}_se"]
        if isinstance(se, str) and se in ("True", "False"):
            se = se == "True"
        blocks.append((config[f"block{b}_e"], config[f"block{b}_k"], config[f"block{b}_l"], se))
    return MnasArch(tuple(blocks))


def to_accel_config(arch: MnasArch) -> dict[str, Any]:
    """The Accel-NASBench configuration dict of ``arch`` (the inverse of :func:`from_accel_config`)."""
    config: dict[str, Any] = {}
    for b, block in enumerate(arch.blocks):
        for field, value in zip(FIELDS, block):
            config[f"block{b}_{field}"] = value
    return config


def from_field_lists(lists: Sequence[Sequence[Any]]) -> MnasArch:
    """The architecture of Accel-NASBench's ``manual_sample`` form:
    ``[expansions x 7, kernels x 7, layers x 7, se x 7]``."""
    if isinstance(lists, (str, bytes)) or not isinstance(lists, Sequence) or len(lists) != len(FIELDS):
        raise _invalid("field lists are [expansions, kernels, layers, se]", repr(lists)[:60])
    for field, values in zip(FIELDS, lists):
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) != NUM_BLOCKS:
            raise _invalid(f"each field list has {NUM_BLOCKS} values", f"{field}: {values!r}")
    return MnasArch(tuple(zip(*lists)))


#: EfficientNet-B0's choices in this skeleton (Accel-NASBench's ``efficientnet_b0``)
EFFICIENTNET_B0 = from_field_lists(
    [[1, 6, 6, 6, 6, 6, 6], [3, 3, 5, 3, 5, 5, 3], [1, 2, 2, 3, 3, 4, 1], [True] * 7]
)


def space_size() -> int:
    """Number of distinct architectures: the product of every block's choices."""
    size = 1
    for b in range(NUM_BLOCKS):
        for values in choices(b):
            size *= len(values)
    return size


__all__ = [
    "EFFICIENTNET_B0",
    "EXPANSIONS",
    "FIELDS",
    "KERNELS",
    "LAYER_CHOICES",
    "NUM_BLOCKS",
    "SE_CHOICES",
    "MnasArch",
    "MnasBlock",
    "choices",
    "from_accel_config",
    "from_field_lists",
    "space_size",
    "to_accel_config",
]
