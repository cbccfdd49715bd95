"""Optuna's samplers (TPE, CMA-ES, random, NSGA-II) as a searcher, through the categorical view.

Every space spells its architectures as a fixed list of categorical decisions
(:meth:`~nasframe.core.SearchSpace.decisions`); this searcher hands that list
to an in-memory Optuna study with ask-and-tell (``study.ask(fixed_distributions)``)
and turns the sampled parameters back into architectures with
:meth:`~nasframe.core.SearchSpace.from_choices`. One Optuna trial is one
spelling, and the study holds **one completed trial per architecture**, so
the sampler fits its model (TPE's Parzen estimators) to distinct
architectures only:

* an **invalid** spelling (``from_choices`` raises ``InvalidArchitecture``) is
  told as ``FAIL``, with the violated rule in the trial's user attribute
  ``invalid``;
* a spelling of an architecture already **proposed** (evaluated or being
  evaluated) is told as ``FAIL`` with the user attribute ``duplicate`` (its
  canonical hash). Samplers fit on completed trials only, so neither kind
  weighs on the model or on its cost (telling duplicates their known value
  instead made TPE refit over ~10 trials per query on NB101, docs/PERFORMANCE.md).

Either way the proposal is **repaired** rather than the sampler asked again
(each ask of a fitted TPE costs milliseconds): random changes of one, then
more, decisions of the rejected spelling until it spells an unproposed
valid architecture, which is enqueued (``study.enqueue_trial``) as the trial
of that architecture, at most ``max_tries`` changes per wanted architecture.
Past that the rest of the batch is drawn from the space's own sampler among
unseen architectures and enqueued the same way, so every proposed
architecture is a trial of the study whatever happens. An architecture
whose evaluation fails is never told (the runner's rule), so its trial stays
open; TPE's default ``constant_liar`` then counts it as poor.
"""

from __future__ import annotations

import pickle
from typing import Any, Sequence

import numpy as np

from nasframe.core import Architecture, EvalResult, InvalidArchitecture, SearchSpace, Searcher
from nasframe.pareto import objective_specs, objective_value, pareto_mask

#: the objectives named without a direction (the fields of every result), with their direction
OBJECTIVES = {"val_accuracy": "max", "params": "min"}
SAMPLERS = ("tpe", "cmaes", "random", "nsga2")
#: space-sampler draws per wanted architecture in the fallback
_FALLBACK_DRAWS = 50
#: repair changes tried at each number of changed decisions before changing one more
_REPAIRS_PER_RADIUS = 10
#: the trial user attribute marking a spelling of an already proposed architecture
DUPLICATE = "duplicate"


