"""Quality of a graph embedding: reconstruction, and validity/uniqueness/novelty of samples.

The measures of D-VAE, VS-GAE and SVGe. Architectures are compared by the
space's canonical hash, so isomorphic graphs count as the same architecture
(an NB101 cell decoded with its vertices in another order is a correct
reconstruction). Each measure comes as a pure function of architectures,
usable on any decoder's output, and :func:`reconstruction_accuracy` /
:func:`prior_quality` run a model for it.

* *Reconstruction accuracy*: encode each graph ``n_encode`` times (draws from
  ``q(z | G)``), decode each draw ``n_decode`` times (stochastic decoding),
  and count the decodings equal to the graph (10 x 10 in the papers).
* *Validity*: share of prior samples that decode to an architecture of the
  space; greedily (one argmax decoding per prior point) or, as the papers
  measure it, over 10 stochastic decodings per prior point.
* *Uniqueness*: distinct architectures among the valid samples, over the
  number of valid samples.
* *Novelty*: share of valid samples not in the training set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import torch

from nasframe.core import Architecture, SearchSpace

if TYPE_CHECKING:
    from surrogates.embeddings.vsgae import GraphVAE


def _hashes(space: SearchSpace, archs: Sequence[Architecture]) -> list[str]:
    return space.canonical_hashes(list(archs)) if archs else []


def reconstruction_rate(
    space: SearchSpace,
    originals: Sequence[Architecture],
    decoded: Sequence[Sequence[Architecture | None]],
) -> float:
    """Share of decodings equal (by canonical hash) to their original; ``None`` counts as a miss.

    ``decoded[i]`` holds every decoding of ``originals[i]``.
    """
    if len(originals) != len(decoded):
        raise ValueError(f"{len(originals)} originals but {len(decoded)} lists of decodings")
    targets = _hashes(space, originals)
    hits = total = 0
    for target, attempts in zip(targets, decoded):
        valid = [a for a in attempts if a is not None]
        hits += sum(h == target for h in _hashes(space, valid))
        total += len(attempts)
    if total == 0:
        raise ValueError("no decodings to score")
    return hits / total


def validity(samples: Sequence[Architecture | None]) -> float:
    """Share of samples that are architectures (not ``None``)."""
    if not samples:
        raise ValueError("no samples to score")
    return sum(s is not None for s in samples) / len(samples)


def uniqueness(space: SearchSpace, samples: Sequence[Architecture | None]) -> float:
    """Distinct valid samples over valid samples (``nan`` when none is valid)."""
    valid = [s for s in samples if s is not None]
    if not valid:
        return float("nan")
    return len(set(_hashes(space, valid))) / len(valid)


def novelty(space: SearchSpace, samples: Sequence[Architecture | None], train: Iterable[str]) -> float:
    """Share of valid samples whose canonical hash is not among ``train`` hashes (``nan`` when none is valid)."""
    valid = [s for s in samples if s is not None]
    if not valid:
        return float("nan")
    seen = set(train)
    return sum(h not in seen for h in _hashes(space, valid)) / len(valid)


def reconstruction_accuracy(
    model: "GraphVAE",
    archs: Sequence[Architecture],
    *,
    n_encode: int = 10,
    n_decode: int = 10,
    seed: int = 0,
) -> float:
    """The papers' reconstruction accuracy: ``n_encode`` posterior draws x ``n_decode`` stochastic decodings.

    All ``len(archs) * n_encode * n_decode`` decodings run as one batch. For
    the deterministic variant (mean, greedy) score ``[[d] for d in
    model.decode(model.encode(archs))]`` with :func:`reconstruction_rate`.
    """
    if n_encode < 1 or n_decode < 1:
        raise ValueError(f"n_encode and n_decode must be >= 1, got {n_encode}, {n_decode}")
    mean, logvar = model.encode_distribution(archs)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    noise = torch.randn((n_encode, *mean.shape), generator=generator).to(mean.device)
    # row order: graph-major, then encoding draw, then decoding draw
    z = (mean.unsqueeze(0) + noise * torch.exp(0.5 * logvar).unsqueeze(0)).transpose(0, 1)
    z = z.repeat_interleave(n_decode, dim=1).reshape(-1, model.latent)
    decoded = model.decode(z, stochastic=True, seed=seed + 1)
    per_graph = n_encode * n_decode
    grouped = [decoded[i * per_graph : (i + 1) * per_graph] for i in range(len(archs))]
    return reconstruction_rate(model.space, archs, grouped)


def greedy_reconstruction(model: "GraphVAE", archs: Sequence[Architecture]) -> float:
    """Share of ``archs`` decoded back from their latent mean by argmax decoding (the deterministic variant)."""
    return reconstruction_rate(model.space, archs, [[d] for d in model.decode(model.encode(archs))])


def _sample_quality(
    space: SearchSpace, samples: Sequence[Architecture | None], train: Iterable[Architecture] | Iterable[str] | None
) -> dict[str, float | None]:
    quality: dict[str, float | None] = {"validity": validity(samples), "uniqueness": uniqueness(space, samples)}
    if train is None:
        return {**quality, "novelty": None}
    hashes = [t if isinstance(t, str) else space.canonical_hash(t) for t in train]
    return {**quality, "novelty": novelty(space, samples, hashes)}


def prior_quality(
    model: "GraphVAE",
    n: int = 1000,
    *,
    train: Iterable[Architecture] | Iterable[str] | None = (),
    seed: int = 0,
) -> dict[str, float | None]:
    """Validity, uniqueness and novelty (against ``train``, architectures or hashes) of ``n`` greedy prior samples.

    Each prior point is decoded once, by argmax (the deterministic variant);
    :func:`stochastic_prior_quality` is the papers' protocol.
    ``train=None``: the training data is unknown, and novelty is ``None``.
    """
    return _sample_quality(model.space, model.sample_prior(n, seed=seed), train)


def stochastic_prior_quality(
    model: "GraphVAE",
    n: int = 1000,
    *,
    decodes: int = 10,
    train: Iterable[Architecture] | Iterable[str] | None = (),
    seed: int = 0,
) -> dict[str, float | None]:
    """The papers' prior measures (D-VAE, VS-GAE, SVGe): ``n`` prior points, each decoded ``decodes`` times.

    Types and edges are sampled, so one point gives up to ``decodes``
    different graphs; validity, uniqueness and novelty are over all
    ``n * decodes`` decodings. The prior points are :func:`prior_quality`'s
    for the same seed, so the two differ only in how they decode. A greedy
    decoder that always picks a likely valid graph can score a higher
    validity than the sampled one (and a lower uniqueness): the papers quote
    this one.
    """
    if decodes < 1:
        raise ValueError(f"decodes must be >= 1, got {decodes}")
    z = model.prior_points(n, seed=seed).repeat_interleave(decodes, dim=0)
    samples = model.decode(z, stochastic=True, seed=seed + 1)
    return _sample_quality(model.space, samples, train)


def embedding_report(
    model: "GraphVAE",
    heldout: Sequence[Architecture],
    train: Iterable[Architecture] | Iterable[str] | None,
    *,
    samples: int = 1000,
    encodings: int = 10,
    decodings: int = 10,
    prior_decodes: int = 10,
    seed: int = 0,
) -> dict[str, object]:
    """Every quality measure of a saved model (``model.card`` set), as ``nasframe embed evaluate`` reports it.

    Reconstruction of ``heldout`` (the papers' ``encodings`` x ``decodings``
    and the greedy variant), :func:`prior_quality` of ``samples`` greedy prior
    samples against ``train`` (``None`` where unknown), and beside it the
    papers' protocol, :func:`stochastic_prior_quality` with ``prior_decodes``
    sampled decodings per prior point (keys ``stochastic_*``).
    """
    stochastic = stochastic_prior_quality(model, samples, decodes=prior_decodes, train=train, seed=seed)
    card = model.card
    return {
        "model": card["kind"],
        "space": card["space"],
        "epochs": card.get("epochs"),
        "heldout": len(heldout),
        "reconstruction_accuracy": reconstruction_accuracy(model, heldout, n_encode=encodings, n_decode=decodings,
                                                           seed=seed),
        "greedy_reconstruction": greedy_reconstruction(model, heldout),
        "samples": samples,
        **prior_quality(model, samples, train=train, seed=seed),
        "prior_decodes": prior_decodes,
        **{f"stochastic_{key}": value for key, value in stochastic.items()},
    }


def prediction_quality(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """RMSE and Kendall tau of a predictor (SVGe's predictor quality)."""
    from surrogates.metrics import kendall_tau

    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) < 2:
        raise ValueError(f"need two 1-d arrays of equal length >= 2, got {y_true.shape} and {y_pred.shape}")
    return {"rmse": float(np.sqrt(np.mean((y_true - y_pred) ** 2))), "kendall_tau": kendall_tau(y_true, y_pred)}


__all__ = [
    "embedding_report",
    "greedy_reconstruction",
    "novelty",
    "prediction_quality",
    "prior_quality",
    "reconstruction_accuracy",
    "reconstruction_rate",
    "stochastic_prior_quality",
    "uniqueness",
    "validity",
]
