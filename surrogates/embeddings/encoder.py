"""The graph encoder of VS-GAE and SVGe (DESIGN section 6).

Each node starts from an embedding of its type. A layer sends a message along
every edge and, with separate weights, along its reversal, so a node hears
both what feeds it and what it feeds: in a network cell the meaning of an
operation depends on both. A message is a linear map of the concatenated
source and target states (the target's state lets the message depend on who
receives it); a node sums what it receives and updates its state with a
``GRUCell``, which keeps the previous state unless the messages say otherwise
and so stays stable over layers. Two layers reach every node of a 7-node cell
from the nodes two steps away in either direction.

The graph vector is a gated sum ``h_G = sum_v sigmoid(g(h_v)) * f(h_v)``: the
gate decides per node and channel how much it contributes. A sum (not a mean)
keeps the graph size visible, and any symmetric readout makes ``h_G``
independent of how the nodes are numbered.

The layers are ``torch_geometric`` ``MessagePassing`` modules and the encoder
takes the flat ``edge_index`` / ``batch`` form of a PyG ``Batch``, so it runs
on ``space.to_graph(archs)`` of any space with node types.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch_geometric.nn import MessagePassing, global_add_pool

DIRECTIONS = ("both", "forward", "backward")


class EdgeMessageConv(MessagePassing):
    """``m_v = sum over edges u -> v of W [h_u ; h_v] + b`` (PyG ``aggr="add"``).

    The concatenation lets a message depend on sender and receiver; summation
    keeps the count of inputs visible (a node with three inputs differs from
    one with one), which mean or max aggregation would hide.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(aggr="add")
        self.lin = nn.Linear(2 * channels, channels)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.propagate(edge_index, h=h)

    def message(self, h_j: torch.Tensor, h_i: torch.Tensor) -> torch.Tensor:
        # h_j: source (sender) states, h_i: target (receiver) states
        return self.lin(torch.cat([h_j, h_i], dim=-1))


class GRUPropagation(nn.Module):
    """One layer: messages along edges and/or reversed edges, summed, then a ``GRUCell``.

    ``directions="both"`` is the VS-GAE layer; ``"forward"`` and
    ``"backward"`` give the one-sided passes SVGe concatenates.
    """

    def __init__(self, channels: int, directions: str = "both") -> None:
        super().__init__()
        if directions not in DIRECTIONS:
            raise ValueError(f"directions must be one of {DIRECTIONS}, got {directions!r}")
        self.forward_conv = EdgeMessageConv(channels) if directions in ("both", "forward") else None
        self.backward_conv = EdgeMessageConv(channels) if directions in ("both", "backward") else None
        self.update = nn.GRUCell(channels, channels)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        message = torch.zeros_like(h)
        if self.forward_conv is not None:
            message = message + self.forward_conv(h, edge_index)
        if self.backward_conv is not None:
            message = message + self.backward_conv(h, edge_index.flip(0))
        return self.update(message, h)


class GatedSumReadout(nn.Module):
    """``h_G = sum_v sigmoid(g(h_v)) * f(h_v)`` per graph (D-VAE / VS-GAE readout)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.gate = nn.Linear(in_channels, out_channels)
        self.project = nn.Linear(in_channels, out_channels, bias=False)

    def forward(
        self,
        h: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int,
        node_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        values = torch.sigmoid(self.gate(h)) * self.project(h)
        if node_mask is not None:
            values = values * node_mask.unsqueeze(-1).to(values.dtype)
        return global_add_pool(values, batch, size=num_graphs)


class GraphEncoder(nn.Module):
    """Node-type embedding, ``layers`` GRU propagation layers, gated-sum readout.

    Parameters
    ----------
    num_types:
        Number of node types (the one-hot width of the space's graphs).
    hidden:
        Node state size (~250 in VS-GAE).
    layers:
        Propagation layers (2 in VS-GAE).
    directions:
        ``"both"`` (forward and reversed edges, summed), ``"forward"`` or
        ``"backward"``.
    out_channels:
        Size of the graph vector (default ``hidden``).
    """

    def __init__(
        self,
        num_types: int,
        hidden: int = 250,
        layers: int = 2,
        directions: str = "both",
        out_channels: int | None = None,
    ) -> None:
        super().__init__()
        if num_types < 1 or hidden < 1 or layers < 1:
            raise ValueError(
                f"num_types, hidden and layers must be >= 1, got {num_types}, {hidden}, {layers}"
            )
        self.num_types = num_types
        self.hidden = hidden
        self.out_channels = out_channels or hidden
        self.embed = nn.Embedding(num_types, hidden)
        self.layers = nn.ModuleList(GRUPropagation(hidden, directions) for _ in range(layers))
        self.readout = GatedSumReadout(hidden, self.out_channels)

    def forward(
        self,
        node_type: torch.Tensor | None,
        edge_index: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int,
        node_mask: torch.Tensor | None = None,
        h0: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Node states ``(num_nodes, hidden)`` and graph vectors ``(num_graphs, out_channels)``.

        ``h0`` replaces the type embedding as the initial node states (the
        sequential decoder initialises nodes from more than their type).
        ``node_mask`` leaves padding nodes out of the readout.
        """
        if h0 is None:
            if node_type is None:
                raise ValueError("give node_type or initial states h0")
            h0 = self.embed(node_type)
        h = h0
        for layer in self.layers:
            h = layer(h, edge_index)
        return h, self.readout(h, batch, num_graphs, node_mask)

    def encode_batch(self, batch: Any) -> torch.Tensor:
        """Graph vectors of a PyG ``Batch`` from ``space.to_graph`` (``node_type`` or one-hot ``x``)."""
        node_type = getattr(batch, "node_type", None)
        if node_type is None:
            node_type = batch.x.argmax(dim=-1)
        device = self.embed.weight.device
        return self(
            node_type.to(device), batch.edge_index.to(device), batch.batch.to(device), int(batch.num_graphs)
        )[1]


__all__ = ["DIRECTIONS", "EdgeMessageConv", "GRUPropagation", "GatedSumReadout", "GraphEncoder"]
