"""Architectures as typed DAGs and back, and DAG batches as padded tensors.

A graph autoencoder reads a space's architectures as the labelled DAGs every
space already provides (``space.dag``, the view ``to_graph`` batches), and
must turn the DAGs its decoder writes back into that space's architecture
type. The first direction is shared code; the second is space-specific, so it
lives in a small :class:`GraphCodec` per space. A codec also names the node
types that start and stop generation and the largest graph of the space.

:class:`PaddedGraphs` holds a batch as ``(B, N)`` node types and a ``(B, N,
N)`` adjacency. The sequential decoder works on graph prefixes ("the first
``t`` nodes"), which are plain slices of that layout, and a training batch is
a row selection, with no per-step rebuilding of sparse batches. For message
passing it flattens to the ``edge_index`` / ``batch`` form of torch-geometric.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from nasframe.core import Architecture, InvalidArchitecture, SearchSpace
from search_spaces.graph import DAG


# -- codecs -----------------------------------------------------------------------


class GraphCodec(ABC):
    """The two-way map between a space's architectures and its typed DAGs.

    ``to_dag`` is the space's own ``dag`` (the view its graph surrogates see).
    ``from_dag`` returns the architecture a DAG spells, or ``None`` when the
    DAG is not one of the space's graphs: a decoder may write anything, and an
    invalid graph is a normal outcome to count, not an error.

    Attributes
    ----------
    type_names:
        Node-type names, indexed by the integer types of the DAGs.
    start_type, stop_type:
        The type of every graph's first node (the input) and of its last node
        (the output); generation starts with the one and stops at the other.
    max_nodes:
        The largest graph of the space, the decoder's default step limit.
    """

    type_names: tuple[str, ...]
    start_type: int
    stop_type: int
    max_nodes: int

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    @property
    def num_types(self) -> int:
        return len(self.type_names)

    def to_dag(self, arch: Any) -> DAG:
        """The architecture's DAG; non-instances are validated by the space first."""
        if not isinstance(arch, Architecture):
            arch = self.space.validate(arch)
        return self.space.dag(arch)  # type: ignore[attr-defined]

    @abstractmethod
    def from_dag(self, dag: DAG) -> Architecture | None:
        """The architecture ``dag`` describes, or ``None`` if it describes none."""


class NB101Codec(GraphCodec):
    """NB101 cells: types input, conv3x3, conv1x1, maxpool, output; at most 7 nodes (the space's ``max_vertices``).

    A decoded DAG is read as a spec (matrix and ops) and handed to the space's
    ``validate``, which prunes vertices off every input->output path exactly
    like NB101's own API; so validity here is NB101's validity.
    """

    def __init__(self, space: SearchSpace) -> None:
        from search_spaces.nb101.space import NODE_TYPES

        super().__init__(space)
        self.type_names = tuple(NODE_TYPES)
        self.start_type, self.stop_type = 0, len(NODE_TYPES) - 1
        self.max_nodes = space.max_vertices  # type: ignore[attr-defined]

    def from_dag(self, dag: DAG) -> Architecture | None:
        types = dag.node_types
        if len(types) < 2 or any(not 0 <= t < self.num_types for t in types):
            return None
        try:
            return self.space.validate(
                {"matrix": dag.adjacency().tolist(), "ops": [self.type_names[t] for t in types]}
            )
        except InvalidArchitecture:
            return None


