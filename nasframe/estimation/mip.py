"""Minimum Importance Pruning (Zheng et al., CVPR 2020): find a cheap recipe that ranks like full training.

Each round samples BPE configurations from the current space, evaluates the
ones predicted to fit the cost budget (cheapest first), fits random forests
from configuration to rank correlation, and fixes the least important free
hyper-parameter. Fixing a field the forests say does not matter costs no
correlation and shrinks the space, so later rounds sample the fields that
do matter more densely.

Which value a pruned field is fixed to: the cheapest one, as in the paper,
when its values differ in (modelled, see below) cost by more than 10%; for a
cost-neutral field (learning rate, cutout: the cost is the same whatever the
value) the value whose configurations ranked best on average, since
"cheapest" means nothing there.

Costs are ratios against the full recipe's measured mean cost per
architecture. Candidates are screened by a :class:`CostModel`: before any
measurement it is :meth:`BPESpace.cost_proxy`; after each round it is
refitted to every measured ratio (log-linear, ridge-regularised toward the
proxy), which learns what the proxy gets wrong on the machine at hand.

Everything MIP measures goes through ``evaluate``; with
:class:`~nasframe.estimation.evaluator.BPEEvaluator` every evaluation is one
file written atomically, so a killed search re-run with the same arguments
replays its decisions from the stored evaluations and trains only what is
missing. The result renders its own report (:meth:`MIPResult.describe_best`,
:meth:`MIPResult.report`), so the command line and a script print the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from nasframe.estimation.bpe import BPESpace, config_key
from nasframe.estimation.importance import hyperparameter_importance

#: (configurations, replicate=0) -> one row each: spearman, kendall, cost_ratio (plus anything to keep);
#: replicate r > 0 must train with another seed
Evaluate = Callable[..., pd.DataFrame]


@dataclass
class MIPRound:
    """What one round measured and decided."""

    index: int
    evaluated: list[dict[str, Any]]
    importance: pd.DataFrame
    fixed: str | None
    value: Any

    def describe(self) -> str:
        """The round as text: the importance of each free field and the field it fixed."""
        lines = [f"\nround {self.index + 1}: importance for Spearman (random forest)",
                 self.importance.to_markdown(floatfmt=".3f") if len(self.importance) else "  (too few)"]
        if self.fixed is not None:
            lines.append(f"  fix {self.fixed} = {self.value}")
        return "\n".join(lines)


@dataclass
class MIPResult:
    """All evaluations, the rounds, and the best configuration within the cost budget."""

    evaluations: pd.DataFrame
    rounds: list[MIPRound] = field(default_factory=list)
    budget: float = 0.1
    #: the space MIP started from: its fields are the configurations' columns
    space: BPESpace | None = None

    @property
    def within_budget(self) -> pd.DataFrame:
        return self.evaluations[self.evaluations["cost_ratio"] <= self.budget]

    @property
    def best(self) -> pd.Series:
        """The configuration within the budget with the highest Spearman correlation: the mean over
        replicates where configurations were confirmed (see ``confirm``), else the single score."""
        candidates = self.within_budget
        if candidates.empty:
            raise ValueError(f"no evaluated configuration costs <= {self.budget:.3g} of the full recipe")
        if "spearman_mean" in candidates and candidates["spearman_mean"].notna().any():
            return candidates.loc[candidates["spearman_mean"].idxmax()]
        return candidates.loc[candidates["spearman"].idxmax()]

    def best_config(self) -> dict[str, Any]:
        """The fields of :attr:`best` as plain Python values (what a recipe and JSON take)."""
        best = self.best
        return {name: _plain(best[name]) for name in self.space.names}

    def evaluations_table(self) -> str:
        """Every evaluated configuration as a markdown table: its fields, scores and round."""
        shown = self.space.names + ["spearman", "kendall", "cost_ratio"]
        confirmed = [c for c in ("spearman_mean", "spearman_std") if c in self.evaluations]
        return self.evaluations[shown + confirmed + ["round"]].to_markdown(index=False, floatfmt=".3f")

    def describe_best(self, wall_seconds: float) -> str:
        """The chosen BPE and its scores as text (raises ``ValueError`` like :attr:`best`)."""
        best, config = self.best, self.best_config()
        mean = best.get("spearman_mean")
        confirmed = (f", mean over {int(best['replicates'])} seeds {mean:.3f} +- {best['spearman_std']:.3f}"
                     if mean is not None and mean == mean else "")
        return (f"\nbest BPE within {self.budget:g} of the full cost: {config}\n"
                f"  Spearman {best['spearman']:.3f} (first seed){confirmed}, Kendall {best['kendall']:.3f}, "
                f"cost ratio {best['cost_ratio']:.3f}; wall time {wall_seconds:.0f} s")

    def report(self, reference: pd.DataFrame, wall_seconds: float, **study: Any) -> dict[str, Any]:
        """The study as JSON data: ``study`` (who ran what: task, data, space, seed), the budget, the full
        recipe and the chosen BPE with its scores, the ``reference`` trainings' summary, every round
        and every evaluation (raises ``ValueError`` like :attr:`best`)."""
        best, config = self.best, self.best_config()
        mean = best.get("spearman_mean")
        confirmed = mean is not None and mean == mean
        return {
            **study, "budget": self.budget, "full": self.space.full.to_dict(),
            "bpe": self.space.recipe(config).to_dict(), "bpe_config": config,
            "spearman": float(best["spearman"]), "kendall": float(best["kendall"]),
            "spearman_mean": float(mean) if confirmed else None,
            "spearman_std": float(best["spearman_std"]) if confirmed else None,
            "cost_ratio": float(best["cost_ratio"]), "wall_seconds": wall_seconds,
            "reference_median_test_accuracy": float(reference["test_accuracy"].median()),
            "reference_seconds_per_arch": float(reference["seconds"].mean()),
            "rounds": [{"fixed": r.fixed, "value": _plain(r.value),
                        "importance": {k: float(v) for k, v in r.importance.get("impurity", {}).items()}}
                       for r in self.rounds],
            "evaluations": json.loads(self.evaluations.to_json(orient="records")),
        }


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for JSON and recipes."""
    return value.item() if hasattr(value, "item") else value


