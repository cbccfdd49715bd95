"""The Optuna bridge and REINFORCE: they run on every space, search, and resume exactly."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest

import nasframe as nf
from nasframe.core import EvalResult
from nasframe.runner import run_search
from nasframe.pareto import dominates
from nasframe.searchers._optuna import DUPLICATE, OptunaSearcher
from nasframe.searchers._random import RandomSearch
from nasframe.searchers._reinforce import REINFORCE


@pytest.fixture(scope="module")
def bench(cora):
    return cora


SPACES = ("nb101", "darts", "nb301", "enas", "nbgraph", "mnas")


class FakeBench:
    """A fixed pseudo-accuracy and parameter count per architecture (functions of its hash)."""

    def __init__(self, space):
        self.space = space

    def evaluate(self, archs, fidelity=None, seed=None):
        out = []
        for key in self.space.canonical_hashes(archs):
            digest = hashlib.md5(key.encode()).hexdigest()
            out.append(EvalResult(val_accuracy=int(digest[:8], 16) / 2**32, params=int(digest[8:12], 16)))
        return out


def hashes(history) -> list[str]:
    return [row["hash"] for row in history.rows]


def values(history) -> np.ndarray:
    return np.array([row["val_accuracy"] for row in history.rows])


# -- Optuna --------------------------------------------------------------------


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_optuna_runs_on_every_space(name, sampler):
    space = nf.load_space(name)
    searcher = OptunaSearcher(space, seed=0, sampler=sampler)
    history = run_search(searcher, FakeBench(space), budget=14, seed=0, batch_size=3)
    assert history.error is None and len(history) == 14
    assert len(set(hashes(history))) == 14  # never the same architecture twice
    states = {t.state.name for t in searcher.study.trials}
    assert states <= {"COMPLETE", "FAIL"}  # everything asked was told or rejected


def test_tpe_beats_random_search_on_cora(bench):
    # Measured (budget 100, nbgraph-cora optimum 0.8193, Optuna 5.0):
    #   mean best over seeds 0-9:  TPE 0.8101, Optuna random 0.8083, RandomSearch 0.8075
    #   over 30 seeds:             TPE 0.8097, Optuna random 0.8074, RandomSearch 0.8089 (sem ~0.0005)
    #   mean accuracy of the 100 evaluated (30 seeds): TPE 0.7812, Optuna random 0.772, RandomSearch 0.7622;
    #   per seed TPE 0.764 .. 0.789, RandomSearch 0.745 .. 0.779; TPE's gain over RandomSearch in the
    #   three blocks of 10 seeds (0-9, 10-19, 20-29): 0.0188, 0.0215, 0.0169.
    # The mean-best edge at this budget is within a standard error (TPE's first 10 trials are its
    # seeded random startup), so where TPE samples is what is asserted, against our RandomSearch
    # (the baseline every comparison uses), with the bar well inside the smallest block gain.
    def run(make, seed):
        return values(run_search(make(seed), bench, 100, seed=seed))

    tpe = [run(lambda s: OptunaSearcher(bench.space, seed=s, sampler="tpe"), seed) for seed in range(10)]
    rnd = [run(lambda s: RandomSearch(bench.space, seed=s), seed) for seed in range(10)]
    assert np.mean(tpe) > np.mean(rnd) + 0.01, (np.mean(tpe), np.mean(rnd))


def test_nsga2_returns_a_non_dominated_front(bench):
    searcher = OptunaSearcher(
        bench.space, seed=0, sampler="nsga2", objectives=("val_accuracy", "params"),
        sampler_options={"population_size": 20},
    )
    history = run_search(searcher, bench, budget=80, seed=0)
    assert history.error is None and len(history) == 80
    front = searcher.pareto_front()
    points = [(r.val_accuracy, r.params) for _, r in front]
    signed = [np.array([a, -p]) for a, p in points]
    assert len(front) >= 2
    assert not any(dominates(a, b) for a in signed for b in signed)
    on_front = {bench.space.canonical_hash(a) for a, _ in front}
    for arch, result in searcher.history:  # everything else is dominated by the front
        if bench.space.canonical_hash(arch) not in on_front:
            assert any(dominates(p, np.array([result.val_accuracy, -result.params])) for p in signed)
    assert [p[1] for p in points] == sorted(p[1] for p in points)
    optuna_front = {tuple(t.values) for t in searcher.study.best_trials}
    assert optuna_front == {(float(a), float(p)) for a, p in points}


def test_cmaes_uses_integer_distributions_and_searches(bench):
    from optuna.distributions import IntDistribution

    searcher = OptunaSearcher(bench.space, seed=0, sampler="cmaes")
    history = run_search(searcher, bench, budget=40, seed=0)
    assert history.error is None and len(set(hashes(history))) == 40
    trial = searcher.study.trials[-1]
    assert all(isinstance(d, IntDistribution) for d in trial.distributions.values())
    with pytest.raises(ValueError, match="single-objective"):
        OptunaSearcher(bench.space, sampler="cmaes", objectives=("val_accuracy", "params"))


@pytest.mark.parametrize("sampler", ["tpe", "nsga2"])
def test_optuna_same_seed_same_trajectory(bench, sampler):
    def run(seed):
        return hashes(run_search(OptunaSearcher(bench.space, seed=seed, sampler=sampler), bench, 40, batch_size=4))

    first = run(3)
    assert first == run(3) and first != run(4)


def test_optuna_resume_continues_the_same_trajectory(bench):
    searcher = OptunaSearcher(bench.space, seed=1)
    run_search(searcher, bench, 25, seed=0)
    state = pickle.dumps(searcher.state_dict())
    resumed = OptunaSearcher(bench.space, seed=99)
    resumed.load_state_dict(pickle.loads(state))
    assert len(resumed.study.trials) == len(searcher.study.trials) and resumed.seen == searcher.seen
    assert hashes(run_search(resumed, bench, 25, seed=1)) == hashes(run_search(searcher, bench, 25, seed=1))
    # a study pickle that does not load (another Optuna version) is rebuilt from the trial log
    broken = pickle.loads(state)
    broken["study"] = b"not a pickle"
    replayed = OptunaSearcher(bench.space, seed=99)
    replayed.load_state_dict(broken)
    original = pickle.loads(pickle.loads(state)["study"]).trials
    assert [t.state for t in replayed.study.trials] == [t.state for t in original]
    assert sorted(t.values or [] for t in replayed.study.trials) == sorted(t.values or [] for t in original)
    later = hashes(run_search(replayed, bench, 25, seed=1))
    before = {bench.space.canonical_hash(a) for a, _ in replayed.history[:25]}
    assert len(set(later)) == 25 and not set(later) & before


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_invalid_and_duplicate_spellings_fail_and_each_architecture_is_one_trial(sampler):
    space = nf.load_space("nb101")
    searcher = OptunaSearcher(space, seed=0, sampler=sampler)
    fake = FakeBench(space)
    run_search(searcher, fake, budget=60, seed=0, batch_size=4)
    trials = searcher.study.trials
    known = {space.canonical_hash(a): r.val_accuracy for a, r in searcher.history}
    failed = [t for t in trials if t.state.name == "FAIL"]
    invalid = [t for t in failed if "invalid" in t.user_attrs]
    duplicate = [t for t in failed if DUPLICATE in t.user_attrs]
    assert invalid and len(invalid) + len(duplicate) == len(failed)
    assert {t.user_attrs["invalid"] for t in invalid} <= {"input and output are disconnected", "at most 9 edges"}
    for trial in duplicate:  # a duplicate names an architecture proposed before it
        assert trial.user_attrs[DUPLICATE] == space.canonical_hash(
            space.from_choices([trial.params[n] for n, _ in space.decisions()])
        )
        assert trial.user_attrs[DUPLICATE] in known
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    spelled = [space.canonical_hash(space.from_choices([t.params[n] for n, _ in space.decisions()])) for t in complete]
    assert sorted(spelled) == sorted(known)  # the sampler sees each evaluated architecture exactly once
    for trial, key in zip(complete, spelled):
        assert trial.value == known[key]


def test_optuna_resume_keeps_duplicate_marks_when_replayed():
    space = nf.load_space("nb101")
    searcher = OptunaSearcher(space, seed=0, sampler="random")
    run_search(searcher, FakeBench(space), budget=30, seed=0)
    state = searcher.state_dict()
    state["study"] = b"not a pickle"
    replayed = OptunaSearcher(space, seed=5, sampler="random")
    replayed.load_state_dict(state)
    marks = [(t.state.name, sorted(t.user_attrs.items())) for t in searcher.study.trials]
    assert [(t.state.name, sorted(t.user_attrs.items())) for t in replayed.study.trials] == marks


def test_optuna_warm_start_and_bad_options():
    space = nf.load_space("nbgraph")
    searcher = OptunaSearcher(space, seed=0)
    warm = space.sample(np.random.default_rng(5), 3)
    searcher.tell(warm, FakeBench(space).evaluate(warm))
    assert len(searcher.study.trials) == 3 and {space.canonical_hash(a) for a in warm} <= searcher.seen
    asked = searcher.ask(20)
    assert len(asked) == 20 and not set(space.canonical_hashes(asked)) & set(space.canonical_hashes(warm))
    with pytest.raises(ValueError, match="objectives must be one or more distinct"):
        OptunaSearcher(space, objectives=("params", "params"))
    with pytest.raises(ValueError, match="unknown sampler 'grid'"):
        OptunaSearcher(space, sampler="grid")
    multi = OptunaSearcher(space, objectives=("val_accuracy", "params"))
    arch = multi.ask(1)
    with pytest.raises(ValueError, match="no objective 'params'"):
        multi.tell(arch, [EvalResult(val_accuracy=0.5)])


def test_optuna_accepts_a_sampler_instance():
    import optuna

    space = nf.load_space("mnas")
    searcher = OptunaSearcher(space, sampler=optuna.samplers.RandomSampler(seed=7))
    history = run_search(searcher, FakeBench(space), budget=10, seed=0)
    assert len(history) == 10 and "RandomSampler" in repr(searcher)


# -- REINFORCE -----------------------------------------------------------------


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("hidden", [0, 8])
def test_reinforce_runs_on_every_space(name, hidden):
    space = nf.load_space(name)
    searcher = REINFORCE(space, seed=0, hidden=hidden)
    history = run_search(searcher, FakeBench(space), budget=12, seed=0, batch_size=3)
    assert history.error is None and len(set(hashes(history))) == 12
    assert len(searcher.rewards) >= 12 and searcher.baseline is not None
    probabilities = searcher.probabilities()
    assert [len(p) for p in probabilities] == [k for _, k in space.decisions()]
    assert all(np.isclose(p.sum(), 1.0) for p in probabilities)


def test_reinforce_improves_its_mean_reward_on_cora(bench):
    # Measured (nbgraph-cora, 200 queries, seeds 0-4), mean accuracy of queries 1-50 -> 51-200:
    #   lr=10:             0.7759 -> 0.7890 (last 50: 0.7918), every seed improves
    #   lr=0.1 (NB101's):  0.7729 -> 0.7745: cora's rewards sit within ~0.02 of the
    #   baseline, so a 0.1 step moves a logit ~0.002 and 200 steps barely move the policy.
    first, rest = [], []
    for seed in range(5):
        v = values(run_search(REINFORCE(bench.space, seed=seed, lr=10.0), bench, 200, seed=seed))
        first.append(v[:50].mean())
        rest.append(v[50:].mean())
    assert np.mean(rest) > np.mean(first) + 0.005
    assert sum(r > f for r, f in zip(rest, first)) >= 4


def test_reinforce_step_moves_probability_towards_better_than_baseline():
    space = nf.load_space("mnas")
    searcher = REINFORCE(space, seed=0)
    a, b = searcher.ask(2)
    searcher.tell([a], [EvalResult(val_accuracy=0.5)])  # first step: the baseline is the reward itself
    assert searcher.baseline == pytest.approx(0.5)
    assert all(np.allclose(p, 1 / len(p)) for p in searcher.probabilities())
    searcher.tell([b], [EvalResult(val_accuracy=0.9)])
    chosen = space.to_choices(b)
    probabilities = searcher.probabilities()
    assert all(p[c] > 1 / len(p) for p, c in zip(probabilities, chosen))
    assert 0.5 < searcher.baseline < 0.9


def test_reinforce_known_duplicate_is_a_free_step_not_a_proposal():
    space = nf.load_space("nbgraph")
    searcher = REINFORCE(space, seed=0, max_draws=5)
    target = space.from_choices([1, 0, 1, 0, 1, 0, 1])
    searcher.tell([target], [EvalResult(val_accuracy=0.8)])  # not asked: recorded, no step
    assert searcher.rewards == [] and space.canonical_hash(target) in searcher.seen
    for logits, choice in zip(searcher._logits, space.to_choices(target)):
        logits[choice] = 50.0  # the policy now draws the told architecture (almost) surely
    asked = searcher.ask(1)
    assert len(asked) == 1 and asked[0] != target
    assert searcher.rewards and set(searcher.rewards) == {0.8}


@pytest.mark.parametrize("hidden", [0, 16])
def test_reinforce_same_seed_same_trajectory_and_resume(bench, hidden):
    def make(seed):
        return REINFORCE(bench.space, seed=seed, hidden=hidden, lr=None if hidden else 5.0)

    first = hashes(run_search(make(2), bench, 30, seed=0, batch_size=2))
    assert first == hashes(run_search(make(2), bench, 30, seed=0, batch_size=2))
    assert first != hashes(run_search(make(3), bench, 30, seed=0, batch_size=2))
    searcher = make(2)
    run_search(searcher, bench, 20, seed=0)
    state = pickle.dumps(searcher.state_dict())
    resumed = make(7)
    resumed.load_state_dict(pickle.loads(state))
    assert hashes(run_search(resumed, bench, 20, seed=1)) == hashes(run_search(searcher, bench, 20, seed=1))
    assert resumed.rewards == searcher.rewards


def test_reinforce_bad_options_and_invalid_draws():
    space = nf.load_space("nb101")
    for kwargs, message in [({"hidden": -1}, "hidden"), ({"baseline_decay": 1.0}, "baseline_decay"),
                            ({"lr": 0.0}, "lr"), ({"entropy": -1.0}, "entropy"), ({"max_draws": 0}, "max_draws")]:
        with pytest.raises(ValueError, match=message):
            REINFORCE(space, **kwargs)
    searcher = REINFORCE(space, seed=0, entropy=0.01)
    run_search(searcher, FakeBench(space), budget=20, seed=0)
    assert searcher.invalid_draws > 0  # NB101 spellings are often invalid: redrawn, never rewarded
    # a step per evaluated architecture (plus free steps on drawn duplicates), none for invalid draws
    assert len(searcher.rewards) >= 20
    assert set(searcher.rewards) <= {r.val_accuracy for _, r in searcher.history}
    assert REINFORCE(space).lr == 0.1 and REINFORCE(space, hidden=4).lr == 0.001
