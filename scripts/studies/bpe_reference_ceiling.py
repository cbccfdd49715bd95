"""How well does the *full* recipe rank like itself? The ceiling any BPE's correlation is held to.

    python scripts/studies/bpe_reference_ceiling.py --out runs/bpe --replicates 2

Re-trains the reference architectures of a ``nasframe bpe search`` study
with the full recipe and other training seeds (stored in the study folder
like any replicate, so a re-run trains nothing again) and scores each
replicate exactly as a BPE is scored: Spearman/Kendall correlation of its
validation accuracies with the reference's test accuracies. A BPE cannot be
expected to rank more like the reference than the reference's own recipe
does with another seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    from nasframe.core import load_space
    from nasframe.estimation import BPEEvaluator
    from nasframe.tasks import Recipe, load_task
    from nasframe.ray_session import ray_session

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="The study folder of `nasframe bpe search`.")
    parser.add_argument("--replicates", type=int, default=2, help="Other seeds to train the full recipe with.")
    args = parser.parse_args()

    report = json.loads((Path(args.out) / "report.json").read_text())
    space = load_space(report["space"])
    task = load_task(report["task"], **({"path": report["data"]} if report["data"] else {}))
    archs = space.sample(np.random.default_rng(report["seed"]), len(json.loads(
        (Path(args.out) / "trainings" / "manifest.json").read_text())["archs"]))
    with ray_session():
        evaluator = BPEEvaluator(task, space, archs, Recipe.from_dict(report["full"]), Path(args.out) / "trainings",
                                 seed=report["seed"])
        scores = [evaluator([{}], replicate=r).iloc[0] for r in range(1, args.replicates + 1)]
    for r, row in enumerate(scores, start=1):
        print(f"full recipe, seed +{r}: Spearman {row['spearman']:.3f}, Kendall {row['kendall']:.3f}, "
              f"cost ratio {row['cost_ratio']:.3f}")
    print(f"ceiling (mean Spearman of the full recipe against itself): "
          f"{np.mean([row['spearman'] for row in scores]):.3f}")


if __name__ == "__main__":
    main()