class CostModel:
    """Predicts a configuration's cost ratio: ``log ratio = c + sum_k w_k * f_k``, fitted to measurements.

    ``f_k`` is ``log(value / full value)`` for a field whose choices are all
    positive numbers, else an indicator of "differs from the full recipe"
    (cutout 0 or not). The weights are ridge-regularised toward the space's
    ``cost_exponent`` s, so with no or few measurements the model is the
    proxy, and measurements move it where the proxy is wrong (on a CPU,
    narrow networks cost more than ``channels**1.5`` says; bfloat16
    autocast and small batches cost more, not the same).
    """

    def __init__(self, space: BPESpace, strength: float = 1.0) -> None:
        self.space = space
        self.strength = strength
        self.reference = {name: space.full_value(name) for name in space.parameters}
        self.prior = np.array([p.cost_exponent for p in space.parameters.values()], dtype=float)
        self.weights = self.prior.copy()
        self.intercept = 0.0

    def features(self, configs: Sequence[dict[str, Any]]) -> np.ndarray:
        columns = []
        for name, p in self.space.parameters.items():
            reference = self.reference[name]
            if all(_as_float(c) > 0 for c in p.choices) and _as_float(reference) > 0:
                columns.append([np.log(_as_float(c[name]) / _as_float(reference)) for c in configs])
            else:
                columns.append([float(str(c[name]) != str(reference)) for c in configs])
        return np.array(columns, dtype=float).T.reshape(len(configs), len(self.space.parameters))

    def fit(self, configs: Sequence[dict[str, Any]], ratios: Sequence[float]) -> "CostModel":
        x, y = self.features(configs), np.log(np.asarray(ratios, dtype=float))
        # ridge toward the prior with an unpenalised intercept: centre, solve, un-centre
        x_mean, y_mean = x.mean(axis=0), y.mean()
        xc, yc = x - x_mean, y - y_mean
        lhs = xc.T @ xc + self.strength * np.eye(x.shape[1])
        self.weights = np.linalg.solve(lhs, xc.T @ yc + self.strength * self.prior)
        self.intercept = float(y_mean - x_mean @ self.weights)
        return self

    def predict(self, configs: Sequence[dict[str, Any]]) -> np.ndarray:
        return np.exp(self.intercept + self.features(configs) @ self.weights)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _fixed_value(space: BPESpace, name: str, evaluations: pd.DataFrame, cost: CostModel) -> Any:
    """The value to pin ``name`` to: the cheapest, or the best-ranking one when the field is cost-neutral.

    "Cheapest" is judged by the cost model on every evaluated configuration
    with ``name`` set to each value in turn: raw means over the evaluated
    configurations would be confounded by the other fields (if the bfloat16
    runs happened to be the short ones, bfloat16 would look cheap).
    """
    choices = space.parameters[name].choices
    configs = _configs(evaluations, space)
    costs = {c: float(np.mean(cost.predict([{**config, name: c} for config in configs]))) for c in choices}
    if max(costs.values()) > 1.1 * min(costs.values()):
        return min(costs, key=costs.get)
    column = evaluations[name].map(str)
    measured = {c: evaluations.loc[column == str(c), "spearman"].mean() for c in choices
                if (column == str(c)).any()}
    return max(measured, key=measured.get) if measured else choices[0]


