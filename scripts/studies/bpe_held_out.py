"""Does the BPE that MIP chose rank *other* architectures like the full recipe? A held-out check.

    python scripts/studies/bpe_held_out.py --out runs/bpe-held-out --archs 24 --replicates 3

The Fashion-MNIST study of docs/BPE.md chose its BPE on 24 NB101 cells drawn
with seed 0 and scored it on the same 24, so its Spearman correlation is
optimistic (the choice and the score share their noise). This trains 24
*other* cells (drawn with ``--seed``, the study's cells excluded), each with
the study's full recipe (the reference ranking, test accuracy) and with the
chosen BPE under ``--replicates`` training seeds, then reports the BPE's
Spearman correlation on them with a bootstrap 95% confidence interval over
architectures. Results go to ``--out`` (one JSON file per training, written
atomically: a killed run re-run with the same arguments trains only what is
missing) and ``--out/held_out.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

#: the study's full recipe (docs/BPE.md): 4 epochs over half of Fashion-MNIST's training images
FULL = {"epochs": 4, "data_fraction": 0.5}
#: the BPE MIP chose on the study's 24 cells (docs/BPE.md, "Chosen BPE")
CHOSEN = {"epochs": 1, "data_fraction": 0.25, "image_size": 14, "channels": 16, "layers": 1, "batch_size": 256,
          "lr": 0.025, "cutout": 7, "precision": "32"}
#: the study's draw: 24 cells from NB101's sampler with seed 0
STUDY_SEED, STUDY_ARCHS = 0, 24


def held_out_archs(space, count: int, seed: int) -> list:
    """``count`` distinct cells drawn with ``seed``, none of them one of the study's."""
    taken = set(space.canonical_hashes(space.sample(np.random.default_rng(STUDY_SEED), STUDY_ARCHS)))
    chosen, rng = {}, np.random.default_rng(seed)
    while len(chosen) < count:
        for arch in space.sample(rng, count):
            key = space.canonical_hash(arch)
            if key not in taken and key not in chosen and len(chosen) < count:
                chosen[key] = arch
    return list(chosen.values())


def bootstrap_spearman(estimate: np.ndarray, reference: np.ndarray, draws: int, seed: int) -> tuple[float, float]:
    """The 2.5% and 97.5% quantiles of Spearman's rho over architectures resampled with replacement."""
    rng = np.random.default_rng(seed)
    n = len(reference)
    values = []
    for _ in range(draws):
        rows = rng.integers(0, n, n)
        if len(np.unique(reference[rows])) > 1 and len(np.unique(estimate[rows])) > 1:
            values.append(spearmanr(estimate[rows], reference[rows]).statistic)
    return float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))


def main() -> None:
    from nasframe.core import load_space
    from nasframe.estimation import BPEEvaluator, config_key
    from nasframe.ray_session import ray_session
    from nasframe.tasks import Recipe, load_task

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="study folder (resumable)")
    parser.add_argument("--archs", type=int, default=24, help="held-out cells (the study used 24 others)")
    parser.add_argument("--seed", type=int, default=1, help="draw of the held-out cells; also the training seed")
    parser.add_argument("--replicates", type=int, default=3, help="training seeds of the BPE")
    parser.add_argument("--bootstrap", type=int, default=10_000)
    parser.add_argument("--address", default=None, help="Ray cluster (default: a local Ray)")
    args = parser.parse_args()

    space, task = load_space("nb101"), load_task("fashion-mnist")
    archs = held_out_archs(space, args.archs, args.seed)
    with ray_session(address=args.address):
        evaluator = BPEEvaluator(task, space, archs, Recipe.from_dict(FULL), Path(args.out), seed=args.seed)
        print(evaluator.describe_reference())
        reference = evaluator.reference()["test_accuracy"].to_numpy()
        scores = [evaluator([CHOSEN], replicate=r).iloc[0] for r in range(args.replicates)]
    estimates = []
    for r in range(args.replicates):  # the BPE's validation accuracies, stored as the evaluator names them
        folder = Path(args.out) / (config_key(CHOSEN) + (f"-r{r}" if r else ""))
        estimates.append(np.array([json.loads((folder / f"{h}.json").read_text())["val_accuracy"]
                                   for h in evaluator.hashes]))
    per_seed = [float(s["spearman"]) for s in scores]
    mean_estimate = np.mean(estimates, axis=0)
    result = {
        "held_out_archs": len(archs), "seed": args.seed, "full": FULL, "bpe": CHOSEN,
        "spearman_per_seed": per_seed,
        "spearman_first_seed_ci95": bootstrap_spearman(estimates[0], reference, args.bootstrap, args.seed),
        "spearman_mean_over_seeds": float(np.mean(per_seed)), "spearman_std_over_seeds": float(np.std(per_seed)),
        "spearman_of_seed_mean": float(spearmanr(mean_estimate, reference).statistic),
        "spearman_of_seed_mean_ci95": bootstrap_spearman(mean_estimate, reference, args.bootstrap, args.seed),
        "cost_ratio": float(np.mean([s["cost_ratio"] for s in scores])),
        "reference_test_accuracy": {"median": float(np.median(reference)), "min": float(reference.min()),
                                    "max": float(reference.max())},
    }
    (Path(args.out) / "held_out.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
