"""Seed noise of the surrogate benchmarks (benchmarks/noise.py) and the benchmark cards of `benchmark list`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import benchmarks
from benchmarks.base import METRICS
from benchmarks.catalog import CARDS, card
from benchmarks.noise import (
    CAP_QUANTILE,
    NoiseDataError,
    calibrate,
    nb101_repeats,
    noise_std,
    spread_cap,
)
from nasframe.cli import main
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def nb101():
    return benchmarks.load("nb101")


def test_noise_std_is_the_spread_capped_where_the_card_says():
    members = np.array([[0.90, 0.50, 0.93], [0.92, 0.70, 0.93]])
    spread = members.std(axis=0)  # 0.01, 0.1, 0
    assert np.allclose(noise_std(members, None), spread)
    assert np.allclose(noise_std(members, {"model": "no cap recorded"}), spread)
    assert np.allclose(noise_std(members, {"std_cap": 0.02}), [0.01, 0.02, 0.0])
    assert spread_cap(np.arange(101.0), 0.99) == pytest.approx(99.0)
    with pytest.raises(ValueError, match="quantile"):
        spread_cap(np.arange(5.0), 0.0)


def test_the_shipped_nb101_noise_never_exceeds_its_cap(nb101):
    """The cell whose members disagree most among 2,000 draws: its noisy answers spread by the cap, not more."""
    cap = nb101.card["noise"]["std_cap"]
    assert 0.005 < cap < 0.02  # 0.93 pp, about the largest std of the real repeats (docs/SURROGATES.md)
    model = nb101.models["val_accuracy"]
    cells = nb101.space.sample(np.random.default_rng(0), 2000)
    members = model.predict_members(cells)
    wild = cells[int(np.argmax(members.std(axis=0)))]
    assert members.std(axis=0).max() > 2 * cap  # off-distribution: the uncapped noise would be larger
    mean = nb101.query([wild]).val_accuracy[0]
    draws = nb101.query([wild] * 4000, noise=True, seed=0).val_accuracy
    assert np.std(draws - mean) == pytest.approx(cap, rel=0.05)
    # below the cap nothing changed: a typical cell's noise is its member spread
    calm = cells[int(np.argsort(members.std(axis=0))[1000])]
    spread = model.predict_members([calm]).std(axis=0)[0]
    draws = nb101.query([calm] * 4000, noise=True, seed=1).val_accuracy
    assert np.std(draws - nb101.query([calm]).val_accuracy[0]) == pytest.approx(spread, rel=0.05)


def test_real_nb101_repeats_from_the_data_kit():
    naslib = shared_file("nb101/naslib_zc_nasbench101.json")
    by_hash = shared_file("nb101/nb101_by_hash_part_a.json")
    repeats = nb101_repeats(naslib, by_hash)
    assert len(nb101_repeats(naslib)) == 35 and len(repeats) == 39  # the by-hash file adds 4 cells
    assert all(2 <= len(values) <= 3 and len(set(values)) == len(values) for _, values in repeats.values())
    space = benchmarks.load("nb101").space
    for digest, (cell, values) in repeats.items():
        assert space.canonical_hash(cell) == digest and all(0.7 < v < 0.96 for v in values)


def test_calibration_against_real_repeats(nb101):
    """NB301's check on the shipped benchmark; the numbers are the ones its card records."""
    repeats = nb101_repeats(shared_file("nb101/naslib_zc_nasbench101.json"),
                            shared_file("nb101/nb101_by_hash_part_a.json"))
    noise = nb101.card["noise"]
    check = calibrate(nb101.models["val_accuracy"].predict_members, repeats, noise, draws=200)
    assert check["cells"] == 39 and check["repeats"] == 91
    recorded = noise["check_capped"]
    assert check["kendall_tau_real_repeats"] == pytest.approx(recorded["kendall_tau_real_repeats"], abs=0.02)
    assert check["kendall_tau_noisy_draws"] == pytest.approx(recorded["kendall_tau_noisy_draws"], abs=0.02)
    assert check["real_std"] == pytest.approx(recorded["real_std"], rel=1e-6)
    # the cap pulls the pooled model noise toward the real one (uncapped it is 3x too large)
    assert noise["check_uncapped"]["scale"] < check["scale"] < 1.2
    with pytest.raises(ValueError, match="too few"):
        calibrate(nb101.models["val_accuracy"].predict_members, dict(list(repeats.items())[:3]))


@pytest.mark.slow
def test_the_recorded_cap_is_the_rule_applied_to_the_data(nb101):
    results = benchmarks.load_results(shared_file("nb101/nb101_by_hash_part_a.json"), "nb101-json")
    spread = nb101.models["val_accuracy"].predict_members(list(results.archs.values())).std(axis=0)
    assert nb101.card["noise"]["std_cap"] == pytest.approx(spread_cap(spread, CAP_QUANTILE), rel=1e-3)


def test_a_bad_repeats_file_is_named(tmp_path):
    bad = tmp_path / "zc.json"
    bad.write_text(json.dumps({"nasbench201": {}}))
    with pytest.raises(NoiseDataError, match="zc.json"):
        nb101_repeats(bad)
    bad.write_text(json.dumps({"nasbench101": {"cifar10": {"(1, 2)": {"val_accuracy": 90.0}}}}))
    with pytest.raises(NoiseDataError, match="record 0"):
        nb101_repeats(bad)


def test_every_builtin_benchmark_has_a_card_for_every_metric():
    for name in benchmarks.names():
        found = card(name)
        assert found is not None, name
        assert set(found.metrics) == set(METRICS), name
        for metric, what in found.metrics.items():
            assert what.split(":")[0] in ("exact", "predicted", "none"), (name, metric, what)
        assert found.noise, name
    assert CARDS["nb101"].metrics["test_accuracy"].startswith("none:")
    assert "not calibrated" in CARDS["enas"].noise and "not calibrated" in CARDS["nb301"].noise
    assert card("my-plugin") is None


def test_benchmark_list_prints_the_cards():
    result = CliRunner().invoke(main, ["benchmark", "list"])
    assert result.exit_code == 0, result.output
    assert "nb101: NAS-Bench-101 surrogate" in result.output
    assert "  test_accuracy  none: the data kit's NB101 files hold validation accuracy only" in result.output
    assert "capped at 0.93 pp" in result.output and "not calibrated" in result.output
    names = CliRunner().invoke(main, ["benchmark", "list", "--names-only"])
    assert names.output.split() == benchmarks.names()
