"""Does a graph predictor extrapolate to larger cells? Checked where the answer is known.

    python scripts/studies/extrapolation_nb101.py --seeds 3 --out runs/extrapolation.json

No benchmark has labels for 8-vertex NB101 cells, so the question is asked
one size down, on real data: predictors are fitted on the cells of
``nb101_by_hash_part_a.json`` with at most 6 vertices (the space
``NB101Space(max_vertices=6)``) and, through
:meth:`surrogates.base.Surrogate.transferred`, score its 7-vertex cells,
none of which they have seen. Reported per family and seed: Kendall tau and
Spearman on the 7-vertex cells, and the mean true validation accuracy of
the 10 cells each predictor ranks highest (what ``extrapolate`` would
propose from that pool) next to the pool's mean, the mean of its true 10
best and its best. ``--reference`` adds the in-distribution yardstick: the
same family fitted on as many random 7-vertex cells, scored on the other
7-vertex cells.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from embedding_predictors import SHARED, nb101_labelled, record


def main() -> None:
    from search_spaces.nb101.space import NB101Space
    from surrogates import make_surrogate

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default="gin,vsgae-mlp")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--reference", action="store_true", help="Also fit on 7-vertex cells (the yardstick).")
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, appended.")
    args = parser.parse_args()

    _, archs, y = nb101_labelled(args.data)
    size = np.array([a.num_vertices for a in archs])
    small_space, large_space = NB101Space(max_vertices=6), NB101Space()
    fit_rows, pool_rows = np.flatnonzero(size <= 6), np.flatnonzero(size == 7)
    small = [small_space.validate(archs[i]) for i in fit_rows]
    pool, truth = [archs[i] for i in pool_rows], y[pool_rows]
    print(f"{len(small)} cells with <= 6 vertices to fit on, {len(pool)} 7-vertex cells to rank", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in range(args.seeds):
        for name in args.families.split(","):
            started = time.perf_counter()
            model = make_surrogate(name, small_space, members=args.members, seed=seed).fit(small, y[fit_rows])
            predicted = model.transferred(large_space).predict(pool)[0]
            record(args.out, {"model": name, "fit_on": "<= 6 vertices", "seed": seed, "fit": len(small),
                              **_ranking(truth, predicted, args.top), "fit_best": float(y[fit_rows].max()),
                              "seconds": round(time.perf_counter() - started, 1)})
            if args.reference:
                started = time.perf_counter()
                rows = np.random.default_rng(seed).permutation(len(pool))
                fit, rest = rows[: len(small)], rows[len(small):]
                model = make_surrogate(name, large_space, members=args.members, seed=seed)
                model.fit([pool[i] for i in fit], truth[fit])
                predicted = model.predict([pool[i] for i in rest])[0]
                record(args.out, {"model": name, "fit_on": "7 vertices", "seed": seed, "fit": len(fit),
                                  **_ranking(truth[rest], predicted, args.top),
                                  "seconds": round(time.perf_counter() - started, 1)})


def _ranking(truth: np.ndarray, predicted: np.ndarray, top: int) -> dict[str, float]:
    from surrogates.metrics import kendall_tau, spearman

    chosen = np.argsort(-predicted, kind="stable")[:top]
    return {"pool": len(truth), "kendall_tau": kendall_tau(truth, predicted), "spearman": spearman(truth, predicted),
            f"top{top}_mean": float(truth[chosen].mean()), "pool_mean": float(truth.mean()),
            f"pool_top{top}_mean": float(np.sort(truth)[-top:].mean()), "pool_best": float(truth.max())}


if __name__ == "__main__":
    main()