def _quiet_create_study(**kwargs: Any) -> Any:
    """``optuna.create_study`` without its INFO line per study (verbosity restored after)."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(**kwargs)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _make_sampler(sampler: Any, seed: int, options: dict[str, Any]) -> Any:
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        if options:
            raise ValueError("sampler_options only apply to a sampler given by name")
        return sampler
    if sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **options)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed, **options)
    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, **options)
    if sampler == "cmaes":
        try:
            import cmaes  # noqa: F401 - Optuna imports it lazily, fail here with a clear message
        except ImportError:
            raise ImportError("sampler='cmaes' needs the 'cmaes' package (pip install cmaes)") from None
        options = {"warn_independent_sampling": False, **options}
        return optuna.samplers.CmaEsSampler(seed=seed, **options)
    raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)} or pass an Optuna sampler")


def _rejection_attrs(rule: str) -> dict[str, str]:
    """The user attributes of a FAIL trial from its logged reason (see ``OptunaSearcher._reject``)."""
    if rule.startswith(DUPLICATE + " "):
        return {DUPLICATE: rule[len(DUPLICATE) + 1 :]}
    return {"invalid": rule}



class OptunaSearcher(Searcher):
    """An Optuna sampler searching any space through its categorical view.

    ``sampler`` is ``"tpe"`` (default), ``"cmaes"``, ``"random"``, ``"nsga2"``
    (built with ``seed`` and ``sampler_options``) or any
    ``optuna.samplers.BaseSampler`` (then seeding it is the caller's job).
    TPE, random and NSGA-II see each decision as a ``CategoricalDistribution``
    (options unordered). CMA-ES cannot sample categorical parameters (Optuna
    would hand them to its random independent sampler), so for it each
    decision is an ``IntDistribution(0, options - 1)``, which imposes an order
    on the options: the natural one for bits, layer counts and input ids, an
    arbitrary one for op lists. CMA-ES is single-objective only.

    ``objectives`` is ``("val_accuracy",)`` (the default: what every searcher
    maximises) or several: ``"val_accuracy"``, ``"params"`` (minimised) or a
    task's objectives as ``"name:max|min"`` (``"accuracy:max"``,
    ``"flops:min"``, read from ``EvalResult.objectives``), the
    multi-objective setting NSGA-II is for; :meth:`pareto_front` gives the
    non-dominated evaluated architectures.

    ``max_tries`` bounds the random repairs of a rejected spelling (invalid,
    or an architecture already proposed) per wanted architecture, before the
    space's own sampler fills in (see the module docstring).

    Resume: :meth:`state_dict` holds the pickled study (Optuna's in-memory
    storage and the sampler, with its random state, pickle), so a resumed
    searcher continues the exact trajectory. It also holds the trial log; if
    the pickle cannot be read back (another Optuna version), the log is
    replayed into a fresh study with ``study.add_trial``, which keeps
    everything learnt but not the sampler's random state.
    """

    name = "optuna"
    multi_objective = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        sampler: Any = "tpe",
        objectives: Sequence[str] = ("val_accuracy",),
        sampler_options: dict[str, Any] | None = None,
        max_tries: int = 100,
    ) -> None:
        import optuna

        super().__init__(space, seed=seed)
        objectives = tuple(objectives)
        specs = objective_specs([f"{o}:{OBJECTIVES[o]}" if o in OBJECTIVES else o for o in objectives])
        if max_tries < 1:
            raise ValueError(f"max_tries must be >= 1, got {max_tries}")
        self.objectives = objectives
        self._specs = specs
        self.directions = [f"{o.direction}imize" for o in specs]
        self.max_tries = max_tries
        self._sampler_spec = sampler if isinstance(sampler, str) else type(sampler).__name__
        self._sampler_options = dict(sampler_options or {})
        built = _make_sampler(sampler, seed, self._sampler_options)
        self._integer = isinstance(built, optuna.samplers.CmaEsSampler)
        if self._integer and len(objectives) > 1:
            raise ValueError("CMA-ES is single-objective; use 'nsga2' or 'tpe' for several objectives")
        self._decisions = space.decisions()
        self._distributions = self._make_distributions()
        self.study = _quiet_create_study(directions=self.directions, sampler=built)
        #: objective values of every told architecture (by canonical hash), the first told
        self._known: dict[str, list[float]] = {}
        #: trial numbers waiting for the result of an architecture being evaluated
        self._waiting: dict[str, list[int]] = {}
        #: every finished trial, in finishing order: (params, values, "") or (params, None, violated rule)
        self._log: list[tuple[dict[str, int], list[float] | None, str]] = []
        #: params of the trials still open (their architecture is being evaluated), by trial number
        self._open: dict[int, dict[str, int]] = {}

    def __repr__(self) -> str:
        return (
            f"OptunaSearcher(space={self.space.name!r}, seed={self.seed}, "
            f"sampler={self._sampler_spec!r}, objectives={self.objectives!r})"
        )

    def _make_distributions(self) -> dict[str, Any]:
        from optuna.distributions import CategoricalDistribution, IntDistribution

        if self._integer:
            return {name: IntDistribution(0, k - 1) for name, k in self._decisions}
        return {name: CategoricalDistribution(tuple(range(k))) for name, k in self._decisions}

    # -- ask ----------------------------------------------------------------

    def _tell_trial(self, number: int, params: dict[str, int], values: list[float] | None, rule: str = "") -> None:
        """Finish trial ``number``: with ``values``, or as FAIL (``rule`` says why, see :meth:`_reject`)."""
        from optuna.trial import TrialState

        if values is None:
            self.study.tell(number, state=TrialState.FAIL)
            self._log.append((params, None, rule))
        else:
            self.study.tell(number, values if len(values) > 1 else values[0])
            self._log.append((params, list(values), ""))

    def _reject(self, trial: Any, params: dict[str, int], rule: str, key: str = "") -> None:
        """FAIL a trial: an invalid spelling (``rule``) or a duplicate of architecture ``key``."""
        if key:
            trial.set_user_attr(DUPLICATE, key)
            self._tell_trial(trial.number, params, None, f"{DUPLICATE} {key}")
        else:
            trial.set_user_attr("invalid", rule)
            self._tell_trial(trial.number, params, None, rule)

    def _proposed(self, key: str, fresh: dict[str, Architecture]) -> bool:
        return key in self.seen or key in fresh or key in self._known or key in self._waiting

    def _spell(self, choices: list[int]) -> tuple[Architecture | None, str, str]:
        """``(architecture, canonical hash, "")`` of a spelling, or ``(None, "", violated rule)``."""
        try:
            arch = self.space.from_choices(choices)
        except InvalidArchitecture as exc:
            return None, "", exc.rule
        return arch, self.space.canonical_hash(arch), ""

    def ask(self, n: int = 1) -> list[Architecture]:
        fresh: dict[str, Architecture] = {}
        names = [name for name, _ in self._decisions]
        for _ in range(n):
            trial = self.study.ask(self._distributions)
            params = {name: int(trial.params[name]) for name in names}
            arch, key, rule = self._spell(list(params.values()))
            if arch is not None and not self._proposed(key, fresh):
                self._open[trial.number] = params
                self._waiting[key] = [trial.number]
                fresh[key] = arch
                continue
            self._reject(trial, params, rule, key)
            repaired = self._repair(list(params.values()), fresh)
            if repaired is not None:
                key, arch = repaired
                self._enqueue(key, arch)
                fresh[key] = arch
        if len(fresh) < n:
            fresh.update(self._fallback(n - len(fresh), fresh))
        return self._mark(list(fresh.values()))

    def _repair(self, choices: list[int], fresh: dict[str, Architecture]) -> tuple[str, Architecture] | None:
        """An unproposed valid architecture a few random decision changes away from ``choices``."""
        sizes = [k for _, k in self._decisions]
        movable = [i for i, k in enumerate(sizes) if k > 1]
        for attempt in range(self.max_tries if movable else 0):
            radius = min(1 + attempt // _REPAIRS_PER_RADIUS, len(movable))
            changed = list(choices)
            for i in self.rng.choice(movable, size=radius, replace=False).tolist():
                changed[i] = (changed[i] + 1 + int(self.rng.integers(sizes[i] - 1))) % sizes[i]
            arch, key, _ = self._spell(changed)
            if arch is not None and not self._proposed(key, fresh):
                return key, arch
        return None

    def _enqueue(self, key: str, arch: Architecture) -> None:
        """Make ``arch`` (proposed now) a trial of the study, with its own spelling as the parameters."""
        params = dict(zip((name for name, _ in self._decisions), self.space.to_choices(arch)))
        self.study.enqueue_trial(params, skip_if_exists=False)
        trial = self.study.ask(self._distributions)  # all parameters fixed: the sampler is not consulted
        self._open[trial.number] = params
        self._waiting[key] = [trial.number]

    def _fallback(self, n: int, taken: dict[str, Architecture]) -> dict[str, Architecture]:
        """Up to ``n`` unseen architectures from the space's sampler, enqueued as trials."""
        exclude = self.seen | set(taken) | set(self._known) | set(self._waiting)
        found = self.space.sample_distinct(self.rng, n, exclude, max_draws=_FALLBACK_DRAWS)
        for key, arch in found.items():
            self._enqueue(key, arch)
        return found

    # -- tell ---------------------------------------------------------------

    def _values(self, arch: Architecture, result: EvalResult) -> list[float]:
        try:
            return [objective_value(result, o.name) for o in self._specs]
        except KeyError as missing:
            raise ValueError(f"{missing.args[0]}: the result of {self.space.canonical_hash(arch)}") from None

    def _observe(self, pairs: list[tuple[Architecture, EvalResult]]) -> None:
        from optuna.trial import create_trial

        for arch, result in pairs:
            key = self.space.canonical_hash(arch)
            was_known = key in self._known
            values = self._known.setdefault(key, self._values(arch, result))
            waiting = self._waiting.pop(key, None)
            if waiting:
                for number in waiting:
                    self._tell_trial(number, self._open.pop(number), values)
            elif not was_known and key not in self.seen:
                # told without being asked (a warm start): a finished trial, and never proposed
                params = dict(zip((name for name, _ in self._decisions), self.space.to_choices(arch)))
                self.study.add_trial(
                    create_trial(params=params, distributions=self._distributions, values=values)
                )
                self._log.append((params, values, ""))
                self.seen.add(key)

    # -- results ------------------------------------------------------------

    def pareto_front(self) -> list[tuple[Architecture, EvalResult]]:
        """The evaluated architectures no other evaluated one dominates on :attr:`objectives`.

        One entry per architecture (its first told result), sorted by the last
        objective then accuracy (descending); with the single objective it is
        the best architectures (several when tied).
        """
        first: dict[str, tuple[Architecture, EvalResult, list[float]]] = {}
        for arch, result in self.history:
            key = self.space.canonical_hash(arch)
            if key not in first:
                first[key] = (arch, result, self._values(arch, result))
        entries = list(first.values())
        signs = np.array([o.sign for o in self._specs])
        keep = pareto_mask(np.array([values for _, _, values in entries]).reshape(len(entries), -1) * signs)
        front = [entry for entry, kept in zip(entries, keep) if kept]
        sign = 1.0 if self.directions[-1] == "minimize" else -1.0
        front.sort(key=lambda e: (sign * e[2][-1], -e[2][0]))
        return [(arch, result) for arch, result, _ in front]

    # -- resume -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot, independent of this searcher; see the class docstring."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("space", "study")}
        state = pickle.loads(pickle.dumps(state))
        state["study"] = pickle.dumps(self.study)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        blob = state.pop("study")
        self.__dict__.update(pickle.loads(pickle.dumps(state)))
        self._distributions = self._make_distributions()
        try:
            self.study = pickle.loads(blob)
        except Exception as exc:  # noqa: BLE001 - another Optuna version: rebuild from the log
            self.study = self._replay(exc)

    def _replay(self, exc: Exception) -> Any:
        """A fresh study holding the logged trials (open trials are asked again, still open)."""
        from optuna.trial import TrialState, create_trial

        if self._sampler_spec not in SAMPLERS:
            raise RuntimeError(
                f"the pickled Optuna study does not load here and a custom sampler "
                f"({self._sampler_spec}) cannot be rebuilt from the trial log"
            ) from exc
        sampler = _make_sampler(self._sampler_spec, self.seed, self._sampler_options)
        study = _quiet_create_study(directions=self.directions, sampler=sampler)
        for params, values, rule in self._log:
            study.add_trial(create_trial(
                params=params, distributions=self._distributions, values=values,
                state=TrialState.COMPLETE if values is not None else TrialState.FAIL,
                user_attrs=_rejection_attrs(rule) if values is None else None,
            ))
        renumbered: dict[int, int] = {}
        for number, params in sorted(self._open.items()):
            study.enqueue_trial(params, skip_if_exists=False)
            renumbered[number] = study.ask(self._distributions).number
        self._open = {renumbered[k]: v for k, v in self._open.items()}
        self._waiting = {key: [renumbered[n] for n in numbers] for key, numbers in self._waiting.items()}
        return study


__all__ = ["DUPLICATE", "OBJECTIVES", "SAMPLERS", "OptunaSearcher"]
