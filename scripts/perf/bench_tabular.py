"""Batched tabular lookups on nas-bench-graph against its own one-at-a-time API.

The baseline is how the nas-bench-graph package is used: build its ``Arch``,
compute ``valid_hash()`` and index the dict ``light_read(dataset)`` returns,
one architecture at a time. nasframe answers the same architectures (same
hashes, same numbers, checked) in one batched ``query``; both include hashing::

    python scripts/perf/bench_tabular.py --dataset cora --n 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import benchmarks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--n", type=int, default=1_000_000, help="architectures per batched query")
    parser.add_argument("--single", type=int, default=100_000, help="one-at-a-time lookups timed")
    args = parser.parse_args(argv)

    from nas_bench_graph import Arch, light_read

    table = light_read(args.dataset)
    bench = benchmarks.load(f"nbgraph-{args.dataset}")
    archs = bench.space.sample(np.random.default_rng(0), args.n)
    raw = [(list(a.link), list(a.ops)) for a in archs[: args.single]]

    start = time.perf_counter()
    reference = [table[Arch(link, ops).valid_hash()]["valid_perf"] for link, ops in raw]
    single = (time.perf_counter() - start) / len(raw)

    bench.query(archs[:1000])  # warm-up outside the timed run
    start = time.perf_counter()
    answer = bench.query(archs, noise=True, seed=0)
    batched = len(archs) / (time.perf_counter() - start)
    if not np.allclose(answer.val_accuracy[: len(reference)], reference):
        raise SystemExit("batched answers differ from nas-bench-graph's own table")

    print(f"nas-bench-graph {args.dataset}: {len(bench):,} architectures; answers identical")
    print(f"one at a time (package API): {1 / single:12,.0f} queries/s")
    print(f"batched (nasframe query):    {batched:12,.0f} queries/s   ({batched * single:.1f}x)")


if __name__ == "__main__":
    main()
