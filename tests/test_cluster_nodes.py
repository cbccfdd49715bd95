"""Losing nodes of a multi-node Ray cluster (``ray.cluster_utils.Cluster``): a worker node during a
comparison, a worker node during a Tune training, the head (and its driver) mid-experiment.

Each scenario runs in its own process (``python -m tests.test_cluster_nodes SCENARIO FOLDER``), so the
clusters it starts and kills never touch the Ray of the test process; it writes what happened as JSON
and the test checks it: every run stored exactly once and equal to a clean run, a training resumed
from its checkpoint on another node. Run inside a loopback-only network namespace (``unshare --net``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasframe.searchers import RandomSearch

ROOT = Path(__file__).resolve().parents[1]
BENCH = "nbgraph-cora"
SEEDS, BUDGET = 6, 20


class SlowSearch(RandomSearch):
    """Random search that takes a little time per ask, so that runs are in flight when a node goes."""

    name = "slow-random"

    def ask(self, n: int = 1):
        time.sleep(0.03)
        return super().ask(n)


def _experiment(store: Path):
    from nasframe.experiment import Experiment

    return Experiment([SlowSearch], [BENCH], seeds=SEEDS, budget=BUDGET, store=store)


def _driver(code: str) -> subprocess.Popen:
    """A driver process joining the scenario's cluster (this process keeps the main thread, which
    ``Cluster.add_node`` needs, for adding and removing nodes)."""
    return subprocess.Popen([sys.executable, "-c", f"from tests.test_cluster_nodes import *\n{code}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(condition, driver: subprocess.Popen, timeout: float = 180) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and driver.poll() is None:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _stored(store: Path) -> int:
    from nasframe.store import ResultStore

    return len(ResultStore(store).completed()) if store.exists() else 0


def run_compare(store: str, address: str, out: str) -> None:
    """The comparison a driver of the scenarios runs; its report as JSON."""
    report = _experiment(Path(store)).run(address=address, progress=False, max_retries=3, chunk_seconds=0.2,
                                          flush_seconds=0)
    Path(out).write_text(json.dumps({"stored": report.stored, "skipped": report.skipped,
                                     "not_run": len(report.not_run), "duplicates": report.duplicates}))


def scenario_worker_loss_during_compare(folder: Path) -> dict:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    doomed = cluster.add_node(num_cpus=2)
    store, out = folder / "store", folder / "report.json"
    driver = _driver(f"run_compare({str(store)!r}, {cluster.address!r}, {str(out)!r})")
    started = _wait_for(lambda: _stored(store) >= 1, driver)
    seen = {"stored_at_loss": _stored(store), "in_time": started}
    cluster.add_node(num_cpus=2)
    cluster.remove_node(doomed, allow_graceful=False)
    driver.wait(timeout=300)
    cluster.shutdown()
    return {**seen, **json.loads(out.read_text())}


def _trainable(config: dict) -> None:
    """The real Tune trainable; its first attempt waits after epoch 1 (checkpointed) until its node is gone."""
    import ray
    from ray import tune

    from nasframe.tune import train_architecture

    marker, report = Path(config["marker"]), tune.report

    def report_and_log(metrics, checkpoint=None):
        report(metrics, checkpoint=checkpoint)
        with open(f"{marker}.epochs", "a") as log:
            log.write(f"{metrics['epoch']} {ray.get_runtime_context().get_node_id()}\n")
        if not marker.exists():
            marker.write_text("waiting for the node to go")
            time.sleep(300)

    tune.report = report_and_log
    try:
        train_architecture(config)
    finally:
        tune.report = report


def run_training(folder: str, address: str) -> None:
    """One Tune training of 3 epochs on the scenario's cluster; its outcome as JSON."""
    import numpy as np
    import ray
    from ray import tune

    from nasframe.core import load_space

    ray.init(address=address, log_to_driver=False)
    marker = Path(folder) / "waiting"
    arch = load_space("nb101").sample(np.random.default_rng(1), 1)[0]
    tuner = tune.Tuner(
        tune.with_resources(_trainable, {"cpu": 1}),
        param_space={"space": "nb101", "task": "digits", "recipe": {"epochs": 3}, "arch": arch.to_json(),
                     "marker": str(marker)},
        tune_config=tune.TuneConfig(num_samples=1, metric="val_accuracy", mode="max"),
        run_config=tune.RunConfig(storage_path=str(Path(folder) / "tune"), name="node-loss", verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=2),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    )
    result = tuner.fit()[0]
    (Path(folder) / "trial.json").write_text(json.dumps({
        "error": None if result.error is None else str(result.error), "final_epoch": result.metrics.get("epoch"),
        "checkpoints": sorted(p.name for p in Path(result.path).glob("checkpoint_*"))}))


