"""Knowledge Evolution's acceptance study: slim accuracy across generations, against a same-budget baseline.

For every seed, two trainings of the same split network on the same small,
class-balanced training subset, with the same total number of epochs:

- ``ke``: ``--generations`` generations of ``--epochs-per-generation`` epochs
  (reset hypothesis re-initialised, optimiser and cosine schedule restarted
  at every generation);
- ``baseline``: one training of all those epochs (``generations=1``, one
  cosine), then its first-``k`` slice as the slim network;
- ``scratch``: the slim network's shape (the family at ``channels=ceil(kC)``)
  trained directly for all those epochs, one cosine (its "dense" accuracy is
  the number to read).

The seed picks the training subset, the initialisation and the data order.
Writes a JSON of every generation's validation metrics and the final test
metrics, and prints a table::

    OMP_NUM_THREADS=1 nice -n 10 python scripts/studies/knowledge_evolution.py --seeds 0 1 2 \
        --out results/knowledge_evolution/study.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from nasframe.core.files import atomic_file
from nasframe.tasks import Recipe, Trainer
from nasframe.tasks.knowledge_evolution.network import fit_size
from nasframe.tasks.knowledge_evolution.task import KnowledgeEvolution, per_generation


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--val-fraction", type=float, default=1 / 30, help="share of the training set held out")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples-per-class", type=int, default=20)
    parser.add_argument("--split-rate", type=float, default=0.5)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--epochs-per-generation", type=int, default=10)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--methods", nargs="+", choices=("ke", "baseline", "scratch"),
                        default=["ke", "baseline", "scratch"])
    parser.add_argument("--out", default="results/knowledge_evolution/study.json")
    return parser.parse_args(argv)


def run_one(task: KnowledgeEvolution, recipe: Recipe, split_rate: float, generations: int, seed: int) -> dict:
    """One training; its per-generation validation metrics, final test metrics and wall time."""
    space = task.search_space()
    began = time.perf_counter()
    result = Trainer(task, recipe, device="cpu", seed=seed, evaluate_test=True).fit(
        space, space.validate((split_rate, generations)))
    last = result.history[-1]
    return {"generations": per_generation(result.history), "params": result.params, "test_accuracy": last["test_accuracy"],
            "test_slim_accuracy": last["test_slim_accuracy"], "costs": result.costs,
            "minutes": (time.perf_counter() - began) / 60}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    total = args.generations * args.epochs_per_generation
    recipe = Recipe(epochs=total, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                    channels=args.channels, layers=args.layers,
                    task_options={"samples_per_class": args.samples_per_class,
                                  "label_smoothing": args.label_smoothing})
    grid = tuple(sorted({1, args.generations})) if args.generations > 1 else (1, 2)
    runs = []
    for seed in args.seeds:
        task = KnowledgeEvolution(args.dataset, val_fraction=args.val_fraction, seed=seed, generations=grid)
        task.check_trainable(task.search_space(), recipe)
        for method in args.methods:
            generations = args.generations if method == "ke" else 1
            trained = recipe.replace(channels=fit_size(args.channels, args.split_rate)) if method == "scratch" \
                else recipe
            run = {"seed": seed, "method": method, **run_one(task, trained, args.split_rate, generations, seed)}
            runs.append(run)
            print(json.dumps({k: run[k] for k in ("seed", "method", "test_accuracy", "test_slim_accuracy",
                                                  "minutes")}), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out, mode="w") as handle:
        json.dump({"settings": vars(args), "recipe": recipe.to_dict(), "runs": runs}, handle, indent=1)
    print_table(runs)


def print_table(runs: list[dict]) -> None:
    """Per seed: every generation's dense / slim validation accuracy, then the means over seeds."""
    print("\n| seed | method | val dense / slim per generation (%) | test dense | test slim | min |")
    print("| --- | --- | --- | --- | --- | --- |")
    for run in runs:
        cells = ", ".join(f"{100 * g['accuracy']:.1f}/{100 * g['slim_accuracy']:.1f}" for g in run["generations"])
        print(f"| {run['seed']} | {run['method']} | {cells} | {100 * run['test_accuracy']:.2f} | "
              f"{100 * run['test_slim_accuracy']:.2f} | {run['minutes']:.1f} |")
    for method in dict.fromkeys(r["method"] for r in runs):
        chosen = [r for r in runs if r["method"] == method]
        dense = np.array([r["test_accuracy"] for r in chosen]) * 100
        slim = np.array([r["test_slim_accuracy"] for r in chosen]) * 100
        print(f"{method}: test dense {dense.mean():.2f} +- {dense.std(ddof=1) if len(dense) > 1 else 0:.2f}, "
              f"slim {slim.mean():.2f} +- {slim.std(ddof=1) if len(slim) > 1 else 0:.2f}")


if __name__ == "__main__":
    main()
