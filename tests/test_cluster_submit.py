"""``nasframe submit`` against a real two-node Ray cluster with token authentication.

A ``ray start --head --block`` (with the dashboard, whose Jobs API takes the
job) and a second node (``ray start --block --address``), both on one CPU, in
a private temporary folder and home, started once for the module and stopped
by their PIDs. Commands run as subprocesses, as a user runs them. Run inside a
loopback-only network namespace (``unshare --net``), as the rest of the suite.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from benchmarks.catalog import MODELS
from nasframe.store import ResultStore

RAY = Path(sys.executable).parent / "ray"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(check, what: str, logs: list[Path], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen: " + "\n".join(p.read_text()[-2500:] for p in logs if p.exists()))


def _stop(process: subprocess.Popen) -> None:
    process.terminate()  # --block stops that node's Ray processes on SIGTERM
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def cluster():
    root = Path(tempfile.mkdtemp(prefix="cs", dir="/tmp"))  # short: Ray's socket paths must stay short
    (root / "home").mkdir()
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_TMPDIR=str(root), HOME=str(root / "home"), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token,
               PATH=f"{Path(sys.executable).parent}:{env['PATH']}")  # the job's `python` is this one
    port, dashboard = _free_port(), _free_port()

    # every agent port free too: Ray's defaults are fixed numbers, which the suite's own Ray (the session
    # fixture, already running when this module starts) holds, and a head whose job agent cannot bind never
    # accepts a job ("No available agent to submit job")
    def agent_ports() -> list[str]:
        return [f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
                f"--metrics-export-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}"]

    logs = [root / "head.log", root / "worker.log"]
    started = []
    try:
        started.append(subprocess.Popen(
            [str(RAY), "start", "--head", "--block", f"--port={port}", "--num-cpus=1", "--dashboard-host=127.0.0.1",
             f"--dashboard-port={dashboard}", "--disable-usage-stats", *agent_ports()], env=env,
            stdout=open(logs[0], "w"),
            stderr=subprocess.STDOUT))
        jobs_api = f"http://127.0.0.1:{dashboard}"

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"{jobs_api}/api/version", timeout=2)
            except urllib.error.HTTPError:
                return True  # it answers (refusing a request without the token)
            except OSError:
                return False
            return True

        _wait(answers, "the head's Jobs API answering", logs)
        started.append(subprocess.Popen(
            [str(RAY), "start", "--block", f"--address=127.0.0.1:{port}", "--num-cpus=1", "--disable-usage-stats",
             *agent_ports()],
            env=env, stdout=open(logs[1], "w"), stderr=subprocess.STDOUT))
        _wait(lambda: "Ray runtime started" in logs[1].read_text(), "the second node joining", logs)
        yield SimpleNamespace(root=root, env=env, jobs_api=jobs_api, logs=logs)
    finally:
        for process in reversed(started):
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _nasframe(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nasframe.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=400)


def test_submitted_compare_on_a_saved_folder_lands_on_the_given_storage(cluster, tmp_path):
    bench = tmp_path / "my-bench"
    shutil.copytree(MODELS / "enas", bench)
    storage, out = tmp_path / "shared", tmp_path / "report"
    done = _nasframe(["submit", "--address", cluster.jobs_api, "--env", "NASFRAME_TEST_MARK=1", "--", "compare",
                      "--benchmark", str(bench), "--searchers", "random,local", "--seeds", "2", "--budget", "5",
                      "--storage", str(storage), "--out", str(out)], cluster.env, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "4 runs done now, 0 already stored, 0 of 4 failed" in done.stdout  # the job's log, followed
    assert "succeeded" in done.stderr
    assert len(ResultStore(storage / "store").completed()) == 4 and not (out / "store").exists()
    table = pd.read_csv(out / "regret.csv")
    assert set(table["searcher"]) == {"random", "local"} and (table["runs"] == 2).all()
    again = _nasframe(["submit", "--address", cluster.jobs_api, "--", "compare", "--benchmark", str(bench),
                       "--searchers", "random,local", "--seeds", "2", "--budget", "5", "--storage", str(storage),
                       "--out", str(out)], {**cluster.env, "RAY_ADDRESS": "127.0.0.1:9"}, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]  # the --address given wins over RAY_ADDRESS
    assert "0 runs done now, 4 already stored" in again.stdout  # resumed from the storage


def test_a_failing_job_exits_1_and_bad_submissions_are_refused_before_contacting_the_cluster(cluster, tmp_path):
    failed = _nasframe(["submit", "--address", cluster.jobs_api, "--", "compare", "--benchmark", "nbgraph-cora",
                        "--searchers", "random", "--seeds", "1", "--budget", "3", "--out", str(tmp_path / "c"),
                        "--option", "random:no_such_option=1"], cluster.env, tmp_path)
    assert failed.returncode == 1 and "failed" in failed.stderr.splitlines()[-1]
    relative = _nasframe(["submit", "--address", cluster.jobs_api, "--", "compare", "--out", "cmp"], cluster.env,
                         tmp_path)
    assert relative.returncode == 2 and "is relative" in relative.stderr
    no_token = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
    refused = _nasframe(["submit", "--address", cluster.jobs_api, "--", "compare", "--out", str(tmp_path / "x")],
                        no_token, tmp_path)
    assert refused.returncode != 0 and not (tmp_path / "x").exists()
    assert "RAY_AUTH_MODE=token" in refused.stderr or "auth" in refused.stderr.lower()
