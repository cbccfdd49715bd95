"""The NAS-Bench-Graph search space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nasframe.core import InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG
from search_spaces.nbgraph.arch import (
    LINKS,
    NUM_NODES,
    OP_SETS,
    OPS,
    SKIP,
    NBGraphArch,
)
from search_spaces.nbgraph.spellings import enumerate_archs, from_raw

if TYPE_CHECKING:
    import torch

#: ``links`` encoding: node i's input as a one-hot over 0..i-1 (1 + 2 + 3 + 4 = 10)
_LINK_OFFSETS = np.cumsum([0] + [i + 1 for i in range(NUM_NODES)])


def _edits(arch: NBGraphArch, ops: Sequence[str]) -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
    """Raw (link, ops) one op change or one input change away from the stored form."""
    edits = []
    for i in range(NUM_NODES):
        for op in ops:
            if op != arch.ops[i]:
                edits.append((arch.link, arch.ops[:i] + (op,) + arch.ops[i + 1 :]))
        for source in range(i + 1):
            if source != arch.link[i]:
                edits.append((arch.link[:i] + (source,) + arch.link[i + 1 :], arch.ops))
    return edits


class NBGraphSpace(SearchSpace[NBGraphArch]):
    """NAS-Bench-Graph: 4 computing nodes, one input each, 9 GNN operations.

    ``op_set="all"`` is the 26,206-architecture space of the eight
    node-classification tables; ``op_set="proteins"`` the 2,021 architectures
    over gcn, sage, arma, fc and skip that the ogbn-proteins table covers.

    ``sample`` is uniform over the distinct architectures (the enumeration is
    built once per process and cached). ``mutate`` and ``neighbors`` edit
    the stored representative: one node's op, or one node's input (any
    earlier node), then canonicalise; an edit may therefore change the shape
    as well, e.g. when a skip node becomes bypassed.
    """

    name = "nbgraph"
    encodings = ("adjacency", "links")
    #: the input features, the nine operations, the output
    node_types = ("input", *OPS, "output")
    input_type, output_type = 0, len(OPS) + 1

    def __init__(self, op_set: str = "all") -> None:
        if op_set not in OP_SETS:
            raise ValueError(f"op_set must be one of {sorted(OP_SETS)}, got {op_set!r}")
        self.op_set = op_set
        self.ops = OP_SETS[op_set]

    def __repr__(self) -> str:
        return f"NBGraphSpace(op_set={self.op_set!r})"

    def config(self) -> dict[str, Any]:
        return {"op_set": self.op_set}

    def archs(self) -> tuple[NBGraphArch, ...]:
        """Every distinct architecture, in hash order."""
        return enumerate_archs(self.op_set)

    def size(self) -> int:
        """Counted by enumeration: 26,206 (``"all"``) or 2,021 (``"proteins"``)."""
        return len(self.archs())

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[NBGraphArch]:
        archs = self.archs()
        return [archs[i] for i in rng.integers(0, len(archs), size=n)]

    def _try(self, link: tuple[int, ...], ops: tuple[str, ...]) -> NBGraphArch | None:
        if all(op == SKIP for op in ops):
            return None
        return NBGraphArch(link, ops)

    def mutate(self, arch: NBGraphArch, rng: np.random.Generator) -> NBGraphArch:
        """With equal odds a new op or a new input for a uniformly drawn node
        (node 1 always reads the input, so there it is an op change); redrawn
        while the result is invalid (all skip) or equal to ``arch``."""
        arch = self.validate(arch)
        while True:
            i = int(rng.integers(NUM_NODES))
            link, ops = arch.link, arch.ops
            sources = [s for s in range(i + 1) if s != link[i]]
            if sources and rng.random() < 0.5:
                link = link[:i] + (sources[rng.integers(len(sources))],) + link[i + 1 :]
            else:
                others = [o for o in self.ops if o != ops[i]]
                ops = ops[:i] + (others[rng.integers(len(others))],) + ops[i + 1 :]
            child = self._try(link, ops)
            if child is not None and child != arch:
                return child

    def neighbors(self, arch: NBGraphArch) -> list[NBGraphArch]:
        """All distinct architectures one op change or one input change away."""
        arch = self.validate(arch)
        unique: dict[str, NBGraphArch] = {}
        for link, ops in _edits(arch, self.ops):
            child = self._try(link, ops)
            if child is not None:
                unique.setdefault(child.canonical_key(), child)
        unique.pop(arch.canonical_key(), None)
        return list(unique.values())

    # -- identity and conversion ----------------------------------------

    def validate(self, spec: Any) -> NBGraphArch:
        """Accepts an :class:`NBGraphArch`, ``{"link", "ops"}`` (also the
        benchmark's ``{"link", "op"}``), a ``(link, ops)`` pair, an object with
        ``link`` and ``ops`` attributes (the benchmark's ``Arch``), or a table
        hash (int or decimal string)."""
        if spec.__class__ in (tuple, list) and len(spec) == 2:
            # the raw spelling searchers and users write: an index into every spelling's
            # representative (spellings.py); anything that path declines is checked in full below
            arch = from_raw(spec[0], spec[1], self.op_set)
            if arch is not None:
                return arch
        if isinstance(spec, NBGraphArch):
            arch = spec
        elif isinstance(spec, Mapping):
            arch = self._from_mapping(spec)
        elif isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            arch = NBGraphArch.from_hash(int(spec))
        elif isinstance(spec, str):
            arch = NBGraphArch.from_hash(spec)
        elif isinstance(spec, (tuple, list)) and len(spec) == 2:
            arch = NBGraphArch(*spec)
        elif hasattr(spec, "link") and hasattr(spec, "ops"):
            arch = NBGraphArch(spec.link, spec.ops)
        else:
            raise InvalidArchitecture("nbgraph", "unrecognised spec form", type(spec).__name__)
        outside = sorted(set(arch.ops) - set(self.ops))
        if outside:
            raise InvalidArchitecture(
                "nbgraph",
                f"operation outside this space's op set {self.op_set!r}",
                f"{', '.join(outside)}; allowed: {', '.join(self.ops)}",
            )
        return arch

    @staticmethod
    def _from_mapping(spec: Mapping[str, Any]) -> NBGraphArch:
        ops_key = "ops" if "ops" in spec else "op"
        if "link" not in spec or ops_key not in spec:
            raise InvalidArchitecture(
                "nbgraph", "a spec dict needs 'link' and 'ops'", f"got keys {sorted(spec)}"
            )
        unknown = set(spec) - {"space", "link", ops_key}
        if unknown:
            raise InvalidArchitecture("nbgraph", "unknown keys in a spec dict", str(sorted(unknown)))
        return from_raw(spec["link"], spec[ops_key]) or NBGraphArch(spec["link"], spec[ops_key])

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """The benchmark's raw form: 7 decisions, per computing node its input then its op.

        ``op_1``, then for nodes ``i`` = 2, 3, 4 ``link_{i}`` (``i`` options:
        the node read, 0 = the input features; node 1 always reads the input,
        so it has no link decision) and ``op_{i}`` (indices into this space's
        op set, 9 or 5 options). All-``skip`` spellings are invalid
        (``InvalidArchitecture``); many spellings name one architecture
        (relabelled nodes, bypassed skips), and :meth:`to_choices` gives the
        benchmark's representative.
        """
        out: list[tuple[str, int]] = [("op_1", len(self.ops))]
        for node in range(2, NUM_NODES + 1):
            out += [(f"link_{node}", node), (f"op_{node}", len(self.ops))]
        return out

    def to_choices(self, arch: NBGraphArch) -> list[int]:
        arch = self.validate(arch)
        out = [self.ops.index(arch.ops[0])]
        for i in range(1, NUM_NODES):
            out += [arch.link[i], self.ops.index(arch.ops[i])]
        return out

    def from_choices(self, choices: Sequence[int]) -> NBGraphArch:
        values = self._check_choices(choices)
        link = (0, *values[1::2])
        ops = (self.ops[values[0]], *(self.ops[v] for v in values[2::2]))
        return NBGraphArch(link, ops)

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[NBGraphArch], kind: str | None = None) -> np.ndarray:
        """``adjacency`` (9 + 4 x ops): one-hot of the canonical link pattern,
        then per computing node a one-hot of its op (45 features for all ops,
        29 for the proteins set). ``links`` (10 + 4 x ops): per computing node
        a one-hot of the node it reads (node i over 0..i-1), then the op
        one-hots."""
        kind = self._check_encoding(kind)
        n_ops = len(self.ops)
        op_index = {op: i for i, op in enumerate(self.ops)}
        head = len(LINKS) if kind == "adjacency" else int(_LINK_OFFSETS[-1])
        out = np.zeros((len(archs), head + NUM_NODES * n_ops), dtype=np.float32)
        for row, arch in enumerate(archs):
            if kind == "adjacency":
                out[row, LINKS.index(arch.link)] = 1.0
            else:
                for i, source in enumerate(arch.link):
                    out[row, _LINK_OFFSETS[i] + source] = 1.0
            for i, op in enumerate(arch.ops):
                if op not in op_index:
                    raise InvalidArchitecture(
                        "nbgraph", f"operation outside this space's op set {self.op_set!r}", op
                    )
                out[row, head + i * n_ops + op_index[op]] = 1.0
        return out

    def dag(self, arch: NBGraphArch) -> DAG:
        """Input (node 0), the four computing nodes typed by op, the output (node 5).

        Edges: ``link[i] -> i + 1`` and every leaf -> output. Node ids are a
        topological order since each node reads an earlier one.
        """
        types = (self.input_type, *(self.node_types.index(op) for op in arch.ops), self.output_type)
        edges = [(source, i + 1) for i, source in enumerate(arch.link)]
        edges += [(leaf, NUM_NODES + 1) for leaf in arch.leaves()]
        return DAG(types, tuple(edges))

    def build_model(self, arch: NBGraphArch, **config: Any) -> "torch.nn.Module":
        """The benchmark's GNN; see :func:`search_spaces.nbgraph.model.build_nbgraph_model`
        (``dataset=`` or ``num_features``/``num_classes``, ``hidden_dim``,
        ``num_pre``, ``num_post``, ``dropout``)."""
        from search_spaces.nbgraph.model import build_nbgraph_model

        return build_nbgraph_model(self.validate(arch), **config)


__all__ = ["NBGraphSpace"]
