"""Speed of the vectorised NB101 hash against the reference, in one process.

Cells are drawn uniformly from the enumerated space (mostly 7 vertices, like
real NB101 data); both implementations hash the very same inputs and must
agree on every cell::

    python scripts/perf/bench_nb101_hash.py --n 20000
    python scripts/perf/bench_nb101_hash.py --n 0 --enumeration   # full build only
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from search_spaces.nb101.enumeration import build_index, enumerate_cells
from search_spaces.nb101.fast_hash import batch_hash
from search_spaces.nb101.graph_util import official_hash


def _timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def compare(n: int, seed: int) -> None:
    matrices, labels, sizes = enumerate_cells()
    rows = np.random.default_rng(seed).choice(len(matrices), size=min(n, len(matrices)), replace=False)
    specs = [matrices[i, : sizes[i], : sizes[i]].copy() for i in rows]
    ops = [labels[i, : sizes[i]].tolist() for i in rows]
    # warm both paths (imports, lookup tables) outside the timed runs
    batch_hash(specs[:50], ops[:50])
    [official_hash(m, o) for m, o in zip(specs[:50], ops[:50])]

    reference, t_reference = _timed(lambda: [official_hash(m, o) for m, o in zip(specs, ops)])
    fast, t_fast = _timed(batch_hash, specs, ops)
    if fast != reference:
        bad = sum(a != b for a, b in zip(fast, reference))
        raise SystemExit(f"batch_hash disagrees with official_hash on {bad} of {len(specs)} cells")
    print(f"cells: {len(specs):,} drawn uniformly from the space (mean {sizes[rows].mean():.2f} vertices)")
    print(f"official_hash (reference): {t_reference:8.3f} s  {t_reference / len(specs) * 1e6:8.1f} us/cell")
    print(f"batch_hash:                {t_fast:8.3f} s  {t_fast / len(specs) * 1e6:8.1f} us/cell")
    print(f"speed-up: {t_reference / t_fast:.1f}x (identical hashes on all cells)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, default=20_000, help="cells to hash with both implementations (0: skip)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--enumeration",
        action="store_true",
        help="also time the full enumeration: every cell enumerated, hashed and checked (nothing is written)",
    )
    args = parser.parse_args(argv)
    if args.n > 0:
        compare(args.n, args.seed)
    if args.enumeration:
        index, seconds = _timed(build_index, 7, 9, True)
        print(f"full enumeration: {len(index):,} unique cells in {seconds:.1f} s")


if __name__ == "__main__":
    main()
