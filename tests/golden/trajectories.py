"""Golden search trajectories: every built-in searcher, 150 queries on the shipped nb101.

Recorded once before the "one house" restructuring and replayed by
``tests/test_golden_trajectories.py``: a refactor that changes what any
searcher proposes, or what the benchmark answers, changes a hash below.

Float-heavy searchers (BANANAS' MLP ensemble, latent-bo's VAE, the GIN
surrogate behind nb101) are only bit-reproducible across x86 CPUs when torch
and MKL take the same code path everywhere, so this runs in a subprocess with
`benchmarks.answers.PORTABLE_ENV` (ATen's baseline kernels, MKL's compatible branch, one
thread). Model-based searchers use batches of 10 to keep the replay near a
minute on two cores; every other searcher runs at batch size one.

Record (only when a change of trajectory is intended, and say why in the
commit), with the same `benchmarks.answers.PORTABLE_ENV` the replay uses::

    ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        python -m tests.golden.trajectories --record
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).with_name("nb101_trajectories.json")
SEEDS = (0, 1, 2)
BUDGET = 150


#: searcher -> (batch size, options); model-based ones get batches of 10
SETTINGS: dict[str, tuple[int, dict[str, Any]]] = {
    "random": (1, {}),
    "evolution": (1, {}),
    "mo-evolution": (1, {"objectives": ["accuracy:max", "params:min"]}),
    "local": (1, {}),
    "reinforce": (1, {}),
    "optuna": (1, {}),
    "bo": (10, {}),
    "bananas": (10, {}),
    "latent-bo": (10, {"num_init": 10, "candidates": 150}),
    "extrapolate": (10, {"candidates": 100, "random_candidates": 100}),
}


def _extra_options(name: str, space, bench) -> dict[str, Any]:
    """Fixed models for the searchers that need one (trained here, deterministically)."""
    import numpy as np

    if name == "latent-bo":
        from surrogates.embeddings import VSGAE, train

        cells = space.sample(np.random.default_rng(0), 200)
        model = VSGAE(space, hidden=32, latent=16, seed=0)
        train(model, cells, epochs=20, batch_size=50, lr=3e-3, seed=0)
        return {"model": model}
    if name == "extrapolate":
        from surrogates import make_surrogate

        cells = space.sample(np.random.default_rng(1), 150)
        labels = np.array([r.val_accuracy for r in bench.evaluate(cells, seed=0)])
        predictor = make_surrogate("gin", space, members=2, seed=0, epochs=20).fit(cells, labels)
        return {"predictor": predictor}
    return {}


def trajectories(names: list[str] | None = None) -> dict[str, dict[str, dict[str, list]]]:
    """``{searcher: {seed: {"hash": [...], "val_accuracy": [...]}}}`` for 150 queries each."""
    import torch

    import benchmarks
    from nasframe.runner import run_search
    from nasframe.searchers import make

    torch.set_num_threads(1)
    bench = benchmarks.load("nb101")
    out: dict[str, dict[str, dict[str, list]]] = {}
    for name in names or list(SETTINGS):
        batch_size, options = SETTINGS[name]
        options = {**options, **_extra_options(name, bench.space, bench)}
        out[name] = {}
        for seed in SEEDS:
            history = run_search(make(name, bench.space, seed=seed, **options), bench, BUDGET,
                                 seed=seed, batch_size=batch_size)
            if history.error:
                raise RuntimeError(f"{name} seed {seed} failed: {history.error}")
            out[name][str(seed)] = {
                "hash": [row["hash"] for row in history.rows],
                "val_accuracy": [round(float(row["val_accuracy"]), 12) for row in history.rows],
            }
    return out


def main(argv: list[str]) -> None:
    result = trajectories(argv[1:] if len(argv) > 1 and argv[1] != "--record" else None)
    text = json.dumps(result, sort_keys=True)
    if "--record" in argv:
        FIXTURE.write_text(text + "\n")
        print(f"wrote {FIXTURE}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
