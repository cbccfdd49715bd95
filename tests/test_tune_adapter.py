"""The Ray Tune adapter: suggest/complete/save/restore, and real training trials under ASHA.

    unshare --net sh -c 'ip link set lo up; exec .venv/bin/python -m pytest -q tests/test_tune_adapter.py'
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from nasframe.core import load_space
from nasframe.searchers import RandomSearch
from nasframe.tasks.trainer import CHECKPOINT_FILE
from nasframe.tune import TuneSearcher, train_architecture

#: real (tiny) trainings under Ray Tune: end-to-end, tens of seconds
pytestmark = pytest.mark.slow


def test_suggest_complete_save_restore(tmp_path):
    space = load_space("nb101")
    adapter = TuneSearcher(RandomSearch(space, seed=3))
    assert adapter.set_search_properties("val_accuracy", "max", {"space": "nb101", "epochs": 2})
    assert not adapter.set_search_properties("loss", "min", {})  # not the metric it optimises
    assert not adapter.set_search_properties(None, None, {"lr": tune.uniform(0.1, 1.0)})  # architectures only
    configs = {t: adapter.suggest(t) for t in ("t1", "t2", "t3")}
    assert all(space.from_json(c["arch"]) for c in configs.values())
    assert len({str(c) for c in configs.values()}) == 3
    adapter.on_trial_complete("t1", {"val_accuracy": 0.8, "training_iteration": 2, "time_total_s": 3.0})
    adapter.on_trial_complete("t2", None, error=True)  # errors are not told
    assert [r.val_accuracy for _, r in adapter.algorithm.history] == [0.8]
    assert adapter.algorithm.history[0][0] == space.from_json(configs["t1"]["arch"])
    assert adapter.algorithm.history[0][1].fidelity.epochs == 2

    path = tmp_path / "searcher.pkl"
    adapter.save(str(path))
    restored = TuneSearcher(None)
    restored.restore(str(path))
    assert restored.live.keys() == {"t3"} and len(restored.algorithm.history) == 1
    assert restored.algorithm.seen == adapter.algorithm.seen
    # the same next suggestions (the generator state travelled) and the live trial still completes
    assert restored.suggest("t4") == adapter.suggest("t4")
    restored.on_trial_complete("t3", {"val_accuracy": 0.5})
    assert [r.val_accuracy for _, r in restored.algorithm.history] == [0.8, 0.5]

    capped = TuneSearcher(RandomSearch(space, seed=0), max_trials=1)
    assert isinstance(capped.suggest("a"), dict) and capped.suggest("b") == TuneSearcher.FINISHED


def test_tuner_with_asha_trains_real_networks(ray_session, tmp_path):
    space = load_space("nb101")
    adapter = TuneSearcher(RandomSearch(space, seed=0))
    tuner = tune.Tuner(
        tune.with_resources(train_architecture, {"cpu": 1}),
        param_space={"space": "nb101", "task": "digits", "recipe": {"epochs": 2}},
        tune_config=tune.TuneConfig(search_alg=adapter, scheduler=ASHAScheduler(max_t=2, grace_period=1),
                                    num_samples=4, metric="val_accuracy", mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="asha", verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 4 and not results.errors
    frame = results.get_dataframe()
    assert frame["val_accuracy"].between(0.0, 1.0).all()
    assert frame["epoch"].isin([1, 2]).all() and (frame["epoch"] == 2).any()  # ASHA may stop some at 1
    assert frame["val_accuracy"].max() > 0.15  # real learning: well above the 10% of chance
    best = results.get_best_result()
    assert best.checkpoint is not None and (Path(best.checkpoint.path) / CHECKPOINT_FILE).is_file()
    # every finished trial was told to the searcher, with its architecture
    assert len(adapter.algorithm.history) == 4 and adapter.live == {}
    told = {space.canonical_hash(a) for a, _ in adapter.algorithm.history}
    assert told == {space.canonical_hash(space.from_json(r.config["arch"])) for r in results}
    # Tune saved the search algorithm in the experiment folder; it restores from there
    restored = TuneSearcher(None)
    restored.restore_from_dir(str(tmp_path / "asha"))
    assert len(restored.algorithm.history) == 4
    assert restored.algorithm.seen == adapter.algorithm.seen


def _kill_after_first_epoch(config, task=None, space=None):
    """The real trainable (on ``task`` and ``space`` when given, as ``tune.with_parameters`` passes them), but
    its process is SIGKILLed right after the first checkpoint, once."""
    marker = Path(config["marker"])
    report = tune.report

    def report_then_die(metrics, checkpoint=None):
        report(metrics, checkpoint=checkpoint)
        with open(f"{marker}.epochs", "a") as log:  # every attempt's epochs, written before any kill
            log.write(f"{metrics['epoch']}\n")
        if not marker.exists():
            marker.write_text(str(metrics["epoch"]))
            os.kill(os.getpid(), signal.SIGKILL)

    tune.report = report_then_die
    try:
        train_architecture(config, task=task, space=space)
    finally:
        tune.report = report


def test_killed_trial_resumes_from_its_checkpoint(ray_session, tmp_path):
    space = load_space("nb101")
    arch = space.sample(np.random.default_rng(1), 1)[0]
    marker = tmp_path / "killed"
    tuner = tune.Tuner(
        tune.with_resources(_kill_after_first_epoch, {"cpu": 1}),
        param_space={"space": "nb101", "task": "digits", "recipe": {"epochs": 3}, "arch": arch.to_json(),
                     "marker": str(marker)},
        tune_config=tune.TuneConfig(num_samples=1, metric="val_accuracy", mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="kill", verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=1)),
    )
    result = tuner.fit()[0]
    assert marker.read_text() == "1"  # killed after epoch 1 was checkpointed
    assert result.error is None and result.metrics["epoch"] == 3
    # resumed at epoch 2, not from scratch. Read from the trainable's own log: Tune may lose the result a
    # SIGKILLed actor reported just before dying (a race under load), so its metrics frame can miss epoch 1
    trained = Path(f"{marker}.epochs").read_text().split()
    assert trained == ["1", "2", "3"]
    assert result.metrics_dataframe["epoch"].tolist()[-2:] == [2, 3]