class ENASCodec(GraphCodec):
    """ENAS macro networks as D-VAE's graphs: input, one node per layer, output.

    A decoded DAG is valid when it is exactly the graph of some architecture
    of the space (see ``ENASArch.to_dag``): the space's layer count, op types
    in the middle, every layer fed by its predecessor, the output fed by the
    last layer only. Skip bits are read off the remaining edges.
    """

    def __init__(self, space: SearchSpace) -> None:
        from search_spaces.enas.arch import INPUT_TYPE, NODE_TYPES, OUTPUT_TYPE

        super().__init__(space)
        self.type_names = tuple(NODE_TYPES)
        self.start_type, self.stop_type = INPUT_TYPE, OUTPUT_TYPE
        self.num_layers = int(space.num_layers)  # type: ignore[attr-defined]
        self.max_nodes = self.num_layers + 2

    def from_dag(self, dag: DAG) -> Architecture | None:
        from search_spaces.enas.arch import OP_TYPE_OFFSET, ENASArch

        types = dag.node_types
        n = len(types) - 2
        if n != self.num_layers or types[0] != self.start_type or types[-1] != self.stop_type:
            return None
        if any(not OP_TYPE_OFFSET <= t < self.num_types for t in types[1:-1]):
            return None
        sources: list[set[int]] = [set() for _ in range(n + 2)]
        for src, dst in dag.edges:
            sources[dst].add(src)
        try:
            arch = ENASArch(
                tuple(t - OP_TYPE_OFFSET for t in types[1:-1]),
                tuple(tuple(int(j in sources[i + 1]) for j in range(i)) for i in range(n)),
            )
        except InvalidArchitecture:
            return None
        # the read-off is lenient (it ignores missing chain edges, extra output edges):
        # the graph is valid only when it is exactly the architecture's graph
        if set(arch.to_dag().edges) != set(dag.edges):
            return None
        return arch


_CODECS: dict[str, Callable[[SearchSpace], GraphCodec]] = {"nb101": NB101Codec, "enas": ENASCodec}


def register_codec(space_name: str, factory: Callable[[SearchSpace], GraphCodec]) -> None:
    """Make graph embeddings available for another space (``factory(space) -> codec``)."""
    _CODECS[space_name] = factory


def codec_for(space: SearchSpace) -> GraphCodec:
    """The codec of ``space``; a clear error for spaces without one."""
    factory = _CODECS.get(space.name)
    if factory is None:
        raise KeyError(
            f"no graph codec for space {space.name!r} (have: {', '.join(sorted(_CODECS))}); "
            "add one with surrogates.embeddings.register_codec"
        )
    return factory(space)


def reverse_dag(dag: DAG) -> DAG:
    """The DAG with every edge reversed and nodes renumbered ``i -> n - 1 - i``.

    Edges come sorted by target, then source (as ``PaddedGraphs.to_dags`` lists them).
    The renumbering keeps node ids a topological order, so the reversed graph
    can be generated output-first by the same sequential decoder (SVGe).
    """
    n = len(dag.node_types)
    edges = sorted(((n - 1 - dst, n - 1 - src) for src, dst in dag.edges), key=lambda e: (e[1], e[0]))
    return DAG(tuple(reversed(dag.node_types)), tuple(edges))


# -- padded batches ----------------------------------------------------------------


