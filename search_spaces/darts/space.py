"""The DARTS / NAS-Bench-301 search space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from nasframe.core import InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG
from search_spaces.darts.convert import (
    from_darts_genotype,
    from_nb301_config,
    parse_genotype_string,
)
from search_spaces.darts.genotype import (
    CELL_TYPES,
    EDGES_PER_CELL,
    NODES,
    NUM_INPUTS,
    NUM_POSSIBLE_EDGES,
    OPS,
    Cell,
    DARTSGenotype,
    count_cells,
    edge_index,
)

if TYPE_CHECKING:
    import torch

#: graph node types of one cell; the reduction cell's are offset by their count
CELL_NODE_TYPES = ("input_k-2", "input_k-1", *OPS, "sum", "output")
#: input pairs per node, in NB301's ConfigSpace order of ``inputs_node`` ("0_1", "0_2", "1_2", ...)
INPUT_CHOICES = {k: tuple((a, b) for a in range(k) for b in range(a + 1, k)) for k in NODES}
_ADJACENCY_WIDTH = len(CELL_TYPES) * NUM_POSSIBLE_EDGES * len(OPS)
#: node 2 has no inputs_node parameter: its inputs are always 0 and 1
_CONFIG_CELL_WIDTH = NUM_POSSIBLE_EDGES * len(OPS) + sum(len(INPUT_CHOICES[k]) for k in NODES[1:])
#: path features per (cell, input): op sequences of length 1..4 (a path visits at most 4 nodes)
_PATH_OFFSETS = np.cumsum([0] + [len(OPS) ** k for k in range(1, len(NODES) + 1)])
_PATHS_PER_INPUT = int(_PATH_OFFSETS[-1])


def _edits(cell: Cell) -> list[Cell]:
    """Every cell one op change or one input change away (before canonicalising)."""
    edits = []
    for position, (op, source) in enumerate(cell):
        node = NODES[position // 2]
        other = cell[position ^ 1][1]
        replacements = [(o, source) for o in OPS if o != op]
        replacements += [(op, s) for s in range(node) if s not in (source, other)]
        for edge in replacements:
            edits.append(cell[:position] + (edge,) + cell[position + 1 :])
    return edits


def _paths(cell: Cell) -> list[tuple[int, tuple[int, ...]]]:
    """``(cell input, op indices)`` of every path from a cell input to a node.

    Every intermediate node feeds the concatenated output, so these are all
    the input -> output paths (the BANANAS path encoding's unit).
    """
    reaching: dict[int, list[tuple[int, tuple[int, ...]]]] = {0: [(0, ())], 1: [(1, ())]}
    for v, node in enumerate(NODES):
        reaching[node] = [
            (start, ops + (OPS.index(op),))
            for op, source in cell[2 * v : 2 * v + 2]
            for start, ops in reaching[source]
        ]
    return [path for node in NODES for path in reaching[node]]


@lru_cache(maxsize=1)
def _cell_count() -> int:
    return count_cells()


class DARTSSpace(SearchSpace[DARTSGenotype]):
    """DARTS cells as benchmarked by NAS-Bench-301: a normal and a reduction cell.

    ``sample`` draws like NB301's and NASLib's random search: every node picks
    two distinct inputs uniformly among the earlier nodes and each edge an op
    uniformly. That is uniform over *spellings*, not over the distinct
    architectures :meth:`size` counts (cells with many equivalent spellings
    are drawn more often), which is what published DARTS-space baselines use.
    """

    name = "darts"
    encodings = ("adjacency", "configspace", "path")
    #: both cells' node types, the reduction cell's after the normal cell's (see :meth:`dag`)
    node_types = tuple(f"{kind}:{t}" for kind in CELL_TYPES for t in CELL_NODE_TYPES)

    def __repr__(self) -> str:
        return "DARTSSpace()"

    def size(self) -> int:
        """Distinct architectures: (distinct cells) ** 2 = 382,128,166 ** 2 ~ 1.46e17.

        NB301's "~10^18" counts spellings, 1,037,664,180 ** 2 ~ 1.08e18
        (:func:`~search_spaces.darts.genotype.count_labelled_cells`); the
        canonical form merges renumbered cells, hence the smaller number.
        """
        return _cell_count() ** 2

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[DARTSGenotype]:
        # a uniform unordered pair is two distinct uniform inputs; edge order is irrelevant
        ops = rng.integers(0, len(OPS), size=(n, len(CELL_TYPES), EDGES_PER_CELL))
        pairs = np.stack(
            [rng.integers(0, len(INPUT_CHOICES[k]), size=(n, len(CELL_TYPES))) for k in NODES], axis=-1
        )
        archs = []
        for row in range(n):
            cells = {}
            for c, kind in enumerate(CELL_TYPES):
                sources = [s for k, p in zip(NODES, pairs[row, c]) for s in INPUT_CHOICES[k][p]]
                cells[kind] = tuple((OPS[o], s) for o, s in zip(ops[row, c], sources))
            archs.append(DARTSGenotype(**cells))
        return archs

    def mutate(self, arch: DARTSGenotype, rng: np.random.Generator) -> DARTSGenotype:
        """One op or input change, drawn like NASLib's DARTS mutation.

        A random cell and edge, then with equal odds a new op or a new input
        (node 2's inputs cannot change, so there it is always the op). Unlike
        NASLib the new value always differs from the old one, and the draw is
        repeated while the edit gives an equivalent cell, which happens when
        an input moves between two interchangeable nodes.
        """
        while True:
            kind = CELL_TYPES[rng.integers(len(CELL_TYPES))]
            position = int(rng.integers(EDGES_PER_CELL))
            cell = arch.cell(kind)
            op, source = cell[position]
            node = NODES[position // 2]
            sources = [s for s in range(node) if s not in (source, cell[position ^ 1][1])]
            if sources and rng.random() < 0.5:
                edge = (op, sources[rng.integers(len(sources))])
            else:
                others = [o for o in OPS if o != op]
                edge = (others[rng.integers(len(others))], source)
            edited = cell[:position] + (edge,) + cell[position + 1 :]
            child = replace(arch, **{kind: edited})
            if child != arch:
                return child

    def neighbors(self, arch: DARTSGenotype) -> list[DARTSGenotype]:
        """All distinct genotypes one op or input change away (at most 120)."""
        unique: dict[str, DARTSGenotype] = {}
        for kind in CELL_TYPES:
            for edited in _edits(arch.cell(kind)):
                child = replace(arch, **{kind: edited})
                unique.setdefault(child.canonical_key(), child)
        unique.pop(arch.canonical_key(), None)
        return list(unique.values())

    # -- identity and conversion ----------------------------------------

    def validate(self, spec: Any) -> DARTSGenotype:
        """Accepts a :class:`DARTSGenotype`, a DARTS ``Genotype(...)`` string, an
        object with ``normal``/``reduce`` attributes (DARTS's namedtuple), an
        NB301 ConfigSpace dict, or the JSON dict ``{"normal", "reduce"}``."""
        if isinstance(spec, DARTSGenotype):
            return spec
        if isinstance(spec, str):
            return parse_genotype_string(spec)
        if isinstance(spec, Mapping):
            if "normal" in spec or "reduce" in spec:
                return self.from_json(dict(spec))
            return from_nb301_config(spec)
        if hasattr(spec, "normal") and hasattr(spec, "reduce"):
            return from_darts_genotype(spec)
        raise InvalidArchitecture("darts", "unrecognised spec form", type(spec).__name__)

    def from_json(self, data: dict[str, Any]) -> DARTSGenotype:
        self._refuse_other_json(data)
        unknown = set(data) - {"space", *CELL_TYPES}
        missing = set(CELL_TYPES) - set(data)
        if unknown or missing:
            raise InvalidArchitecture(
                "darts",
                "a JSON genotype has exactly the keys 'normal' and 'reduce' (and 'space')",
                f"unknown {sorted(unknown)}, missing {sorted(missing)}",
            )
        return DARTSGenotype(**{kind: data[kind] for kind in CELL_TYPES})

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """NB301's ConfigSpace structure without its conditional edges: 22 decisions.

        Per cell (``normal`` then ``reduce``) and intermediate node ``k``
        (2..5): ``inputs_node_{cell}_{k}``, the *unordered* pair of inputs in
        NB301's order (``"0_1", "0_2", "1_2", ...``: 3, 6 and 10 options for
        nodes 3, 4, 5; node 2 always reads 0 and 1, so it has no such
        decision), then ``op_{cell}_{k}_a`` and ``op_{cell}_{k}_b`` (7 options,
        indices into :data:`~search_spaces.darts.genotype.OPS`), the ops on the
        edges from the lower and the higher input of the pair. NB301 has one
        op per possible edge (14 per cell), active only when the pair picks
        that edge; naming the ops by position instead keeps every decision
        active. Inputs come as a pair, so they are distinct by construction
        and every spelling is valid; swapped edges and renumbered nodes give
        the same (canonical) genotype.
        """
        out: list[tuple[str, int]] = []
        for kind in CELL_TYPES:
            for node in NODES:
                if len(INPUT_CHOICES[node]) > 1:
                    out.append((f"inputs_node_{kind}_{node}", len(INPUT_CHOICES[node])))
                out += [(f"op_{kind}_{node}_a", len(OPS)), (f"op_{kind}_{node}_b", len(OPS))]
        return out

    def to_choices(self, arch: DARTSGenotype) -> list[int]:
        arch = self.validate(arch)
        out: list[int] = []
        for kind in CELL_TYPES:
            cell = arch.cell(kind)
            for v, node in enumerate(NODES):
                (op_a, a), (op_b, b) = sorted(cell[2 * v : 2 * v + 2], key=lambda edge: edge[1])
                if len(INPUT_CHOICES[node]) > 1:
                    out.append(INPUT_CHOICES[node].index((a, b)))
                out += [OPS.index(op_a), OPS.index(op_b)]
        return out

    def from_choices(self, choices: Sequence[int]) -> DARTSGenotype:
        values = iter(self._check_choices(choices))
        cells = {}
        for kind in CELL_TYPES:
            edges: list[tuple[str, int]] = []
            for node in NODES:
                pairs = INPUT_CHOICES[node]
                a, b = pairs[next(values)] if len(pairs) > 1 else pairs[0]
                edges += [(OPS[next(values)], a), (OPS[next(values)], b)]
            cells[kind] = tuple(edges)
        return DARTSGenotype(**cells)

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[DARTSGenotype], kind: str | None = None) -> np.ndarray:
        """Fixed-width float32 features of the canonical form.

        ``adjacency`` (196): per cell, per NB301 edge 0..13, a one-hot op
        (all zero when the edge is absent). ``configspace`` (234): NB301's
        categorical configuration one-hot, per cell the 14 edge ops (zero when
        inactive) then ``inputs_node`` 3, 4, 5 over their 3/6/10 choices.
        ``path`` (11,200): per cell and cell input, one indicator per op
        sequence of length 1..4 along a path into an intermediate node.
        """
        kind = self._check_encoding(kind)
        if kind == "adjacency":
            out = np.zeros((len(archs), _ADJACENCY_WIDTH), dtype=np.float32)
            for row, arch in enumerate(archs):
                out[row, self._edge_feature_indices(arch)] = 1.0
            return out
        if kind == "configspace":
            out = np.zeros((len(archs), len(CELL_TYPES) * _CONFIG_CELL_WIDTH), dtype=np.float32)
            for row, arch in enumerate(archs):
                out[row, self._config_feature_indices(arch)] = 1.0
            return out
        out = np.zeros((len(archs), len(CELL_TYPES) * NUM_INPUTS * _PATHS_PER_INPUT), dtype=np.float32)
        for row, arch in enumerate(archs):
            for c, kind_ in enumerate(CELL_TYPES):
                for start, ops in _paths(arch.cell(kind_)):
                    code = 0
                    for op in ops:
                        code = code * len(OPS) + op
                    base = (c * NUM_INPUTS + start) * _PATHS_PER_INPUT
                    out[row, base + _PATH_OFFSETS[len(ops) - 1] + code] = 1.0
        return out

    @staticmethod
    def _edge_feature_indices(arch: DARTSGenotype) -> list[int]:
        indices = []
        for c, kind in enumerate(CELL_TYPES):
            for position, (op, source) in enumerate(arch.cell(kind)):
                edge = edge_index(NODES[position // 2], source)
                indices.append((c * NUM_POSSIBLE_EDGES + edge) * len(OPS) + OPS.index(op))
        return indices

    @staticmethod
    def _config_feature_indices(arch: DARTSGenotype) -> list[int]:
        indices = []
        for c, kind in enumerate(CELL_TYPES):
            cell = arch.cell(kind)
            base = c * _CONFIG_CELL_WIDTH
            for position, (op, source) in enumerate(cell):
                indices.append(base + edge_index(NODES[position // 2], source) * len(OPS) + OPS.index(op))
            offset = base + NUM_POSSIBLE_EDGES * len(OPS)
            for v, node in enumerate(NODES[1:], start=1):
                pair = tuple(sorted(source for _, source in cell[2 * v : 2 * v + 2]))
                indices.append(offset + INPUT_CHOICES[node].index(pair))
                offset += len(INPUT_CHOICES[node])
        return indices

    def dag(self, arch: DARTSGenotype) -> DAG:
        """Both cells as one graph of two components, ops as nodes.

        Per cell, in topological order: the two cell inputs, then per
        intermediate node its two op nodes and its ``sum`` node, then the
        ``output`` (concatenation) node; edges run source -> op -> sum -> output.
        Ops as nodes (not edge labels) keep the node-typed ``DAG`` contract,
        and the reduction cell gets its own node types, since the same op
        means something else at stride 2. 15 nodes and 20 edges per cell.
        """
        types: list[int] = []
        edges: list[tuple[int, int]] = []
        for c, kind in enumerate(CELL_TYPES):
            offset = c * len(CELL_NODE_TYPES)
            first = len(types)
            types += [offset + 0, offset + 1]
            node_ids = {0: first, 1: first + 1}
            sums = []
            cell = arch.cell(kind)
            for v, node in enumerate(NODES):
                for op, source in cell[2 * v : 2 * v + 2]:
                    types.append(offset + CELL_NODE_TYPES.index(op))
                    edges.append((node_ids[source], len(types) - 1))
                types.append(offset + CELL_NODE_TYPES.index("sum"))
                node_ids[node] = len(types) - 1
                edges += [(len(types) - 3, node_ids[node]), (len(types) - 2, node_ids[node])]
                sums.append(node_ids[node])
            types.append(offset + CELL_NODE_TYPES.index("output"))
            edges += [(s, len(types) - 1) for s in sums]
        return DAG(tuple(types), tuple(edges))

    def network_options(self, *, channels: int, layers: int, in_channels: int, num_classes: int) -> dict[str, Any]:
        """DARTS's CIFAR network: ``channels`` initial channels, ``layers`` cells.

        At least 3 cells: two reduction cells and a normal one. Checked here so
        that a recipe fails before any network is built.
        """
        if layers < 3:
            raise ValueError(f"field 'layers'={layers}: a DARTS network needs >= 3 cells")
        return {"init_channels": channels, "layers": layers, "in_channels": in_channels, "num_classes": num_classes}

    def build_model(self, arch: DARTSGenotype, **config: Any) -> "torch.nn.Module":
        """The DARTS CIFAR network; see :func:`search_spaces.darts.model.build_darts_model`."""
        from search_spaces.darts.model import build_darts_model

        return build_darts_model(arch, **config)
