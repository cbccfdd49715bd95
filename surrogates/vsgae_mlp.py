"""A GNN performance predictor built on the graph-embedding encoder (family ``vsgae-mlp``).

Each member is the encoder of VS-GAE (DESIGN section 6,
:class:`surrogates.embeddings.GraphEncoder`: node-type embedding, messages
along every edge and, with separate weights, along its reversal, a
``GRUCell`` update per layer, gated-sum readout) followed by an MLP that
maps the graph vector to one number. It is trained end to end on
``(architecture, accuracy)`` pairs: the supervised counterpart of SVGe's
joint predictor, without the decoder.

Why a family of its own next to GIN and GCN: the encoder sees each
operation's inputs *and* consumers (both edge directions) and keeps node
states stable over layers through the GRU, which is what makes its graph
vectors good embeddings; the gated sum keeps the graph size visible. As a
surrogate it plugs into everything that takes a family name (BANANAS, BO,
benchmark building, ``tune_surrogate``).

Training, losses and persistence are those of the GNN families
(:mod:`surrogates.gnn`): NB301's loss by default (L1 on ``log(1 - acc)``
plus a pairwise ranking hinge; ``loss="mse"`` for arbitrary targets), Adam
with a cosine schedule, mini-batches, every draw from the member's seed in a
forked torch RNG, ``threads`` intra-op threads. Inputs are
``space.to_graph(archs)`` (node types one-hot in ``x``), so any space with a
graph view works, not only those that read graphs back (``from_dag``).

``pretrained`` (a folder written by :func:`surrogates.embeddings.save_model`
for a VS-GAE of the same space) initialises every member's encoder with the
unsupervised VS-GAE encoder; ``hidden`` and ``layers`` are then taken from
the VS-GAE's card. Fine-tuning starts from an embedding learnt on many
unlabelled architectures, which is what the papers use embeddings for when
labels are scarce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from nasframe.core import SearchSpace
from surrogates.dimensions import Choice, Dimension, Float, Int
from surrogates.embeddings.encoder import DIRECTIONS, GraphEncoder
from surrogates.gnn import TRAINING_VALID, _GraphSurrogate
from surrogates.graph_batch import Graphs


def head_widths(in_features: int, width: int, layers: int) -> list[int]:
    """Layer widths of the MLP head: ``in_features``, then ``layers`` hidden layers of ``width``.

    A constant width (not halving) because the graph vector is already small
    (``readout`` units); depth, not narrowing, is what the head needs.
    """
    return [in_features] + [width] * layers


class EncoderRegressor(nn.Module):
    """:class:`GraphEncoder` (graph vector of ``readout`` units) and an MLP head: one number per graph.

    ``y_shift``/``y_scale`` are the target transform the GNN families use
    (identity for NB301's loss, standardisation for ``"mse"``), kept as
    buffers so a saved member predicts in target units.
    """

    def __init__(
        self,
        num_types: int,
        hidden: int,
        layers: int,
        readout: int,
        head_layers: int,
        head_width: int,
        directions: str = "both",
    ) -> None:
        super().__init__()
        self.num_types = num_types
        self.encoder = GraphEncoder(num_types, hidden, layers, directions=directions, out_channels=readout)
        modules: list[nn.Module] = []
        widths = head_widths(readout, head_width, head_layers)
        for a, b in zip(widths[:-1], widths[1:]):
            modules += [nn.Linear(a, b), nn.ReLU()]
        modules.append(nn.Linear(widths[-1], 1))
        self.head = nn.Sequential(*modules)
        self.register_buffer("y_shift", torch.zeros(()))
        self.register_buffer("y_scale", torch.ones(()))

    def embed_graphs(self, graphs: Graphs) -> torch.Tensor:
        """Graph vectors ``(num_graphs, readout)`` of a batch (the learnt embedding)."""
        node_type = graphs.x.argmax(dim=1)
        _, vectors = self.encoder(node_type, graphs.edge_index, graphs.batch_vector(), graphs.num_graphs)
        return vectors

    @property
    def in_features(self) -> int:
        """Node types the encoder was built for (what a saved member records)."""
        return self.num_types

    def forward(self, graphs: Graphs) -> torch.Tensor:
        return self.head(self.embed_graphs(graphs)).view(-1)


def pretrained_encoder(path: str | Path, space: SearchSpace) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The encoder weights and hyper-parameters of a saved VS-GAE of ``space``.

    Only VS-GAE qualifies: its encoder is the two-direction
    :class:`GraphEncoder` this family uses (SVGe's are two one-direction
    encoders). The readout of the VS-GAE encoder has ``hidden`` units.
    """
    from surrogates.embeddings.train import load_model

    model = load_model(path, space)
    if model.kind != "vsgae":
        raise ValueError(f"{path}: pretrained encoders come from a VS-GAE, got a {model.kind!r} model")
    if model.space.name != space.name:
        raise ValueError(f"{path} was trained on space {model.space.name!r}, not {space.name!r}")
    state = {k: v.detach().cpu().clone() for k, v in model.encoder.state_dict().items()}
    return state, {"hidden": model.hidden, "layers": model.layers}


class VSGAEMLPSurrogate(_GraphSurrogate):
    """A bagged ensemble of :class:`EncoderRegressor` members (family ``"vsgae-mlp"``).

    Hyper-parameters (besides the GNN families' training ones: ``epochs``,
    ``batch_size``, ``lr``, ``lr_min``, ``weight_decay``, ``loss``,
    ``rank_margin``, ``rank_weight``, ``threads``, ``predict_batch_size``):

    ``hidden``, ``layers``
        Node state size and propagation layers of the encoder (VS-GAE: ~250
        and 2). The default 64 keeps a 10-member CPU fit short; larger
        states have not been compared yet.
    ``readout``
        Size of the graph vector (the embedding; VS-GAE's latent is 56).
    ``head_layers``, ``head_width``
        The MLP after the encoder.
    ``directions``
        ``"both"`` (DESIGN section 6), ``"forward"`` or ``"backward"``.
    ``pretrained``
        Path of a saved VS-GAE whose encoder initialises every member (see
        the module documentation); ``None`` trains from scratch.
    """

    family = "vsgae-mlp"
    conv = "vsgae"
    default_params: ClassVar[dict[str, Any]] = {
        "hidden": 64,
        "layers": 2,
        "readout": 56,
        "head_layers": 2,
        "head_width": 64,
        "directions": "both",
        "pretrained": None,
        "epochs": 60,
        "batch_size": 32,
        "lr": 0.003,
        "lr_min": 1e-4,
        "weight_decay": 0.0,
        "loss": "nb301",
        "rank_margin": 0.1,
        "rank_weight": 1.0,
        "threads": 1,
        "predict_batch_size": 8192,
    }
    valid: ClassVar[dict[str, Dimension]] = {
        "hidden": Int(1, 4096),
        "layers": Int(1, 64),
        "readout": Int(1, 4096),
        "head_layers": Int(0, 64),
        "head_width": Int(1, 4096),
        "directions": Choice(DIRECTIONS),
        **TRAINING_VALID,
    }
    hpo_space: ClassVar[dict[str, Dimension]] = {
        "hidden": Int(16, 256, log=True),
        "layers": Int(1, 4),
        "readout": Int(16, 128, log=True),
        "head_layers": Int(1, 3),
        "batch_size": Int(16, 128, log=True),
        "lr": Float(3e-4, 0.03, log=True),
        "weight_decay": Float(1e-7, 1e-3, log=True),
        "rank_weight": Float(0.05, 2.0, log=True),
    }

    def __init__(self, space: SearchSpace, *, members: int = 10, seed: int = 0, **params: Any) -> None:
        super().__init__(space, members=members, seed=seed, **params)
        self._pretrained_state: dict[str, torch.Tensor] | None = None
        source = self.params["pretrained"]
        if source is not None:
            self.params["pretrained"] = str(source)
            card_file = Path(source) / "card.json"
            # adopt the VS-GAE's sizes so the card records what was used; a saved
            # surrogate reloads (with those sizes) even after the VS-GAE is gone
            if card_file.is_file():
                from surrogates.embeddings.train import read_card

                shape = read_card(source)["hyperparameters"]
                self.params.update(hidden=int(shape["hidden"]), layers=int(shape["layers"]))

    def _network(self, in_features: int) -> EncoderRegressor:
        p = self.params
        return EncoderRegressor(
            in_features, p["hidden"], p["layers"], p["readout"], p["head_layers"], p["head_width"], p["directions"]
        )

    def _fit_member(self, features: Graphs, y: np.ndarray, index: np.ndarray, seed: int) -> EncoderRegressor:
        if self.params["pretrained"] is not None and self._pretrained_state is None:
            state, shape = pretrained_encoder(self.params["pretrained"], self.space)
            if (shape["hidden"], shape["layers"]) != (self.params["hidden"], self.params["layers"]):
                raise ValueError(f"pretrained encoder has hidden/layers {shape}, this surrogate "
                                 f"{self.params['hidden']}/{self.params['layers']}")
            num_types = state["embed.weight"].shape[0]
            if num_types != features.num_features:
                raise ValueError(
                    f"the pretrained encoder knows {num_types} node types, the graphs have {features.num_features}"
                )
            self._pretrained_state = state
        return super()._fit_member(features, y, index, seed)

    def _init_output(self, model: EncoderRegressor, y: np.ndarray) -> None:
        """Copy the pretrained encoder in (if any), then start the output at the typical target.

        The base class calls this right after building each member and
        before the optimiser sees it, which is where the warm start belongs.
        The pretrained readout has ``hidden`` units; it is copied only when
        ``readout == hidden``, otherwise only the embedding and propagation
        layers are.
        """
        if self._pretrained_state is not None:
            own = model.encoder.state_dict()
            usable = {k: v for k, v in self._pretrained_state.items() if k in own and own[k].shape == v.shape}
            model.encoder.load_state_dict(usable, strict=False)
        super()._init_output(model, y)

    def embed(self, archs: Sequence[Any], member: int = 0) -> np.ndarray:
        """Graph vectors ``(len(archs), readout)`` of one fitted member (the supervised embedding)."""
        if not self._models:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        from surrogates.threads import torch_threads

        features = self._features(archs)
        with torch_threads(self.params["threads"]), torch.inference_mode():
            return self._models[member].embed_graphs(features).double().numpy()


__all__ = ["EncoderRegressor", "VSGAEMLPSurrogate", "head_widths", "pretrained_encoder"]