def minimum_importance_pruning(
    space: BPESpace,
    evaluate: Evaluate,
    *,
    budget: float = 0.1,
    rounds: int = 3,
    per_round: int = 5,
    seed: int = 0,
    pool: int = 4000,
    slack: float = 1.5,
    importance_seeds: int = 5,
    exploit: int = 0,
    confirm: int = 0,
    replicates: int = 3,
    on_round: Callable[[MIPRound], None] | None = None,
) -> MIPResult:
    """Run MIP: ``rounds`` rounds of ``per_round`` evaluations each, pruning one field per round.

    Candidates are drawn from a ``pool`` of random configurations of the
    current space whose predicted cost ratio is at most ``slack * budget``
    (a little above the budget, so the forests see where correlation is
    bought), and are evaluated cheapest first.

    ``exploit``: after the rounds, that many configurations of the final
    space that the forests (fitted on every evaluation) predict to rank
    best among those the cost model puts within the budget are evaluated
    too: the rounds explore, this step spends what they learned.

    ``confirm``: then the ``confirm`` best configurations within
    the budget are trained again ``replicates - 1`` times with other training
    seeds (``evaluate(configs, replicate=r)``) and the answer is the one with
    the best *mean* correlation. A single training per architecture is noisy
    and the best of many noisy scores is biased upwards (the winner's
    curse); the replicates measure what the chosen BPE is really worth.
    """
    rng = np.random.default_rng(seed)
    rows: list[pd.DataFrame] = []
    result = MIPResult(evaluations=pd.DataFrame(), budget=budget, space=space)
    cost = CostModel(space)
    for index in range(rounds):
        seen = set() if not rows else {config_key(c) for c in _configs(result.evaluations, space)}
        configs = _draw(space, rng, pool, seen, cost, slack * budget, per_round)
        if configs is None:
            break
        rows.append(_measure(evaluate, configs, space, index))
        result.evaluations = pd.concat(rows, ignore_index=True)
        cost.fit(_configs(result.evaluations, space), result.evaluations["cost_ratio"].to_numpy())
        importance, least = _least_important(space, result.evaluations, importance_seeds)
        value = None
        if least is not None and len(space.free) > 1 and index < rounds - 1:
            value = _fixed_value(space, least, result.evaluations, cost)
            space = space.fix(least, value)
        else:
            least = None
        round_ = MIPRound(index, configs, importance, least, value)
        result.rounds.append(round_)
        if on_round is not None:
            on_round(round_)
    if exploit and len(result.evaluations) >= 4:
        _exploit(result, space, evaluate, exploit, budget, rng, pool, cost)
    if confirm and not result.evaluations.empty:
        _confirm(result, space, evaluate, confirm, replicates)
    return result


def _draw(space: BPESpace, rng: np.random.Generator, pool: int, seen: set[str], cost: CostModel, limit: float,
          per_round: int) -> list[dict[str, Any]] | None:
    """Up to ``per_round`` new configurations the cost model puts at most at ``limit``, cheapest first.

    They are picked at random among such configurations of a ``pool`` of
    draws (``None`` when there are none): spread over what is affordable,
    not bunched at the cheapest.
    """
    drawn = []
    for config in space.sample(rng, pool):
        key = config_key(config)
        if key not in seen:
            seen.add(key)
            drawn.append((key, config))
    predicted = cost.predict([c for _, c in drawn]) if drawn else []
    candidates = [(p, key, c) for p, (key, c) in zip(predicted, drawn) if p <= limit]
    if not candidates:
        return None
    picks = [candidates[i] for i in rng.choice(len(candidates), min(per_round, len(candidates)), replace=False)]
    return [c for _, _, c in sorted(picks, key=lambda t: t[0])]


