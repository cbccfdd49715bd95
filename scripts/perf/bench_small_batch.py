"""Per-query cost at batch sizes 1 .. 20,000 against the peers, interleaved in one process.

Searchers and users mostly ask about one or a few architectures at a time,
where a batched kernel's set-up can cost more than the work. Each row times
nasframe and its peer on the very same inputs, alternating the two for
``--repeats`` rounds; the ratio is the median peer time over the median
nasframe time (above 1: nasframe is faster)::

    python scripts/perf/bench_small_batch.py --part hash
    python scripts/perf/bench_small_batch.py --part tabular
    python scripts/perf/bench_small_batch.py --part surrogate --data ../shared/data

* ``hash``: ``NB101Space.canonical_hashes`` on cells not hashed before,
  against the published algorithm written plainly (``graph_util.official_hash``,
  the way google's ``hash_module`` computes it: one md5 per vertex and
  iteration), one cell after the other.
* ``tabular``: ``TabularBenchmark.query`` on nas-bench-graph (cora), from
  architectures (what searchers hold) and from raw ``(link, ops)`` specs
  (validated and hashed first), against the package's own
  ``Arch(link, ops).valid_hash()`` and dict lookup per architecture.
* ``surrogate``: one query of the shipped ``nb101`` benchmark (noise on),
  against an NB301-sized XGBoost ensemble (10 x 300 trees, depth 13) fitted
  on the data kit and asked the NB301 way, every member one ``inplace_predict``
  of the batch.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

SIZES = (1, 10, 100, 1_000, 20_000)


def _interleaved(
    ours: Callable[[int], object], peer: Callable[[int], object], repeats: int, calls: int = 1
) -> tuple[float, float]:
    """Median seconds of one ``ours(r)`` and one ``peer(r)`` over ``repeats`` alternating rounds.

    A round makes ``calls`` calls of each side and divides: one call of a few
    microseconds is too close to the clock's own resolution and jitter to time alone.
    """
    mine, theirs = [], []
    for r in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            ours(r)
        mine.append((time.perf_counter() - start) / calls)
        start = time.perf_counter()
        for _ in range(calls):
            peer(r)
        theirs.append((time.perf_counter() - start) / calls)
    return statistics.median(mine), statistics.median(theirs)


def _row(name: str, size: int, ours: float, peer: float) -> None:
    print(f"| {name} | {size:,} | {ours / size * 1e6:,.1f} | {peer / size * 1e6:,.1f} | {peer / ours:.2f}x |")


def hash_part(repeats: int, sizes: tuple[int, ...]) -> None:
    from search_spaces.nb101.cell import NB101Cell
    from search_spaces.nb101.graph_util import official_hash
    from search_spaces.nb101.space import NB101Space

    space = NB101Space()
    for size in sizes:
        cells = space.sample(np.random.default_rng(size), size)
        # fresh, never-hashed copies for every round (a cell caches its hash)
        rounds = [[NB101Cell(c.matrix, c.ops) for c in cells] for _ in range(repeats)]
        specs = [(c.adjacency(), c.labels) for c in cells]
        got: list[list[str]] = []
        ours, peer = _interleaved(
            lambda r: got.append(space.canonical_hashes(rounds[r])),
            lambda r: [official_hash(m, labels) for m, labels in specs],
            repeats,
        )
        if got[0] != [official_hash(m, labels) for m, labels in specs]:
            raise SystemExit(f"canonical_hashes disagrees with official_hash at batch {size}")
        _row("nb101 hash", size, ours, peer)


def tabular_part(repeats: int, sizes: tuple[int, ...], dataset: str) -> None:
    import benchmarks
    from nas_bench_graph import Arch, light_read

    table = light_read(dataset)
    bench = benchmarks.load(f"nbgraph-{dataset}")
    for size in sizes:
        archs = bench.space.sample(np.random.default_rng(size), size)
        specs = [(list(a.link), list(a.ops)) for a in archs]
        reference = [table[Arch(link, ops).valid_hash()]["valid_perf"] for link, ops in specs]
        for label, asked in (("architectures", archs), ("raw (link, ops) specs", specs)):
            answers: list[np.ndarray] = []
            ours, peer = _interleaved(
                lambda r: answers.append(bench.query(asked).val_accuracy),
                lambda r: [table[Arch(link, ops).valid_hash()]["valid_perf"] for link, ops in specs],
                repeats,
                calls=max(1, 1_000 // size),
            )
            if not np.allclose(answers[0], reference):
                raise SystemExit(f"tabular answers differ from nas-bench-graph's at batch {size}")
            _row(f"nbgraph-{dataset} lookup, from {label}", size, ours, peer)


def surrogate_part(repeats: int, sizes: tuple[int, ...], data: Path) -> None:
    import benchmarks
    from benchmarks.build import build_benchmark
    from benchmarks.shipping import PLANS

    plan = PLANS["nb101"]
    results = benchmarks.load_results(data / plan.data, plan.format)
    nb301 = build_benchmark(
        results, name="nb301-shaped", surrogates=["xgb"], members=10, epochs=plan.epochs, split=plan.split,
        params={"xgb": {"n_estimators": 300, "max_depth": 13, "learning_rate": 0.05}}, auxiliary=False,
    ).benchmark.models["val_accuracy"]
    shipped = benchmarks.load("nb101")
    for size in sizes:
        archs = shipped.space.sample(np.random.default_rng(size), size)
        shipped.query(archs[:2])
        ours, peer = _interleaved(
            lambda r: shipped.query(archs, noise=True, seed=r),
            lambda r: nb301.predict_members(archs),
            repeats,
        )
        _row("nb101 surrogate query", size, ours, peer)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("hash", "tabular", "surrogate"), required=True)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds per batch size")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--dataset", default="cora", help="nas-bench-graph dataset (tabular part)")
    parser.add_argument("--data", type=Path, help="the shared data kit (surrogate part)")
    args = parser.parse_args(argv)
    print("| what | batch | nasframe us/arch | peer us/arch | peer / nasframe |")
    print("| --- | --- | --- | --- | --- |")
    sizes = tuple(args.sizes)
    if args.part == "hash":
        hash_part(args.repeats, sizes)
    elif args.part == "tabular":
        tabular_part(args.repeats, sizes, args.dataset)
    else:
        if args.data is None:
            parser.error("--part surrogate needs --data")
        surrogate_part(args.repeats, sizes, args.data)


if __name__ == "__main__":
    main()
