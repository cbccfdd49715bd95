"""Real trainings on Ray: plain tasks, the Tune training evaluator under a searcher, search-then-retrain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nasframe.core import Fidelity, load_space
from nasframe.runner import run_search
from nasframe.searchers import make
from nasframe.tasks import Recipe, load_task
from nasframe.training import TrainingEvaluator, search_then_retrain, train_many

#: real (tiny) trainings under Ray: end-to-end, tens of seconds
pytestmark = pytest.mark.slow


def test_train_many_keeps_order_and_reports_as_they_finish(ray_session):
    task, space = load_task("digits"), load_space("nb101")
    archs = space.sample(np.random.default_rng(5), 3)
    seen = []
    results = train_many(task, space, archs, [Recipe(epochs=1, channels=4), Recipe(epochs=2, channels=4),
                                              Recipe(epochs=1, channels=4)],
                         on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == [0, 1, 2] and [r.epochs for r in results] == [1, 2, 1]
    with pytest.raises(ValueError, match="3 architectures but 2 recipes and 3 seeds"):
        train_many(task, space, archs, [Recipe(), Recipe()])


def test_training_evaluator_runs_any_searcher(ray_session, tmp_path):
    task, space = load_task("digits"), load_space("nb101")
    evaluator = TrainingEvaluator(task, space, Recipe(epochs=2, channels=8), storage_path=str(tmp_path))
    history = run_search(make("evolution", space, seed=0), evaluator, budget=4, batch_size=2)
    frame = history.to_frame()
    assert len(frame) == 4 and history.error is None and frame["error"].isna().all()
    assert frame["val_accuracy"].between(0, 1).all() and frame["val_accuracy"].max() > 0.2
    assert (frame["cost"] > 0).all() and (frame["params"] > 0).all()
    # a fidelity overrides the recipe's epochs; a repeated architecture is trained once
    arch = space.from_json(json.loads(frame["arch"].iloc[0]))
    results = evaluator.evaluate([arch, arch], Fidelity(epochs=1))
    assert results[0] == results[1] and results[0].fidelity.epochs == 1


def test_search_with_a_bpe_then_retrain_top_k(ray_session, tmp_path):
    task, space = load_task("digits"), load_space("nb101")
    result = search_then_retrain(make("random", space, seed=1), task, Recipe(epochs=2, channels=4),
                                 Recipe(epochs=3, channels=8), num_samples=4, top_k=2, storage_path=str(tmp_path))
    assert len(result.trials) == 4 and result.trials["epochs"].isin([1, 2]).all()
    assert len(result.retrained) == 2 and result.retrained["test_accuracy"].between(0, 1).all()
    top = result.trials[result.trials["epochs"] == 2].sort_values("val_accuracy", ascending=False)
    assert result.retrained["arch"].tolist() == top["arch"].drop_duplicates().head(2).tolist()
    assert result.best["val_accuracy"] == result.retrained["val_accuracy"].max()
