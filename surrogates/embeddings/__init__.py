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

Torch and torch-geometric are imported by this package (not by
``import nasframe``). Spaces plug in through a :class:`GraphCodec`
(``nb101`` and ``enas`` are built in; see :func:`register_codec`).
"""

from surrogates.embeddings.encoder import GatedSumReadout, GraphEncoder, GRUPropagation
from surrogates.embeddings.graphs import GraphCodec, PaddedGraphs, codec_for, register_codec, reverse_dag
from surrogates.embeddings.metrics import (
    novelty,
    prediction_quality,
    prior_quality,
    reconstruction_accuracy,
    reconstruction_rate,
    uniqueness,
    validity,
)
from surrogates.embeddings.svge import SVGE
from surrogates.embeddings.train import TrainResult, load_model, save_model, train
from surrogates.embeddings.vsgae import VSGAE, GraphVAE

__all__ = [
    "GRUPropagation",
    "GatedSumReadout",
    "GraphCodec",
    "GraphEncoder",
    "GraphVAE",
    "PaddedGraphs",
    "SVGE",
    "TrainResult",
    "VSGAE",
    "codec_for",
    "load_model",
    "novelty",
    "prediction_quality",
    "prior_quality",
    "reconstruction_accuracy",
    "reconstruction_rate",
    "register_codec",
    "reverse_dag",
    "save_model",
    "train",
    "uniqueness",
    "validity",
]
