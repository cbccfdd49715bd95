"""Bayesian optimisation in the latent space of a graph VAE (VS-GAE / SVGe, DESIGN section 6).

A trained graph VAE (:mod:`surrogates.embeddings`) maps every architecture to a
point of a continuous space and any point back to an architecture (or to
nothing, when the decoder writes a graph the space does not allow). That
turns a discrete, combinatorial search into a continuous one where a
Gaussian process is the standard model:

1. evaluate ``num_init`` random architectures of the space;
2. encode every evaluated architecture (the latent *mean*: deterministic, so
   the same architecture is always the same point) and fit a GP with a
   Matern kernel (scikit-learn) to its validation accuracy;
3. draw ``candidates`` latent points: a ``local_fraction`` of them around the
   codes of the ``top_k`` best architectures (Gaussian steps of
   ``local_scale`` times the spread of the evaluated codes per dimension),
   the rest from the prior ``N(0, I)`` the VAE was trained towards;
4. decode them, drop invalid graphs (``None``) and anything already proposed
   (by the space's canonical hash, against ``seen``), and *re-encode* the
   survivors: the GP models ``f(encode(arch))``, and a decoded architecture
   generally sits a little away from the point it was decoded from;
5. choose a batch of ``n`` by expected improvement with the kriging
   believer: pick the best EI, pretend its GP mean was observed, refit with
   the kernel fixed, pick again. Each pick thereby lowers the uncertainty
   around itself, which spreads a batch out instead of stacking it on one
   peak;
6. repeat from 2 when results arrive. If too few new valid architectures
   come out of the decoder, random samples fill the batch (counted in
   ``stats``), so ``ask(n)`` returns ``n`` unless the space is exhausted.

The VAE is given either as a model or as the folder of a saved one
(:func:`surrogates.embeddings.save_model`). ``state_dict`` stores that path
(or, for a model passed in, its weights) and never the GP: as for every
:mod:`model-based searcher <nasframe.searchers._model_based>`, a loaded
searcher refits the same GP from the recorded history prefix when it next
needs it, so a resumed run continues the
identical trajectory.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace
from nasframe.searchers._acquisition import expected_improvement
from nasframe.searchers._checks import require_integers
from nasframe.searchers._model_based import ModelBasedSearcher

if TYPE_CHECKING:
    from surrogates.embeddings.vsgae import GraphVAE


# -- pure building blocks ------------------------------------------------------------


def latent_candidates(
    rng: np.random.Generator,
    incumbents: np.ndarray,
    spread: np.ndarray,
    count: int,
    local_fraction: float,
    local_scale: float,
) -> np.ndarray:
    """``count`` latent points: Gaussian steps around ``incumbents`` and draws from the prior.

    Local points exploit what is known to be good; prior draws keep
    exploring the region the decoder was trained to decode (far outside the
    prior, decodings are mostly invalid). ``spread`` (per dimension) scales
    the steps to the region the evaluated codes occupy.
    """
    dim = len(spread)
    n_local = int(round(count * local_fraction)) if len(incumbents) else 0
    parents = incumbents[rng.integers(len(incumbents), size=n_local)] if n_local else np.zeros((0, dim))
    local = parents + local_scale * spread * rng.standard_normal((n_local, dim))
    prior = rng.standard_normal((count - n_local, dim))
    return np.vstack([local, prior])


def fit_gp(z: np.ndarray, y: np.ndarray, *, nu: float = 2.5, ard: bool = False, restarts: int = 0, seed: int = 0) -> Any:
    """A scikit-learn GP on latent codes: ``c * Matern(nu) + white noise``, targets normalised.

    The white-noise term absorbs training noise (NB101's repeated trainings
    of one cell differ) instead of forcing the GP through every value;
    ``ard`` gives each latent dimension its own length scale (better with
    many points, overfits with few).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    scale = np.ones(z.shape[1]) if ard else 1.0
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(scale, (1e-2, 1e3), nu=nu) + WhiteKernel(1e-2, (1e-6, 1.0))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=restarts, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gp.fit(z, y)


