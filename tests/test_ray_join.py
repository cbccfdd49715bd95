"""Joining an existing Ray cluster: the address file of ``ray start``, ``RAY_ADDRESS``, token authentication.

A real ``ray start --head --block`` on one CPU, in a private temporary folder
and a private home (its own token), is started once for the module and
stopped by its PID (``--block`` takes its processes down with it). Commands
run as subprocesses, as a user runs them. Run the file inside a loopback-only
network namespace:

    unshare --net sh -c 'ip link set lo up; exec .venv/bin/python -m pytest -q tests/test_ray_join.py'
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
from pathlib import Path
from types import SimpleNamespace

import pytest

from nasframe.ray_session import address_file, cluster_address

RAY = Path(sys.executable).parent / "ray"
COMPARE = ["compare", "--benchmark", "nbgraph-cora", "--searchers", "random", "--budget", "6"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _private_env(root: Path, **extra: str) -> dict[str, str]:
    """This environment with Ray's temporary folder and the home (where Ray looks for a token) under ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    (root / "home").mkdir(parents=True, exist_ok=True)
    return {**env, "RAY_TMPDIR": str(root), "HOME": str(root / "home"), **extra}


def _nasframe(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nasframe.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=240)


@pytest.fixture(scope="module")
def cluster():
    """``ray start --head`` with token authentication; its address file is where commands look by default."""
    root = Path(tempfile.mkdtemp(prefix="rj", dir="/tmp"))  # short: Ray's socket paths must stay short
    token = secrets.token_hex(16)
    env = _private_env(root, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    port = _free_port()
    log = open(root / "ray-start.log", "w")
    head = subprocess.Popen([str(RAY), "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
                             "--include-dashboard=false", "--disable-usage-stats"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        recorded = root / "ray" / "ray_current_cluster"
        deadline = time.monotonic() + 90
        while not recorded.is_file() and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert recorded.is_file(), (root / "ray-start.log").read_text()[-2000:]
        yield SimpleNamespace(root=root, env=env, token=token, address=f"127.0.0.1:{port}")
    finally:
        head.terminate()  # only what this fixture started: --block stops its Ray processes on SIGTERM
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _sessions(root: Path) -> set[str]:
    """Ray session folders under ``root``: a private instance started here would add one."""
    return {p.name for p in (root / "ray").glob("session_2*")}


def test_commands_join_the_cluster_that_ray_start_recorded(cluster, tmp_path):
    before = _sessions(cluster.root)
    joined = _nasframe([*COMPARE, "--seeds", "2", "--out", "cm"], cluster.env, tmp_path)
    assert joined.returncode == 0, joined.stderr[-3000:]
    assert "2 runs done now" in joined.stdout
    assert _sessions(cluster.root) == before  # the runs went to the cluster; no private Ray was started
    # an explicit address joins too (Ray takes the token from the environment, RAY_AUTH_MODE=token)
    named = _nasframe([*COMPARE, "--seeds", "3", "--out", "cm", "--address", cluster.address], cluster.env, tmp_path)
    assert named.returncode == 0, named.stderr[-3000:]
    assert "1 runs done now, 2 already stored" in named.stdout and _sessions(cluster.root) == before


def test_joining_without_the_token_is_one_line_saying_what_to_set_and_writes_nothing(cluster, tmp_path):
    env = _private_env(tmp_path / "t", RAY_TMPDIR=str(cluster.root), RAY_gcs_server_port_wait_time_s="2")
    refused = _nasframe([*COMPARE, "--seeds", "1", "--out", "cm"], env, tmp_path)
    assert refused.returncode == 2, refused.stderr[-3000:]
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: could not join the Ray cluster at {cluster.address} (from the address file ")
    assert "RAY_AUTH_MODE=token" in last and "RAY_AUTH_TOKEN" in last
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "cm").exists()  # nothing written before the connection


def test_a_stale_address_file_is_refused_at_once_and_local_starts_a_private_ray(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="rj", dir="/tmp"))
    try:
        (root / "ray").mkdir()
        (root / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_free_port()}")  # nothing listens there
        env = _private_env(root)
        began = time.monotonic()
        refused = _nasframe([*COMPARE, "--seeds", "1", "--out", "cm"], env, tmp_path)
        assert refused.returncode == 2 and time.monotonic() - began < 60
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "nothing answers there" in lines[0] and "--address local" in lines[0]
        assert not (tmp_path / "cm").exists()
        private = _nasframe([*COMPARE, "--seeds", "1", "--out", "cm", "--address", "local"], env, tmp_path)
        assert private.returncode == 0, private.stderr[-3000:]
        assert "1 runs done now" in private.stdout
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_address_is_the_argument_then_ray_address_then_the_address_file(tmp_path, monkeypatch):
    for name in ("RAY_ADDRESS", "TMPDIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    assert address_file() == tmp_path / "ray" / "ray_current_cluster"
    assert cluster_address() == (None, "no cluster named")
    address_file().parent.mkdir()
    address_file().write_text("10.0.0.1:6379\n")
    assert cluster_address()[0] == "10.0.0.1:6379" and "written by `ray start`" in cluster_address()[1]
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.2:6379")
    assert cluster_address() == ("10.0.0.2:6379", "RAY_ADDRESS")
    assert cluster_address("10.0.0.3:6379") == ("10.0.0.3:6379", "--address")
    assert cluster_address("local") == (None, "--address")
    monkeypatch.setenv("RAY_ADDRESS", "local")
    assert cluster_address() == (None, "RAY_ADDRESS")
