"""Issue 17's small-batch paths give exactly the answers of the batched ones.

The scalar NB101 hash against the reference and the vectorised pass, the
size switch in ``NB101Space.canonical_hashes``, the tabular dict lookup and
the lazily made query generator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import search_spaces.nb101.space as nb101_space
from benchmarks.base import METRICS, ResultSet, UnknownArchitecture, _SeededRng
from benchmarks.tabular import TabularBenchmark
from search_spaces.nb101 import NB101Cell
from search_spaces.nb101.enumeration import enumerate_cells
from search_spaces.nb101.fast_hash import batch_hash
from search_spaces.nb101.graph_util import hash_cell, official_hash
from search_spaces.nb101.space import NB101Space

SPACE = NB101Space()


def test_hash_cell_matches_the_reference_on_cells_of_every_size():
    matrices, labels, sizes = enumerate_cells()
    rng = np.random.default_rng(0)
    for n in range(2, 8):
        for i in rng.choice(np.flatnonzero(sizes == n), size=min(60, int((sizes == n).sum())), replace=False):
            m, lab = matrices[i, :n, :n], labels[i, :n].tolist()
            assert hash_cell(m, lab) == official_hash(m, lab)
            assert hash_cell(m.tolist(), tuple(lab)) == official_hash(m, lab)  # nested lists too


def test_hash_cell_matches_the_reference_on_arbitrary_digraphs():
    # the edge cases of the batch hash's tests: cycles, self-loops, isolated vertices, any labels
    rng = np.random.default_rng(4)
    for _ in range(300):
        n = int(rng.integers(1, 10))
        matrix = (rng.random((n, n)) < rng.uniform(0.1, 0.6)).astype(np.int8)
        labels = rng.integers(-2, 3, size=n).tolist()
        assert hash_cell(matrix, labels) == official_hash(matrix, labels)


def _fresh(cells: list[NB101Cell]) -> list[NB101Cell]:
    return [NB101Cell(c.matrix, c.ops) for c in cells]  # copies with no cached hash


@pytest.mark.parametrize("count", [1, 7, 400])
def test_canonical_hashes_scalar_and_batch_paths_agree(monkeypatch, count):
    cells = SPACE.sample(np.random.default_rng(count), count)
    reference = batch_hash([c.adjacency() for c in cells], [c.labels for c in cells])
    monkeypatch.setattr(nb101_space, "BATCH_HASH_FROM", 10**9)  # always one by one
    assert SPACE.canonical_hashes(_fresh(cells)) == reference
    monkeypatch.setattr(nb101_space, "BATCH_HASH_FROM", 1)  # always vectorised
    assert SPACE.canonical_hashes(_fresh(cells)) == reference
    mixed = _fresh(cells)
    for cell in mixed[::2]:
        cell.canonical_key()  # half cached already: only the rest is hashed
    assert SPACE.canonical_hashes(mixed) == reference


def test_canonical_hashes_switch_to_the_batch_pass_at_the_crossover(monkeypatch):
    calls = []
    import search_spaces.nb101.fast_hash as fast_hash

    real = fast_hash.batch_hash
    monkeypatch.setattr(fast_hash, "batch_hash", lambda m, lab: calls.append(len(m)) or real(m, lab))
    monkeypatch.setattr(nb101_space, "BATCH_HASH_FROM", 5)
    cells = SPACE.sample(np.random.default_rng(1), 5)
    SPACE.canonical_hashes(_fresh(cells[:4]))
    assert calls == []
    SPACE.canonical_hashes(_fresh(cells))
    assert calls == [5]


@pytest.fixture(scope="module")
def results() -> ResultSet:
    """40 cells with 2 repeats at 108 epochs; only the first 30 have a run at 12 epochs."""
    cells = list({c.canonical_key(): c for c in SPACE.sample(np.random.default_rng(2), 60)}.values())[:40]
    rows = []
    for i, cell in enumerate(cells):
        h = cell.canonical_key()
        rows += [(h, 108, r, 0.8 + i / 1000 + r / 100, 0.79, 1000.0 + i, 1e6 + i) for r in range(2)]
        if i < 30:
            rows.append((h, 12, 0, 0.5 + i / 1000, np.nan, 100.0, 1e6 + i))
    table = pd.DataFrame(rows, columns=["hash", "epochs", "repeat", *METRICS])
    return ResultSet(SPACE, {c.canonical_key(): c for c in cells}, table, source="synthetic")


def test_one_architecture_at_a_time_equals_the_batch(results):
    bench = TabularBenchmark(results)
    archs = list(results.archs.values())
    batched = bench.query(archs)
    for i, arch in enumerate(archs):
        single = bench.query([arch])
        assert [getattr(single, m)[0] for m in METRICS] == pytest.approx(
            [getattr(batched, m)[i] for m in METRICS], nan_ok=True
        )
    noisy = bench.query(archs, noise=True, seed=5)
    assert np.array_equal(noisy.val_accuracy, bench.query(archs, noise=True, seed=5).val_accuracy)


def test_missing_fidelity_and_unknown_architecture_still_raise(results):
    bench = TabularBenchmark(results)
    archs = list(results.archs.values())
    assert len(bench.query(archs[:30], fidelity=12)) == 30
    with pytest.raises(UnknownArchitecture, match="no result at 12 epochs for the architecture at position 0"):
        bench.query([archs[35]], fidelity=12)
    stranger = next(c for c in SPACE.sample(np.random.default_rng(9), 500) if c not in bench)
    with pytest.raises(UnknownArchitecture, match="1 of 1 architectures are not in tabular benchmark"):
        bench.query([stranger])


def test_lazy_generator_draws_what_default_rng_draws():
    lazy = _SeededRng(11)
    eager = np.random.default_rng(11)
    assert np.array_equal(lazy.random(5), eager.random(5))
    assert np.array_equal(lazy.standard_normal(3), eager.standard_normal(3))
