"""BANANAS and surrogate BO: acquisition maths, determinism, resume, batching, every space, and that they search."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest

import nasframe
from nasframe.core import EvalResult
from nasframe.runner import run_search
from nasframe.searchers import BANANAS, RandomSearch, SurrogateBO, acquisition_scores, mutation_candidates, top_indices
from nasframe.searchers._acquisition import EI_CALIBRATION, UCB_EXPLORE


@pytest.fixture(scope="module")
def bench(cora):
    return cora


SPACES = ("nb101", "darts", "enas", "nbgraph", "mnas")
#: small predictors: the contract tests need no accuracy, only the whole loop
SMALL_MLP = {"epochs": 5, "layers": 2, "width": 16}
SMALL_XGB = {"n_estimators": 20}
SMALL_GIN = {"epochs": 3, "hidden": 8, "layers": 2}

#: the searchers under test, by label; each entry builds one from (space, seed, **overrides)
FACTORIES = {
    "bananas": lambda space, seed, **kw: BANANAS(
        space, seed=seed, members=3, num_init=6, surrogate_params=SMALL_MLP, **kw
    ),
    "bo-xgb": lambda space, seed, **kw: SurrogateBO(
        space, seed=seed, surrogate="xgb", members=3, num_init=6, surrogate_params=SMALL_XGB, **kw
    ),
    "bo-gin": lambda space, seed, **kw: SurrogateBO(
        space, seed=seed, surrogate="gin", members=3, num_init=6, surrogate_params=SMALL_GIN, **kw
    ),
}


def fake_results(space, archs) -> list[EvalResult]:
    """A fixed pseudo-accuracy in [0.5, 0.9) per architecture (a function of its canonical hash)."""
    return [
        EvalResult(val_accuracy=0.5 + 0.4 * int(hashlib.md5(k.encode()).hexdigest()[:8], 16) / 2**32)
        for k in space.canonical_hashes(archs)
    ]


class FakeBench:
    """An evaluator answering :func:`fake_results` on any space."""

    def __init__(self, space) -> None:
        self.space = space

    def evaluate(self, archs, fidelity=None, seed=None):
        return fake_results(self.space, archs)


def hashes(history) -> list[str]:
    return [row["hash"] for row in history.rows]


@pytest.fixture(scope="module")
def nbgraph():
    return nasframe.load_space("nbgraph")


# -- acquisition functions and the candidate pool --------------------------------


def test_acquisition_functions_follow_the_reference_formulas():
    from scipy.stats import norm

    mean = np.array([0.80, 0.82, 0.78, 0.85])
    std = np.array([0.02, 0.0, 0.05, 0.01])
    best = 0.81
    ucb = acquisition_scores("ucb", mean, std, best, np.random.default_rng(0))
    np.testing.assert_allclose(ucb, mean + UCB_EXPLORE * std)
    ei = acquisition_scores("ei", mean, std, best, np.random.default_rng(0))
    s = std[0] / EI_CALIBRATION
    g = (mean[0] - best) / s
    assert ei[0] == pytest.approx(s * (g * norm.cdf(g) + norm.pdf(g)))
    assert ei[1] == pytest.approx(0.82 - 0.81)  # no spread: the plain improvement
    assert np.all(ei >= 0) and np.argmax(ei) == 3
    its = acquisition_scores("its", mean, std, best, np.random.default_rng(7))
    np.testing.assert_array_equal(its, np.random.default_rng(7).normal(mean, std))  # one draw each
    assert its[1] == mean[1]
    with pytest.raises(ValueError, match="unknown acquisition 'pi'"):
        acquisition_scores("pi", mean, std, best, np.random.default_rng(0))
    assert top_indices(np.array([0.1, 0.3, 0.3, 0.2]), 3).tolist() == [1, 2, 3]


def test_candidate_pool_mutates_the_parents_and_skips_seen(nbgraph):
    rng = np.random.default_rng(0)
    parents = nbgraph.sample(rng, 2)
    seen = set(nbgraph.canonical_hashes(parents))
    blocked = nbgraph.neighbors(parents[0])[:5]
    seen |= set(nbgraph.canonical_hashes(blocked))
    pool = mutation_candidates(nbgraph, rng, parents, 60, seen)
    keys = nbgraph.canonical_hashes(pool)
    assert len(set(keys)) == len(keys) and not set(keys) & seen
    one_edit = set(nbgraph.canonical_hashes(nbgraph.neighbors(parents[0]) + nbgraph.neighbors(parents[1])))
    assert set(keys) <= one_edit
    # random samples join, and a pool too small for the batch is topped up with them
    mixed = mutation_candidates(nbgraph, rng, parents, 4, seen, random_count=10, at_least=30)
    assert len(mixed) >= 30 and not set(nbgraph.canonical_hashes(mixed)) & seen


# -- contract: determinism, resume, batches, no re-proposals ---------------------


@pytest.mark.parametrize("label", FACTORIES)
def test_same_seed_same_trajectory_and_seeds_differ(nbgraph, label):
    make = FACTORIES[label]
    first = hashes(run_search(make(nbgraph, 3), FakeBench(nbgraph), budget=18, seed=0, batch_size=4))
    again = hashes(run_search(make(nbgraph, 3), FakeBench(nbgraph), budget=18, seed=0, batch_size=4))
    other = hashes(run_search(make(nbgraph, 4), FakeBench(nbgraph), budget=18, seed=0, batch_size=4))
    assert first == again and first != other
    assert len(set(first)) == 18  # never the same architecture twice


@pytest.mark.parametrize("label", ["bananas", "bo-xgb"])
@pytest.mark.parametrize("fit_every", [1, 4])
def test_resume_continues_the_identical_trajectory(nbgraph, label, fit_every):
    """Resumed after the first fit (on 6 results, 9 told): with ``fit_every=1`` the next
    ask refits with a fresh seed, with 4 it reuses the model, which the loaded
    searcher must refit from the recorded 6-result prefix and seed."""
    make = FACTORIES[label]

    def rounds(searcher, count, out):
        for _ in range(count):
            archs = searcher.ask(3)
            searcher.tell(archs, fake_results(nbgraph, archs))
            out += nbgraph.canonical_hashes(archs)

    straight: list[str] = []
    rounds(make(nbgraph, 1, fit_every=fit_every), 7, straight)
    resumed: list[str] = []
    searcher = make(nbgraph, 1, fit_every=fit_every)
    rounds(searcher, 3, resumed)  # two random rounds, then one from the model
    assert searcher._model is not None
    state = pickle.loads(pickle.dumps(searcher.state_dict()))
    assert state["_model"] is None and state["_fitted_on"] == 6 and len(state["history"]) == 9
    fresh = make(nbgraph, 99, fit_every=fit_every)
    fresh.load_state_dict(state)
    rounds(fresh, 4, resumed)
    assert resumed == straight
    assert searcher._model is not None  # taking the state left the running searcher alone


def test_refits_only_when_new_results_arrived(nbgraph):
    searcher = FACTORIES["bo-xgb"](nbgraph, 0, fit_every=2)
    archs = searcher.ask(6)
    searcher.tell(archs, fake_results(nbgraph, archs))
    searcher.ask(2)
    model = searcher._model
    assert searcher._fitted_on == 6
    searcher.ask(2)  # nothing new told: the same model scores again
    assert searcher._model is model
    pending = searcher.ask(1)
    searcher.tell(pending, fake_results(nbgraph, pending))
    searcher.ask(1)  # one new result, fit_every=2: still the same model
    assert searcher._model is model and searcher._fitted_on == 6
    more = searcher.ask(1)
    searcher.tell(more, fake_results(nbgraph, more))
    searcher.ask(1)
    assert searcher._model is not model and searcher._fitted_on == 8


@pytest.mark.parametrize("label", ["bananas", "bo-xgb"])
def test_batched_and_pending_asks_never_repeat(nbgraph, label):
    searcher = FACTORIES[label](nbgraph, 0, candidates=10)
    first = searcher.ask(10)  # the initial design (6) and, with nothing told yet, random
    assert len(first) == 10
    searcher.tell(first, fake_results(nbgraph, first))
    batch = searcher.ask(25)  # more than the 10 mutations: the pool is topped up with samples
    pending = searcher.ask(7)  # asked again before telling: still nothing repeated
    keys = nbgraph.canonical_hashes(first + batch + pending)
    assert len(batch) == 25 and len(pending) == 7 and len(set(keys)) == len(keys) == 42
    assert searcher.seen == set(keys) and searcher.ask(0) == []


def test_a_tiny_space_runs_dry_without_repeating():
    space = nasframe.load_space("nbgraph", op_set="proteins")  # 2,021 architectures
    searcher = SurrogateBO(space, seed=0, surrogate="xgb", members=2, num_init=5, surrogate_params=SMALL_XGB,
                           candidates=30, random_candidates=5)
    history = run_search(searcher, FakeBench(space), budget=space.size() + 10, seed=0, batch_size=400)
    assert history.error is None and len(set(hashes(history))) == len(history)
    # it stops when (nearly) everything was proposed: the last few are found only by
    # chance draws, as in RandomSearch (50 draws per wanted architecture)
    assert space.size() - 5 <= len(history) <= space.size()


@pytest.mark.float_sensitive
def test_the_model_steers_the_proposals(nbgraph):
    """Proposals from the fitted model beat random draws on a learnable objective."""
    ops = {op: i for i, op in enumerate(nbgraph.ops)}

    class Learnable(FakeBench):
        def evaluate(self, archs, fidelity=None, seed=None):
            return [EvalResult(val_accuracy=0.5 + 0.1 * sum(ops[o] for o in a.ops) / len(ops)) for a in archs]

    searcher = BANANAS(nbgraph, seed=0, members=3, num_init=10, surrogate_params={"epochs": 30, "layers": 3})
    history = run_search(searcher, Learnable(nbgraph), budget=40, seed=0, batch_size=10)
    values = np.array([r["val_accuracy"] for r in history.rows])
    assert values[10:].mean() > values[:10].mean() + 0.02


def test_arguments_are_checked(nbgraph):
    with pytest.raises(ValueError, match="unknown acquisition 'pi'"):
        BANANAS(nbgraph, acquisition="pi")
    with pytest.raises(ValueError, match="takes no encoding"):
        SurrogateBO(nbgraph, surrogate="gin", encoding="adjacency")
    with pytest.raises(ValueError, match="unknown encoding 'path'"):
        BANANAS(nbgraph, encoding="path")
    with pytest.raises(ValueError, match="searcher's `encoding` argument"):
        BANANAS(nbgraph, surrogate_params={"encoding": "links"})
    with pytest.raises(ValueError, match="unknown mlp hyper-parameters"):
        BANANAS(nbgraph, surrogate_params={"depth": 3})
    with pytest.raises(ValueError, match="mutate_top must be an integer >= 1"):
        SurrogateBO(nbgraph, mutate_top=0)
    with pytest.raises(KeyError, match="unknown surrogate family 'svm'"):
        SurrogateBO(nbgraph, surrogate="svm")


def test_defaults_and_encodings():
    nb101, nbgraph = nasframe.load_space("nb101"), nasframe.load_space("nbgraph")
    bananas = BANANAS(nb101)
    assert (bananas.name, bananas.surrogate, bananas.members, bananas.encoding) == ("bananas", "mlp", 5, "path")
    assert (bananas.num_init, bananas.candidates, bananas.mutate_top, bananas.acquisition) == (10, 100, 2, "its")
    assert BANANAS(nbgraph).encoding == "adjacency"  # no path encoding: the space's first
    assert BANANAS(nbgraph, surrogate="xgb", encoding="links").surrogate_params == {"encoding": "links"}
    bo = SurrogateBO(nb101)
    assert (bo.name, bo.surrogate, bo.acquisition, bo.encoding) == ("bo", "xgb", "ei", "path")
    assert SurrogateBO(nb101, surrogate="gin").encoding is None


def test_one_name_for_the_surrogate_family():
    """Both presets call the family ``surrogate``; the old per-preset names are gone."""
    nbgraph = nasframe.load_space("nbgraph")
    for preset in (BANANAS, SurrogateBO):
        for old in ("predictor", "model"):
            with pytest.raises(TypeError, match=old):
                preset(nbgraph, **{old: "xgb"})
            with pytest.raises(TypeError, match=f"{old}_params"):
                preset(nbgraph, **{f"{old}_params": {}})


def test_a_new_model_based_searcher_needs_only_propose(nbgraph):
    """The toolkit's plug-in point: the initial design and refit schedule come from the base class."""
    from nasframe.searchers import ModelBasedSearcher

    class MutateIncumbent(ModelBasedSearcher):
        name = "mutate-incumbent"

        def __init__(self, space, *, seed=0):
            super().__init__(space, seed=seed, num_init=4, fit_every=1)
            self.proposed_from: list[int] = []

        def _propose(self, n, exclude):
            self._refit_due()
            self.proposed_from.append(len(self._fit_rows()))
            pool = mutation_candidates(self.space, self.rng, [self.best()[0]], 20, exclude, at_least=n)
            return pool[:n]

    searcher = MutateIncumbent(nbgraph, seed=0)
    history = run_search(searcher, FakeBench(nbgraph), budget=12, seed=0, batch_size=4)
    assert history.error is None and len(set(hashes(history))) == 12
    assert searcher.proposed_from == [4, 8]  # the first batch is the initial design


