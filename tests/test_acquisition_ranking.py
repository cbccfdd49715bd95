"""The model-based searchers propose the candidates their acquisition ranks *best*, not worst.

A searcher that reverses its ranking (proposes the lowest scores) still
improves on its random initial design when its pool is made of mutations of
the best parents, so "it beats random search" alone let that bug survive.
The check here looks inside one round: it records the candidate pool and the
acquisition scores the searcher computed for it, and requires the proposals
to be exactly the pool's highest scores. It needs no model quality and no
threshold, so it holds on any float path. The acquisition formulas
themselves are checked against the reference implementations in
tests/test_searchers_model_based.py; the last test injects the reversed
ranking and shows that this check fails on it.
"""

from __future__ import annotations

import numpy as np
import pytest

import nasframe
from nasframe.runner import run_search
from nasframe.searchers import BANANAS, SurrogateBO, _predictor
from tests.test_searchers_model_based import SMALL_MLP, SMALL_XGB, FakeBench

SEARCHERS = {
    "bananas-its": lambda space, seed: BANANAS(space, seed=seed, members=3, num_init=10, surrogate_params=SMALL_MLP),
    "bananas-ucb": lambda space, seed: BANANAS(space, seed=seed, members=3, num_init=10, acquisition="ucb",
                                               surrogate_params=SMALL_MLP),
    "bo-ei": lambda space, seed: SurrogateBO(space, seed=seed, surrogate="xgb", members=3, num_init=10,
                                             surrogate_params=SMALL_XGB),
}


@pytest.fixture(scope="module")
def space():
    return nasframe.load_space("nbgraph")


def _one_round(space, make, seed, monkeypatch) -> tuple[list, np.ndarray, list]:
    """After a random initial design of 10: the pool, its acquisition scores and the 10 proposals of one round."""
    seen: dict[str, object] = {}
    pool_of, scores_of = _predictor.mutation_candidates, _predictor.acquisition_scores

    def pool(*args, **kwargs):
        seen["pool"] = list(pool_of(*args, **kwargs))
        return seen["pool"]

    def scores(*args, **kwargs):
        seen["scores"] = np.asarray(scores_of(*args, **kwargs))
        return seen["scores"]

    monkeypatch.setattr(_predictor, "mutation_candidates", pool)
    monkeypatch.setattr(_predictor, "acquisition_scores", scores)
    searcher = make(space, seed)
    run_search(searcher, FakeBench(space), budget=10, seed=seed, batch_size=10)
    seen.clear()
    proposed = searcher.ask(10)
    return seen["pool"], seen["scores"], proposed


def _check_best_first(space, pool, scores, proposed) -> None:
    assert len(pool) == len(scores) > len(proposed) == 10
    keys = space.canonical_hashes(pool)
    chosen = {space.canonical_hash(a) for a in proposed}
    picked = np.array([k in chosen for k in keys])
    assert picked.sum() == 10
    # every proposal scores at least as high as every candidate left out
    assert scores[picked].min() >= scores[~picked].max(), (scores[picked].min(), scores[~picked].max())


@pytest.mark.parametrize("label", sorted(SEARCHERS))
@pytest.mark.parametrize("seed", (0, 1))
def test_proposals_are_the_highest_acquisition_scores(space, label, seed, monkeypatch):
    pool, scores, proposed = _one_round(space, SEARCHERS[label], seed, monkeypatch)
    _check_best_first(space, pool, scores, proposed)


@pytest.mark.parametrize("label", sorted(SEARCHERS))
def test_a_reversed_ranking_fails_the_check(space, label, monkeypatch):
    """The injected bug: propose the lowest acquisition scores. The check above must catch it."""
    monkeypatch.setattr(_predictor, "top_indices", lambda scores, n: np.argsort(np.asarray(scores), kind="stable")[:n])
    pool, scores, proposed = _one_round(space, SEARCHERS[label], 0, monkeypatch)
    with pytest.raises(AssertionError):
        _check_best_first(space, pool, scores, proposed)
