"""A batch of graphs as flat tensors that slice and gather by graph in one pass.

Bagging draws each member's bootstrap sample and mini-batches as graph ids;
re-collating torch-geometric ``Data`` objects for every batch of every member
would cost more than the tiny networks themselves. :class:`Graphs` keeps one
featurisation of the whole query and hands out views (:meth:`Graphs.slice`)
or one-pass gathers (:meth:`Graphs.select`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class Graphs:
    """A batch of graphs as flat tensors, cheap to slice by graph.

    ``node_ptr``/``edge_ptr`` delimit each graph's nodes and edges; edges are
    stored grouped by graph with node indices local to the whole batch.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    node_ptr: np.ndarray
    edge_ptr: np.ndarray
    #: per-edge weights (the GCN normalisation), travelling with their edges
    edge_weight: torch.Tensor | None = None

    @property
    def num_graphs(self) -> int:
        return len(self.node_ptr) - 1

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @classmethod
    def from_batch(cls, batch: Any) -> "Graphs":
        """From a torch-geometric ``Batch`` (``x``, ``edge_index``, ``batch``)."""
        x = batch.x.to(torch.float32)
        edge_index = batch.edge_index.to(torch.long)
        graph_of_node = batch.batch.numpy()
        num_graphs = int(batch.num_graphs)
        if len(graph_of_node) and np.any(np.diff(graph_of_node) < 0):
            raise ValueError("to_graph must list each graph's nodes contiguously, in graph order")
        node_counts = np.bincount(graph_of_node, minlength=num_graphs)
        graph_of_edge = graph_of_node[edge_index[0].numpy()]
        if np.any(np.diff(graph_of_edge) < 0):
            order = np.argsort(graph_of_edge, kind="stable")
            edge_index = edge_index[:, torch.from_numpy(order)]
            graph_of_edge = graph_of_edge[order]
        edge_counts = np.bincount(graph_of_edge, minlength=num_graphs)
        return cls(
            x=x,
            edge_index=edge_index,
            node_ptr=np.concatenate([[0], np.cumsum(node_counts)]).astype(np.int64),
            edge_ptr=np.concatenate([[0], np.cumsum(edge_counts)]).astype(np.int64),
        )

    def gcn_normalised(self) -> "Graphs":
        """With self loops and GCN's symmetric normalisation as edge weights.

        The weights depend only on each graph's own degrees, so they are
        computed once per featurisation and then sliced and gathered with
        their edges instead of being recomputed in every layer of every member.
        """
        from torch_geometric.nn.conv.gcn_conv import gcn_norm

        num_nodes = int(self.node_ptr[-1])
        edge_index, weight = gcn_norm(
            self.edge_index, None, num_nodes, improved=False, add_self_loops=True, dtype=self.x.dtype
        )
        graph_of_node = np.repeat(np.arange(self.num_graphs), np.diff(self.node_ptr))
        graph_of_edge = graph_of_node[edge_index[0].numpy()]
        order = torch.from_numpy(np.argsort(graph_of_edge, kind="stable"))
        counts = np.bincount(graph_of_edge, minlength=self.num_graphs)
        return Graphs(
            x=self.x,
            edge_index=edge_index[:, order],
            node_ptr=self.node_ptr,
            edge_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            edge_weight=weight[order],
        )

    def batch_vector(self) -> torch.Tensor:
        counts = np.diff(self.node_ptr)
        return torch.from_numpy(np.repeat(np.arange(len(counts)), counts))

    def slice(self, start: int, stop: int) -> "Graphs":
        """Graphs ``start:stop`` (a view where possible)."""
        n0, n1 = int(self.node_ptr[start]), int(self.node_ptr[stop])
        e0, e1 = int(self.edge_ptr[start]), int(self.edge_ptr[stop])
        return Graphs(
            x=self.x[n0:n1],
            edge_index=self.edge_index[:, e0:e1] - n0,
            node_ptr=self.node_ptr[start : stop + 1] - n0,
            edge_ptr=self.edge_ptr[start : stop + 1] - e0,
            edge_weight=None if self.edge_weight is None else self.edge_weight[e0:e1],
        )

    def select(self, ids: np.ndarray) -> "Graphs":
        """Graphs ``ids`` in that order (repeats allowed), gathered in one pass."""
        ids = np.asarray(ids, dtype=np.int64)
        node_counts = self.node_ptr[ids + 1] - self.node_ptr[ids]
        edge_counts = self.edge_ptr[ids + 1] - self.edge_ptr[ids]
        node_ptr = np.concatenate([[0], np.cumsum(node_counts)])
        edge_ptr = np.concatenate([[0], np.cumsum(edge_counts)])
        node_shift = np.repeat(self.node_ptr[ids] - node_ptr[:-1], node_counts)
        nodes = np.arange(node_ptr[-1]) + node_shift
        edges = np.arange(edge_ptr[-1]) + np.repeat(self.edge_ptr[ids] - edge_ptr[:-1], edge_counts)
        # an edge moves with its graph, so subtract that graph's node shift
        edge_shift = np.repeat(self.node_ptr[ids] - node_ptr[:-1], edge_counts)
        edges_t = torch.from_numpy(edges)
        return Graphs(
            x=self.x[torch.from_numpy(nodes)],
            edge_index=self.edge_index[:, edges_t] - torch.from_numpy(edge_shift),
            node_ptr=node_ptr,
            edge_ptr=edge_ptr,
            edge_weight=None if self.edge_weight is None else self.edge_weight[edges_t],
        )


__all__ = ["Graphs"]
