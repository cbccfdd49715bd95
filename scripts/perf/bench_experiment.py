"""Framework overhead and Ray speed-up of experiments on a surrogate benchmark.

Part 1 runs every built-in searcher x seeds x queries on the shipped NB101
benchmark through Ray (2 workers) and reports the wall time and the
framework's own cost per query (bookkeeping in ``run_search``: recording,
hashing, history; searcher and evaluator time excluded, as
``History.timings`` measures them). Part 2 runs the same cheap searchers once
in this process and once on Ray and reports the ratio::

    python scripts/perf/bench_experiment.py --seeds 20 --budget 300
    python scripts/perf/bench_experiment.py --seeds 20 --budget 300 --speedup-only

Run it inside the loopback-only namespace like every Ray run of this project.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from nasframe.experiment import Experiment

ALL = ["random", "evolution", "local", "bananas", "bo", "optuna", "reinforce"]
#: searchers without model fitting: the speed-up measures the framework, not MLP training
CHEAP = ["random", "evolution", "local"]


def full(searchers: list[str], seeds: int, budget: int, batch_size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        experiment = Experiment(searchers, ["nb101"], seeds, budget, batch_size, store=tmp)
        report = experiment.run(progress=False, num_cpus=2)
        runs = experiment.runs()
        evaluations = len(experiment.results())
    timings = pd.DataFrame(list(runs["timings"]))[["framework", "searcher", "evaluator"]]
    timings["searcher name"] = runs["searcher"].to_numpy()
    total = timings[["framework", "searcher", "evaluator"]].sum()
    print(f"{len(searchers)} searchers x {seeds} seeds x {budget} queries (batch {batch_size}) on nb101: "
          f"{report.wall_seconds:.0f} s wall on 2 workers, {evaluations:,} evaluations")
    print(f"  framework per query: {total['framework'] / evaluations * 1e3:.3f} ms; "
          f"searchers {total['searcher']:.0f} s, evaluator {total['evaluator']:.0f} s in all")
    per = timings.groupby("searcher name").sum() / (seeds * budget) * 1e3
    print(per.round(3).rename(columns=lambda c: f"{c} ms/query").to_markdown())


def speedup(seeds: int, budget: int, batch_size: int) -> None:
    walls = {}
    for parallel in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            experiment = Experiment(CHEAP, ["nb101"], seeds, budget, batch_size, store=tmp)
            if parallel:  # warm the workers (imports, benchmark load) outside the timed run
                Experiment(CHEAP, ["nb101"], 4, 5, store=tmp + "-warm").run(progress=False)
            start = time.perf_counter()
            experiment.run(parallel=parallel, progress=False, num_cpus=2)
            walls[parallel] = time.perf_counter() - start
    print(f"{len(CHEAP)} searchers x {seeds} seeds x {budget} queries on nb101: in-process "
          f"{walls[False]:.1f} s, Ray with 2 workers {walls[True]:.1f} s: speed-up {walls[False] / walls[True]:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=10, help="asks per batch in part 1")
    parser.add_argument("--searchers", default=",".join(ALL))
    parser.add_argument("--speedup-only", action="store_true")
    args = parser.parse_args(argv)
    import ray

    # one Ray instance for every experiment of the script: start-up (~5 s) is not what is measured
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    if not args.speedup_only:
        full(args.searchers.split(","), args.seeds, args.budget, args.batch_size)
    speedup(args.seeds, args.budget, 1)


if __name__ == "__main__":
    main()
