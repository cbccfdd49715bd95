"""The NAS-Bench-101 search space."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from nasframe.core import InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG
from search_spaces.nb101.cell import INPUT, MAX_EDGES, MAX_VERTICES, OPS, OUTPUT, NB101Cell

if TYPE_CHECKING:
    import torch

NUM_CELLS = 423_624
#: unhashed cells from which one vectorised pass beats hashing them one by one
#: (the crossover measured by scripts/perf/bench_small_batch.py, docs/PERFORMANCE.md)
BATCH_HASH_FROM = 1_000


def padded(cell: NB101Cell, size: int = MAX_VERTICES) -> tuple[np.ndarray, list[str | None]]:
    """The cell as a ``size``-vertex matrix, missing vertices isolated just before the output.

    Fixed-size views are what encodings and mutation need: a mutation can then
    grow a small cell by connecting a padding vertex. Padding ops are ``None``.
    """
    n = cell.num_vertices
    matrix = np.zeros((size, size), dtype=np.int8)
    source = cell.adjacency()
    index = list(range(n - 1)) + [size - 1]
    matrix[np.ix_(index, index)] = source
    ops: list[str | None] = list(cell.ops[:-1]) + [None] * (size - n) + [OUTPUT]
    return matrix, ops


def _paths(cell: NB101Cell) -> list[tuple[int, ...]]:
    """Op-label sequences of every input->output path (BANANAS path encoding)."""
    matrix = cell.adjacency()
    labels = cell.labels
    n = cell.num_vertices
    paths_to: list[list[tuple[int, ...]]] = [[] for _ in range(n)]
    paths_to[0] = [()]
    for v in range(1, n):
        step = () if v == n - 1 else (labels[v],)
        paths_to[v] = [p + step for u in range(v) if matrix[u, v] for p in paths_to[u]]
    return paths_to[n - 1]


class NB101Space(SearchSpace[NB101Cell]):
    """NAS-Bench-101 cells: at most 7 vertices, 9 edges, 3 operations.

    ``max_vertices``/``max_edges`` make a larger configuration (8-vertex
    cells, which no benchmark covers, are where predictor-guided search is
    asked to extrapolate); encodings and categorical views then grow with
    it, and ``sampling="uniform"`` and :meth:`size`, which rest on the
    enumeration of the 7-vertex space, are not available.

    ``sampling="spec"`` draws like NAS-Bench-101's own ``random_spec``: a
    uniform random upper-triangular matrix and ops, rejected until valid. It is
    what published NB101 baselines (random search, evolution) use, and it is
    *not* uniform over the 423,624 unique cells, since larger isomorphism
    classes are hit more often. ``sampling="uniform"`` draws uniformly from the
    enumerated cells instead (it loads or builds the on-disk index once).
    """

    name = "nb101"
    encodings = ("adjacency", "path")
    #: a cell's vertices are its graph's nodes, typed by op
    node_types = (INPUT, *OPS, OUTPUT)
    input_type, output_type = 0, len(OPS) + 1

    def __init__(self, sampling: str = "spec", max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES) -> None:
        if sampling not in ("spec", "uniform"):
            raise ValueError(f"sampling must be 'spec' or 'uniform', got {sampling!r}")
        if max_vertices < 2 or max_edges < 1:
            raise ValueError(f"need max_vertices >= 2 and max_edges >= 1, got {max_vertices}, {max_edges}")
        self.sampling = sampling
        self.limits = (int(max_vertices), int(max_edges))
        if sampling == "uniform" and not self._official:
            raise ValueError("sampling='uniform' draws from the enumeration of NB101's own 7-vertex, 9-edge space")
        self._upper = np.triu_indices(max_vertices, k=1)
        self._op_spots = max_vertices - 2
        # every op sequence of length 0..op_spots is one path feature (364 for 7 vertices)
        self._path_offsets = np.cumsum([0] + [len(OPS) ** k for k in range(self._op_spots + 1)])

    @property
    def max_vertices(self) -> int:
        return self.limits[0]

    @property
    def _official(self) -> bool:
        return self.limits == (MAX_VERTICES, MAX_EDGES)

    def __repr__(self) -> str:
        extra = "" if self._official else f", max_vertices={self.limits[0]}, max_edges={self.limits[1]}"
        return f"NB101Space(sampling={self.sampling!r}{extra})"

    def config(self) -> dict[str, Any]:
        # NB101's own limits stay implicit, so configurations recorded before they existed still match
        extra = {} if self._official else {"max_vertices": self.limits[0], "max_edges": self.limits[1]}
        return {"sampling": self.sampling, **extra}

    def size(self) -> int | None:
        return NUM_CELLS if self._official else None

    def _cell(self, matrix: Any, ops: Sequence[str]) -> NB101Cell:
        return NB101Cell(tuple(map(tuple, matrix)), tuple(ops), self.limits)

    def _try_cell(self, matrix: np.ndarray, ops: Sequence[str]) -> NB101Cell | None:
        try:
            return self._cell(matrix, ops)
        except InvalidArchitecture:
            return None

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[NB101Cell]:
        if self.sampling == "uniform":
            from search_spaces.nb101.enumeration import load_index

            index = load_index()
            return index.cells(rng.integers(0, len(index), size=n))
        cells: list[NB101Cell] = []
        while len(cells) < n:
            matrix = np.zeros((self.max_vertices, self.max_vertices), dtype=np.int8)
            matrix[self._upper] = rng.integers(0, 2, size=len(self._upper[0]))
            ops = [INPUT] + [OPS[i] for i in rng.integers(0, len(OPS), size=self._op_spots)] + [OUTPUT]
            cell = self._try_cell(matrix, ops)
            if cell is not None:
                cells.append(cell)
        return cells

    def mutate(self, arch: NB101Cell, rng: np.random.Generator) -> NB101Cell:
        """NB101's evolution mutation: each edge flips with p=1/7, each op changes with p=1/5.

        Applied to the padded 7-vertex form (padding ops drawn at random), so a
        mutation can also grow the cell. Retried until valid and different.
        (With ``max_vertices`` = V: the V-vertex form, p = 1/V and 1/(V - 2).)
        """
        base_matrix, base_ops = padded(arch, self.max_vertices)
        while True:
            matrix = base_matrix.copy()
            flips = rng.random(len(self._upper[0])) < 1.0 / self.max_vertices
            matrix[self._upper] ^= flips.astype(np.int8)
            ops = [op if op is not None else OPS[rng.integers(len(OPS))] for op in base_ops]
            for v in range(1, self.max_vertices - 1):
                if rng.random() < 1.0 / self._op_spots:
                    ops[v] = [o for o in OPS if o != ops[v]][rng.integers(len(OPS) - 1)]
            child = self._try_cell(matrix, ops)
            if child is not None and child != arch:
                return child

    def neighbors(self, arch: NB101Cell) -> list[NB101Cell]:
        """All valid cells one op change or one edge flip away, deduplicated."""
        matrix = arch.adjacency()
        ops = list(arch.ops)
        candidates = []
        for v in range(1, arch.num_vertices - 1):
            for op in OPS:
                if op != ops[v]:
                    candidates.append(self._try_cell(matrix, ops[:v] + [op] + ops[v + 1 :]))
        for src, dst in zip(*np.triu_indices(arch.num_vertices, k=1)):
            flipped = matrix.copy()
            flipped[src, dst] ^= 1
            candidates.append(self._try_cell(flipped, ops))
        unique = {c.canonical_key(): c for c in candidates if c is not None}
        unique.pop(arch.canonical_key(), None)
        return list(unique.values())

    # -- identity and conversion ----------------------------------------

    def validate(self, spec: Any) -> NB101Cell:
        """Accepts a cell, ``{"matrix", "ops"}`` (names), ``{"adjacency", "operations"}``
        (official integer codes) or a ``(matrix, ops)`` pair."""
        if isinstance(spec, NB101Cell):
            if spec.limits == self.limits:
                return spec
            return self._cell(spec.matrix, spec.ops)  # checked against this configuration's limits
        if isinstance(spec, dict):
            if "adjacency" in spec and "operations" in spec:
                return NB101Cell.from_codes(spec["adjacency"], spec["operations"], self.limits)
            if "matrix" in spec and "ops" in spec:
                return self._cell(spec["matrix"], spec["ops"])
            raise InvalidArchitecture(
                "nb101", "a spec dict needs 'matrix' and 'ops' (or 'adjacency' and 'operations')",
                f"got keys {sorted(spec)}",
            )
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            matrix, ops = spec
            return self._cell(matrix, ops)
        raise InvalidArchitecture("nb101", "unrecognised spec form", type(spec).__name__)

    def from_json(self, data: dict[str, Any]) -> NB101Cell:
        self._refuse_other_json(data)
        return self.validate({k: v for k, v in data.items() if k != "space"})

    def canonical_hashes(self, archs: Sequence[NB101Cell]) -> list[str]:
        """Official hashes of many cells (cached per cell), by the cheaper path for the count.

        Below :data:`BATCH_HASH_FROM` unhashed cells each is hashed alone
        (:func:`~search_spaces.nb101.graph_util.hash_cell`): the vectorised
        pass has a fixed set-up of several milliseconds, which dominates a
        searcher's ask of one to a few hundred cells. Both give equal hashes.
        """
        missing = [a for a in archs if "_hash" not in a.__dict__]
        if len(missing) >= BATCH_HASH_FROM:
            from search_spaces.nb101.fast_hash import batch_hash

            hashes = batch_hash([a.adjacency() for a in missing], [a.labels for a in missing])
            for cell, h in zip(missing, hashes):
                cell.__dict__["_hash"] = h  # fills the cell's cached_property
        return [a.canonical_key() for a in archs]

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """26 decisions on the padded 7-vertex form, those of nas_benchmarks' ``NASCifar10A``.

        ``edge_{i}_{j}`` (2 options, 0 absent / 1 present) for the 21 upper-
        triangle pairs ``i < j`` in row-major order, then ``op_{v}`` (3 options,
        indices into :data:`~search_spaces.nb101.cell.OPS`) for the middle
        vertices 1..5. A spelling is pruned like any spec (as NB101's API does;
        ``NASCifar10A`` counts edges before pruning), so it is invalid
        (``InvalidArchitecture``) when input and output disconnect or more
        than 9 edges remain after pruning. :meth:`to_choices` spells a cell in
        its :func:`padded` form, padding vertices isolated with op 0.
        """
        edges = [(f"edge_{i}_{j}", 2) for i, j in zip(*self._upper)]
        return edges + [(f"op_{v}", len(OPS)) for v in range(1, self.max_vertices - 1)]

    def to_choices(self, arch: NB101Cell) -> list[int]:
        matrix, ops = padded(self.validate(arch), self.max_vertices)
        return [int(bit) for bit in matrix[self._upper]] + [
            0 if op is None else OPS.index(op) for op in ops[1:-1]
        ]

    def from_choices(self, choices: Sequence[int]) -> NB101Cell:
        values = self._check_choices(choices)
        matrix = np.zeros((self.max_vertices, self.max_vertices), dtype=np.int8)
        matrix[self._upper] = values[: len(self._upper[0])]
        ops = [INPUT, *(OPS[i] for i in values[len(self._upper[0]) :]), OUTPUT]
        return self._cell(matrix, ops)

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[NB101Cell], kind: str | None = None) -> np.ndarray:
        """``adjacency``: 21 upper-triangle bits of the padded matrix + 5x3 op one-hots (36).
        ``path``: BANANAS path encoding, one indicator per op sequence of an
        input->output path (364 features)."""
        kind = self._check_encoding(kind)
        if kind == "adjacency":
            edges = len(self._upper[0])
            out = np.zeros((len(archs), edges + self._op_spots * len(OPS)), dtype=np.float32)
            for row, cell in enumerate(archs):
                matrix, ops = padded(cell, self.max_vertices)
                out[row, :edges] = matrix[self._upper]
                for v, op in enumerate(ops[1:-1]):
                    if op is not None:
                        out[row, edges + v * len(OPS) + OPS.index(op)] = 1.0
            return out
        out = np.zeros((len(archs), int(self._path_offsets[-1])), dtype=np.float32)
        for row, cell in enumerate(archs):
            for path in _paths(cell):
                code = 0
                for label in path:
                    code = code * len(OPS) + label
                out[row, self._path_offsets[len(path)] + code] = 1.0
        return out

    # -- graph view and networks ----------------------------------------

    def dag(self, arch: NB101Cell) -> DAG:
        types = tuple(self.node_types.index(op) for op in arch.ops)
        edges = tuple((int(s), int(d)) for s, d in zip(*np.nonzero(arch.adjacency())))
        return DAG(types, edges)

    def from_dag(self, dag: DAG) -> NB101Cell:
        """The cell a DAG spells, read as a spec (matrix and ops) and checked by :meth:`validate`.

        So vertices off every input->output path are pruned, exactly as NB101's
        own API does, and validity here is NB101's validity.
        """
        types = dag.node_types
        if len(types) < 2 or any(not 0 <= t < len(self.node_types) for t in types):
            raise InvalidArchitecture(
                "nb101", f"a cell's graph has >= 2 nodes typed 0..{len(self.node_types) - 1}", f"types {types}"
            )
        return self.validate({"matrix": dag.adjacency().tolist(), "ops": [self.node_types[t] for t in types]})

    def max_dag_nodes(self) -> int:
        return self.max_vertices

    def network_options(self, *, channels: int, layers: int, in_channels: int, num_classes: int) -> dict[str, Any]:
        """Stem width ``channels`` and ``layers`` cells per stack, in NB101's three stacks.

        Two downsamplings as NB101; PyTorch's BN momentum, because the
        official 0.003 averages over ~300 steps and cheap trainings are
        shorter than that.
        """
        return {"stem_channels": channels, "num_stacks": 3, "cells_per_stack": layers,
                "in_channels": in_channels, "num_classes": num_classes, "bn_momentum": 0.1}

    def build_model(self, arch: NB101Cell, **config: Any) -> "torch.nn.Module":
        """The official NB101 network; see :func:`search_spaces.nb101.model.build_nb101_model`."""
        from search_spaces.nb101.model import build_nb101_model

        return build_nb101_model(arch, **config)
