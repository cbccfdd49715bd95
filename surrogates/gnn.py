"""Graph neural network surrogates: GIN and GCN on the space's labelled DAGs.

The input is ``space.to_graph(archs)``: one graph per architecture with
one-hot node types (``x``) and directed edges, so one network serves every
space. A member embeds the node types linearly, runs ``layers`` message
passing layers (PyG ``GINConv`` or ``GCNConv``, each followed by batch norm,
ReLU and dropout), optionally exchanges information through a virtual node
(NB301's GIN uses one), pools the nodes per graph (mean or sum) and maps the
graph vector to one number with a two-layer MLP.

Two training objectives:

``loss="nb301"`` (default)
    NAS-Bench-301's GIN objective. The network predicts the accuracy through
    a sigmoid; the loss is the L1 distance of ``log(1 - accuracy)`` between
    prediction and target (which stretches the crowded high-accuracy end),
    plus ``rank_weight`` times a pairwise ranking hinge within the batch:
    for every pair with ``y_i > y_j`` the prediction gap should be at least
    ``rank_margin``, ``mean(relu(margin - (p_i - p_j)))``. Targets must be
    accuracy fractions in ``[0, 1]``.
``loss="mse"``
    Mean squared error on targets standardised with the member's training
    mean and deviation (stored in the state dict); any real-valued target.

Training is Adam with a cosine learning-rate schedule from ``lr`` to
``lr_min`` over ``epochs``, in shuffled mini-batches of ``batch_size``
graphs. Everything a member draws (initial weights, batch order, dropout)
comes from its seed inside a forked torch RNG, so the global RNG is left
alone and a seed reproduces a fit exactly. ``threads`` sets torch's intra-op
threads for fit and predict (restored afterwards); one thread is the
default because these networks are tiny and on a small shared machine a
second OpenMP thread mostly waits.

The default network is small (hidden 32, 4 layers) so that a 10-member
ensemble answers fast enough to be a benchmark's default (its throughput is
in ``docs/PERFORMANCE.md``); NB301's reference GIN (hidden 24, 8 layers, virtual node, lr 0.078, batch 51,
128 epochs) is reachable through the parameters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.nn import GCNConv, GINConv, global_add_pool, global_mean_pool

from nasframe.core import Architecture, SearchSpace
from surrogates.base import Surrogate
from surrogates.dimensions import Choice, Dimension, Float, Int
from surrogates.graph_batch import Graphs
from surrogates.threads import torch_threads

LOSSES = ("nb301", "mse")
POOLS = ("mean", "add")
#: targets are clipped below 1 so that log(1 - y) stays finite
_MAX_ACCURACY = 1.0 - 1e-6


# -- network ------------------------------------------------------------------


def _mlp(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))


class GraphRegressor(nn.Module):
    """Node-type embedding, message passing, pooling and an MLP head: one number per graph."""

    def __init__(
        self,
        conv: str,
        in_features: int,
        hidden: int,
        layers: int,
        pool: str,
        virtual_node: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        if conv not in ("gin", "gcn"):
            raise ValueError(f"conv must be 'gin' or 'gcn', got {conv!r}")
        self.embed = nn.Linear(in_features, hidden)
        self.convs = nn.ModuleList(
            GINConv(_mlp(hidden), train_eps=True)
            if conv == "gin"
            # normalisation comes precomputed with the graphs (Graphs.gcn_normalised)
            else GCNConv(hidden, hidden, normalize=False)
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(layers))
        self.virtual = nn.ModuleList(_mlp(hidden) for _ in range(layers - 1)) if virtual_node else None
        self.pool = global_mean_pool if pool == "mean" else global_add_pool
        self.dropout = dropout
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        # the target transform: standardisation for "mse", identity for "nb301"
        self.register_buffer("y_shift", torch.zeros(()))
        self.register_buffer("y_scale", torch.ones(()))

    @property
    def in_features(self) -> int:
        """Node-feature width the network was built for (what a saved member records)."""
        return self.embed.in_features

    def forward(self, graphs: Graphs) -> torch.Tensor:
        batch = graphs.batch_vector()
        num_graphs = graphs.num_graphs
        h = self.embed(graphs.x)
        vn = h.new_zeros((num_graphs, h.shape[1])) if self.virtual is not None else None
        last = len(self.convs) - 1
        for layer, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if vn is not None:
                h = h + vn[batch]
            h_in = h
            if isinstance(conv, GCNConv):
                if graphs.edge_weight is None:
                    raise ValueError("GCN layers need Graphs.gcn_normalised() input")
                h = conv(h, graphs.edge_index, graphs.edge_weight)
            else:
                h = conv(h, graphs.edge_index)
            h = norm(h)
            if layer < last:
                h = F.relu(h)
            h = F.dropout(h, self.dropout, self.training)
            if vn is not None and layer < last:
                pooled = global_add_pool(h_in, batch, size=num_graphs) + vn
                vn = F.dropout(self.virtual[layer](pooled), self.dropout, self.training)
        return self.head(self.pool(h, batch, size=num_graphs)).view(-1)


# -- losses -------------------------------------------------------------------


def pairwise_hinge(pred: torch.Tensor, y: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean of ``relu(margin - (pred_i - pred_j))`` over all pairs with ``y_i > y_j``."""
    better = y[:, None] > y[None, :]
    if not bool(better.any()):
        return pred.new_zeros(())
    gaps = pred[:, None] - pred[None, :]
    return F.relu(margin - gaps[better]).mean()


