"""BANANAS and the shared machinery of predictor-guided searchers.

BANANAS (White, Neiswanger and Savani, "BANANAS: Bayesian Optimization with
Neural Architectures for Neural Architecture Search", AAAI 2021) is Bayesian
optimisation whose model is an ensemble of neural predictors:

1. evaluate ``num_init`` random architectures;
2. fit an ensemble (``members``) of predictors on every result so far
   (BANANAS: 5 feed-forward networks on the path encoding);
3. build a candidate pool by mutating the best architectures found so far
   (``mutate_top`` parents, ``candidates`` mutations in all) plus
   ``random_candidates`` fresh samples, dropping anything already proposed;
4. score the pool with an acquisition function over the ensemble's mean and
   spread and propose the best ``n`` (the paper proposes k = 10 per round
   from one fit);
5. repeat from 2 when new results arrive.

The pieces 2-4 live in :class:`PredictorSearcher`, which
:class:`~nasframe.searchers._bo.SurrogateBO` shares: it is the same loop with
a GIN or tree ensemble and expected improvement, as NASLib runs its
predictor-based BO. Steps 1 and 5 (the initial design, refitting on new
results and refitting the same model after a resume) are
:class:`ModelBasedSearcher`, which latent-bo's Gaussian process shares too.
The candidate pool (:func:`mutation_candidates`) and the acquisition
functions (:func:`acquisition_scores`) are module functions so other
searchers can reuse them.

Acquisition functions (the objective is maximised; ``mean``/``std`` are the
ensemble's per-candidate mean and member spread):

``"its"`` (BANANAS' default)
    Independent Thompson sampling: one independent draw from
    ``N(mean, std)`` per candidate (``naszilla/acquisition_functions.py``,
    NASLib's ``its``), then the highest draws.
``"ei"``
    Expected improvement over the best observed value with the spread divided
    by a calibration factor of 5 (both reference implementations):
    ``s = std / 5``, ``g = (mean - best) / s``, ``EI = s (g Phi(g) + phi(g))``;
    ``max(mean - best, 0)`` where ``s`` is 0.
``"ucb"``
    ``mean + 0.5 std`` (explore factor 0.5 in both implementations).

Every draw (initial design, mutations, random candidates, Thompson samples,
each fit's seed) comes from the searcher's ``rng``, so a seed fixes the
trajectory. Fitted models are not part of :meth:`state_dict`: it records the
length of the history prefix and the seed of the last fit instead, and a
loaded searcher refits that same model from the same data and seed when it
next needs it (fits are deterministic for a seed), so a resumed run continues
the identical trajectory and the state stays plain picklable data.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace, Searcher

#: acquisition functions by name
ACQUISITIONS = ("its", "ei", "ucb")
#: EI's spread divisor (``ei_calibration_factor`` in naszilla and NASLib)
EI_CALIBRATION = 5.0
#: UCB's weight of the spread (``explore_factor`` in naszilla and NASLib)
UCB_EXPLORE = 0.5
#: draws per wanted architecture before accepting that the space is (nearly) exhausted
_MAX_DRAWS = 50


# -- shared building blocks -----------------------------------------------------


def fresh_samples(
    space: SearchSpace, rng: np.random.Generator, n: int, exclude: set[str]
) -> dict[str, Architecture]:
    """Up to ``n`` distinct samples whose hashes are not in ``exclude``, by hash."""
    fresh: dict[str, Architecture] = {}
    for _ in range(_MAX_DRAWS):
        if len(fresh) >= n:
            break
        batch = space.sample(rng, n - len(fresh))
        for key, arch in zip(space.canonical_hashes(batch), batch):
            if key not in exclude and key not in fresh:
                fresh[key] = arch
    return fresh


def mutation_candidates(
    space: SearchSpace,
    rng: np.random.Generator,
    parents: Sequence[Architecture],
    count: int,
    exclude: set[str],
    *,
    random_count: int = 0,
    at_least: int = 0,
) -> list[Architecture]:
    """The candidate pool: mutations of ``parents`` plus random samples, all new.

    Each parent gets ``count // len(parents)`` single-edit mutations (NASLib's
    split; the remainder goes to the first parents), then ``random_count``
    fresh samples join. Duplicates and anything in ``exclude`` are dropped;
    when fewer than ``at_least`` remain, fresh samples top the pool up (fewer
    only if the space is nearly exhausted).
    """
    pool: dict[str, Architecture] = {}
    if parents and count > 0:
        share, extra = divmod(count, len(parents))
        children = [
            space.mutate(parent, rng)
            for i, parent in enumerate(parents)
            for _ in range(share + (i < extra))
        ]
        for key, child in zip(space.canonical_hashes(children), children):
            if key not in exclude and key not in pool:
                pool[key] = child
    taken = exclude | set(pool)
    wanted = max(random_count, at_least - len(pool))
    if wanted > 0:
        pool.update(fresh_samples(space, rng, wanted, taken))
    return list(pool.values())


def acquisition_scores(
    kind: str, mean: np.ndarray, std: np.ndarray, best: float, rng: np.random.Generator
) -> np.ndarray:
    """Acquisition values of candidates with ensemble ``mean`` and ``std`` (higher is better)."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.maximum(np.asarray(std, dtype=np.float64), 0.0)
    if kind == "its":
        return rng.normal(mean, std)
    if kind == "ucb":
        return mean + UCB_EXPLORE * std
    if kind == "ei":
        from scipy.stats import norm

        scaled = std / EI_CALIBRATION
        gain = mean - best
        out = np.maximum(gain, 0.0)
        ok = scaled > 0
        gamma = gain[ok] / scaled[ok]
        out[ok] = scaled[ok] * (gamma * norm.cdf(gamma) + norm.pdf(gamma))
        return out
    raise ValueError(f"unknown acquisition {kind!r}; choose one of {', '.join(ACQUISITIONS)}")