@dataclass
class PaddedGraphs:
    """A batch of DAGs as dense tensors.

    ``types`` is ``(B, N)`` with ``-1`` after each graph's last node, ``adj``
    is ``(B, N, N)`` bool with ``adj[b, u, v]`` for an edge ``u -> v``, and
    ``sizes`` holds the node counts. Node ids are a topological order.
    """

    types: torch.Tensor
    adj: torch.Tensor
    sizes: torch.Tensor

    @classmethod
    def from_dags(
        cls, dags: Sequence[DAG], max_nodes: int | None = None, device: torch.device | str = "cpu"
    ) -> "PaddedGraphs":
        """Pad ``dags`` to ``max_nodes`` (default: the largest of them)."""
        sizes = np.array([len(d.node_types) for d in dags], dtype=np.int64)
        width = int(sizes.max()) if len(dags) else 1
        if max_nodes is not None:
            if width > max_nodes:
                raise ValueError(f"a graph has {width} nodes, more than max_nodes={max_nodes}")
            width = max_nodes
        types = np.full((len(dags), width), -1, dtype=np.int64)
        adj = np.zeros((len(dags), width, width), dtype=bool)
        for row, dag in enumerate(dags):
            types[row, : len(dag.node_types)] = dag.node_types
            if dag.edges:
                edges = np.asarray(dag.edges, dtype=np.int64)
                if np.any(edges[:, 0] >= edges[:, 1]):
                    raise ValueError(f"graph {row}: node ids must be a topological order (edge u -> v with u < v)")
                adj[row, edges[:, 0], edges[:, 1]] = True
        return cls(
            torch.from_numpy(types).to(device),
            torch.from_numpy(adj).to(device),
            torch.from_numpy(sizes).to(device),
        )

    def __len__(self) -> int:
        return int(self.types.shape[0])

    @property
    def max_nodes(self) -> int:
        return int(self.types.shape[1])

    def select(self, rows: torch.Tensor | np.ndarray | Sequence[int]) -> "PaddedGraphs":
        """Graphs ``rows`` in that order (a mini-batch)."""
        if isinstance(rows, torch.Tensor):
            index = rows.to(device=self.types.device, dtype=torch.long)
        else:
            index = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=self.types.device)
        return PaddedGraphs(self.types[index], self.adj[index], self.sizes[index])

    def to(self, device: torch.device | str) -> "PaddedGraphs":
        return PaddedGraphs(self.types.to(device), self.adj.to(device), self.sizes.to(device))

    def reversed(self) -> "PaddedGraphs":
        """Every graph reversed as by :func:`reverse_dag` (node ``i -> n - 1 - i``, edges flipped).

        Done with two gathers on the padded tensors, so SVGe's output-first
        decoder needs no second copy of the data set.
        """
        count, width = self.types.shape
        slots = torch.arange(width, device=self.types.device).expand(count, width)
        perm = torch.where(slots < self.sizes.unsqueeze(1), self.sizes.unsqueeze(1) - 1 - slots, slots)
        types = self.types.gather(1, perm)
        flipped = self.adj.transpose(1, 2)
        rows = flipped.gather(1, perm.unsqueeze(2).expand(-1, -1, width))
        adj = rows.gather(2, perm.unsqueeze(1).expand(-1, width, -1))
        return PaddedGraphs(types, adj, self.sizes)

    def flat(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(node_type, edge_index, batch, node_mask)`` in torch-geometric's flat form.

        Padding slots stay in as isolated nodes (type clamped to 0) and are
        switched off by ``node_mask``, so node ``v`` of graph ``b`` is row
        ``b * N + v`` without any compaction.
        """
        count, width = self.types.shape
        node_mask = (self.types >= 0).reshape(-1)
        node_type = self.types.clamp(min=0).reshape(-1)
        return node_type, dense_edge_index(self.adj), batch_vector(count, width, self.types.device), node_mask

    def to_dags(self) -> list[DAG]:
        """Back to one :class:`DAG` per graph (for decoded batches)."""
        types = self.types.cpu().numpy()
        adj = self.adj.cpu().numpy()
        sizes = self.sizes.cpu().numpy()
        out = []
        for row in range(len(types)):
            n = int(sizes[row])
            src, dst = np.nonzero(adj[row, :n, :n])
            order = np.lexsort((src, dst))
            out.append(
                DAG(tuple(int(t) for t in types[row, :n]), tuple((int(src[i]), int(dst[i])) for i in order))
            )
        return out


def dense_edge_index(adj: torch.Tensor) -> torch.Tensor:
    """``edge_index`` of a ``(B, N, N)`` adjacency, node ``v`` of graph ``b`` at ``b * N + v``."""
    width = adj.shape[1]
    b, src, dst = adj.nonzero(as_tuple=True)
    return torch.stack([b * width + src, b * width + dst])


def batch_vector(count: int, width: int, device: torch.device | str) -> torch.Tensor:
    """Graph id of each node of ``count`` graphs with ``width`` node slots each."""
    return torch.arange(count, device=device).repeat_interleave(width)


__all__ = [
    "ENASCodec",
    "GraphCodec",
    "NB101Codec",
    "PaddedGraphs",
    "batch_vector",
    "codec_for",
    "dense_edge_index",
    "register_codec",
    "reverse_dag",
]
