"""latent-bo: Bayesian optimisation in a graph VAE's latent space, on the shipped NB101 benchmark.

The VS-GAE is tiny (hidden 32, latent 16, 40 epochs on 200 sampled cells,
~2 s on one core): enough to decode valid, varied cells, which is all the
contract needs.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import benchmarks
from nasframe.core import EvalResult
from surrogates.embeddings import VSGAE, save_model, train
from nasframe.runner import run_search
from nasframe.searchers import LatentBO, make
from nasframe.searchers._acquisition import expected_improvement
from nasframe.searchers._latent_bo import fit_gp, kriging_believer, latent_candidates
from search_spaces.enas.space import ENASSpace


#: small CPU models: one intra-op thread (conftest) for every test here
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bench():
    return benchmarks.load("nb101")


@pytest.fixture(scope="module")
def vae(bench):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    cells = bench.space.sample(np.random.default_rng(0), 200)
    model = VSGAE(bench.space, hidden=32, latent=16, seed=0)
    train(model, cells, epochs=40, batch_size=50, lr=3e-3, seed=0)
    torch.set_num_threads(before)
    return model


@pytest.fixture(scope="module")
def saved(vae, tmp_path_factory):
    return save_model(vae, tmp_path_factory.mktemp("vae") / "vsgae")


def test_expected_improvement_and_candidates():
    ei = expected_improvement(np.array([1.0, 0.0, 2.0, 0.5]), np.array([0.0, 1.0, 0.0, 1.0]), best=1.0)
    # sure points: max(gain, 0); uncertain: gain * Phi + std * phi
    np.testing.assert_allclose(ei[[0, 2]], [0.0, 1.0])
    np.testing.assert_allclose(ei[1], -1.0 * 0.15865525 + 0.24197072, rtol=1e-6)
    assert ei[3] > ei[1] > 0
    rng = np.random.default_rng(0)
    points = latent_candidates(rng, np.zeros((2, 3)) + 10.0, np.ones(3), 10, 0.3, 0.01)
    assert points.shape == (10, 3) and np.all(np.abs(points[:3] - 10.0) < 0.1)  # 3 local, 7 prior
    assert np.all(np.abs(points[3:]) < 6)
    assert latent_candidates(rng, np.zeros((0, 3)), np.ones(3), 4, 0.5, 1.0).shape == (4, 3)  # no incumbents


def test_kriging_believer_spreads_a_batch():
    """Two near-twin candidates on one side of an unexplored gap, one on the other side:
    plain top-2 EI takes the twins, the believer takes one twin and the other side."""
    z = np.array([-2.0, -1.8, -1.6, -1.4, 1.4, 1.6, 1.8, 2.0])[:, None]
    y = -(z[:, 0] ** 2)
    gp = fit_gp(z, y)
    candidates = np.array([[0.5], [0.5001], [-0.6]])
    mean, std = gp.predict(candidates, return_std=True)
    assert sorted(np.argsort(-expected_improvement(mean, std, y.max()))[:2]) == [0, 1]
    picks = kriging_believer(gp, z, y, candidates, 2)
    assert 2 in picks and len(set(picks)) == 2, picks
    assert sorted(kriging_believer(gp, z, y, candidates[:2], 5)) == [0, 1]  # at most the pool


def test_search_on_nb101_proposes_valid_unique_architectures(bench, vae):
    searcher = make("latent-bo", bench.space, seed=0, model=vae, num_init=10, candidates=150)
    history = run_search(searcher, bench, budget=50, seed=0, batch_size=10)
    assert history.error is None and len(history) == 50
    frame = history.to_frame()
    assert frame["hash"].nunique() == 50 and frame["error"].isna().all()
    for arch, _ in searcher.history:
        assert bench.space.validate(arch.to_json()) == arch
    # four model rounds, mostly from decoded latent points (random fill only when the decoder runs dry)
    assert len(searcher.stats) == 4
    assert sum(s["chosen"] for s in searcher.stats) >= 30 and all(s["valid"] > 0 for s in searcher.stats)
    again = run_search(LatentBO(bench.space, seed=0, model=vae, num_init=10, candidates=150), bench,
                       budget=50, seed=0, batch_size=10)
    assert [r["hash"] for r in again.rows] == frame["hash"].tolist()  # a seed fixes the trajectory


def _rounds(searcher, bench, count, out, seed=0):
    for i in range(count):
        archs = searcher.ask(5)
        searcher.tell(archs, bench.evaluate(archs, seed=seed * 1000 + len(out)))
        out += bench.space.canonical_hashes(archs)


@pytest.mark.parametrize("source", ["model", "path"])
def test_state_round_trip_continues_the_identical_trajectory(bench, vae, saved, source):
    model = vae if source == "model" else saved
    straight: list[str] = []
    _rounds(LatentBO(bench.space, seed=1, model=model, num_init=6, candidates=80), bench, 5, straight)
    resumed: list[str] = []
    searcher = LatentBO(bench.space, seed=1, model=model, num_init=6, candidates=80)
    _rounds(searcher, bench, 3, resumed)
    assert searcher._gp is not None
    state = pickle.loads(pickle.dumps(searcher.state_dict()))
    assert state["_gp"] is None and "_vae" not in state and len(state["history"]) == 15
    if source == "path":
        assert state["model_path"] == str(saved) and "_vae_weights" not in state
    else:
        assert state["model_path"] is None and "_vae_weights" in state
    fresh = LatentBO(bench.space, seed=99, model=saved, num_init=1)
    fresh.load_state_dict(state)
    assert fresh.num_init == 6 and fresh.seen == searcher.seen
    _rounds(fresh, bench, 2, resumed)
    assert resumed == straight
    assert searcher._gp is not None  # taking the state left the running searcher alone


def test_bad_arguments(bench, vae, saved):
    with pytest.raises(ValueError, match="needs a trained graph VAE"):
        LatentBO(bench.space)
    with pytest.raises(ValueError, match="trained on space 'nb101'"):
        LatentBO(ENASSpace(), model=saved)
    with pytest.raises(ValueError, match="candidates must be an integer >= 1"):
        LatentBO(bench.space, model=vae, candidates=0)
    with pytest.raises(ValueError, match="local_fraction"):
        LatentBO(bench.space, model=vae, local_fraction=1.5)
    searcher = LatentBO(bench.space, model=vae, num_init=3)
    assert searcher.ask(0) == []
    archs = searcher.ask(3)
    searcher.tell(archs, [EvalResult(val_accuracy=v) for v in (0.9, 0.91, float("nan"))])
    assert len(searcher.ask(2)) == 2  # fits on the two finite results
