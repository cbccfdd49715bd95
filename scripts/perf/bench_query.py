"""Batched surrogate-benchmark queries against NB301-style one-at-a-time queries.

NB301's API answers one architecture per call and asks every ensemble member
for a one-row prediction; the baseline here does exactly that through the
same models (``bench.query([arch])`` in a loop). Both sides include
featurisation and noise. Part 1 times the shipped benchmarks; part 2 fits
XGBoost ensembles of several sizes on NB101 (shared data kit) and reports
quality (held-out Kendall tau), size on disk and throughput: the
fidelity/throughput trade-off behind the shipped configuration::

    python scripts/perf/bench_query.py                                # shipped only
    python scripts/perf/bench_query.py --data ../shared/data --tradeoff
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import benchmarks
from benchmarks.build import build_benchmark, split_results
from benchmarks.shipping import PLANS
from surrogates.metrics import kendall_tau, sparse_kendall_tau

#: (label, family, members, params): the NB301-shaped reference first
TRADEOFF = [
    ("xgb 10x300 d13 (NB301-shaped)", "xgb", 10, {"n_estimators": 300, "max_depth": 13, "learning_rate": 0.05}),
    ("xgb 10x300 d6", "xgb", 10, {"n_estimators": 300, "max_depth": 6, "learning_rate": 0.05}),
    ("xgb 10x150 d6", "xgb", 10, {"n_estimators": 150, "max_depth": 6, "learning_rate": 0.1}),
    ("xgb 10x100 d5", "xgb", 10, {"n_estimators": 100, "max_depth": 5, "learning_rate": 0.15}),
    ("xgb 5x150 d6", "xgb", 5, {"n_estimators": 150, "max_depth": 6, "learning_rate": 0.1}),
    ("xgb 3x300 d6", "xgb", 3, {"n_estimators": 300, "max_depth": 6, "learning_rate": 0.05}),
    # throughput only: 5 epochs are enough to time inference, not to rank well
    ("gin 10x (h32, 4 layers), throughput only", "gin", 10, {"epochs": 5}),
]


def batched_rate(bench, archs, repeats: int = 3) -> float:
    """Best-of-``repeats`` architectures per second of one batched noisy query."""
    best = float("inf")
    for seed in range(repeats):
        start = time.perf_counter()
        bench.query(archs, noise=True, seed=seed)
        best = min(best, time.perf_counter() - start)
    return len(archs) / best


def single_latency(bench, archs) -> float:
    """Mean seconds per query when each architecture is its own query (NB301's way)."""
    start = time.perf_counter()
    for i, arch in enumerate(archs):
        bench.query([arch], noise=True, seed=i)
    return (time.perf_counter() - start) / len(archs)


def shipped(n: int, n_single: int) -> None:
    print("| benchmark | models | batched archs/s | one-at-a-time ms/query | speed-up |")
    print("| --- | --- | --- | --- | --- |")
    for name in benchmarks.catalog.SHIPPED:
        bench = benchmarks.load(name)
        archs = bench.space.sample(np.random.default_rng(0), n)
        rate = batched_rate(bench, archs)
        latency = single_latency(bench, archs[:n_single])
        model = bench.models["val_accuracy"]
        print(f"| {name} | {model.family} x{model.members} (+{len(bench.models) - 1} mean-only) "
              f"| {rate:,.0f} | {latency * 1e3:.2f} | {rate * latency:.0f}x |")


def tradeoff(data: Path, n: int, n_single: int) -> None:
    plan = PLANS["nb101"]
    results = benchmarks.load_results(data / plan.data, plan.format)
    part = split_results(results, plan.epochs, plan.split)
    test_archs, test_y = part.pick(part.test), part.y[part.test]
    archs = results.space.sample(np.random.default_rng(0), n)
    print("| configuration | Kendall tau | sparse tau | size (gz) | fit s | batched archs/s | one-at-a-time ms | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, family, members, params in TRADEOFF:
        start = time.perf_counter()
        built = build_benchmark(results, name="tradeoff", surrogates=[family], members=members,
                                params={family: params}, epochs=plan.epochs, split=plan.split, auxiliary=False)
        fit = time.perf_counter() - start
        bench = built.benchmark
        predicted = bench.models["val_accuracy"].predict(test_archs)[0]
        with tempfile.TemporaryDirectory() as tmp:
            size = sum(f.stat().st_size for f in Path(bench.save(Path(tmp) / "b")).rglob("*") if f.is_file())
        rate = batched_rate(bench, archs)
        latency = single_latency(bench, archs[:n_single])
        print(f"| {label} | {kendall_tau(test_y, predicted):.3f} | {sparse_kendall_tau(test_y, predicted):.3f} "
              f"| {size / 2**20:.1f} MiB | {fit:.0f} | {rate:,.0f} | {latency * 1e3:.2f} | {rate * latency:.0f}x |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="architectures per batched query")
    parser.add_argument("--single", type=int, default=200, help="one-at-a-time queries timed")
    parser.add_argument("--data", type=Path, help="the shared data kit (for --tradeoff)")
    parser.add_argument("--tradeoff", action="store_true", help="fit and time several ensemble sizes on NB101")
    args = parser.parse_args(argv)
    if args.tradeoff:
        if args.data is None:
            parser.error("--tradeoff needs --data")
        tradeoff(args.data, args.n, args.single)
    else:
        shipped(args.n, args.single)


if __name__ == "__main__":
    main()
