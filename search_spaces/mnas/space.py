"""The Accel-NASBench MnasNet-block search space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nasframe.core import InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG
from search_spaces.mnas.arch import (
    EXPANSIONS,
    FIELDS,
    KERNELS,
    NUM_BLOCKS,
    SE_CHOICES,
    MnasArch,
    MnasBlock,
    choices,
    from_accel_config,
    from_field_lists,
    space_size,
)

if TYPE_CHECKING:
    import torch

#: the MBConv layer kinds (expansion, kernel, se), graph node types 1..12
LAYER_TYPES = tuple((e, k, se) for e in EXPANSIONS for k in KERNELS for se in SE_CHOICES)
#: ``onehot`` width of each block: 3 expansions + 2 kernels + its layer choices + 2 se states
_BLOCK_WIDTHS = [sum(len(values) for values in choices(b)) for b in range(NUM_BLOCKS)]
_BLOCK_OFFSETS = np.cumsum([0] + _BLOCK_WIDTHS)


class MnasSpace(SearchSpace[MnasArch]):
    """Accel-NASBench: 7 stages x (expansion, kernel, layers, squeeze-excite).

    Every combination of choices is a distinct network, so ``sample``
    (independent uniform choices) is uniform over the
    104,485,552,128 architectures. ``mutate`` changes one of the 28 choices;
    ``neighbors`` lists all 43 single-choice changes.
    """

    name = "mnas"
    encodings = ("onehot", "ordinal")
    #: the stem, one type per MBConv layer kind of :data:`LAYER_TYPES`, the head
    node_types = ("input", *(f"mbconv{e}_k{k}{'_se' if se else ''}" for e, k, se in LAYER_TYPES), "output")
    input_type, output_type = 0, len(LAYER_TYPES) + 1

    def __repr__(self) -> str:
        return "MnasSpace()"

    def size(self) -> int:
        """``36**6 * 48``: block 5 has four layer choices, the others three."""
        return space_size()

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[MnasArch]:
        draws = [
            [rng.integers(0, len(values), size=n) for values in choices(b)] for b in range(NUM_BLOCKS)
        ]
        return [
            MnasArch(
                tuple(
                    tuple(values[int(draws[b][f][row])] for f, values in enumerate(choices(b)))
                    for b in range(NUM_BLOCKS)
                )
            )
            for row in range(n)
        ]

    @staticmethod
    def _replace(arch: MnasArch, block: int, field: int, value: Any) -> MnasArch:
        blocks = list(arch.blocks)
        blocks[block] = MnasBlock(*(value if f == field else v for f, v in enumerate(blocks[block])))
        return MnasArch(tuple(blocks))

    def mutate(self, arch: MnasArch, rng: np.random.Generator) -> MnasArch:
        """One of the 28 choices, drawn uniformly, set to a different allowed value."""
        arch = self.validate(arch)
        block = int(rng.integers(NUM_BLOCKS))
        field = int(rng.integers(len(FIELDS)))
        others = [v for v in choices(block)[field] if v != arch.blocks[block][field]]
        return self._replace(arch, block, field, others[rng.integers(len(others))])

    def neighbors(self, arch: MnasArch) -> list[MnasArch]:
        """Every architecture that differs in exactly one choice (43 of them)."""
        arch = self.validate(arch)
        return [
            self._replace(arch, block, field, value)
            for block in range(NUM_BLOCKS)
            for field, values in enumerate(choices(block))
            for value in values
            if value != arch.blocks[block][field]
        ]

    # -- identity and conversion ----------------------------------------

    def validate(self, spec: Any) -> MnasArch:
        """Accepts an :class:`MnasArch`, its JSON dict ``{"blocks": [...]}``, an
        Accel-NASBench configuration ``{"block0_e": ..., "block6_se": ...}``,
        a sequence of 7 ``(e, k, l, se)`` blocks, or Accel-NASBench's
        ``manual_sample`` lists ``[expansions, kernels, layers, se]``."""
        if isinstance(spec, MnasArch):
            return spec
        if isinstance(spec, Mapping):
            if "blocks" in spec:
                return self.from_json(dict(spec))
            return from_accel_config(spec)
        if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
            if len(spec) == len(FIELDS) and len(spec) != NUM_BLOCKS:
                return from_field_lists(spec)
            return MnasArch(tuple(spec))
        raise InvalidArchitecture("mnas", "unrecognised spec form", type(spec).__name__)

    def from_json(self, data: dict[str, Any]) -> MnasArch:
        self._refuse_other_json(data)
        unknown = set(data) - {"space", "blocks"}
        if unknown or "blocks" not in data:
            raise InvalidArchitecture(
                "mnas", "a JSON architecture has exactly the key 'blocks' (and 'space')", str(sorted(data))
            )
        return MnasArch(data["blocks"])

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """Accel-NASBench's ConfigSpace: 28 decisions ``block{b}_{e,k,l,se}``.

        Per block ``b`` (0..6): expansion ``e`` (1, 4, 6), kernel ``k`` (3, 5),
        layers ``l`` (1..3; block 5: 1..4) and ``se`` (off, on), each as the
        index of the value in that order. Every spelling is valid and distinct.
        """
        return [
            (f"block{b}_{field}", len(values))
            for b in range(NUM_BLOCKS)
            for field, values in zip(FIELDS, choices(b))
        ]

    def to_choices(self, arch: MnasArch) -> list[int]:
        arch = self.validate(arch)
        return [
            values.index(value)
            for b, block in enumerate(arch.blocks)
            for values, value in zip(choices(b), block)
        ]

    def from_choices(self, choices: Sequence[int]) -> MnasArch:
        from search_spaces.mnas.arch import choices as options_of  # the parameter shadows it

        values = iter(self._check_choices(choices))
        return MnasArch(
            tuple(tuple(options[next(values)] for options in options_of(b)) for b in range(NUM_BLOCKS))
        )

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[MnasArch], kind: str | None = None) -> np.ndarray:
        """``onehot`` (71): per block one-hots of expansion (3), kernel (2),
        layers (3; 4 for block 5) and se (2). ``ordinal`` (28): per block the
        values themselves, ``(e, k, l, se as 0/1)``, for models that split on
        order (trees)."""
        kind = self._check_encoding(kind)
        if kind == "ordinal":
            out = np.array(
                [[float(v) for block in a.blocks for v in block] for a in archs], dtype=np.float32
            ).reshape(len(archs), NUM_BLOCKS * len(FIELDS))
            return out
        out = np.zeros((len(archs), int(_BLOCK_OFFSETS[-1])), dtype=np.float32)
        for row, arch in enumerate(archs):
            for b, block in enumerate(arch.blocks):
                offset = int(_BLOCK_OFFSETS[b])
                for values, value in zip(choices(b), block):
                    out[row, offset + values.index(value)] = 1.0
                    offset += len(values)
        return out

    def dag(self, arch: MnasArch) -> DAG:
        """A chain: input (stem), one node per MBConv layer, output (head).

        A layer's node type is its (expansion, kernel, se) combination, one of
        12; stage boundaries (stride, width) are implied by the position in
        the chain, which is fixed by the blocks' layer counts.
        """
        types = [self.input_type]
        for block in arch.blocks:
            layer_type = 1 + LAYER_TYPES.index((block.expansion, block.kernel, block.se))
            types += [layer_type] * block.layers
        types.append(self.output_type)
        return DAG(tuple(types), tuple((i, i + 1) for i in range(len(types) - 1)))

    def build_model(self, arch: MnasArch, **config: Any) -> "torch.nn.Module":
        """The benchmark's network; see :func:`search_spaces.mnas.model.build_mnas_model`
        (``num_classes`` 1000 by default, ``dropout``, ``stochastic_depth``, ``activation``)."""
        from search_spaces.mnas.model import build_mnas_model

        return build_mnas_model(self.validate(arch), **config)


__all__ = ["LAYER_TYPES", "MnasSpace"]
