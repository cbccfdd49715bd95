"""DAG batches as padded tensors, the layout the graph VAEs train and decode on.

A graph autoencoder reads a space's architectures as the labelled DAGs every
space provides (``space.dag``, the view ``to_graph`` batches) and turns the
DAGs its decoder writes back with the space's ``from_dag``; so nothing here
is space-specific.

:class:`PaddedGraphs` holds a batch as ``(B, N)`` node types and a ``(B, N,
N)`` adjacency. The sequential decoder works on graph prefixes ("the first
``t`` nodes"), which are plain slices of that layout, and a training batch is
a row selection, with no per-step rebuilding of sparse batches. For message
passing it flattens to the ``edge_index`` / ``batch`` form of torch-geometric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from nasframe.core.dag import DAG


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


__all__ = ["PaddedGraphs", "batch_vector", "dense_edge_index", "reverse_dag"]
