"""Plug-ins need no project edit: a toy space and a toy searcher from a package under tests/.

Each is one module with one registration call (``tests/toy_plugin``). In this
process they are imported directly; the command line finds them through
``NASFRAME_PLUGINS`` in a subprocess, as a user's own package would be found.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest

import nasframe as nf
from nasframe.core.registry import PLUGINS_VARIABLE
from nasframe.testing import check_searcher, check_space, check_surrogate

ROOT = Path(__file__).resolve().parents[1]
TOY_MODULES = ("tests.toy_plugin.space", "tests.toy_plugin.benchmark", "tests.toy_plugin.searcher")


@pytest.fixture
def toy(monkeypatch):
    """The toy plug-ins registered for one test; the registries are as before afterwards."""
    for registry in (nf.SPACES, nf.SEARCHERS, nf.BENCHMARKS):
        registry.names()  # built-ins loaded first, so that the copy below holds them
        monkeypatch.setattr(registry, "_factories", dict(registry._factories))
    modules = [import_module(name) for name in TOY_MODULES]
    yield modules
    for name in TOY_MODULES:
        sys.modules.pop(name, None)  # imported afresh (and registered again) by the next test


def _nasframe(*args: str, tmp_path: Path, plugins: str) -> subprocess.CompletedProcess:
    """The ``nasframe`` command line in a subprocess that knows the plug-ins only by the variable."""
    env = {**os.environ, PLUGINS_VARIABLE: plugins, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from nasframe.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def test_toy_space_registers_with_one_call_and_conforms(toy):
    space = nf.load_space("toy")
    assert type(space).__name__ == "ToySpace" and "toy" in nf.SPACES.names()
    check_space(space)


def test_surrogates_fit_the_toy_space(toy):
    space = nf.load_space("toy")
    check_surrogate("xgb", space, members=2, n_estimators=10)
    check_surrogate("gin", space, members=1, epochs=3)  # reads the space's graph view, no space-specific code
    bench = nf.load_benchmark("toy")
    archs = space.sample(np.random.default_rng(0), 60)
    model = nf.make_surrogate("rf", space, members=2).fit(archs, bench.query(archs).val_accuracy)
    mean, _ = model.predict(archs)
    assert np.corrcoef(mean, bench.query(archs).val_accuracy)[0, 1] > 0.5


def test_toy_searcher_registers_with_one_call_and_conforms(toy):
    check_searcher("toy", nf.load_space("toy"))
    check_searcher("toy", nf.load_space("nb101"))
    bench = nf.load_benchmark("toy")
    history = nf.run_search(nf.make_searcher("toy", bench.space, seed=0), bench, budget=30, seed=0)
    assert history.best()["val_accuracy"] == pytest.approx(bench.optimum()[1])


def test_command_line_searches_the_toy_space_with_a_builtin_and_the_toy_searcher(tmp_path):
    plugins = ",".join(TOY_MODULES)
    listed = _nasframe("spaces", tmp_path=tmp_path, plugins=plugins)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["toy", "ToySpace"] for line in listed.stdout.splitlines()), listed.stdout
    for searcher in ("evolution", "toy"):
        out = tmp_path / searcher
        run = _nasframe("search", "--benchmark", "toy", "--searcher", searcher, "--budget", "40", "--out", str(out),
                        tmp_path=tmp_path, plugins=plugins)
        assert run.returncode == 0, run.stderr
        assert re.search(r"^\s+evaluated\s+40 \(failed 0\)$", run.stdout, re.MULTILINE), run.stdout
        assert any(out.iterdir())


def test_without_the_variable_the_toy_is_unknown(tmp_path):
    run = _nasframe("search", "--benchmark", "toy", "--budget", "5", tmp_path=tmp_path, plugins="")
    assert run.returncode == 2 and "unknown benchmark 'toy'" in run.stderr