def top_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first (ties keep pool order)."""
    return np.argsort(-np.asarray(scores), kind="stable")[:n]


def require_integers(*checks: tuple[str, Any, int]) -> None:
    """Raise ``ValueError`` naming the first ``(label, value, low)`` whose value is not an integer >= ``low``."""
    for label, value, low in checks:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")


def _family(name: str) -> Any:
    """The surrogate class registered as ``name`` (imported lazily: torch only when needed)."""
    from surrogates.base import families

    return families.factory(name)


# -- the shared searchers -------------------------------------------------------


class ModelBasedSearcher(Searcher):
    """``num_init`` random architectures, then proposals from a model fitted on the results.

    The loop shared by the searchers that fit a model to what they have seen
    (the ensembles of BANANAS and SurrogateBO, latent-bo's Gaussian process).
    Plug-in point: :meth:`_propose`. A subclass fits its model on the rows
    :meth:`_fit_rows` names, with the seed :meth:`_refit_due` drew, and
    drops it whenever that method says a new fit is due; since the prefix
    and the seed are plain recorded data, a resumed searcher refits the very
    same model instead of storing it.
    """

    def __init__(self, space: SearchSpace, *, seed: int = 0, num_init: int, fit_every: int) -> None:
        super().__init__(space, seed=seed)
        require_integers(("num_init", num_init, 0), ("fit_every", fit_every, 1))
        self.num_init, self.fit_every = int(num_init), int(fit_every)
        #: history prefix and seed of the last fit (what a resumed searcher refits)
        self._fitted_on: int | None = None
        self._fit_seed: int | None = None

    def ask(self, n: int = 1) -> list[Architecture]:
        if n < 1:
            return []
        n_random = min(n, max(0, self.num_init - len(self.seen)))
        can_fit = len(self._training_rows()) >= 2
        if not can_fit:
            n_random = n  # nothing to fit yet
        picked = list(fresh_samples(self.space, self.rng, n_random, self.seen).values())
        if len(picked) < n and can_fit:
            exclude = self.seen | set(self.space.canonical_hashes(picked))
            picked += self._propose(n - len(picked), exclude)
        return self._mark(picked)

    @abstractmethod
    def _propose(self, n: int, exclude: set[str]) -> list[Architecture]:
        """Up to ``n`` new architectures (none of ``exclude``) chosen with the model."""

    def _training_rows(self) -> list[int]:
        return [i for i, (_, r) in enumerate(self.history) if math.isfinite(r.val_accuracy)]

    def _refit_due(self) -> bool:
        """Whether a new fit is due (``fit_every`` new results since the last); if so, record its prefix and seed."""
        if self._fitted_on is not None and len(self.history) - self._fitted_on < self.fit_every:
            return False
        self._fitted_on = len(self.history)
        self._fit_seed = int(self.rng.integers(2**31 - 1))
        return True

    def _fit_rows(self) -> list[int]:
        """The rows the current fit uses: finite results within its recorded prefix."""
        return [i for i in self._training_rows() if i < self._fitted_on]


class PredictorSearcher(ModelBasedSearcher):
    """Bayesian optimisation with an ensemble surrogate over a mutation candidate pool.

    Parameters
    ----------
    family:
        Surrogate family of the ensemble (``"mlp"``, ``"xgb"``, ``"lgb"``,
        ``"rf"``, ``"gin"``, ``"gcn"``, or any registered family).
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
        ``"its"``, ``"ei"`` or ``"ucb"`` (see the module documentation).
    fit_every:
        Refit once at least this many new results arrived since the last fit
        (1: whenever a result arrived; never without new results).
    params:
        Hyper-parameters of the family (``None``: its defaults).
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        family: str,
        members: int,
        encoding: str | None,
        num_init: int,
        candidates: int,
        random_candidates: int,
        mutate_top: int,
        acquisition: str,
        fit_every: int,
        params: dict[str, Any] | None,
    ) -> None:
        super().__init__(space, seed=seed, num_init=num_init, fit_every=fit_every)
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {acquisition!r}; choose one of {', '.join(ACQUISITIONS)}")
        require_integers(("members", members, 1), ("candidates", candidates, 0),
                         ("random_candidates", random_candidates, 0), ("mutate_top", mutate_top, 1))
        if candidates + random_candidates < 1:
            raise ValueError("candidates + random_candidates must be at least 1")
        factory = _family(family)
        params = dict(params or {})
        if "encoding" in params:
            raise ValueError("give the encoding as the searcher's `encoding` argument, not a model parameter")
        if "encoding" in getattr(factory, "default_params", {}):
            encoding = space._check_encoding(encoding or ("path" if "path" in space.encodings else None))
            params["encoding"] = encoding
        elif encoding is not None:
            raise ValueError(f"surrogate family {family!r} reads graphs and takes no encoding (got {encoding!r})")
        # fail now, not at the first fit, on unknown or invalid hyper-parameters
        factory(space, members=members, seed=0, **params)
        self.family = family
        self.members = int(members)
        self.encoding = encoding
        self.candidates = int(candidates)
        self.random_candidates = int(random_candidates)
        self.mutate_top = int(mutate_top)
        self.acquisition = acquisition
        self.params = params
        self._model: Any = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(space={self.space.name!r}, seed={self.seed}, family={self.family!r}, "
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
            factory = _family(self.family)
            self._model = factory(self.space, members=self.members, seed=self._fit_seed, **self.params).fit(archs, y)
        return self._model

    # -- resume ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain data: the fitted model is left out and refitted on demand after loading."""
        state = dict(self.__dict__)
        state["_model"] = None
        state["params"] = dict(self.params)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._model = None


class BANANAS(PredictorSearcher):
    """BANANAS: an ensemble of neural predictors on the path encoding, ITS over mutations.

    Defaults (White et al. 2021; ``naszilla`` and NASLib): 10 random initial
    architectures, an ensemble of 5 predictors (``predictor="mlp"``: 10
    layers of width 20, MAE, Adam lr 0.01, 150 epochs, batch 32), the path
    encoding where the space has one (the space's first encoding otherwise),
    100 mutation candidates from the 2 best architectures (NASLib's
    ``num_candidates``/``num_arches_to_mutate``), independent Thompson
    sampling. ``random_candidates`` adds fresh samples to each round's pool
    (the reference's ``mutation_random`` variant); it defaults to 0, the
    paper's pure mutation pool, which also searched slightly better on
    nbgraph-cora (mean best validation 0.8125 against 0.8110 with 10 random
    candidates, 10 seeds, 150 queries in rounds of 10).
    ``predictor`` may be any surrogate family (``"xgb"``, ``"gin"``, ...),
    with ``predictor_params`` its hyper-parameters.
    """

    name = "bananas"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        predictor: str = "mlp",
        members: int = 5,
        encoding: str | None = None,
        num_init: int = 10,
        candidates: int = 100,
        random_candidates: int = 0,
        mutate_top: int = 2,
        acquisition: str = "its",
        fit_every: int = 1,
        predictor_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            space, seed=seed, family=predictor, members=members, encoding=encoding, num_init=num_init,
            candidates=candidates, random_candidates=random_candidates, mutate_top=mutate_top,
            acquisition=acquisition, fit_every=fit_every, params=predictor_params,
        )

    @property
    def predictor(self) -> str:
        return self.family


__all__ = [
    "ACQUISITIONS",
    "BANANAS",
    "PredictorSearcher",
    "acquisition_scores",
    "fresh_samples",
    "mutation_candidates",
    "top_indices",
]
