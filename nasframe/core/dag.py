"""An architecture's graph view: node types plus directed edges.

Every space can describe its architectures as a labelled DAG, which is all a
graph model (a GNN surrogate, a graph autoencoder) needs to know of a space.
The type is plain numpy so the :class:`~nasframe.core.space.SearchSpace`
contract can name it without pulling torch into ``nasframe.core``;
:func:`dags_to_batch` (what the default ``SearchSpace.to_graph`` returns)
imports torch-geometric inside the function, so only its callers pay for it.
Node features are one-hot types so that a GNN needs no space-specific code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from torch_geometric.data import Batch


@dataclass(frozen=True)
class DAG:
    """Node types (indices into the space's ``node_types``) in topological order, and edges ``(src, dst)``."""

    node_types: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]

    def adjacency(self) -> np.ndarray:
        """The ``(n, n)`` 0/1 matrix with ``[src, dst] = 1`` for every edge."""
        n = len(self.node_types)
        matrix = np.zeros((n, n), dtype=np.int8)
        for src, dst in self.edges:
            matrix[src, dst] = 1
        return matrix


__all__ = ["DAG"]


def dags_to_batch(dags: Sequence[DAG], num_types: int) -> "Batch":
    """One PyG ``Batch``: ``x`` one-hot types, ``node_type``, ``edge_index``.

    Built with one concatenation instead of ``Batch.from_data_list`` over
    per-graph ``Data`` objects, whose Python overhead per graph would dominate
    the cost of batching thousands of small graphs.
    """
    import torch
    from torch_geometric.data import Batch

    sizes = np.fromiter((len(d.node_types) for d in dags), dtype=np.int64, count=len(dags))
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(dags) else np.zeros(0, np.int64)
    node_type = np.fromiter(
        (t for d in dags for t in d.node_types), dtype=np.int64, count=int(sizes.sum())
    )
    edge_counts = [len(d.edges) for d in dags]
    edges = np.array(
        [e for d in dags for e in d.edges], dtype=np.int64
    ).reshape(-1, 2)
    edges += np.repeat(offsets, edge_counts)[:, None]
    x = np.zeros((len(node_type), num_types), dtype=np.float32)
    x[np.arange(len(node_type)), node_type] = 1.0
    batch_vector = np.repeat(np.arange(len(dags)), sizes)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    batch = Batch(
        x=torch.from_numpy(x),
        node_type=torch.from_numpy(node_type),
        edge_index=torch.from_numpy(np.ascontiguousarray(edges.T)),
        batch=torch.from_numpy(batch_vector),
        ptr=torch.from_numpy(ptr),
    )
    batch._num_graphs = len(dags)
    return batch
