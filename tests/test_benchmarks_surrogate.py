"""Surrogate benchmarks: building, noise semantics, save/load, the catalog and the CLI."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import benchmarks
from benchmarks.base import METRICS, ResultSet
from benchmarks.build import build_benchmark, held_out, split_indices
from benchmarks.surrogate import ManifestError, SurrogateBenchmark
from nasframe.cli import main
from search_spaces.nb101.space import NB101Space
from surrogates.ensemble import FamilyEnsemble
from tests.conftest import shared_file

SPACE = NB101Space()
SMALL = {"xgb": {"n_estimators": 40, "max_depth": 4, "learning_rate": 0.2},
         "lgb": {"n_estimators": 40, "num_leaves": 7}}


@pytest.fixture(scope="module")
def synthetic() -> ResultSet:
    """400 NB101 cells whose 'accuracy' is a fixed noisy function of their encoding."""
    cells = list({c.canonical_key(): c for c in SPACE.sample(np.random.default_rng(0), 2000)}.values())[:400]
    x = SPACE.encode(cells, "adjacency")
    rng = np.random.default_rng(1)
    y = 0.85 + 0.05 * np.tanh(x @ rng.normal(size=x.shape[1]) / 4) + rng.normal(0, 0.005, len(cells))
    table = pd.DataFrame({"hash": [c.canonical_key() for c in cells], "epochs": 108, "repeat": 0,
                          "val_accuracy": y, "test_accuracy": np.nan,
                          "train_time": 1000 + 500 * x[:, :21].sum(1), "params": 1e6 * (1 + x[:, 21:].sum(1))})
    return ResultSet(SPACE, {c.canonical_key(): c for c in cells}, table[["hash", "epochs", "repeat", *METRICS]],
                     source="synthetic")


@pytest.fixture(scope="module")
def built(synthetic):
    return build_benchmark(synthetic, name="syn", surrogates=["xgb"], members=5, params=SMALL)


def test_split_is_seeded_disjoint_and_complete():
    a = split_indices(100, (0.8, 0.1, 0.1), seed=3)
    assert [len(p) for p in a] == [80, 10, 10]
    assert sorted(np.concatenate(a).tolist()) == list(range(100))
    assert all(np.array_equal(x, y) for x, y in zip(a, split_indices(100, (0.8, 0.1, 0.1), seed=3)))
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, (0.5, 0.1))


def test_build_reports_held_out_metrics_and_answers_all_metrics(built, synthetic):
    report = built.report.set_index("model")
    assert report.loc["xgb", "kendall_tau"] > 0.5  # the target is a learnable function
    bench = built.benchmark
    assert set(bench.models) == {"val_accuracy", "train_time", "params"}
    assert bench.card["split"] == {"fractions": [0.8, 0.1, 0.1], "seed": 0, "train": 320, "valid": 40, "test": 40}
    answer = bench.query(list(synthetic.archs.values())[:50])
    assert answer.epochs == 108 and np.isnan(answer.test_accuracy).all()
    assert ((answer.val_accuracy > 0.7) & (answer.val_accuracy < 1)).all()
    assert (answer.train_time > 900).all() and (answer.params >= 1e6).all()


def test_noise_follows_the_member_spread_and_is_seeded(built, synthetic):
    bench = built.benchmark
    arch = list(synthetic.archs.values())[7]
    members = bench.models["val_accuracy"].predict_members([arch])[:, 0]
    draws = bench.query([arch] * 4000, noise=True, seed=11).val_accuracy
    assert members.std() > 0
    assert draws.mean() == pytest.approx(members.mean(), abs=4 * members.std() / np.sqrt(4000) + 1e-9)
    assert draws.std() == pytest.approx(members.std(), rel=0.1)
    assert np.array_equal(draws, bench.query([arch] * 4000, noise=True, seed=11).val_accuracy)
    assert not np.array_equal(draws, bench.query([arch] * 4000, noise=True, seed=12).val_accuracy)
    plain = bench.query([arch] * 3).val_accuracy
    assert np.all(plain == members.mean())


def test_save_load_gives_identical_answers_and_bad_folders_are_named(built, synthetic, tmp_path):
    archs = list(synthetic.archs.values())[:30]
    path = built.benchmark.save(tmp_path / "bench")
    loaded = benchmarks.load(str(path))
    for noise in (False, True):
        a = built.benchmark.query(archs, noise=noise, seed=5).to_frame()
        b = loaded.query(archs, noise=noise, seed=5).to_frame()
        pd.testing.assert_frame_equal(a, b)
    assert json.loads((path / "val_accuracy" / "card.json").read_text())["held_out"]["model"] == "xgb"
    exact = SurrogateBenchmark("syn", SPACE, {"val_accuracy": built.benchmark.models["val_accuracy"]}, 108,
                               exact={"params": "search_spaces.nb101.parameters:parameter_counts"})
    reloaded = benchmarks.load(str(exact.save(tmp_path / "exact")))
    assert reloaded.exact == exact.exact and np.array_equal(reloaded.query(archs).params, exact.query(archs).params)
    manifest = json.loads((tmp_path / "exact" / "benchmark.json").read_text())
    (tmp_path / "exact" / "benchmark.json").write_text(json.dumps({**manifest, "exact": {"params": "nowhere:f"}}))
    with pytest.raises(ManifestError, match=r"benchmark.json: exact 'params': cannot import 'nowhere:f'"):
        SurrogateBenchmark.load(tmp_path / "exact")
    (path / "benchmark.json").write_text("{broken")
    with pytest.raises(ValueError, match="benchmark.json is not a valid benchmark manifest"):
        SurrogateBenchmark.load(path)
    with pytest.raises(FileNotFoundError, match="not a saved surrogate benchmark"):
        SurrogateBenchmark.load(tmp_path / "nothing")


def test_family_ensemble_pools_members_and_round_trips(synthetic, tmp_path):
    result = build_benchmark(synthetic, name="mix", surrogates=["xgb", "lgb"], members=3, params=SMALL,
                             auxiliary=False)
    assert list(result.report["model"]) == ["xgb", "lgb", "ensemble"]
    model = result.benchmark.models["val_accuracy"]
    assert isinstance(model, FamilyEnsemble) and model.members == 6
    archs = list(synthetic.archs.values())[:20]
    back = benchmarks.load(str(result.benchmark.save(tmp_path / "mix")))
    np.testing.assert_array_equal(back.models["val_accuracy"].predict_members(archs), model.predict_members(archs))


def test_held_out_reproduces_the_recorded_split(built, synthetic):
    table = held_out(built.benchmark, synthetic)
    assert len(table) == 40
    tau = built.report.set_index("model").loc["xgb", "kendall_tau"]
    from surrogates.metrics import kendall_tau

    assert kendall_tau(table["true"], table["predicted"]) == pytest.approx(tau)


def test_provenance_names_data_by_file_and_checksum_and_refuses_other_bytes(tmp_path):
    from benchmarks.provenance import data_reference, find_data

    data = tmp_path / "kit" / "nb101" / "results.json"
    data.parent.mkdir(parents=True)
    data.write_text('{"key": []}')
    reference = data_reference(data)
    assert reference == {"file": "results.json", "sha256": hashlib.sha256(b'{"key": []}').hexdigest()}
    assert find_data(reference, data) == data
    assert find_data(reference, tmp_path / "kit") == data  # found by name, checked by bytes
    assert data_reference("synthetic") == {"file": "synthetic"}
    with pytest.raises(FileNotFoundError, match=r"results.json \(sha256"):
        find_data(reference, None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no results.json under"):
        find_data(reference, tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_data(reference, tmp_path / "missing")
    other = tmp_path / "elsewhere" / "results.json"
    other.parent.mkdir()
    other.write_text('{"key": [1]}')
    with pytest.raises(ValueError, match="not the recorded data results.json"):
        find_data(reference, other)
    assert data_reference(tmp_path / "kit")["sha256"] != data_reference(tmp_path / "elsewhere")["sha256"]


def test_catalog_names_and_unknown_names():
    names = benchmarks.names()
    assert {"nb101", "enas", "nb301", "nbgraph-cora"} <= set(names)
    with pytest.raises(KeyError, match="unknown benchmark 'nope'"):
        benchmarks.load("nope")
    with pytest.raises(ValueError, match="unknown result format 'csv'"):
        benchmarks.load_results("x", "csv")


@pytest.mark.shared_data
def test_cli_build_query_evaluate_on_real_darts_data(tmp_path, monkeypatch):
    data = shared_file("darts/naslib_zc_nasbench301.json")
    runner = CliRunner()
    out = tmp_path / "darts-bench"
    built = runner.invoke(main, ["benchmark", "build", "--data", str(data), "--format", "naslib-darts",
                                 "--surrogate", "xgb", "--members", "2", "--out", str(out)])
    assert built.exit_code == 0, built.output
    assert "725 architectures" in built.output and "kendall_tau" in built.output
    genotype = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
                "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
                "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
                "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
                "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
    queried = runner.invoke(main, ["benchmark", "query", str(out), "--arch", json.dumps(genotype)])
    assert queried.exit_code == 0, queried.output
    answer = json.loads(queried.output)
    assert 0.85 < answer["val_accuracy"] < 0.97 and answer["epochs"] == -1
    plot = tmp_path / "scatter.png"
    unnamed = runner.invoke(main, ["benchmark", "evaluate", str(out), "--plot", str(plot)])
    assert unnamed.exit_code == 2 and "naslib_zc_nasbench301.json (sha256" in unnamed.output
    # the card names its data by file name and checksum: found by name in a folder, checked by bytes
    evaluated = runner.invoke(main, ["benchmark", "evaluate", str(out), "--data", str(data.parent),
                                     "--plot", str(plot)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "73 held-out architectures" in evaluated.output and plot.stat().st_size > 5000
    assert str(data.parent) not in (out / "benchmark.json").read_text()
    bad = runner.invoke(main, ["benchmark", "query", str(out), "--arch", '"Genotype(normal=[])"'])
    assert bad.exit_code == 2 and "architecture 1" in bad.output


def test_models_with_the_same_inputs_featurise_a_query_once(built, synthetic, monkeypatch):
    archs = list(synthetic.archs.values())[:25]
    bench = built.benchmark  # xgb accuracy + xgb train time + xgb params, one encoding
    expected = bench.query(archs).to_frame()
    calls = []
    encode = SPACE.encode
    monkeypatch.setattr(SPACE, "encode", lambda a, kind=None: calls.append(kind) or encode(a, kind))
    pd.testing.assert_frame_equal(bench.query(archs).to_frame(), expected)
    assert calls == ["adjacency"]
