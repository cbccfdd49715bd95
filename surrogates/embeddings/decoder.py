"""The sequential graph decoder of VS-GAE (DESIGN section 6).

A graph is written one node at a time in topological order, starting from the
start node (the input). Before each step the decoder encodes the graph built
so far with its own :class:`~surrogates.embeddings.encoder.GraphEncoder`, giving
node states and a graph vector ``h_G``; then

1. *add node*: a classifier on ``[h_G, z]`` picks the next node's type; the
   stop type (the output) ends the graph after this step;
2. *init node*: the new node's state is a map of ``[type embedding, h_G, z]``;
3. *add edges*: one Bernoulli per existing node ``u`` on ``[h_u, h_new, h_G,
   z]`` says whether ``u -> new`` is an edge. Edges only point to the new
   node, so the graph stays a DAG in topological order by construction.

Re-encoding the prefix at every step (instead of carrying states along) means
a node's state always reflects the whole partial graph, and it is what makes
teacher forcing a plain loop over steps that is batched over graphs: the
prefix of length ``t`` of every graph is a slice of the padded batch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from surrogates.embeddings.encoder import GraphEncoder
from surrogates.embeddings.graphs import PaddedGraphs, batch_vector, dense_edge_index


def _mlp(in_features: int, hidden: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features))


class SequentialGraphDecoder(nn.Module):
    """Writes DAGs node by node from a latent vector ``z``.

    Parameters
    ----------
    num_types:
        Node types of the space.
    start_type, stop_type:
        The type of the first node (given, never predicted) and the type whose
        prediction ends a graph.
    latent, hidden, layers:
        Latent size, state size and propagation layers of the prefix encoder.
    """

    def __init__(
        self, num_types: int, start_type: int, stop_type: int, latent: int, hidden: int, layers: int = 2
    ) -> None:
        super().__init__()
        self.num_types, self.start_type, self.stop_type = num_types, start_type, stop_type
        self.hidden = hidden
        self.gnn = GraphEncoder(num_types, hidden, layers, directions="both")
        condition = hidden + latent  # [h_G, z]
        self.add_node = _mlp(condition, hidden, num_types)
        self.init_node = nn.Linear(hidden + condition, hidden)  # [type embedding, h_G, z]
        self.add_edge = _mlp(2 * hidden + condition, hidden, 1)  # [h_u, h_new, h_G, z]

    # -- steps --------------------------------------------------------------

    def _prefix(self, states: list[torch.Tensor], adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Node states ``(B, t, H)`` and ``h_G`` ``(B, H)`` of the ``t``-node prefixes."""
        count, width = states[0].shape[0], len(states)
        h0 = torch.stack(states, dim=1).reshape(count * width, self.hidden)
        batch = batch_vector(count, width, h0.device)
        nodes, graph = self.gnn(None, dense_edge_index(adj), batch, count, h0=h0)
        return nodes.reshape(count, width, self.hidden), graph

    def _init(self, node_type: torch.Tensor, graph: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.init_node(torch.cat([self.gnn.embed(node_type), graph, z], dim=-1))

    def _edge_logits(
        self, nodes: torch.Tensor, new: torch.Tensor, condition: torch.Tensor
    ) -> torch.Tensor:
        width = nodes.shape[1]
        pairs = torch.cat(
            [nodes, new.unsqueeze(1).expand(-1, width, -1), condition.unsqueeze(1).expand(-1, width, -1)],
            dim=-1,
        )
        return self.add_edge(pairs).squeeze(-1)

    def _start(self, z: torch.Tensor) -> torch.Tensor:
        start = torch.full((z.shape[0],), self.start_type, dtype=torch.long, device=z.device)
        return self._init(start, z.new_zeros(z.shape[0], self.hidden), z)

    # -- teacher forcing -----------------------------------------------------

    def forward(self, z: torch.Tensor, graphs: PaddedGraphs) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced negative log-likelihood of ``graphs`` given ``z``, per graph.

        Each step is conditioned on the true prefix. Returns the NLL ``(B,)``
        (type cross-entropies plus edge binary cross-entropies, summed over
        steps) and a ``(B,)`` bool telling whether every greedy choice (argmax
        type, edge iff p > 0.5) along the way was right: the teacher-forced
        reconstruction of the whole graph.
        """
        types, adj, sizes = graphs.types, graphs.adj, graphs.sizes
        if bool((types[:, 0] != self.start_type).any()):
            raise ValueError(f"every graph must start with node type {self.start_type}")
        nll = z.new_zeros(z.shape[0])
        correct = torch.ones(z.shape[0], dtype=torch.bool, device=z.device)
        states = [self._start(z)]
        for t in range(1, graphs.max_nodes):
            active = sizes > t
            if not bool(active.any()):
                break
            nodes, graph = self._prefix(states, adj[:, :t, :t])
            condition = torch.cat([graph, z], dim=-1)
            target = types[:, t].clamp(min=0)
            type_logits = self.add_node(condition)
            loss = F.cross_entropy(type_logits, target, reduction="none")
            new = self._init(target, graph, z)
            edge_logits = self._edge_logits(nodes, new, condition)
            edge_target = adj[:, :t, t]
            loss = loss + F.binary_cross_entropy_with_logits(
                edge_logits, edge_target.to(edge_logits.dtype), reduction="none"
            ).sum(dim=1)
            nll = nll + torch.where(active, loss, torch.zeros_like(loss))
            right = (type_logits.argmax(dim=-1) == target) & ((edge_logits > 0) == edge_target).all(dim=1)
            correct = correct & (right | ~active)
            states.append(new)
        return nll, correct

    # -- generation ---------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        z: torch.Tensor,
        max_nodes: int,
        stochastic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[PaddedGraphs, torch.Tensor]:
        """Decode a batch of latent vectors; all graphs advance together.

        Greedy (argmax type, edge iff p > 0.5) unless ``stochastic``, which
        samples types and edges (with ``generator``). Returns the graphs and a
        ``(B,)`` bool: whether each graph reached the stop type within
        ``max_nodes`` nodes (those that did not are unfinished, hence invalid).
        """
        count, device = z.shape[0], z.device
        types = torch.full((count, max_nodes), -1, dtype=torch.long, device=device)
        types[:, 0] = self.start_type
        adj = torch.zeros((count, max_nodes, max_nodes), dtype=torch.bool, device=device)
        sizes = torch.ones(count, dtype=torch.long, device=device)
        done = torch.zeros(count, dtype=torch.bool, device=device)
        states = [self._start(z)]
        for t in range(1, max_nodes):
            active = ~done
            if not bool(active.any()):
                break
            nodes, graph = self._prefix(states, adj[:, :t, :t])
            condition = torch.cat([graph, z], dim=-1)
            type_logits = self.add_node(condition)
            if stochastic:
                new_type = torch.multinomial(F.softmax(type_logits, dim=-1), 1, generator=generator).squeeze(1)
            else:
                new_type = type_logits.argmax(dim=-1)
            new = self._init(new_type, graph, z)
            edge_logits = self._edge_logits(nodes, new, condition)
            if stochastic:
                edges = torch.bernoulli(torch.sigmoid(edge_logits), generator=generator).bool()
            else:
                edges = edge_logits > 0
            types[:, t] = torch.where(active, new_type, types[:, t])
            adj[:, :t, t] = edges & active.unsqueeze(1)
            sizes = sizes + active.long()
            done = done | (active & (new_type == self.stop_type))
            states.append(new)
        return PaddedGraphs(types, adj, sizes), done


__all__ = ["SequentialGraphDecoder"]