def _least_important(space: BPESpace, evaluations: pd.DataFrame,
                     importance_seeds: int) -> tuple[pd.DataFrame, str | None]:
    """The forests' importance of the free fields for Spearman, and the least important one to prune."""
    free = space.free
    table = space.frame(_configs(evaluations, space))[free]
    varied = [n for n in free if table[n].nunique() > 1]
    importance = (hyperparameter_importance(table[varied], evaluations["spearman"],
                                            seeds=importance_seeds, n_estimators=200, repeats=5)
                  if len(varied) >= 1 and len(table) >= 4 else pd.DataFrame())
    # a free field never varied has no measurable importance: it goes first
    never = [n for n in free if n not in varied]
    return importance, never[0] if never else (importance.index[-1] if len(importance) else None)


def _exploit(result: MIPResult, space: BPESpace, evaluate: Evaluate, exploit: int, budget: float,
             rng: np.random.Generator, pool: int, cost: CostModel | None = None) -> None:
    """Evaluate the configurations the forest predicts best among those the cost model allows."""
    from sklearn.ensemble import RandomForestRegressor

    seen = {config_key(c) for c in _configs(result.evaluations, space)}
    drawn = {config_key(c): c for c in space.sample(rng, pool)}
    candidates = [c for k, c in drawn.items() if k not in seen]
    if cost is not None and candidates:
        candidates = [c for c, p in zip(candidates, cost.predict(candidates)) if p <= budget]
    if not candidates:
        return
    forest = RandomForestRegressor(n_estimators=300, random_state=0, n_jobs=1).fit(
        space.frame(_configs(result.evaluations, space)).to_numpy(float), result.evaluations["spearman"])
    predicted = forest.predict(space.frame(candidates).to_numpy(float))
    picks = [candidates[i] for i in np.argsort(-predicted)[:exploit]]
    measured = _measure(evaluate, picks, space, int(result.evaluations["round"].max()) + 1)
    result.evaluations = pd.concat([result.evaluations, measured], ignore_index=True)


def _measure(evaluate: Evaluate, configs: list[dict[str, Any]], space: BPESpace, round_index: int) -> pd.DataFrame:
    """One row per configuration: its fields as sampled (the evaluator's copies may have lost their
    types in a frame), what ``evaluate`` measured, the round and the cost proxy."""
    measured = evaluate(configs).reset_index(drop=True)
    measured = pd.concat([pd.DataFrame(configs), measured.drop(columns=space.names, errors="ignore")], axis=1)
    measured["round"] = round_index
    measured["proxy"] = [space.cost_proxy(c) for c in configs]
    return measured


def _confirm(result: MIPResult, space: BPESpace, evaluate: Evaluate, confirm: int, replicates: int) -> None:
    """Re-train the best configurations within the budget with other seeds; add mean/std columns."""
    top = result.within_budget.sort_values("spearman", ascending=False).head(confirm)
    if top.empty:
        return
    configs = _configs(top, space)
    scores = [top["spearman"].to_numpy()]
    for replicate in range(1, replicates):
        scores.append(evaluate(configs, replicate=replicate)["spearman"].to_numpy())
    scores = np.array(scores)
    evaluations = result.evaluations
    evaluations["spearman_mean"] = np.nan
    evaluations["spearman_std"] = np.nan
    evaluations.loc[top.index, "spearman_mean"] = scores.mean(axis=0)
    evaluations.loc[top.index, "spearman_std"] = scores.std(axis=0, ddof=1) if replicates > 1 else 0.0
    evaluations["replicates"] = 1
    evaluations.loc[top.index, "replicates"] = replicates


def _configs(evaluations: pd.DataFrame, space: BPESpace) -> list[dict[str, Any]]:
    return [{n: _restore(row[n], space.parameters[n].choices) for n in space.names}
            for _, row in evaluations.iterrows()]


def _restore(value: Any, choices: Sequence[Any]) -> Any:
    """A value read back from a frame (where ints may have become floats) as the choice it was."""
    for choice in choices:
        if str(choice) == str(value) or (not isinstance(choice, str) and choice is not None
                                         and not isinstance(value, str) and value is not None
                                         and float(choice) == float(value)):
            return choice
    return value