# -- every space -------------------------------------------------------------------


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("label", FACTORIES)
def test_runs_on_every_space(name, label):
    space = nasframe.load_space(name)
    searcher = FACTORIES[label](space, 0)
    history = run_search(searcher, FakeBench(space), budget=14, seed=0, batch_size=4)
    assert history.error is None and len(history) == 14
    assert len(set(hashes(history))) == 14
    assert searcher._fitted_on is not None  # at least one round came from the model
    for key in hashes(history):
        assert key in searcher.seen


# -- it searches ---------------------------------------------------------------


@pytest.mark.float_sensitive
def test_both_beat_random_search_on_nbgraph_cora(bench):
    """Mean best validation accuracy after 100 queries (rounds of 10) over seeds 0..4.

    nbgraph-cora is an exact table (one run per architecture): an evaluation is
    the table's value, never above the optimum. The margins asserted sit below
    the gains measured over seeds 0..19 with these settings (docs/SEARCHERS.md,
    "How the model-based searchers compare"): in each of the four blocks of 5
    seeds the mean-best gain over random was at least 0.0018 (BANANAS) and 0.0012
    (BO); the best value alone varies from seed to seed, where the model sends
    the search is the robust signal (gains >= 0.014 on the mean, >= 0.009 on the
    median after the initial design).
    """
    seeds = range(5)
    runs = {
        "random": lambda s: RandomSearch(bench.space, seed=s),
        "bananas": lambda s: BANANAS(bench.space, seed=s, members=3, surrogate_params={"epochs": 20, "layers": 4}),
        "bo": lambda s: SurrogateBO(bench.space, seed=s, surrogate="xgb", members=3),
    }
    best, mean, median = {}, {}, {}
    optimum = bench.best()[1]
    for label, make in runs.items():
        histories = [run_search(make(s), bench, budget=100, seed=s, batch_size=10) for s in seeds]
        values = [np.array([r["val_accuracy"] for r in h.rows]) for h in histories]
        for h, v in zip(histories, values):  # exact answers: the table's value of each architecture
            assert np.array_equal(v, bench.query_hashes(hashes(h)).val_accuracy), label
            assert v.max() <= optimum, (label, v.max(), optimum)
        best[label] = float(np.mean([v.max() for v in values]))
        mean[label] = float(np.mean(values))
        median[label] = float(np.mean([np.median(v[10:]) for v in values]))
    assert min(best["bananas"], best["bo"]) > best["random"] + 0.0006, best
    # where the model sends the search is the robust signal
    assert min(mean["bananas"], mean["bo"]) > mean["random"] + 0.01, mean
    assert min(median["bananas"], median["bo"]) > median["random"] + 0.005, median