def scenario_worker_loss_during_training(folder: Path) -> dict:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    doomed = cluster.add_node(num_cpus=1)
    marker = folder / "waiting"
    driver = _driver(f"run_training({str(folder)!r}, {cluster.address!r})")
    in_time = _wait_for(marker.exists, driver)
    cluster.add_node(num_cpus=1)
    cluster.remove_node(doomed, allow_graceful=False)
    driver.wait(timeout=300)
    cluster.shutdown()
    epochs = [line.split() for line in Path(f"{marker}.epochs").read_text().splitlines()]
    return {**json.loads((folder / "trial.json").read_text()), "in_time": in_time,
            "epochs": [int(e) for e, _ in epochs], "nodes": [n for _, n in epochs], "doomed": doomed.node_id}


def scenario_head_loss_then_new_cluster(folder: Path) -> dict:
    from ray.cluster_utils import Cluster

    store, out = folder / "store", folder / "report.json"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    driver = _driver(f"run_compare({str(store)!r}, {cluster.address!r}, {str(out)!r})")
    in_time = _wait_for(lambda: _stored(store) >= 1, driver)
    cluster.remove_node(cluster.head_node, allow_graceful=False)  # the head dies ...
    driver.kill()  # ... and with it the job's driver (kept from hanging on a lost head)
    driver.wait()
    cluster.shutdown()
    before = _stored(store)
    fresh = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    fresh.add_node(num_cpus=1)
    rerun = _driver(f"run_compare({str(store)!r}, {fresh.address!r}, {str(out)!r})")
    rerun.wait(timeout=300)
    fresh.shutdown()
    return {"before": before, "in_time": in_time, **json.loads(out.read_text())}


def _scenario(name: str, folder: Path) -> dict:
    run = subprocess.run([sys.executable, "-m", "tests.test_cluster_nodes", name, str(folder)], cwd=ROOT,
                         capture_output=True, text=True, timeout=500,
                         env={k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")})
    result = folder / "result.json"
    assert run.returncode == 0 and result.is_file(), run.stdout[-2000:] + run.stderr[-4000:]
    return json.loads(result.read_text())


def _assert_same_as_a_clean_run(store: Path, scratch: Path) -> None:
    from nasframe.store import ResultStore

    clean = _experiment(scratch)
    clean.run(parallel=False, progress=False)
    got, want = ResultStore(store), ResultStore(scratch)
    assert got.completed() == want.completed() == set(clean.keys)
    history = ["step", "hash", "arch", "val_accuracy", "test_accuracy"]
    for key in clean.keys:
        assert got.load([key])[history].equals(want.load([key])[history]), key


@pytest.mark.slow
def test_losing_a_worker_node_mid_compare_completes_every_run_once(tmp_path):
    seen = _scenario("worker_loss_during_compare", tmp_path)
    assert seen["in_time"] and seen["stored_at_loss"] < SEEDS, "the node must go while runs are left"
    assert seen["not_run"] == 0 and seen["stored"] + seen["duplicates"] >= SEEDS
    _assert_same_as_a_clean_run(tmp_path / "store", tmp_path / "clean")


@pytest.mark.slow
def test_losing_a_worker_node_mid_training_resumes_from_its_checkpoint_on_another_node(tmp_path):
    seen = _scenario("worker_loss_during_training", tmp_path)
    assert seen["in_time"], "the trial must checkpoint epoch 1 before the deadline"
    assert seen["error"] is None and seen["final_epoch"] == 3
    assert seen["epochs"] == [1, 2, 3]  # epoch 1 is not trained again: the trial resumed from its checkpoint
    assert seen["nodes"][0] == seen["doomed"] and seen["doomed"] not in seen["nodes"][1:]
    assert 1 <= len(seen["checkpoints"]) <= 2  # num_to_keep prunes older epochs' checkpoints


@pytest.mark.slow
def test_losing_the_head_and_rerunning_on_a_new_cluster_is_exactly_once_and_identical(tmp_path):
    seen = _scenario("head_loss_then_new_cluster", tmp_path)
    assert seen["in_time"] and 1 <= seen["before"] < SEEDS, "the head must go mid-experiment"
    assert seen["skipped"] == seen["before"] and seen["stored"] == SEEDS - seen["before"]
    assert seen["duplicates"] == 0
    _assert_same_as_a_clean_run(tmp_path / "store", tmp_path / "clean")


if __name__ == "__main__":
    name, target = sys.argv[1], Path(sys.argv[2])
    outcome = globals()[f"scenario_{name}"](target)
    (target / "result.json").write_text(json.dumps(outcome))