def nb301_loss(
    logits: torch.Tensor, y: torch.Tensor, *, margin: float = 0.1, rank_weight: float = 1.0
) -> torch.Tensor:
    """NB301's GIN loss for accuracy fractions ``y`` and sigmoid ``logits``.

    ``|log(1 - sigmoid(z)) - log(1 - y)|`` averaged, plus ``rank_weight``
    times :func:`pairwise_hinge` on the predicted accuracies. ``log(1 -
    sigmoid(z))`` is computed as ``logsigmoid(-z)``, finite for every ``z``.
    """
    target = torch.log1p(-y.clamp(max=_MAX_ACCURACY))
    loss = F.l1_loss(F.logsigmoid(-logits), target)
    if rank_weight:
        loss = loss + rank_weight * pairwise_hinge(torch.sigmoid(logits), y, margin)
    return loss


# -- surrogates ---------------------------------------------------------------


#: valid ranges of the training settings every GNN family shares (the architecture ones differ)
TRAINING_VALID: dict[str, Dimension] = {
    "epochs": Int(1, 100_000),
    "batch_size": Int(2, 1_000_000),
    "lr": Float(1e-12, 10.0),
    "lr_min": Float(0.0, 10.0),
    "weight_decay": Float(0.0, 10.0),
    "loss": Choice(LOSSES),
    "rank_margin": Float(0.0, 10.0),
    "rank_weight": Float(0.0, 1e6),
    "threads": Int(1, 1024),
    "predict_batch_size": Int(1, 100_000_000),
}


