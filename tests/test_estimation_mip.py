"""BPE spaces and Minimum Importance Pruning: the loop's logic on a known response, then real trainings on Ray."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nasframe.core import load_space
from nasframe.estimation import (
    BPEEvaluator,
    BPEParameter,
    BPESpace,
    config_key,
    image_bpe_space,
    minimum_importance_pruning,
    rank_correlations,
)
from nasframe.tasks import Recipe, RecipeError, load_task

FULL = Recipe(epochs=8, channels=32, data_fraction=1.0)


def test_bpe_space_is_typed_against_recipes():
    with pytest.raises(RecipeError, match="not a recipe field"):
        BPESpace(FULL, [BPEParameter("epoch", (1, 2))])
    with pytest.raises(RecipeError, match="'epochs'=0"):
        BPESpace(FULL, [BPEParameter("epochs", (0, 2))])
    with pytest.raises(RecipeError, match="repeats a choice"):
        BPEParameter("epochs", (1, 1))
    space = image_bpe_space(FULL, 28)
    assert space.parameters["epochs"].choices == (1, 2, 4, 8)
    assert space.parameters["image_size"].choices == (14, 21, 28)
    assert len(space.names) == 9 and space.size() == 4 * 5 * 4 * 2 * 3 * 3 * 3 * 2 * 2
    configs = space.sample(np.random.default_rng(0), 50)
    assert all(isinstance(space.recipe(c), Recipe) for c in configs)
    fixed = space.fix("lr", FULL.lr)
    assert "lr" not in fixed.free and all(c["lr"] == FULL.lr for c in fixed.sample(np.random.default_rng(1), 20))
    with pytest.raises(RecipeError, match="cannot fix"):
        space.fix("lr", 123.0)
    full_config = {n: space.parameters[n].choices[-1] for n in space.names} | {"layers": FULL.layers}
    assert space.cost_proxy(full_config) == pytest.approx(1.0)
    half = dict(full_config, epochs=4, image_size=14)
    assert space.cost_proxy(half) == pytest.approx(0.5 * 0.25)
    assert config_key(half) == config_key(dict(reversed(list(half.items())))) != config_key(full_config)


def synthetic_evaluate(space: BPESpace, calls: list):
    """Correlation depends on epochs and channels only; cost is the proxy (exactly known)."""

    def evaluate(configs, replicate=0):
        calls.append(configs)
        rows = []
        for c in configs:
            quality = 0.5 * np.log2(c["epochs"]) / 3 + 0.5 * np.log2(c["channels"] / 4) / 3
            rows.append({**c, "spearman": quality, "kendall": quality * 0.8, "cost_ratio": space.cost_proxy(c)})
        return pd.DataFrame(rows)

    return evaluate


def test_mip_prunes_what_does_not_matter_and_respects_the_budget():
    space = image_bpe_space(FULL, 28)
    calls: list = []
    result = minimum_importance_pruning(space, synthetic_evaluate(space, calls), budget=0.1, rounds=4,
                                        per_round=12, seed=0, importance_seeds=2)
    assert len(result.rounds) == 4 and len(result.evaluations) == sum(len(c) for c in calls)
    fixed = [r.fixed for r in result.rounds if r.fixed]
    assert len(fixed) == 3 and not {"epochs", "channels"} & set(fixed)  # the two that matter are never pruned
    # cheap first: within a round, configurations go out in increasing predicted cost
    for configs in calls:
        proxies = [space.cost_proxy(c) for c in configs]
        assert proxies == sorted(proxies)
    # a fixed field keeps its value in every later round
    for r in result.rounds:
        if r.fixed:
            later = result.evaluations[result.evaluations["round"] > r.index]
            assert (later[r.fixed].map(str) == str(r.value)).all()
    best = result.best
    assert best["cost_ratio"] <= 0.1
    assert best["spearman"] == result.within_budget["spearman"].max()
    assert result.evaluations["cost_ratio"].max() <= 0.15 + 1e-9  # nothing far above the budget was trained


def test_mip_is_reproducible():
    space = image_bpe_space(FULL, 28)
    a = minimum_importance_pruning(space, synthetic_evaluate(space, []), rounds=2, per_round=6, importance_seeds=1)
    b = minimum_importance_pruning(space, synthetic_evaluate(space, []), rounds=2, per_round=6, importance_seeds=1)
    pd.testing.assert_frame_equal(a.evaluations, b.evaluations)


def test_the_result_renders_its_report():
    space = image_bpe_space(FULL, 28)
    result = minimum_importance_pruning(space, synthetic_evaluate(space, []), budget=0.1, rounds=2, per_round=6,
                                        importance_seeds=1, confirm=2, replicates=2)
    config = result.best_config()
    assert set(config) == set(space.names) and all(not isinstance(v, np.generic) for v in config.values())
    header = result.evaluations_table().splitlines()[0]
    assert all(column in header for column in [*space.names, "spearman", "spearman_mean", "round"])
    assert result.describe_best(12.0).startswith("\nbest BPE within 0.1 of the full cost: ")
    assert "importance for Spearman" in result.rounds[0].describe()
    reference = pd.DataFrame({"test_accuracy": [0.5, 0.7, 0.9], "seconds": [1.0, 2.0, 3.0]})
    report = result.report(reference, 12.0, task="digits", data=None, space="nb101", seed=0)
    assert list(report)[:6] == ["task", "data", "space", "seed", "budget", "full"]
    assert report["bpe"] == space.recipe(config).to_dict() and report["bpe_config"] == config
    assert report["reference_median_test_accuracy"] == 0.7 and report["reference_seconds_per_arch"] == 2.0
    assert report["spearman_mean"] is not None and len(report["rounds"]) == 2
    json.dumps(report)  # JSON as it stands


def test_rank_correlations():
    assert rank_correlations([1, 2, 3, 4], [10, 20, 30, 40]) == (pytest.approx(1.0), pytest.approx(1.0))
    assert rank_correlations([4, 3, 2, 1], [10, 20, 30, 40])[0] == pytest.approx(-1.0)


@pytest.mark.slow
def test_bpe_evaluator_trains_on_ray_and_resumes(ray_session, tmp_path):
    task = load_task("digits")
    space = load_space("nb101")
    archs = space.sample(np.random.default_rng(0), 6)
    full = Recipe(epochs=3, channels=8)
    folder = tmp_path / "study"
    evaluator = BPEEvaluator(task, space, archs, full, folder)
    reference = evaluator.reference()
    assert len(reference) == 6 and reference["test_accuracy"].between(0, 1).all()
    assert reference["test_accuracy"].max() > 0.2  # real learning, chance is 0.1
    bpe = image_bpe_space(full, 8)
    config = {"epochs": 1, "data_fraction": 0.5, "channels": 4, "layers": 1, "image_size": 8, "batch_size": 128,
              "lr": 0.05, "precision": "32", "cutout": 0}
    scored = evaluator([config])
    assert scored.loc[0, "cost_ratio"] < 1.0 and -1 <= scored.loc[0, "spearman"] <= 1
    files = sorted((folder / config_key(config)).glob("*.json"))
    assert len(files) == 6 and json.loads(files[0].read_text())["recipe"]["epochs"] == 1
    # a new evaluator on the same folder trains nothing again: same numbers, files untouched
    stamps = [f.stat().st_mtime_ns for f in files]
    again = BPEEvaluator(task, space, archs, full, folder)([config])
    assert again.loc[0, "spearman"] == scored.loc[0, "spearman"]
    assert [f.stat().st_mtime_ns for f in files] == stamps
    with pytest.raises(ValueError, match="another BPE study"):
        BPEEvaluator(task, space, archs, full.replace(epochs=4), folder)
    # one MIP round end to end on real trainings
    result = minimum_importance_pruning(bpe, evaluator, budget=0.5, rounds=1, per_round=4, importance_seeds=1)
    assert len(result.evaluations) == 4 and result.evaluations["cost_ratio"].notna().all()


def test_cost_model_starts_at_the_proxy_and_learns_from_measurements():
    from nasframe.estimation.mip import CostModel

    space = image_bpe_space(FULL, 28)
    configs = space.sample(np.random.default_rng(0), 60)
    model = CostModel(space)
    assert np.allclose(model.predict(configs), [space.cost_proxy(c) for c in configs])
    # a machine where channels cost nothing and bfloat16 doubles the cost, plus a fixed factor
    truth = np.array([1.5 * (c["epochs"] / 8) * c["data_fraction"] * (c["layers"] / FULL.layers)
                      * (c["image_size"] / 28) ** 2 * (2.0 if c["precision"] == "16" else 1.0) for c in configs])
    model.fit(configs[:40], truth[:40])
    error = np.abs(np.log(model.predict(configs[40:]) / truth[40:]))
    proxy_error = np.abs(np.log(np.array([space.cost_proxy(c) for c in configs[40:]]) / truth[40:]))
    assert error.mean() < 0.1 < proxy_error.mean()


def test_confirmation_replicates_the_best_and_picks_by_mean():
    """A noisy evaluation whose first-seed scores flatter one configuration: the replicates expose it."""
    space = image_bpe_space(FULL, 28)
    seen_replicates = []

    def evaluate(configs, replicate=0):
        seen_replicates.append(replicate)
        rows = []
        for c in configs:
            luck = 0.5 if (replicate == 0 and c["lr"] == FULL.lr * 2) else 0.0
            quality = np.log2(c["channels"] / 4) / 6 + luck
            rows.append({**c, "spearman": quality, "kendall": quality, "cost_ratio": space.cost_proxy(c)})
        return pd.DataFrame(rows)

    result = minimum_importance_pruning(space, evaluate, budget=0.1, rounds=2, per_round=10, seed=1,
                                        importance_seeds=1, exploit=3, confirm=4, replicates=3)
    exploited = result.evaluations[result.evaluations["round"] == 2]
    assert len(exploited) == 3 and (exploited["cost_ratio"] <= 0.1 + 1e-9).all()
    # the forest learned that channels drive the score: what it proposes is at least as wide as the median
    assert exploited["channels"].min() >= result.evaluations["channels"].median()
    assert sorted(set(seen_replicates)) == [0, 1, 2]
    confirmed = result.evaluations[result.evaluations["replicates"] == 3]
    assert len(confirmed) == 4 and confirmed["spearman_mean"].notna().all()
    lucky = confirmed[confirmed["lr"] == FULL.lr * 2]
    assert len(lucky) and (lucky["spearman_mean"] < lucky["spearman"]).all()
    best = result.best
    assert best["spearman_mean"] == confirmed["spearman_mean"].max() and best["cost_ratio"] <= 0.1
