"""Every built-in searcher proposes exactly what it proposed before the restructuring.

The fixture (``tests/golden/nb101_trajectories.json``) holds 150-query
histories on the shipped nb101 benchmark for seeds 0-2, recorded before the
code moved; a replay in a subprocess with one torch/MKL code path (see
:mod:`tests.golden.trajectories`) must match it hash for hash and accuracy for
accuracy. Any intended change of trajectory re-records the fixture in the
same commit, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.answers import PORTABLE_ENV
from tests.golden.trajectories import FIXTURE, SEEDS, SETTINGS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def replay() -> dict:
    env = {**os.environ, **PORTABLE_ENV}
    done = subprocess.run([sys.executable, "-m", "tests.golden.trajectories"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_trajectory_unchanged(replay, name):
    golden = json.loads(FIXTURE.read_text())
    assert sorted(golden) == sorted(SETTINGS)
    for seed in map(str, SEEDS):
        expected, got = golden[name][seed], replay[name][seed]
        assert len(got["hash"]) == 150
        first_change = next((i for i, (a, b) in enumerate(zip(expected["hash"], got["hash"])) if a != b), None)
        assert first_change is None, f"{name} seed {seed} diverges at query {first_change}"
        assert got["val_accuracy"] == pytest.approx(expected["val_accuracy"], abs=1e-9)
