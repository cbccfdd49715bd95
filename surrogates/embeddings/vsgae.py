"""VS-GAE: a variational autoencoder of architecture graphs (Friede et al., 2019).

The point of a graph embedding is a smooth, continuous space in which similar
architectures sit close together: a performance predictor or a Bayesian
optimiser then works on fixed-length vectors, and any latent point can be
turned back into an architecture. VS-GAE gets this from a GNN encoder that
outputs a Gaussian ``q(z | G)`` (mean and log-variance heads on the graph
vector) and a sequential decoder ``p(G | z)`` that writes the graph node by
node (:mod:`surrogates.embeddings.decoder`). It is trained on
``reconstruction NLL + beta * KL(q(z|G) || N(0, I))``; the small ``beta``
(0.005) keeps reconstruction sharp while still pulling the codes towards
the prior, so prior samples decode to plausible graphs.

:class:`GraphVAE` holds what VS-GAE and SVGe share: turning architectures into
padded graph batches through the space's graph view, the reparameterised loss,
batched encoding and decoding back to the space's architecture type (an
invalid graph decodes to ``None``), prior sampling, and the hyper-parameters
a model card records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from nasframe.core import Architecture, InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG
from surrogates.embeddings.decoder import SequentialGraphDecoder
from surrogates.embeddings.encoder import GraphEncoder
from surrogates.embeddings.graphs import PaddedGraphs

#: how many graphs encode/decode handle per forward pass
_CHUNK = 1024


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, exp(logvar)) || N(0, I))`` per row, summed over latent dimensions."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def _read_back(space: SearchSpace, dag: DAG) -> Architecture | None:
    """The architecture a decoded graph spells; ``None`` for one the space rejects (an outcome to count)."""
    try:
        return space.from_dag(dag)
    except InvalidArchitecture:
        return None


def _seed_value(seed: int | None) -> int:
    return int(np.random.SeedSequence(seed).generate_state(1)[0]) if seed is None else int(seed)


class GraphVAE(nn.Module, ABC):
    """Shared machinery of the graph VAEs; subclasses add the networks.

    Parameters
    ----------
    space:
        The search space; its graph view must read back (``SearchSpace.from_dag``).
    latent:
        Latent size (56 in VS-GAE and SVGe).
    hidden:
        Node state size (~250 in the papers; much smaller trains faster).
    layers:
        Propagation layers of the encoder and of the decoder's prefix encoder.
    beta:
        Weight of the KL term.
    max_nodes:
        Decoding step limit; default the space's largest graph. Raise it to
        let the decoder write larger graphs (extrapolation).
    seed:
        Seeds the initial weights (in a forked RNG; the global one is untouched).
    device:
        Where the parameters live (``"cpu"``, ``"cuda"``...).
    """

    kind: ClassVar[str]

    def __init__(
        self,
        space: SearchSpace,
        *,
        latent: int = 56,
        hidden: int = 250,
        layers: int = 2,
        beta: float = 0.005,
        max_nodes: int | None = None,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__()
        if latent < 1 or hidden < 1 or layers < 1:
            raise ValueError(f"latent, hidden and layers must be >= 1, got {latent}, {hidden}, {layers}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.space = space
        self.latent, self.hidden, self.layers, self.beta = int(latent), int(hidden), int(layers), float(beta)
        largest = space.max_dag_nodes()  # raises for a space whose graphs cannot be read back
        self.max_nodes = int(max_nodes or largest)
        if self.max_nodes < 2:
            raise ValueError(f"max_nodes must be >= 2, got {self.max_nodes}")
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._build()
        self.to(device)

    # -- subclass plug-in points ---------------------------------------------

    @abstractmethod
    def _build(self) -> None:
        """Create the encoder and decoder modules (called under the seeded RNG)."""

    @abstractmethod
    def _encode(self, graphs: PaddedGraphs) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and log-variance ``(B, latent)`` of a batch."""

    @abstractmethod
    def _reconstruction(self, z: torch.Tensor, graphs: PaddedGraphs) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced NLL ``(B,)`` and exact-greedy flags ``(B,)`` of the decoder(s)."""

    @abstractmethod
    def _generator_decoder(self) -> SequentialGraphDecoder:
        """The decoder that turns latent points into graphs."""

    def hyperparameters(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this network (recorded in the model card)."""
        return {
            "latent": self.latent,
            "hidden": self.hidden,
            "layers": self.layers,
            "beta": self.beta,
            "max_nodes": self.max_nodes,
            "seed": self.seed,
        }

    # -- data ----------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def graphs(self, archs: Sequence[Any]) -> PaddedGraphs:
        """``archs`` (instances or specs the space validates) as a padded batch on the model's device."""
        dags = [self.space.dag(a if isinstance(a, Architecture) else self.space.validate(a)) for a in archs]
        width = max([self.max_nodes, *(len(d.node_types) for d in dags)])
        return PaddedGraphs.from_dags(dags, width, self.device)

    def _as_graphs(self, data: PaddedGraphs | Sequence[Any]) -> PaddedGraphs:
        return data if isinstance(data, PaddedGraphs) else self.graphs(data)

    # -- training objective ---------------------------------------------------

    def loss(
        self,
        data: PaddedGraphs | Sequence[Any],
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """``{"loss", "reconstruction", "kl", "accuracy"}`` of a batch (means over graphs).

        ``z`` is drawn by the reparameterisation trick with ``generator`` (so a
        training run is reproducible without touching the global RNG).
        ``accuracy`` is the teacher-forced exact reconstruction rate.
        """
        graphs = self._as_graphs(data)
        mean, logvar = self._encode(graphs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + noise * torch.exp(0.5 * logvar)
        nll, correct = self._reconstruction(z, graphs)
        reconstruction = nll.mean()
        kl = gaussian_kl(mean, logvar).mean()
        return {
            "loss": reconstruction + self.beta * kl,
            "reconstruction": reconstruction,
            "kl": kl,
            "accuracy": correct.float().mean(),
        }

    # -- encoding -----------------------------------------------------------------

    def encode_distribution(self, archs: Sequence[Any] | PaddedGraphs) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of ``q(z | G)`` per architecture (tensors on the model's device)."""
        graphs = self._as_graphs(archs)
        with torch.no_grad():
            parts = [
                self._encode(graphs.select(range(i, min(i + _CHUNK, len(graphs)))))
                for i in range(0, len(graphs), _CHUNK)
            ]
        if not parts:
            empty = torch.zeros((0, self.latent), device=self.device)
            return empty, empty
        return torch.cat([m for m, _ in parts]), torch.cat([v for _, v in parts])

    def encode(self, archs: Sequence[Any]) -> np.ndarray:
        """Latent means, ``(len(archs), latent)`` float32: the embedding a predictor or BO uses."""
        was_training = self.training
        self.eval()
        try:
            return self.encode_distribution(archs)[0].cpu().numpy().astype(np.float32)
        finally:
            self.train(was_training)

    def teacher_forced_accuracy(self, archs: Sequence[Any] | PaddedGraphs) -> float:
        """Fraction of graphs whose every decoding step is right given the true prefix (z = mean)."""
        graphs = self._as_graphs(archs)
        with torch.no_grad():
            mean, _ = self.encode_distribution(graphs)
            _, correct = self._reconstruction(mean, graphs)
        return float(correct.float().mean()) if len(graphs) else float("nan")

    # -- decoding -----------------------------------------------------------------

    def decode(
        self,
        z: torch.Tensor | np.ndarray,
        *,
        stochastic: bool = False,
        seed: int | None = None,
        max_nodes: int | None = None,
    ) -> list[Architecture | None]:
        """Architectures of the space for latent points ``z`` ``(n, latent)``; ``None`` where invalid.

        Greedy unless ``stochastic`` (then types and edges are sampled, seeded
        by ``seed``). A graph is invalid when it does not stop within
        ``max_nodes`` nodes or the space's ``from_dag`` rejects it.
        """
        graphs, done = self.decode_graphs(z, stochastic=stochastic, seed=seed, max_nodes=max_nodes)
        out: list[Architecture | None] = []
        for dag, finished in zip(graphs.to_dags(), done.cpu().tolist()):
            out.append(_read_back(self.space, dag) if finished else None)
        return out

    def decode_graphs(
        self,
        z: torch.Tensor | np.ndarray,
        *,
        stochastic: bool = False,
        seed: int | None = None,
        max_nodes: int | None = None,
    ) -> tuple[PaddedGraphs, torch.Tensor]:
        """The raw decoded graphs and whether each one finished (see :meth:`decode`)."""
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        if z.ndim != 2 or z.shape[1] != self.latent:
            raise ValueError(f"z must have shape (n, {self.latent}), got {tuple(z.shape)}")
        limit = int(max_nodes or self.max_nodes)
        generator = None
        if stochastic:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(_seed_value(seed))
        decoder = self._generator_decoder()
        was_training = self.training
        self.eval()
        try:
            parts = [
                decoder.generate(z[i : i + _CHUNK], limit, stochastic, generator) for i in range(0, len(z), _CHUNK)
            ]
        finally:
            self.train(was_training)
        if not parts:
            empty = PaddedGraphs.from_dags([], limit, self.device)
            return empty, torch.zeros(0, dtype=torch.bool, device=self.device)
        graphs = PaddedGraphs(
            torch.cat([g.types for g, _ in parts]),
            torch.cat([g.adj for g, _ in parts]),
            torch.cat([g.sizes for g, _ in parts]),
        )
        return graphs, torch.cat([d for _, d in parts])

    def sample_prior(
        self, n: int, *, seed: int | None = None, stochastic: bool = False
    ) -> list[Architecture | None]:
        """Decode ``n`` draws from the prior ``N(0, I)`` (``None`` for invalid graphs)."""
        return self.decode(self.prior_points(n, seed=seed), stochastic=stochastic,
                           seed=None if seed is None else seed + 1)

    def prior_points(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """``n`` draws from the prior ``N(0, I)``, ``(n, latent)``: the same points for the same seed."""
        generator = torch.Generator(device="cpu")
        generator.manual_seed(_seed_value(seed))
        return torch.randn((n, self.latent), generator=generator)


class VSGAE(GraphVAE):
    """VS-GAE: the DESIGN section 6 encoder (both edge directions) and the sequential decoder.

    Example::

        model = VSGAE(load_space("nb101"), hidden=64, latent=16)
        train(model, cells, epochs=50)       # surrogates.embeddings.train
        z = model.encode(cells)              # (n, 16) latent means
        model.decode(z)                      # cells again (None where invalid)
    """

    kind = "vsgae"

    def _build(self) -> None:
        space = self.space
        self.encoder = GraphEncoder(len(space.node_types), self.hidden, self.layers, directions="both")
        self.mean_head = nn.Linear(self.hidden, self.latent)
        self.logvar_head = nn.Linear(self.hidden, self.latent)
        self.decoder = SequentialGraphDecoder(
            len(space.node_types), space.input_type, space.output_type, self.latent, self.hidden, self.layers
        )

    def _encode(self, graphs: PaddedGraphs) -> tuple[torch.Tensor, torch.Tensor]:
        node_type, edge_index, batch, mask = graphs.flat()
        _, h = self.encoder(node_type, edge_index, batch, len(graphs), node_mask=mask)
        return self.mean_head(h), self.logvar_head(h)

    def _reconstruction(self, z: torch.Tensor, graphs: PaddedGraphs) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder(z, graphs)

    def _generator_decoder(self) -> SequentialGraphDecoder:
        return self.decoder


__all__ = ["GraphVAE", "VSGAE", "gaussian_kl"]
