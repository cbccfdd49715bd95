"""Graph embeddings of architectures: VS-GAE and SVGe (DESIGN section 6).

A graph VAE maps architectures to points of a continuous latent space and
back. Predictors and Bayesian optimisers then work on fixed-length vectors,
and any latent point decodes to an architecture of the space (or to ``None``
when the decoder writes a graph the space does not allow).

Example (300 epochs of the full-size model: minutes on a GPU, long on a CPU)::

    import numpy as np
    from nasframe.core import load_space
    from surrogates.embeddings import VSGAE, reconstruction_accuracy, save_model, train

    space = load_space("nb101")
    cells = space.sample(np.random.default_rng(0), 1000)
    model = VSGAE(space, device="cuda")          # latent 56, hidden 250, beta 0.005
    result = train(model, cells, epochs=300, checkpoint="runs/vsgae")   # resumable
    z = model.encode(cells)                      # (1000, 56) latent means
    model.decode(z[:5]), model.sample_prior(5, seed=0)   # cells, or None where invalid
    save_model(model, "models/vsgae-nb101", result=result,
               metrics={"reconstruction": reconstruction_accuracy(model, cells[:100])})

Which architectures a model trained on, and which it kept out for judging
its reconstruction, is an :class:`EmbeddingSplit`, saved in its model card.

Torch and torch-geometric are imported by this package (not by
``import nasframe``). A space plugs in through its graph view: ``dag`` and
``from_dag`` (``nb101`` and ``enas`` read their graphs back).
"""

from surrogates.embeddings.encoder import GatedSumReadout, GraphEncoder, GRUPropagation
from surrogates.embeddings.graphs import PaddedGraphs, reverse_dag
from surrogates.embeddings.metrics import (
    embedding_report,
    greedy_reconstruction,
    novelty,
    prediction_quality,
    prior_quality,
    reconstruction_accuracy,
    reconstruction_rate,
    stochastic_prior_quality,
    uniqueness,
    validity,
)
from surrogates.embeddings.split import EmbeddingSplit
from surrogates.embeddings.svge import SVGE
from surrogates.embeddings.train import TrainResult, load_model, save_model, train
from surrogates.embeddings.vsgae import VSGAE, GraphVAE

__all__ = [
    "EmbeddingSplit",
    "GRUPropagation",
    "GatedSumReadout",
    "GraphEncoder",
    "GraphVAE",
    "PaddedGraphs",
    "SVGE",
    "TrainResult",
    "VSGAE",
    "embedding_report",
    "greedy_reconstruction",
    "load_model",
    "novelty",
    "prediction_quality",
    "prior_quality",
    "reconstruction_accuracy",
    "reconstruction_rate",
    "reverse_dag",
    "save_model",
    "stochastic_prior_quality",
    "train",
    "uniqueness",
    "validity",
]
