"""SVGe: smooth variational graph embeddings with a joint predictor (Lukasik et al., 2021).

SVGe changes VS-GAE in two ways that make the latent space smoother and more
useful for search:

* *Two-sided encoding.* One GNN pass sends messages only along the edges
  (what each node computes from its inputs), a second only against them (how
  each node is used downstream); their graph vectors are concatenated before
  the mean and log-variance heads. A single direction sees a DAG only from
  one end.
* *Two-sided decoding.* One decoder writes the graph forward from the input,
  a second writes the reversed graph from the output; both reconstruction
  losses are summed, so the latent code has to describe the graph from both
  ends. New graphs are decoded with the forward decoder.

A performance predictor (an MLP on the latent mean, widths halving) can be
trained jointly: ``loss = 0.1 * VAE + 0.9 * MSE``, which shapes the latent
space so that performance varies smoothly in it. Targets are standardised
with a shift and scale stored in the model; unlabelled rows (``NaN``
targets) contribute only to the VAE term, so one can train on many
unlabelled and few labelled architectures at once.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nasframe.core import SearchSpace
from surrogates.embeddings.decoder import SequentialGraphDecoder
from surrogates.embeddings.encoder import GraphEncoder
from surrogates.embeddings.graphs import PaddedGraphs
from surrogates.embeddings.vsgae import GraphVAE, gaussian_kl


#: the predictor's hidden layers stop halving below this width: measured, a
#: 16 -> 8 -> 4 -> 2 ReLU stack died (constant output) within 100 epochs
MIN_PREDICTOR_WIDTH = 8


def halving_mlp(width: int, layers: int) -> nn.Sequential:
    """``width -> width/2 -> width/4 ... -> 1`` with ReLUs.

    At most ``layers`` hidden layers, each half as wide as the one before,
    none narrower than :data:`MIN_PREDICTOR_WIDTH` (fewer layers instead).
    """
    modules: list[nn.Module] = []
    for _ in range(layers):
        narrower = width // 2
        if narrower < MIN_PREDICTOR_WIDTH:
            break
        modules += [nn.Linear(width, narrower), nn.ReLU()]
        width = narrower
    modules.append(nn.Linear(width, 1))
    return nn.Sequential(*modules)


class SVGE(GraphVAE):
    """SVGe with a jointly trained performance predictor.

    Parameters (besides :class:`~surrogates.embeddings.vsgae.GraphVAE`'s)
    ----------
    predictor_layers:
        Most hidden layers of the predictor, each half as wide as the one
        before (see :func:`halving_mlp`; 56 -> 28 -> 14 -> 1 by default).
    vae_weight, mse_weight:
        The joint loss ``vae_weight * VAE + mse_weight * MSE`` (0.1 and 0.9).
    """

    kind = "svge"

    def __init__(
        self,
        space: SearchSpace,
        *,
        predictor_layers: int = 3,
        vae_weight: float = 0.1,
        mse_weight: float = 0.9,
        **params: Any,
    ) -> None:
        if predictor_layers < 0:
            raise ValueError(f"predictor_layers must be >= 0, got {predictor_layers}")
        self.predictor_layers = int(predictor_layers)
        self.vae_weight, self.mse_weight = float(vae_weight), float(mse_weight)
        super().__init__(space, **params)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            **super().hyperparameters(),
            "predictor_layers": self.predictor_layers,
            "vae_weight": self.vae_weight,
            "mse_weight": self.mse_weight,
        }

    def _build(self) -> None:
        space = self.space
        self.forward_encoder = GraphEncoder(len(space.node_types), self.hidden, self.layers, directions="forward")
        self.backward_encoder = GraphEncoder(len(space.node_types), self.hidden, self.layers, directions="backward")
        self.mean_head = nn.Linear(2 * self.hidden, self.latent)
        self.logvar_head = nn.Linear(2 * self.hidden, self.latent)
        self.forward_decoder = SequentialGraphDecoder(
            len(space.node_types), space.input_type, space.output_type, self.latent, self.hidden, self.layers
        )
        self.backward_decoder = SequentialGraphDecoder(
            len(space.node_types), space.output_type, space.input_type, self.latent, self.hidden, self.layers
        )
        self.predictor = halving_mlp(self.latent, self.predictor_layers)
        self.register_buffer("y_shift", torch.zeros(()))
        self.register_buffer("y_scale", torch.ones(()))

    def _encode(self, graphs: PaddedGraphs) -> tuple[torch.Tensor, torch.Tensor]:
        node_type, edge_index, batch, mask = graphs.flat()
        count = len(graphs)
        _, forward = self.forward_encoder(node_type, edge_index, batch, count, node_mask=mask)
        _, backward = self.backward_encoder(node_type, edge_index, batch, count, node_mask=mask)
        h = torch.cat([forward, backward], dim=-1)
        return self.mean_head(h), self.logvar_head(h)

    def _reconstruction(self, z: torch.Tensor, graphs: PaddedGraphs) -> tuple[torch.Tensor, torch.Tensor]:
        forward_nll, forward_correct = self.forward_decoder(z, graphs)
        backward_nll, _ = self.backward_decoder(z, graphs.reversed())
        # the flags describe the decoder that generates (forward)
        return forward_nll + backward_nll, forward_correct

    def _generator_decoder(self) -> SequentialGraphDecoder:
        return self.forward_decoder

    # -- predictor ----------------------------------------------------------------

    def set_target_scale(self, y: np.ndarray | Sequence[float]) -> None:
        """Standardise targets with the mean and deviation of the finite ``y`` (call before training)."""
        y = np.asarray(y, dtype=np.float64)
        y = y[np.isfinite(y)]
        if len(y) == 0:
            raise ValueError("no finite targets to scale by")
        std = float(y.std())
        self.y_shift.fill_(float(y.mean()))
        self.y_scale.fill_(std if std > 0 else 1.0)

    def loss(
        self,
        data: PaddedGraphs | Sequence[Any],
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """The VAE loss, and with targets ``y`` the joint ``0.1 * VAE + 0.9 * MSE``.

        The MSE is on standardised targets over the rows whose target is
        finite; with none such in the batch the loss is the VAE term alone
        (not scaled down, so unlabelled batches still train the VAE fully).
        """
        graphs = self._as_graphs(data)
        mean, logvar = self._encode(graphs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        nll, correct = self._reconstruction(mean + noise * torch.exp(0.5 * logvar), graphs)
        reconstruction = nll.mean()
        kl = gaussian_kl(mean, logvar).mean()
        vae = reconstruction + self.beta * kl
        out = {"reconstruction": reconstruction, "kl": kl, "vae": vae, "accuracy": correct.float().mean()}
        labelled = None if y is None else torch.isfinite(y)
        if labelled is None or not bool(labelled.any()):
            out["loss"] = vae
            return out
        pred = self.predictor(mean[labelled]).squeeze(-1)
        target = (y[labelled].to(pred.dtype) - self.y_shift) / self.y_scale
        mse = F.mse_loss(pred, target)
        out["mse"] = mse
        out["loss"] = self.vae_weight * vae + self.mse_weight * mse
        return out

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        """Predicted targets (original units), one per architecture, from the latent mean."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                mean, _ = self.encode_distribution(archs)
                out = self.predictor(mean).squeeze(-1) * self.y_scale + self.y_shift
        finally:
            self.train(was_training)
        return out.cpu().double().numpy()


__all__ = ["MIN_PREDICTOR_WIDTH", "SVGE", "halving_mlp"]
