"""Check the shipped NB101 benchmark's seed noise against real NB101 repeats, and record its cap.

    python scripts/studies/nb101_noise.py --data ../shared/data            # print the check
    python scripts/studies/nb101_noise.py --data ../shared/data --write    # also write the card's "noise"

The real repeats are the cells that NASLib's file and the by-hash file show
with two or three distinct runs (``benchmarks.noise.nb101_repeats``). The cap
is the 0.99 quantile of the ensemble's member spread over the 10,501
architectures the benchmark was fitted from (train, validation and test
split); ``--write`` stores it, the check before and after it, and the median
noise over the space and over its best cells in ``benchmark.json``. The model
itself is not refitted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import benchmarks
from benchmarks.catalog import MODELS
from benchmarks.noise import (
    CAP_QUANTILE,
    calibrate,
    nb101_repeats,
    noise_std,
    spread_cap,
)
from benchmarks.surrogate import MANIFEST


def _space_medians(model, noise: dict | None, n: int = 50_000, top: int = 500) -> dict[str, float]:
    """Median noise std over ``n`` uniformly drawn cells and over the ``top`` best of them by mean."""
    from search_spaces.nb101.enumeration import load_index

    index = load_index()
    rows = np.random.default_rng(0).choice(len(index), n, replace=False)
    members = model.predict_members(index.cells(rows))
    std, mean = noise_std(members, noise), members.mean(axis=0)
    best = np.argsort(-mean)[:top]
    return {"median_std_space": float(np.median(std)), f"median_std_top{top}": float(np.median(std[best])),
            "max_std_space": float(std.max()), "sampled_cells": n}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data kit folder")
    parser.add_argument("--write", action="store_true", help="record the cap and the check in the shipped card")
    args = parser.parse_args(argv)
    folder = args.data / "nb101"
    bench = benchmarks.load("nb101")
    model = bench.models["val_accuracy"]
    repeats = nb101_repeats(folder / "naslib_zc_nasbench101.json", folder / "nb101_by_hash_part_a.json")
    results = benchmarks.load_results(folder / "nb101_by_hash_part_a.json", "nb101-json")
    spread = model.predict_members(list(results.archs.values())).std(axis=0)
    capped = {"std_cap": spread_cap(spread, CAP_QUANTILE)}
    report = {
        "model": "N(ensemble mean, member spread), the spread capped at std_cap",
        "std_cap": capped["std_cap"],
        "cap_rule": f"{CAP_QUANTILE} quantile of the member spread over the {len(spread):,} architectures of the data",
        "real_repeats": "cells with 2-3 distinct NB101 runs in naslib_zc_nasbench101.json + nb101_by_hash_part_a.json",
        "check_uncapped": calibrate(model.predict_members, repeats, None),
        "check_capped": calibrate(model.predict_members, repeats, capped),
        "space_uncapped": _space_medians(model, None),
        "space_capped": _space_medians(model, capped),
    }
    print(json.dumps(report, indent=2))
    if args.write:
        path = MODELS / "nb101" / MANIFEST
        card = json.loads(path.read_text())
        card["noise"] = report
        path.write_text(json.dumps(card, indent=2, sort_keys=True))
        print(f"written to {path}")


if __name__ == "__main__":
    main()
