"""Searcher cost per query against raw Optuna on the same categorical encoding, in one process.

Rows alternate nasframe's searcher and the raw Optuna study for
``--repeats`` rounds (seeds 0, 1, ...), each round ``--queries`` evaluated
architectures on NB101, and report the median seconds per query. Both sides
get the same evaluator, a fixed pseudo-accuracy per canonical hash (an md5
of it), so only the searchers' own cost is timed::

    python scripts/perf/bench_searchers.py --queries 300 --repeats 3

* ``RandomSearch`` (NB101's ``random_spec`` sampler, distinct architectures)
  against an Optuna study with ``RandomSampler`` over ``space.decisions()``.
* ``OptunaSearcher(sampler="tpe")`` against a raw ``TPESampler`` study on the
  same distributions: raw Optuna asks, spells the trial with
  ``from_choices``, tells ``FAIL`` for an invalid spelling and the value for a
  valid one (duplicates included: raw Optuna does not know them), until
  ``--queries`` valid spellings were evaluated. The study sizes are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

from nasframe.core import EvalResult, InvalidArchitecture
from nasframe.runner import run_search
from nasframe.searchers._optuna import OptunaSearcher, _quiet_create_study
from nasframe.searchers._random import RandomSearch
from search_spaces.nb101.space import NB101Space


def pseudo_accuracy(key: str) -> float:
    return int(hashlib.md5(key.encode()).hexdigest()[:8], 16) / 2**32


class HashedScore:
    """The evaluator: a fixed pseudo-accuracy per architecture, nearly free."""

    def __init__(self, space: NB101Space) -> None:
        self.space = space

    def evaluate(self, archs, fidelity=None, seed=None):
        return [EvalResult(val_accuracy=pseudo_accuracy(k)) for k in self.space.canonical_hashes(archs)]


def raw_optuna(space: NB101Space, sampler, queries: int) -> int:
    """Raw Optuna on the categorical view until ``queries`` valid spellings were told; returns trials."""
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    study = _quiet_create_study(direction="maximize", sampler=sampler)
    names = space.decisions()
    distributions = {name: CategoricalDistribution(tuple(range(k))) for name, k in names}
    told = 0
    while told < queries:
        trial = study.ask(distributions)
        try:
            arch = space.from_choices([trial.params[name] for name, _ in names])
        except InvalidArchitecture:
            study.tell(trial, state=TrialState.FAIL)
            continue
        study.tell(trial, pseudo_accuracy(space.canonical_hash(arch)))
        told += 1
    return len(study.trials)


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def compare(label: str, ours, peer, repeats: int, queries: int) -> None:
    mine, theirs, sizes = [], [], []
    for seed in range(repeats):
        seconds, trials = _timed(lambda: ours(seed))
        mine.append(seconds / queries)
        seconds, raw_trials = _timed(lambda: peer(seed))
        theirs.append(seconds / queries)
        sizes.append((trials, raw_trials))
    ours_ms, peer_ms = statistics.median(mine) * 1e3, statistics.median(theirs) * 1e3
    print(f"| {label} | {ours_ms:.2f} | {peer_ms:.2f} | {ours_ms / peer_ms:.2f}x | {sizes} |")


def main(argv: list[str] | None = None) -> None:
    import optuna

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1, help="architectures per ask of nasframe's searchers")
    args = parser.parse_args(argv)
    space = NB101Space()
    evaluator = HashedScore(space)

    def ours(make):
        def run(seed: int):
            searcher = make(seed)
            run_search(searcher, evaluator, args.queries, seed=seed, batch_size=args.batch)
            return len(searcher.study.trials) if hasattr(searcher, "study") else "-"
        return run

    print("| searcher | nasframe ms/query | raw Optuna ms/query | ratio | (nasframe trials, raw trials) per seed |")
    print("| --- | --- | --- | --- | --- |")
    compare("random", ours(lambda s: RandomSearch(space, seed=s)),
            lambda s: raw_optuna(space, optuna.samplers.RandomSampler(seed=s), args.queries),
            args.repeats, args.queries)
    compare("tpe", ours(lambda s: OptunaSearcher(space, seed=s, sampler="tpe")),
            lambda s: raw_optuna(space, optuna.samplers.TPESampler(seed=s), args.queries),
            args.repeats, args.queries)


if __name__ == "__main__":
    main()