def kriging_believer(gp: Any, z: np.ndarray, y: np.ndarray, candidates: np.ndarray, n: int, xi: float = 0.0) -> list[int]:
    """Indices of a batch of ``n`` candidates chosen by EI with the kriging believer.

    After each pick the GP (kernel hyper-parameters fixed at ``gp.kernel_``)
    is refitted with the pick's predicted mean as if it had been observed,
    and that value also counts for the incumbent EI improves on.
    """
    from sklearn.gaussian_process import GaussianProcessRegressor

    chosen: list[int] = []
    model, z_fit, y_fit = gp, z, np.asarray(y, dtype=np.float64)
    for _ in range(min(n, len(candidates))):
        mean, std = model.predict(candidates, return_std=True)
        # a believed value counts like an observed one, incumbent included: otherwise
        # a candidate predicted well above the best keeps its EI and the twins of a
        # pick follow it into the batch
        scores = expected_improvement(mean, std, float(y_fit.max()), xi)
        scores[chosen] = -np.inf
        pick = int(np.argmax(scores))
        chosen.append(pick)
        if len(chosen) == n:
            break
        z_fit = np.vstack([z_fit, candidates[pick : pick + 1]])
        y_fit = np.append(y_fit, mean[pick])
        model = GaussianProcessRegressor(gp.kernel_, normalize_y=True, optimizer=None).fit(z_fit, y_fit)
    return chosen


def _check_space(name: str, config: dict[str, Any], space: SearchSpace) -> None:
    """A VAE decodes to the architectures of the space it was trained on: it must be this one."""
    if name != space.name or config != space.config():
        raise ValueError(
            f"the model was trained on space {name!r} {config}, the searcher searches {space.name!r} {space.config()}"
        )


# -- the searcher --------------------------------------------------------------------


