"""The ENAS macro search space (N layers, 6 ops, skip bits), as in D-VAE and SVGe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nasframe.core import InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG
from search_spaces.enas.arch import INPUT_TYPE, NODE_TYPES, OPS, OUTPUT_TYPE, ENASArch, num_skip_bits

if TYPE_CHECKING:
    import torch

_JSON_KEYS = {"space", "ops", "skips"}


def _skip_positions(num_layers: int) -> list[tuple[int, int]]:
    """``(layer, bit)`` of every skip bit, in the flat layer-major order of ``skip_bits``."""
    return [(i, j) for i in range(num_layers) for j in range(i)]


class ENASSpace(SearchSpace[ENASArch]):
    """ENAS macro networks of ``num_layers`` layers (6 and 12 in D-VAE / SVGe).

    ``sample`` draws every op uniformly and every skip bit from
    Bernoulli(0.5). Every architecture has exactly one spelling, so that is
    uniform over the :meth:`size` distinct architectures, the prior random
    search and D-VAE's prior samples use. (D-VAE's data file is not uniform:
    it was sampled by an ENAS controller regularised towards
    ``skip_target=0.4`` and has about 30% of its bits set.)
    """

    name = "enas"
    encodings = ("adjacency", "string")
    #: D-VAE's vertex types (see :meth:`ENASArch.to_dag`)
    node_types = NODE_TYPES
    input_type, output_type = INPUT_TYPE, OUTPUT_TYPE

    def __init__(self, num_layers: int = 6) -> None:
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
        self.num_layers = num_layers
        self.num_skip_bits = num_skip_bits(num_layers)
        n = num_layers
        positions = _skip_positions(n)
        # adjacency encoding: upper triangle of the (N+2)x(N+2) DAG matrix, then op one-hots
        upper = np.triu_indices(n + 2, k=1)
        column = {(int(s), int(d)): c for c, (s, d) in enumerate(zip(*upper))}
        self._adjacency_width = len(upper[0]) + n * len(OPS)
        self._chain_columns = np.array([column[(v, v + 1)] for v in range(n + 1)], dtype=np.int64)
        self._adjacency_skip_columns = np.array([column[(j, i + 1)] for i, j in positions], dtype=np.int64)
        self._adjacency_op_offsets = len(upper[0]) + len(OPS) * np.arange(n)
        # string encoding: per layer its op one-hot then its i skip bits
        block_starts = np.array([i * len(OPS) + num_skip_bits(i) for i in range(n)], dtype=np.int64)
        self._string_width = n * len(OPS) + self.num_skip_bits
        self._string_op_offsets = block_starts
        self._string_skip_columns = np.array(
            [block_starts[i] + len(OPS) + j for i, j in positions], dtype=np.int64
        )

    def __repr__(self) -> str:
        return f"ENASSpace(num_layers={self.num_layers})"

    def config(self) -> dict[str, Any]:
        return {"num_layers": self.num_layers}

    def size(self) -> int:
        """``6**N * 2**(N(N-1)/2)``: 46,656 * 32,768 = 1,528,823,808 for six layers."""
        return len(OPS) ** self.num_layers * 2**self.num_skip_bits

    # -- sampling and local moves ---------------------------------------

    def _from_arrays(self, ops: np.ndarray, bits: np.ndarray) -> ENASArch:
        starts = [num_skip_bits(i) for i in range(self.num_layers)]
        skips = tuple(tuple(bits[s : s + i].tolist()) for i, s in enumerate(starts))
        return ENASArch(tuple(ops.tolist()), skips)

    def sample(self, rng: np.random.Generator, n: int) -> list[ENASArch]:
        ops = rng.integers(0, len(OPS), size=(n, self.num_layers))
        bits = rng.integers(0, 2, size=(n, self.num_skip_bits))
        return [self._from_arrays(ops[row], bits[row]) for row in range(n)]

    def _edit(self, arch: ENASArch, index: int) -> ENASArch:
        """Edit number ``index`` of :meth:`neighbors`' order: op changes, then bit flips."""
        op_edits = self.num_layers * (len(OPS) - 1)
        ops, bits = np.array(arch.ops), np.array(arch.skip_bits, dtype=np.int64)
        if index < op_edits:
            layer, k = divmod(index, len(OPS) - 1)
            ops[layer] = k + (k >= ops[layer])  # the k-th op other than the current one
        else:
            bits[index - op_edits] ^= 1
        return self._from_arrays(ops, bits)

    def _num_edits(self) -> int:
        return self.num_layers * (len(OPS) - 1) + self.num_skip_bits

    def mutate(self, arch: ENASArch, rng: np.random.Generator) -> ENASArch:
        """One edit drawn uniformly from the ``5N + N(N-1)/2`` neighbours.

        Every edit changes the single spelling, so the result always differs.
        """
        arch = self.validate(arch)
        return self._edit(arch, int(rng.integers(self._num_edits())))

    def neighbors(self, arch: ENASArch) -> list[ENASArch]:
        """Every op change (``5N``) and every skip-bit flip (``N(N-1)/2``).

        They are distinct by construction (one spelling per architecture), so
        the deduplication the contract asks for never removes anything here.
        """
        arch = self.validate(arch)
        unique: dict[str, ENASArch] = {}
        for index in range(self._num_edits()):
            child = self._edit(arch, index)
            unique.setdefault(child.canonical_key(), child)
        return list(unique.values())

    # -- identity and conversion ----------------------------------------

    def _check_layers(self, arch: ENASArch) -> ENASArch:
        if arch.num_layers != self.num_layers:
            raise InvalidArchitecture(
                "enas", f"this space has {self.num_layers} layers", f"got {arch.num_layers}"
            )
        return arch

    def validate(self, spec: Any) -> ENASArch:
        """Accepts an :class:`ENASArch`, the JSON dict, a D-VAE row string
        ``"[[op], [op, s0], ...]"`` or its nested list, or ENAS's flat
        ``fixed_arc`` form (a string ``"op s0 op s0 s1 ..."`` or a flat list of
        ints). The layer count must be this space's."""
        if isinstance(spec, ENASArch):
            return self._check_layers(spec)
        if isinstance(spec, Mapping):
            return self.from_json(dict(spec))
        if isinstance(spec, str):
            if spec.lstrip().startswith("["):
                return self._check_layers(ENASArch.from_dvae(spec))
            return self._check_layers(ENASArch.from_fixed_arc(spec))
        if isinstance(spec, (list, tuple, np.ndarray)):
            items = spec.tolist() if isinstance(spec, np.ndarray) else spec
            if items and all(isinstance(item, (list, tuple, np.ndarray)) for item in items):
                return self._check_layers(ENASArch.from_rows(items))
            return self._check_layers(ENASArch.from_fixed_arc(items))
        raise InvalidArchitecture("enas", "unrecognised spec form", type(spec).__name__)

    def from_json(self, data: dict[str, Any]) -> ENASArch:
        self._refuse_other_json(data)
        unknown, missing = set(data) - _JSON_KEYS, {"ops", "skips"} - set(data)
        if unknown or missing:
            raise InvalidArchitecture(
                "enas",
                "a JSON architecture has exactly the keys 'ops' and 'skips' (and 'space')",
                f"unknown {sorted(unknown)}, missing {sorted(missing)}",
            )
        return self._check_layers(ENASArch(data["ops"], data["skips"]))

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """ENAS's own controller order, ``N + N(N-1)/2`` decisions (21 for six layers).

        Per layer ``i``: ``op_{i}`` (6 options, indices into
        :data:`~search_spaces.enas.arch.OPS`), then its skip bits
        ``skip_{i}_{j}`` (2 options) for DAG nodes ``j < i`` (0 = the stem).
        That is the flat ``fixed_arc`` order, and every spelling is valid.
        """
        out: list[tuple[str, int]] = []
        for i in range(self.num_layers):
            out.append((f"op_{i}", len(OPS)))
            out += [(f"skip_{i}_{j}", 2) for j in range(i)]
        return out

    def to_choices(self, arch: ENASArch) -> list[int]:
        return [v for row in self.validate(arch).to_rows() for v in row]

    def from_choices(self, choices: Sequence[int]) -> ENASArch:
        return self._check_layers(ENASArch.from_fixed_arc(self._check_choices(choices)))

    # -- features ---------------------------------------------------------

    def _arrays(self, archs: Sequence[ENASArch]) -> tuple[np.ndarray, np.ndarray]:
        """Op ids ``(n, N)`` and flat skip bits ``(n, N(N-1)/2)`` of many architectures."""
        for arch in archs:
            self._check_layers(arch)
        ops = np.array([a.ops for a in archs], dtype=np.int64).reshape(len(archs), self.num_layers)
        bits = np.array([a.skip_bits for a in archs], dtype=np.float32)
        return ops, bits.reshape(len(archs), self.num_skip_bits)

    def encode(self, archs: Sequence[ENASArch], kind: str | None = None) -> np.ndarray:
        """Fixed-width float32 features, built for the whole batch at once.

        ``adjacency`` (``(N+2)(N+1)/2 + 6N``, 64 for six layers): the strict
        upper triangle of the DAG's adjacency matrix (row-major, chain and
        output edges always 1), then each layer's op one-hot. ``string``
        (``6N + N(N-1)/2``, 51): D-VAE's flat string with the ops one-hot,
        per layer its op one-hot then its skip bits.
        """
        kind = self._check_encoding(kind)
        ops, bits = self._arrays(archs)
        rows = np.arange(len(archs))[:, None]
        if kind == "adjacency":
            out = np.zeros((len(archs), self._adjacency_width), dtype=np.float32)
            out[:, self._chain_columns] = 1.0
            out[:, self._adjacency_skip_columns] = bits
            out[rows, self._adjacency_op_offsets + ops] = 1.0
            return out
        out = np.zeros((len(archs), self._string_width), dtype=np.float32)
        out[:, self._string_skip_columns] = bits
        out[rows, self._string_op_offsets + ops] = 1.0
        return out

    # -- graph view and networks ----------------------------------------

    def dag(self, arch: ENASArch) -> DAG:
        """D-VAE's graph of ``arch`` (see :meth:`ENASArch.to_dag`)."""
        return self._check_layers(arch).to_dag()

    def from_dag(self, dag: DAG) -> ENASArch:
        """The architecture whose graph is exactly ``dag`` (:meth:`ENASArch.from_dag`), of this space's layer count."""
        return self._check_layers(ENASArch.from_dag(dag))

    def max_dag_nodes(self) -> int:
        return self.num_layers + 2

    def network_options(self, *, channels: int, layers: int, in_channels: int, num_classes: int) -> dict[str, Any]:
        """Every layer ``channels`` wide, no dropout; ``layers`` is not used.

        An ENAS architecture *is* its sequence of layers, so a recipe's depth
        cannot change it.
        """
        return {"channels": channels, "in_channels": in_channels, "num_classes": num_classes, "dropout": 0.0}

    def build_model(self, arch: ENASArch, **config: Any) -> "torch.nn.Module":
        """The ENAS macro network; see :func:`search_spaces.enas.model.build_enas_model`."""
        from search_spaces.enas.model import build_enas_model

        return build_enas_model(self.validate(arch), **config)
