"""Bayesian optimisation with an ensemble of predictors, and its two published presets.

BANANAS (White, Neiswanger and Savani, "BANANAS: Bayesian Optimization with
Neural Architectures for Neural Architecture Search", AAAI 2021) and the
surrogate-model BO that NAS-Bench-301 and NASLib run are one loop with
different defaults:

1. evaluate ``num_init`` random architectures;
2. fit an ensemble (``members``) of one surrogate family on every result so
   far (``surrogate``: BANANAS' feed-forward networks on the path encoding,
   or a tree ensemble or GIN);
3. build a candidate pool by mutating the best architectures found so far
   (``mutate_top`` parents, ``candidates`` mutations in all) plus
   ``random_candidates`` fresh samples, dropping anything already proposed;
4. score the pool with an acquisition function over the ensemble's mean and
   member spread (:mod:`nasframe.searchers._acquisition`) and propose the
   best ``n`` (the paper proposes k = 10 per round from one fit);
5. repeat from 2 once ``fit_every`` new results arrived (default 10; steps 3
   and 4 run at every ask, with the latest results as parents).

Steps 1 and 5 are :class:`~nasframe.searchers._model_based.ModelBasedSearcher`,
step 3 is :func:`~nasframe.searchers._candidates.mutation_candidates`;
:class:`PredictorSearcher` adds the ensemble. :class:`BANANAS` and
:class:`SurrogateBO` only choose its defaults.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nasframe.core import Architecture, SearchSpace
from nasframe.searchers._acquisition import acquisition_scores, check_acquisition, top_indices
from nasframe.searchers._candidates import check_pool, mutation_candidates
from nasframe.searchers._checks import require_integers
from nasframe.searchers._model_based import ModelBasedSearcher


def _family(name: str) -> Any:
    """The surrogate class registered as ``name`` (imported lazily: torch only when needed)."""
    from nasframe.core.registry import SURROGATES

    return SURROGATES.factory(name)


def _surrogate_params(
    space: SearchSpace, surrogate: str, encoding: str | None, params: dict[str, Any] | None
) -> dict[str, Any]:
    """The family's hyper-parameters with the encoding the searcher settled on.

    The encoding is the searcher's argument, not a model parameter, so that
    its default can depend on the space (the path encoding where there is one).
    """
    factory = _family(surrogate)
    params = dict(params or {})
    if "encoding" in params:
        raise ValueError("give the encoding as the searcher's `encoding` argument, not a model parameter")
    if "encoding" in getattr(factory, "default_params", {}):
        params["encoding"] = space._check_encoding(encoding or ("path" if "path" in space.encodings else None))
    elif encoding is not None:
        raise ValueError(f"surrogate family {surrogate!r} reads graphs and takes no encoding (got {encoding!r})")
    return params


class PredictorSearcher(ModelBasedSearcher):
    """Bayesian optimisation with an ensemble surrogate over a mutation candidate pool.

    Parameters
    ----------
    surrogate:
        Surrogate family of the ensemble (``"mlp"``, ``"xgb"``, ``"lgb"``,
        ``"rf"``, ``"gin"``, ``"gcn"``, ``"vsgae-mlp"``, or any registered
        family).
    surrogate_params:
        Hyper-parameters of the family (``None``: its defaults).
    members:
        Ensemble size; the spread of the members is the model's uncertainty.
    encoding:
        The space encoding fed to encoding-based families; ``None`` picks
        ``"path"`` where the space has it, else the space's first encoding.
        Graph families (GIN, GCN) read ``to_graph`` and take no encoding.
    num_init:
        Random architectures proposed before the first fit (at least two
        results are needed to fit at all).
    candidates:
        Mutations generated per round, split among the ``mutate_top`` best
        architectures so far.
    random_candidates:
        Fresh random samples added to the pool per round.
    acquisition:
        ``"its"``, ``"ei"`` or ``"ucb"`` (see :mod:`nasframe.searchers._acquisition`).
    fit_every:
        Refit once at least this many new results arrived since the last fit
        (1: whenever a result arrived; never without new results). The
        default 10 is the paper's one model per 10 proposals (k = 10), kept
        at any batch size: at batch 1 each ask still builds a fresh pool
        around the current best and draws new acquisition values, only the
        ensemble is reused. BANANAS and BO at batch 1 took 4-10x less CPU than
        with 1 at no worse final regret (docs/SEARCHERS.md, "Refit schedule").
    """

    #: the defaults a published variant chooses for ``surrogate``, ``random_candidates``
    #: and ``acquisition`` (see :class:`BANANAS` and :class:`SurrogateBO`)
    preset: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        surrogate: str | None = None,
        members: int = 5,
        encoding: str | None = None,
        num_init: int = 10,
        candidates: int = 100,
        random_candidates: int | None = None,
        mutate_top: int = 2,
        acquisition: str | None = None,
        fit_every: int = 10,
        surrogate_params: dict[str, Any] | None = None,
    ) -> None:
        chosen = {"surrogate": surrogate, "random_candidates": random_candidates, "acquisition": acquisition}
        missing = [key for key, value in chosen.items() if value is None and key not in self.preset]
        if missing:
            raise TypeError(f"{type(self).__name__} has no preset for {', '.join(missing)}: pass them")
        surrogate, random_candidates, acquisition = (
            self.preset[key] if value is None else value for key, value in chosen.items()
        )
        super().__init__(space, seed=seed, num_init=num_init, fit_every=fit_every)
        check_acquisition(acquisition)
        require_integers(("members", members, 1))
        check_pool(candidates, random_candidates, mutate_top)
        params = _surrogate_params(space, surrogate, encoding, surrogate_params)
        # fail now, not at the first fit, on unknown or invalid hyper-parameters
        _family(surrogate)(space, members=members, seed=0, **params)
        self.surrogate = surrogate
        self.surrogate_params = params
        self.members = int(members)
        self.encoding = params.get("encoding")
        self.candidates = int(candidates)
        self.random_candidates = int(random_candidates)
        self.mutate_top = int(mutate_top)
        self.acquisition = acquisition
        self._model: Any = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(space={self.space.name!r}, seed={self.seed}, surrogate={self.surrogate!r}, "
            f"members={self.members}, acquisition={self.acquisition!r})"
        )

    # -- ask ------------------------------------------------------------------

    def _propose(self, n: int, exclude: set[str]) -> list[Architecture]:
        """The ``n`` best candidates by the acquisition function."""
        model = self._current_model()
        # parents and the incumbent come from every result, even those the model has not seen yet
        y = np.array([r.val_accuracy for _, r in self.history], dtype=np.float64)
        ok = np.isfinite(y)
        order = np.argsort(-np.where(ok, y, -np.inf), kind="stable")[: min(self.mutate_top, int(ok.sum()))]
        parents = [self.history[i][0] for i in order]
        pool = mutation_candidates(
            self.space, self.rng, parents, self.candidates, exclude,
            random_count=self.random_candidates, at_least=n,
        )
        if not pool:
            return []
        mean, std = model.predict(pool)
        scores = acquisition_scores(self.acquisition, mean, std, float(y[ok].max()), self.rng)
        return [pool[i] for i in top_indices(scores, n)]

    # -- the model ------------------------------------------------------------

    def _current_model(self) -> Any:
        """The ensemble to score with: refit when enough new results arrived,
        refit from the recorded prefix and seed after a resume."""
        if self._refit_due():
            self._model = None
        if self._model is None:
            rows = self._fit_rows()
            archs = [self.history[i][0] for i in rows]
            y = [self.history[i][1].val_accuracy for i in rows]
            factory = _family(self.surrogate)
            self._model = factory(
                self.space, members=self.members, seed=self._fit_seed, **self.surrogate_params
            ).fit(archs, y)
        return self._model

    # -- resume ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain data: the fitted model is left out and refitted on demand after loading."""
        state = dict(self.__dict__)
        state["_model"] = None
        state["surrogate_params"] = dict(self.surrogate_params)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._model = None


