"""cluster/slurm/nasframe.sbatch, run for real on this machine with a fake ``srun`` and ``scontrol``.

The fakes stand in for SLURM only: ``scontrol show hostnames`` names two nodes,
``srun -w NODE CMD`` runs CMD here (and ``hostname --ip-address`` answers
127.0.0.1). So the script's own Ray head and Ray worker (two real ``ray
start`` processes, two Ray nodes) come up, a nasframe command runs on that
cluster, and the script takes them down. Run inside a loopback-only network
namespace (``unshare --net``), as the rest of the suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "cluster" / "slurm" / "nasframe.sbatch"

FAKE_SCONTROL = """#!/usr/bin/env bash
[ "$1 $2" = "show hostnames" ] && printf 'node1\\nnode2\\n'
"""
FAKE_SRUN = """#!/usr/bin/env bash
echo "srun $*" >> "$FAKE_SLURM_LOG"
while [ "$#" -gt 0 ]; do
    case "$1" in
        -w) shift 2 ;;
        --*) shift ;;
        *) break ;;
    esac
done
if [ "$1" = hostname ]; then echo 127.0.0.1; exit 0; fi
exec "$@"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_sbatch_script_starts_a_two_node_ray_cluster_runs_a_compare_and_stops_it(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("scontrol", FAKE_SCONTROL), ("srun", FAKE_SRUN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    root = Path(tempfile.mkdtemp(prefix="sl", dir="/tmp"))  # Ray's socket paths must stay short
    (root / "home").mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(PATH=f"{bin_dir}:{Path(sys.executable).parent}:{env['PATH']}", HOME=str(root / "home"),
               SLURM_JOB_ID="4242", SLURM_JOB_NODELIST="node[1-2]", SLURM_CPUS_ON_NODE="1",
               NASFRAME_PYTHON=sys.executable, RAY_PORT=str(port), RAY_TEMP_DIR=str(root / "r"),
               RAY_TMPDIR=str(root), FAKE_SLURM_LOG=str(tmp_path / "srun.log"), NASFRAME_NODE_WAIT="120")
    out = tmp_path / "cmp"
    try:
        run = subprocess.run(["bash", str(SCRIPT), "compare", "--benchmark", "nbgraph-cora", "--searchers", "random",
                              "--seeds", "2", "--budget", "6", "--out", str(out)], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=400)
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 nodes joined the Ray cluster" in run.stdout and "2 runs done now" in run.stdout
    calls = (tmp_path / "srun.log").read_text()
    assert "-w node1" in calls and "-w node2" in calls and "--head" in calls
    runs = pd.read_csv(out / "regret.csv")
    assert len(runs) == 1 and runs["runs"].iloc[0] == 2
    with pytest.raises(OSError):  # the head is gone with the job
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
