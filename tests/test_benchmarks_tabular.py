"""Tabular benchmark: exact lookups, repeats as noise, clear errors for unknown archs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.base import METRICS, ResultSet, UnknownArchitecture
from benchmarks.tabular import TabularBenchmark
from nasframe.core import Fidelity
from search_spaces.nb101.space import NB101Space

SPACE = NB101Space()


@pytest.fixture(scope="module")
def results() -> ResultSet:
    """60 real-shaped cells, 3 repeats at 108 epochs and 1 run at 12 epochs."""
    cells = list({c.canonical_key(): c for c in SPACE.sample(np.random.default_rng(0), 70)}.values())[:60]
    rng = np.random.default_rng(1)
    rows = []
    for i, cell in enumerate(cells):
        h = cell.canonical_key()
        for repeat in range(3):
            rows.append((h, 108, repeat, 0.80 + i / 1000 + repeat / 100, 0.79 + i / 1000, 1000.0 + i, 1e6 + i))
        rows.append((h, 12, 0, 0.5 + rng.random() / 10, np.nan, 100.0, 1e6 + i))
    table = pd.DataFrame(rows, columns=["hash", "epochs", "repeat", *METRICS])
    return ResultSet(SPACE, {c.canonical_key(): c for c in cells}, table, source="synthetic")


def test_mean_lookup_matches_the_table(results):
    bench = TabularBenchmark(results)
    archs = list(results.archs.values())
    answer = bench.query(archs)
    expected = results.at(108)
    assert answer.epochs == 108 and bench.fidelities == (12, 108)
    np.testing.assert_allclose(answer.val_accuracy, expected["val_accuracy"])
    np.testing.assert_allclose(answer.params, expected["params"])
    low = bench.query(archs[:5], fidelity=Fidelity(epochs=12))
    assert low.epochs == 12 and np.isnan(low.test_accuracy).all()


def test_noise_draws_real_repeats_and_is_seeded(results):
    bench = TabularBenchmark(results)
    arch = next(iter(results.archs.values()))
    runs = set(results.table[(results.table.hash == arch.canonical_key()) & (results.table.epochs == 108)].val_accuracy)
    draws = bench.query([arch] * 200, noise=True, seed=3).val_accuracy
    assert set(np.round(draws, 12)) == set(np.round(list(runs), 12))  # only real runs, all of them
    again = bench.query([arch] * 200, noise=True, seed=3).val_accuracy
    assert np.array_equal(draws, again)
    assert np.array_equal(bench.query([arch] * 3).val_accuracy, bench.query([arch] * 3).val_accuracy)


def test_relabelled_cell_finds_the_same_row_and_json_specs_are_validated(results):
    bench = TabularBenchmark(results)
    cell = next(iter(results.archs.values()))
    spec = {"matrix": [list(r) for r in cell.matrix], "ops": list(cell.ops)}
    assert bench.query([spec]).val_accuracy[0] == bench.query([cell]).val_accuracy[0]
    assert cell in bench


def test_unknown_architecture_is_an_error_never_a_number(results):
    bench = TabularBenchmark(results)
    known = list(results.archs.values())[:2]
    stranger = next(c for c in SPACE.sample(np.random.default_rng(9), 500) if c not in bench)
    with pytest.raises(UnknownArchitecture, match="1 of 3 architectures are not in tabular benchmark"):
        bench.query([*known, stranger])
    with pytest.raises(ValueError, match="no fidelity 36; available epochs: 12, 108"):
        bench.query(known, fidelity=36)


def test_best_and_results_records(results):
    bench = TabularBenchmark(results)
    arch, value = bench.best()
    assert value == pytest.approx(results.at(108)["val_accuracy"].max())
    record = bench.evaluate([arch], seed=0)[0]
    assert record.fidelity.epochs == 108 and record.cost == record.train_time > 0