class _GraphSurrogate(Surrogate):
    """A bagged ensemble of :class:`GraphRegressor` members."""

    conv: ClassVar[str]
    default_params: ClassVar[dict[str, Any]] = {
        "hidden": 32,
        "layers": 4,
        "pool": "mean",
        "virtual_node": False,
        "dropout": 0.0,
        "epochs": 100,
        "batch_size": 64,
        "lr": 0.01,
        "lr_min": 1e-4,
        "weight_decay": 0.0,
        "loss": "nb301",
        "rank_margin": 0.1,
        "rank_weight": 1.0,
        "threads": 1,
        "predict_batch_size": 16384,
    }
    valid: ClassVar[dict[str, Dimension]] = {
        "hidden": Int(1, 4096),
        "layers": Int(1, 64),
        "pool": Choice(POOLS),
        "virtual_node": Choice((False, True)),
        "dropout": Float(0.0, 0.99),
        **TRAINING_VALID,
    }
    hpo_space: ClassVar[dict[str, Dimension]] = {
        "hidden": Int(16, 96, log=True),
        "layers": Int(2, 8),
        "pool": Choice(POOLS),
        "virtual_node": Choice((False, True)),
        "dropout": Float(0.0, 0.3),
        "batch_size": Int(16, 128, log=True),
        "lr": Float(1e-3, 0.1, log=True),
        "weight_decay": Float(1e-7, 1e-3, log=True),
        "rank_weight": Float(0.05, 2.0, log=True),
    }

    def __init__(self, space: SearchSpace, *, members: int = 10, seed: int = 0, **params: Any) -> None:
        super().__init__(space, members=members, seed=seed, **params)
        if self.params["lr_min"] > self.params["lr"]:
            raise ValueError(f"lr_min ({self.params['lr_min']}) exceeds lr ({self.params['lr']})")

    # -- plug-in points ---------------------------------------------------

    def feature_key(self) -> tuple[Any, ...]:
        return (type(self)._features, self.conv)  # GCN inputs carry their normalisation

    def _features(self, archs: Sequence[Architecture]) -> Graphs:
        graphs = Graphs.from_batch(self.space.to_graph(archs))
        return graphs.gcn_normalised() if self.conv == "gcn" else graphs

    def _network(self, in_features: int) -> GraphRegressor:
        p = self.params
        return GraphRegressor(
            self.conv, in_features, p["hidden"], p["layers"], p["pool"], p["virtual_node"], p["dropout"]
        )

    def _fit_member(self, features: Graphs, y: np.ndarray, index: np.ndarray, seed: int) -> GraphRegressor:
        p = self.params
        targets = torch.as_tensor(y, dtype=torch.float32)
        if p["loss"] == "nb301" and (y.min() < 0.0 or y.max() > 1.0):
            raise ValueError(
                "loss='nb301' needs accuracy fractions in [0, 1]; "
                f"targets span [{y.min():.4g}, {y.max():.4g}] (use loss='mse' or rescale)"
            )
        rng = np.random.default_rng(seed)
        with torch_threads(p["threads"]), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._network(features.num_features)
            self._init_output(model, y[index])
            optimiser = torch.optim.Adam(model.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimiser, T_max=p["epochs"], eta_min=p["lr_min"]
            )
            model.train()
            history = []
            for _ in range(p["epochs"]):
                total = 0.0
                for rows in _batches(rng.permutation(index), p["batch_size"]):
                    loss = self._loss(model, model(features.select(rows)), targets[torch.from_numpy(rows)])
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    total += float(loss.detach()) * len(rows)
                history.append(total / len(index))
                schedule.step()
        model.eval()
        # mean training loss per epoch, for inspection (in memory only, not saved)
        model.history = history
        return model

    def _init_output(self, model: GraphRegressor, y: np.ndarray) -> None:
        """Start at the typical target: saves the first epochs from finding the offset."""
        last = model.head[-1]
        with torch.no_grad():
            if self.params["loss"] == "nb301":
                centre = float(np.clip(np.median(y), 1e-3, 1.0 - 1e-3))
                last.bias.fill_(math.log(centre / (1.0 - centre)))
            else:
                model.y_shift.fill_(float(y.mean()))
                model.y_scale.fill_(float(y.std()) if y.std() > 0 else 1.0)
                last.bias.zero_()

    def _loss(self, model: GraphRegressor, raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        if p["loss"] == "nb301":
            return nb301_loss(raw, y, margin=p["rank_margin"], rank_weight=p["rank_weight"])
        return F.mse_loss(raw, (y - model.y_shift) / model.y_scale)

    def _output(self, model: GraphRegressor, raw: torch.Tensor) -> torch.Tensor:
        if self.params["loss"] == "nb301":
            return torch.sigmoid(raw)
        return raw * model.y_scale + model.y_shift

    def _predict_member(self, model: GraphRegressor, features: Graphs) -> np.ndarray:
        step = self.params["predict_batch_size"]
        out = []
        with torch_threads(self.params["threads"]), torch.inference_mode():
            for start in range(0, features.num_graphs, step):
                chunk = features.slice(start, min(start + step, features.num_graphs))
                out.append(self._output(model, model(chunk)))
        return torch.cat(out).double().numpy() if out else np.zeros(0)

    def _save_member(self, model: GraphRegressor, path: Path) -> str:
        file = path.with_suffix(".pt")
        torch.save({"in_features": model.in_features, "state_dict": model.state_dict()}, file)
        return file.name

    def _load_member(self, path: Path) -> GraphRegressor:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model = self._network(int(saved["in_features"]))
            model.load_state_dict(saved["state_dict"])
        except Exception as exc:  # torch raises many kinds for a damaged or foreign file
            raise ValueError(f"{path} is not a readable {self.family} member: {exc}") from exc
        model.eval()
        return model


def _batches(rows: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive chunks of ``size``; a last chunk of one row joins the previous one
    (batch norm and the ranking loss need two graphs)."""
    cuts = list(range(size, len(rows), size))
    if cuts and len(rows) - cuts[-1] < 2:
        cuts.pop()
    return np.split(rows, cuts)


class GINSurrogate(_GraphSurrogate):
    """Graph isomorphism network (PyG ``GINConv``, learnable epsilon, 2-layer MLPs)."""

    family = "gin"
    conv = "gin"


class GCNSurrogate(_GraphSurrogate):
    """Graph convolutional network (PyG ``GCNConv``, self loops, symmetric normalisation)."""

    family = "gcn"
    conv = "gcn"


__all__ = ["GINSurrogate", "GCNSurrogate", "GraphRegressor", "nb301_loss", "pairwise_hinge"]
