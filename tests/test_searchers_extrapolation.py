"""extrapolate: a graph predictor fitted on 6-layer ENAS picks architectures of 12-layer ENAS.

The target is a known function of the graph (the share of layers running
op 0), so whether the picks are good in the larger space can be checked
exactly: random 12-layer architectures have a share of about 1/6.
"""

from __future__ import annotations

import numpy as np
import pytest

from nasframe.core import EvalResult
from nasframe.searchers import PredictorExtrapolation, make
from search_spaces.enas.space import ENASSpace
from search_spaces.nb101.space import NB101Space
from surrogates import make_surrogate


def share_of_op0(archs) -> np.ndarray:
    return np.array([np.mean(np.asarray(a.ops) == 0) for a in archs])


#: small CPU models: one intra-op thread (conftest) for every test here
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small_and_large():
    return ENASSpace(num_layers=6), ENASSpace(num_layers=12)


@pytest.fixture(scope="module")
def predictor(small_and_large):
    small, _ = small_and_large
    archs = small.sample(np.random.default_rng(0), 300)
    return make_surrogate("gin", small, members=2, epochs=40, seed=0).fit(archs, share_of_op0(archs))


@pytest.mark.float_sensitive
def test_graph_surrogates_read_larger_graphs_and_encodings_refuse(small_and_large, predictor):
    small, large = small_and_large
    big = large.sample(np.random.default_rng(1), 200)
    mean, std = predictor.transferred(large).predict(big)
    assert mean.shape == std.shape == (200,)
    assert np.corrcoef(mean, share_of_op0(big))[0, 1] > 0.6  # it extrapolates, not only runs (0.80 seen)
    assert predictor.space is small  # the original is untouched
    archs = small.sample(np.random.default_rng(2), 50)
    trees = make_surrogate("xgb", small, members=1).fit(archs, share_of_op0(archs))
    with pytest.raises(ValueError, match="fixed-length encoding"):
        trees.transferred(large)
    with pytest.raises(ValueError, match="cannot read nb101"):
        predictor.transferred(NB101Space())


@pytest.mark.float_sensitive
def test_extrapolation_proposes_good_new_architectures_of_the_larger_space(small_and_large, predictor):
    _, large = small_and_large
    searcher = make("extrapolate", large, seed=0, predictor=predictor, candidates=200, random_candidates=200)
    proposed = []
    for _ in range(3):
        batch = searcher.ask(10)
        assert all(a.num_layers == 12 for a in batch)
        searcher.tell(batch, [EvalResult(val_accuracy=float(v)) for v in share_of_op0(batch)])
        proposed += batch
    assert len(set(large.canonical_hashes(proposed))) == 30  # never the same architecture twice
    chance = share_of_op0(large.sample(np.random.default_rng(9), 300)).mean()  # ~1/6
    assert share_of_op0(proposed).mean() > chance + 0.15  # 0.41 seen
    (best, value), = searcher.predicted_best(1)
    assert best.num_layers == 12 and value == pytest.approx(max(v for _, v in searcher.predicted_best(100)))


def test_resumes_the_same_trajectory_and_loads_a_saved_predictor(small_and_large, predictor, tmp_path):
    _, large = small_and_large
    predictor.save(tmp_path / "gin")
    first = PredictorExtrapolation(large, seed=3, predictor=tmp_path / "gin", candidates=50, random_candidates=50)
    batch = first.ask(5)
    first.tell(batch, [EvalResult(val_accuracy=float(v)) for v in share_of_op0(batch)])
    state = first.state_dict()
    assert "_predictor" not in state
    resumed = PredictorExtrapolation(large, seed=3, predictor=tmp_path / "gin", candidates=50, random_candidates=50)
    resumed.load_state_dict(state)
    assert large.canonical_hashes(resumed.ask(5)) == large.canonical_hashes(first.ask(5))
    with pytest.raises(ValueError, match="unknown acquisition"):
        PredictorExtrapolation(large, predictor=predictor, acquisition="pi")
    with pytest.raises(TypeError, match="fitted surrogate"):
        PredictorExtrapolation(large, predictor=42)


@pytest.mark.float_sensitive
def test_nb101_cells_with_eight_vertices():
    """NB101's sampler almost never yields 8 vertices within 9 edges: min_nodes grows the pool to find them."""

    def conv3x3_count(cells) -> np.ndarray:  # scaled into [0, 1] for the GNN's accuracy loss
        return np.array([sum(op == "conv3x3-bn-relu" for op in c.ops) for c in cells]) / 10

    small, large = NB101Space(), NB101Space(max_vertices=8)
    cells = small.sample(np.random.default_rng(0), 400)
    gin = make_surrogate("gin", small, members=2, epochs=40, seed=0).fit(cells, conv3x3_count(cells))
    searcher = make("extrapolate", large, seed=0, predictor=gin, candidates=200, random_candidates=200, min_nodes=8)
    proposed = []
    for _ in range(3):
        batch = searcher.ask(10)
        searcher.tell(batch, [EvalResult(val_accuracy=float(v)) for v in conv3x3_count(batch)])
        proposed += batch
    assert all(c.num_vertices == 8 for c in proposed)  # none is in NB101 itself
    # random 8-vertex cells hold 6 / 3 = 2 conv3x3 on average (0.2); 0.34-0.44 per round seen
    assert conv3x3_count(proposed).mean() > 0.3