class BANANAS(PredictorSearcher):
    """BANANAS: an ensemble of neural predictors on the path encoding, ITS over mutations.

    Defaults (White et al. 2021; ``naszilla`` and NASLib): 10 random initial
    architectures, an ensemble of 5 predictors (``surrogate="mlp"``: 10
    layers of width 20, MAE, Adam lr 0.01, 150 epochs, batch 32), the path
    encoding where the space has one (the space's first encoding otherwise),
    100 mutation candidates from the 2 best architectures (NASLib's
    ``num_candidates``/``num_arches_to_mutate``), independent Thompson
    sampling. ``random_candidates`` adds fresh samples to each round's pool
    (the reference's ``mutation_random`` variant); it defaults to 0, the
    paper's pure mutation pool (docs/SEARCHERS.md compares the two).
    """

    name = "bananas"
    preset = {"surrogate": "mlp", "random_candidates": 0, "acquisition": "its"}


class SurrogateBO(PredictorSearcher):
    """Surrogate-model BO (NAS-Bench-301 / NASLib style): a tree ensemble and expected improvement.

    Defaults: ``surrogate="xgb"`` with the family's own defaults (``"lgb"``,
    ``"rf"``, ``"gin"``, ... too), an ensemble of 5 bagged members, 10
    random initial architectures, 100 mutations of the 2 best architectures
    plus 10 random samples per round, and EI with the spread divided by 5
    (NASLib's calibration). XGBoost is the default because it searched as
    well as a GIN at a fraction of the refit time (docs/SEARCHERS.md).
    """

    name = "bo"
    preset = {"surrogate": "xgb", "random_candidates": 10, "acquisition": "ei"}


__all__ = ["BANANAS", "PredictorSearcher", "SurrogateBO"]
