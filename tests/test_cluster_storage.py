"""Storage every node sees (``--storage``), saved benchmark folders carried by content, and what
``nasframe submit`` sends (its entrypoint and runtime_env), without a cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import nasframe.experiment as experiment_module
from benchmarks.catalog import MODELS, factory
from nasframe.benchmark_refs import ShippedBenchmark, pack, saved_folder, share_benchmarks
from nasframe.cli.submit import job_command, runtime_env
from nasframe.core.errors import InvalidSetting
from nasframe.experiment import Experiment
from nasframe.storage import child, resolve, tune_storage
from nasframe.worker import load_benchmark


def test_storage_paths_become_absolute_and_uris_are_kept_joined_with_slashes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve("runs") == str(tmp_path / "runs")
    assert resolve(f"file://{tmp_path}/runs") == str(tmp_path / "runs")
    assert resolve("s3://bucket/prefix/") == "s3://bucket/prefix"  # no connection is made
    assert child("s3://bucket/prefix", "store") == "s3://bucket/prefix/store"
    assert tune_storage(str(tmp_path)) == str(tmp_path / "tune")
    for bad in ("bogus://x", "  "):
        with pytest.raises(InvalidSetting, match="--storage"):
            resolve(bad)


def _saved(folder: Path) -> Path:
    shutil.copytree(MODELS / "enas", folder)
    return folder


def test_packing_is_by_content_and_a_shipped_benchmark_loads_without_its_folder(tmp_path):
    folder = _saved(tmp_path / "bench")
    data, digest = pack(folder)
    assert pack(folder)[1] == digest
    shutil.copytree(folder, tmp_path / "copy")
    assert pack(tmp_path / "copy")[1] == digest  # the same content, wherever it lies
    (tmp_path / "copy" / "extra.txt").write_text("x")
    assert pack(tmp_path / "copy")[1] != digest
    original = factory(str(folder))()
    shutil.rmtree(folder)  # what a worker on another node sees of the driver's folder: nothing
    shipped = ShippedBenchmark(str(folder), digest, data)
    loaded = shipped()
    archs = original.space.sample(__import__("numpy").random.default_rng(0), 5)
    assert [r.val_accuracy for r in loaded.evaluate(archs, seed=3)] == \
        [r.val_accuracy for r in original.evaluate(archs, seed=3)]
    assert digest in repr(shipped)  # the worker's cache key is the content


def test_share_replaces_only_saved_folders_and_puts_each_once(tmp_path):
    folder = _saved(tmp_path / "bench")
    experiment = Experiment(["random", "local"], ["nbgraph-cora", str(folder)], seeds=2, budget=3,
                            store=tmp_path / "store")
    put = []
    specs = share_benchmarks(experiment.specs, put=lambda data: put.append(data) or len(put))
    assert len(put) == 1
    for before, after in zip(experiment.specs, specs):
        if before.benchmark == "nbgraph-cora":
            assert after is before and saved_folder(before.benchmark_factory) is None
        else:
            assert isinstance(after.benchmark_factory, ShippedBenchmark) and after.benchmark_factory.content == 1
            assert after.key == before.key


def test_a_saved_folder_the_workers_cannot_see_still_runs_on_ray(ray_session, tmp_path, monkeypatch):
    """The driver's folder is moved away as soon as the runs are handed to Ray: the workers load the content."""
    folder = _saved(tmp_path / "bench")
    hidden = tmp_path / "hidden"
    real_share = experiment_module.share_benchmarks

    def share_then_hide(specs):
        shared = real_share(specs)
        folder.rename(hidden)
        return shared

    monkeypatch.setattr(experiment_module, "share_benchmarks", share_then_hide)
    experiment = Experiment(["random"], [str(folder)], seeds=2, budget=4, store=tmp_path / "store")
    report = experiment.run(progress=False)
    hidden.rename(folder)
    assert report.stored == 2 and not report.not_run
    assert load_benchmark(str(folder), factory(str(folder)))[0] is not None


def test_submit_builds_the_job_and_refuses_outputs_that_would_be_lost(tmp_path):
    assert job_command(["compare", "--out", "/nfs/x y"]) == "python -m nasframe.cli compare --out '/nfs/x y'"
    assert job_command(["bpe", "apply", "--out=/nfs/s", "--storage", "s3://b/p"]).endswith("--storage s3://b/p")
    for args, message in ((["compare", "--out", "cmp"], "is relative"), (["search", "--storage=rel"], "is relative"),
                          (["embed"], "must be one of"), ([], "must be one of"), (["bpe", "importance"], "bpe")):
        with pytest.raises(InvalidSetting, match=message):
            job_command(args)
    env = runtime_env(str(tmp_path), ["A=1", "B=x=y"], ["nas-bench-graph"])
    assert env == {"working_dir": str(tmp_path), "excludes": [".git"], "env_vars": {"A": "1", "B": "x=y"},
                   "pip": ["nas-bench-graph"]}
    assert runtime_env(None, [], []) == {}
    with pytest.raises(InvalidSetting, match="--env"):
        runtime_env(None, ["NOVALUE"], [])
    with pytest.raises(InvalidSetting, match="--working-dir"):
        runtime_env(str(tmp_path / "missing"), [], [])


def test_ray_client_addresses_are_refused_with_where_to_go_instead(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "nasframe.cli", "compare", "--address", "ray://127.0.0.1:10001",
                          "--benchmark", "nbgraph-cora", "--seeds", "1", "--budget", "3", "--out", str(tmp_path / "c")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Ray Client addresses are not supported" in run.stderr
    assert "nasframe submit" in run.stderr and "Traceback" not in run.stderr


def test_a_storage_no_filesystem_serves_is_refused_before_anything_is_written(tmp_path):
    from click.testing import CliRunner

    from nasframe.cli import main

    result = CliRunner().invoke(main, ["compare", "--serial", "--benchmark", "nbgraph-cora", "--seeds", "1",
                                       "--budget", "3", "--storage", "bogus://bucket/x", "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and "--storage 'bogus://bucket/x'" in result.stderr
    assert not (tmp_path / "c").exists()