class LatentBO(ModelBasedSearcher):
    """BO with a Matern GP on graph-VAE latent codes and kriging-believer EI (name ``"latent-bo"``).

    Parameters
    ----------
    model:
        A trained :class:`~surrogates.embeddings.vsgae.GraphVAE` of this space,
        or the folder it was saved to (then loaded onto ``device``): the
        embedding searched in, not the GP fitted in it.
    num_init:
        Random architectures proposed before the first GP fit.
    candidates:
        Latent points decoded per round (before dropping invalid and seen ones).
    local_fraction, local_scale, top_k:
        Share of the points drawn around the codes of the ``top_k`` best
        architectures, and their step size in units of the evaluated codes'
        spread per dimension; the rest come from the prior.
    nu, ard, restarts:
        The Matern smoothness, one length scale per dimension or one in all,
        and optimiser restarts of the GP's marginal-likelihood fit.
    xi:
        EI's exploration margin.
    fit_every:
        Refit once at least this many new results arrived since the last fit.
    stochastic_decode:
        Sample graphs from the decoder instead of decoding greedily (more
        distinct architectures per round, each less faithful to its point).
    threads:
        torch intra-op threads for encoding and decoding.
    """

    name = "latent-bo"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        model: "GraphVAE | str | Path | None" = None,
        device: str = "cpu",
        num_init: int = 10,
        candidates: int = 200,
        local_fraction: float = 0.5,
        local_scale: float = 0.5,
        top_k: int = 5,
        nu: float = 2.5,
        ard: bool = False,
        restarts: int = 0,
        xi: float = 0.0,
        fit_every: int = 1,
        stochastic_decode: bool = False,
        threads: int = 1,
    ) -> None:
        super().__init__(space, seed=seed, num_init=num_init, fit_every=fit_every)
        if model is None:
            raise ValueError("latent-bo needs a trained graph VAE: model=<GraphVAE or folder of a saved one>")
        require_integers(("candidates", candidates, 1), ("top_k", top_k, 1), ("restarts", restarts, 0),
                         ("threads", threads, 1))
        if not 0.0 <= local_fraction <= 1.0 or local_scale < 0 or nu <= 0:
            raise ValueError(
                f"need 0 <= local_fraction <= 1, local_scale >= 0, nu > 0; got {local_fraction}, {local_scale}, {nu}"
            )
        self.device = device
        self.candidates, self.top_k = int(candidates), int(top_k)
        self.local_fraction, self.local_scale = float(local_fraction), float(local_scale)
        self.nu, self.ard, self.restarts, self.xi = float(nu), bool(ard), int(restarts), float(xi)
        self.stochastic_decode, self.threads = bool(stochastic_decode), int(threads)
        #: folder the VAE was loaded from (None: passed in as a model)
        self.model_path: str | None = None
        self._vae: Any = None
        self._attach(model)
        #: per model-based round: latent points, valid decodings, new architectures, random fill
        self.stats: list[dict[str, int]] = []
        self._gp: Any = None

    def __repr__(self) -> str:
        source = self.model_path or type(self._vae).__name__
        return f"LatentBO(space={self.space.name!r}, seed={self.seed}, model={source!r})"

    # -- the VAE ----------------------------------------------------------------

    def _attach(self, model: "GraphVAE | str | Path") -> None:
        if isinstance(model, (str, Path)):
            from surrogates.embeddings.train import load_model, read_card

            card = read_card(model)
            # checked on the card, before any weights are read into this space's shapes
            _check_space(card["space"], card.get("space_config", {}), self.space)
            self.model_path = str(model)
            model = load_model(model, self.space, device=self.device)
        if not hasattr(model, "decode") or not hasattr(model, "encode"):
            raise TypeError(f"model must be a graph VAE or the folder of a saved one, got {type(model).__name__}")
        _check_space(model.space.name, model.space.config(), self.space)
        model.eval()
        self._vae = model

    @property
    def vae(self) -> "GraphVAE":
        return self._vae

    def _threads(self) -> Any:
        from surrogates.threads import torch_threads

        return torch_threads(self.threads)

    def encode(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Latent means of ``archs``, ``(len(archs), latent)`` float64.

        Not cached on purpose: a batched kernel may round differently with
        another batch composition, and a resumed searcher must see the very
        codes the uninterrupted one saw. Encoding the history (one batch, the
        same prefix) each round costs milliseconds.
        """
        if len(archs) == 0:
            return np.zeros((0, self._vae.latent))
        with self._threads():
            return self._vae.encode(list(archs)).astype(np.float64)

    # -- ask ----------------------------------------------------------------------

    def _propose(self, n: int, exclude: set[str]) -> list[Architecture]:
        gp, z, y = self._current_model()
        order = np.argsort(-y, kind="stable")[: self.top_k]
        spread = np.maximum(z.std(axis=0), 1e-3) if len(z) > 1 else np.ones(z.shape[1])
        points = latent_candidates(self.rng, z[order], spread, self.candidates, self.local_fraction, self.local_scale)
        decode_seed = int(self.rng.integers(2**31 - 1))
        with self._threads():
            decoded = self._vae.decode(points, stochastic=self.stochastic_decode, seed=decode_seed)
        valid = [a for a in decoded if a is not None]
        pool: dict[str, Architecture] = {}
        for key, arch in zip(self.space.canonical_hashes(valid), valid):
            if key not in exclude and key not in pool:
                pool[key] = arch
        archs = list(pool.values())
        chosen = [archs[i] for i in kriging_believer(gp, z, y, self.encode(archs), n, self.xi)] if archs else []
        fill: list[Architecture] = []
        if len(chosen) < n:
            fill = list(self.space.sample_distinct(self.rng, n - len(chosen), exclude | set(pool)).values())
        self.stats.append(
            {"points": len(points), "valid": len(valid), "new": len(archs), "chosen": len(chosen), "random_fill": len(fill)}
        )
        return chosen + fill

    # -- the GP --------------------------------------------------------------------

    def _current_model(self) -> tuple[Any, np.ndarray, np.ndarray]:
        """GP and its training data: refit when enough new results arrived, and after a resume
        from the recorded history prefix and seed."""
        if self._refit_due():
            self._gp = None
        rows = self._fit_rows()
        z = self.encode([self.history[i][0] for i in rows])
        y = np.array([self.history[i][1].val_accuracy for i in rows], dtype=np.float64)
        if self._gp is None:
            self._gp = fit_gp(z, y, nu=self.nu, ard=self.ard, restarts=self.restarts, seed=self._fit_seed)
        return self._gp, z, y

    # -- resume --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain data: no GP (refitted on demand) and the VAE as its path, or as weights if it has none."""
        skip = ("space", "_vae", "_gp")
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in skip}
        state["space"] = self.space
        state["_gp"] = None
        if self.model_path is None:
            state["_vae_weights"] = {
                "kind": self._vae.kind,
                "hyperparameters": self._vae.hyperparameters(),
                "state_dict": {k: v.detach().cpu().clone() for k, v in self._vae.state_dict().items()},
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        weights = state.pop("_vae_weights", None)
        previous_path, previous_vae = self.model_path, self._vae
        self.__dict__.update({k: (v if k == "space" else copy.deepcopy(v)) for k, v in state.items()})
        self._gp = None
        if weights is not None:
            from surrogates.embeddings.train import MODEL_KINDS

            vae = MODEL_KINDS[weights["kind"]](self.space, device=self.device, **weights["hyperparameters"])
            vae.load_state_dict(weights["state_dict"])
            self._attach(vae)
        elif previous_vae is not None and previous_path == self.model_path:
            self._vae = previous_vae  # the same saved model is already loaded
        else:
            self._attach(self.model_path)


__all__ = ["LatentBO", "fit_gp", "kriging_believer", "latent_candidates"]
