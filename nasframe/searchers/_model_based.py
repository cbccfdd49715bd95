"""The loop every searcher shares that fits a model to what it has seen.

1. **Initial design**: the first ``num_init`` proposals are distinct random
   architectures (a model needs data before it can guide anything; at least
   two finite results are needed to fit at all).
2. **Refit schedule**: once ``fit_every`` new results arrived since the last
   fit, the next round fits a new model on every finite result so far.
3. **Propose**: the subclass chooses the rest of the batch with its model.

:class:`ModelBasedSearcher` implements 1 and 2 and leaves 3 to
:meth:`~ModelBasedSearcher._propose`. The predictor ensembles of BANANAS and
surrogate BO (:mod:`nasframe.searchers._predictor`) and latent-bo's Gaussian
process (:mod:`nasframe.searchers._latent_bo`) are subclasses.

Every draw (initial design, each fit's seed, whatever the subclass draws)
comes from the searcher's ``rng``, so a seed fixes the trajectory. Fitted
models are not part of the state: the schedule records the length of the
history prefix and the seed of the last fit instead, and a loaded searcher
refits that same model from the same data and seed when it next needs it
(fits are deterministic for a seed). A resumed run thereby continues the
identical trajectory, and the state stays plain picklable data.
"""

from __future__ import annotations

import math
from abc import abstractmethod

from nasframe.core import Architecture, SearchSpace, Searcher
from nasframe.searchers._checks import require_integers


class ModelBasedSearcher(Searcher):
    """``num_init`` random architectures, then proposals from a model fitted on the results.

    Plug-in points:

    * :meth:`_propose` (required): up to ``n`` new architectures chosen with
      the model;
    * :meth:`_initial_design`: the random architectures proposed before (and
      until) a model can be fitted;
    * :meth:`_refit_due`: when a new fit is due. A subclass calls it before
      scoring, drops its model when it says so, and fits the next one on
      :meth:`_fit_rows` with the seed in ``_fit_seed``.
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
        can_fit = len(self._training_rows()) >= 2
        # nothing to fit yet: the whole batch is random
        n_random = min(n, max(0, self.num_init - len(self.seen))) if can_fit else n
        initial = self._initial_design(n_random)
        picked = list(initial.values())
        if len(picked) < n and can_fit:
            picked += self._propose(n - len(picked), self.seen | set(initial))
        return self._mark(picked)

    def _initial_design(self, n: int) -> dict[str, Architecture]:
        """Up to ``n`` distinct unproposed samples of the space, by canonical hash."""
        return self.space.sample_distinct(self.rng, n, self.seen)

    @abstractmethod
    def _propose(self, n: int, exclude: set[str]) -> list[Architecture]:
        """Up to ``n`` new architectures (none of ``exclude``, hashes) chosen with the model."""

    def _training_rows(self) -> list[int]:
        """History rows with a finite result (failed evaluations teach a model nothing)."""
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


__all__ = ["ModelBasedSearcher"]
