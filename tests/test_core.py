"""Core vocabulary: registry, import weight, searcher state, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import nasframe as nf
from nasframe.cli import main
from nasframe.core import Registry, Searcher


def test_import_nasframe_loads_no_heavy_library():
    code = (
        "import sys, nasframe; "
        "heavy = [m for m in ('torch', 'ray', 'xgboost', 'torch_geometric', 'lightgbm') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registry_register_lookup_and_unknown_name():
    reg: Registry = Registry("widget", "nasframe.no_such_group")
    reg.register("a", dict)

    @reg.register("b")
    def make_b(**kw):
        return ("b", kw)

    assert reg.names() == ["a", "b"]
    assert reg.create("b", x=1) == ("b", {"x": 1})
    with pytest.raises(KeyError, match="unknown widget 'c'; known: a, b"):
        reg.create("c")


def _python(code: str, **env: str) -> str:
    """stdout of ``code`` in a fresh interpreter (registries start empty there)."""
    import os

    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_builtins_are_registered_in_code_not_through_entry_points():
    code = (
        "import importlib.metadata as m; m.entry_points = lambda **kw: []; import nasframe as nf; "
        "print([len(r.names()) for r in (nf.SPACES, nf.SEARCHERS, nf.SURROGATES, nf.BENCHMARKS, nf.TASKS)])"
    )
    assert all(count > 0 for count in json.loads(_python(code)))
    assert {"nb101", "darts", "nb301", "enas", "nbgraph", "mnas"} <= set(nf.SPACES.names())


def test_registering_and_listing_import_no_plugin_and_the_facade_is_lazy():
    code = (
        "import sys, nasframe as nf; names = nf.SPACES.names() + nf.SURROGATES.names(); "
        "print([m for m in ('search_spaces.nb101.space', 'surrogates.trees', 'nasframe.experiment', "
        "'nasframe.runner', 'benchmarks') if m in sys.modules])"
    )
    assert _python(code) == "[]"
    assert nf.make_searcher is __import__("nasframe.searchers", fromlist=["make"]).make


def test_import_string_factories_resolve_on_first_use():
    from collections import OrderedDict

    reg: Registry = Registry("widget", "nasframe.no_such_group")
    reg.register("od", "collections:OrderedDict")
    assert reg.factory("od") is OrderedDict and reg.create("od", a=1) == OrderedDict(a=1)
    reg.register("bad", "collections")
    with pytest.raises(ValueError, match="'module:attribute'"):
        reg.factory("bad")


def test_third_party_entry_points_are_still_read(monkeypatch):
    from importlib import metadata

    point = metadata.EntryPoint(name="w", value="collections:OrderedDict", group="nasframe.widgets")
    monkeypatch.setattr(metadata, "entry_points", lambda group: [point] if group == "nasframe.widgets" else [])
    reg: Registry = Registry("widget", "nasframe.widgets")
    assert reg.names() == ["w"] and reg.factory("w").__name__ == "OrderedDict"


@pytest.mark.parametrize("first", ["pass", "import search_spaces", "nf.SEARCHERS.names()"])
def test_plugin_modules_from_the_variable_override_builtins_whatever_loads_first(tmp_path, first):
    (tmp_path / "my_plugin.py").write_text(
        "import nasframe as nf\nnf.register_space('nb101', 'search_spaces.enas.space:ENASSpace')\n"
    )
    code = f"import nasframe as nf\n{first}\nprint(type(nf.load_space('nb101')).__name__)"
    assert _python(code, NASFRAME_PLUGINS="my_plugin", PYTHONPATH=str(tmp_path)) == "ENASSpace"


def test_a_plugin_module_that_cannot_be_imported_is_named_on_every_lookup():
    code = (
        "import nasframe as nf\n"
        "for _ in range(2):\n"
        "    try: nf.SPACES.names()\n"
        "    except ImportError as exc: print(exc)\n"
    )
    lines = _python(code, NASFRAME_PLUGINS="no_such_plugin_module").splitlines()
    assert lines == ["NASFRAME_PLUGINS names 'no_such_plugin_module', which cannot be imported: "
                     "No module named 'no_such_plugin_module'"] * 2


class SamplingSearcher(Searcher):
    def ask(self, n=1):
        return self._mark(self.space.sample(self.rng, n))


def test_default_state_dict_resumes_the_same_trajectory():
    space = nf.load_space("nb101")
    first = SamplingSearcher(space, seed=3)
    asked = first.ask(4)
    first.tell(asked, [nf.EvalResult(val_accuracy=v) for v in (0.1, 0.9, 0.3, 0.2)])
    state = first.state_dict()
    import copy

    resumed = SamplingSearcher(space, seed=99)
    resumed.load_state_dict(copy.deepcopy(state))
    assert resumed.ask(5) == first.ask(5)
    assert resumed.best() == (asked[1], nf.EvalResult(val_accuracy=0.9))
    assert len(resumed.seen) == len(first.seen) >= 5
    with pytest.raises(ValueError, match="2 architectures but 1 results"):
        first.tell(asked[:2], [nf.EvalResult(val_accuracy=0.5)])


def test_eval_result_json():
    result = nf.EvalResult(val_accuracy=0.9, fidelity=nf.Fidelity(epochs=12, extra=(("data", 0.5),)))
    assert result.to_json()["fidelity"] == {"epochs": 12, "data": 0.5}


def test_cli_help_spaces_sample_and_hash():
    runner = CliRunner()
    assert "search and benchmarking" in runner.invoke(main, ["--help"]).output
    listing = runner.invoke(main, ["spaces"])
    assert listing.exit_code == 0 and "nb101" in listing.output and "423624" in listing.output
    sampled = runner.invoke(main, ["space", "sample", "nb101", "-n", "3", "--seed", "1"])
    lines = [json.loads(line) for line in sampled.output.splitlines()]
    assert len(lines) == 3 and all(len(r["hash"]) == 32 for r in lines)
    hashed = runner.invoke(main, ["space", "hash", "nb101", "--arch", json.dumps(lines[0]["arch"])])
    assert hashed.output.strip() == lines[0]["hash"]


def test_cli_bad_input_is_named():
    runner = CliRunner()
    bad_json = runner.invoke(main, ["space", "hash", "nb101", "--arch", "{nope"])
    assert bad_json.exit_code == 2 and "not JSON" in bad_json.output
    bad_arch = runner.invoke(
        main, ["space", "hash", "nb101", "--arch", '{"matrix": [[0,0],[0,0]], "ops": ["input","output"]}']
    )
    assert bad_arch.exit_code == 2 and "disconnected" in bad_arch.output
    unknown = runner.invoke(main, ["space", "sample", "nope"])
    assert unknown.exit_code == 2 and "unknown search space 'nope'" in unknown.output
    no_index = runner.invoke(main, ["space", "enumerate", "darts"])
    assert no_index.exit_code == 2 and "no enumeration index" in no_index.output


@pytest.mark.slow
def test_cli_enumerate_reports_every_size(nb101_index):
    result = CliRunner().invoke(main, ["space", "enumerate", "nb101"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("423,624 unique cells")
    assert "7 vertices:  359,082" in result.output
