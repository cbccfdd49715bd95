"""SCAN against k-means on the same pretext features (the acceptance of issue 13's ``scan`` task).

One NB101 backbone, trained by the ``scan`` task (SimCLR for
``--pretext-epochs``, then SCAN) once per seed; per seed it reports the SCAN
head's clustering of the validation and test images (Hungarian accuracy,
NMI, ARI), k-means on the pretext embedding frozen at the switch (the
paper's "pretext + k-means" baseline), and the share of mined neighbours
that have the anchor's class (read from the checkpoint, which holds them).

    OMP_NUM_THREADS=1 nice -n 10 python scripts/studies/scan.py --seeds 0 1 2 --out results/scan/study.json

Writes the JSON atomically and prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import nasframe as nf
from nasframe.core.files import atomic_file
from nasframe.tasks import Recipe, Trainer
from nasframe.tasks.scan.task import ScanClustering

#: a ResNet-like NB101 cell (two 3x3 convolutions and a skip): a sensible fixed backbone for the comparison
RESNET_CELL = {"matrix": [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
               "ops": ["input", "conv3x3-bn-relu", "conv3x3-bn-relu", "output"]}
METRICS = ("accuracy", "nmi", "ari", "kmeans_accuracy", "kmeans_nmi", "kmeans_ari")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arch", default=json.dumps(RESNET_CELL), help="NB101 cell as JSON (matrix, ops)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--pretext-epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--schedule", default="constant")
    parser.add_argument("--data-fraction", type=float, default=1.0)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--neighbours", type=int, default=20)
    parser.add_argument("--entropy-weight", type=float, default=5.0)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--feature-dim", type=int, default=64)
    parser.add_argument("--selflabel-epochs", type=int, default=0,
                        help="the last epochs self-label; the SCAN stage's scores are read before them too")
    parser.add_argument("--confidence", type=float, default=0.99)
    parser.add_argument("--out", type=Path, help="JSON written with the rows of this run")
    parser.add_argument("--summary-of", type=Path, nargs="+", help="print the table of these runs' JSONs, train nothing")
    return parser.parse_args()


def recipe_of(args: argparse.Namespace) -> Recipe:
    options = {"pretext_epochs": args.pretext_epochs, "neighbours": args.neighbours,
               "entropy_weight": args.entropy_weight, "temperature": args.temperature,
               "feature_dim": args.feature_dim, "selflabel_epochs": args.selflabel_epochs,
               "confidence": args.confidence}
    return Recipe(epochs=args.epochs, batch_size=args.batch_size, channels=args.channels, optimizer=args.optimizer,
                  lr=args.lr, weight_decay=args.weight_decay, schedule=args.schedule,
                  data_fraction=args.data_fraction, image_size=args.image_size, task_options=options)


def neighbour_purity(task: ScanClustering, folder: Path, recipe: Recipe) -> float:
    """Share of mined neighbours with their anchor's class (labels read here, after training, only)."""
    state = torch.load(folder / "trainer-state.pt", map_location="cpu", weights_only=False)["model"]
    labels = task.images.train.y
    anchors = task.training_subset(recipe.data_fraction)
    return float((labels[state["neighbours"].numpy()] == labels[anchors][:, None]).mean())


def progress(metrics: dict[str, Any], _folder: Any) -> None:
    """One line per epoch, so a long run shows where it is."""
    print(f"  epoch {metrics['epoch']}: loss {metrics['train_loss']:.3f}, val accuracy {metrics['val_accuracy']:.3f}, "
          f"k-means {metrics['val_kmeans_accuracy']:.3f}, {metrics['epoch_seconds']:.0f} s", flush=True)


def scan_stage_scores(trainer: Trainer, space: Any, arch: Any, folder: Path) -> dict[str, float]:
    """Val and test scores of the checkpoint in ``folder`` (the SCAN stage's end, before self-labelling)."""
    model = trainer.build(space, arch)
    model.load_state_dict(torch.load(folder / "trainer-state.pt", map_location="cpu", weights_only=False)["model"])
    return {**trainer.evaluate(model, "val"), **trainer.evaluate(model, "test")}


def run_seed(task: ScanClustering, space: Any, arch: Any, recipe: Recipe, seed: int) -> dict[str, Any]:
    began = time.perf_counter()
    scan_end = recipe.epochs - task.settings(recipe).selflabel_epochs
    before: dict[str, float] = {}

    def on_epoch(metrics: dict[str, Any], folder: Any) -> None:
        progress(metrics, folder)
        if metrics["epoch"] == scan_end < recipe.epochs:
            before.update(scan_stage_scores(trainer, space, arch, Path(folder)))

    with tempfile.TemporaryDirectory(prefix="scan-study-") as folder:
        trainer = Trainer(task, recipe, device="cpu", seed=seed, evaluate_test=True)
        result = trainer.fit(space, arch, checkpoint_dir=folder, on_epoch=on_epoch)
        purity = neighbour_purity(task, Path(folder), recipe)
    last = result.history[-1]
    row = {"seed": seed, "minutes": (time.perf_counter() - began) / 60, "neighbour_purity": purity,
           "params": result.params, "flops": result.costs.get("flops")}
    for split in ("val", "test"):
        row.update({f"{split}_{name}": last[f"{split}_{name}"] for name in METRICS})
        # the SCAN stage alone (before self-labelling; the final scores when there is none)
        row.update({f"{split}_scan_only_{name}": (before or last)[f"{split}_{name}"] for name in METRICS[:3]})
    row["history"] = result.history
    return row


def summary(rows: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in rows]
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * spread:.1f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ["seed", "split", "SCAN acc", "NMI", "ARI", "k-means acc", "NMI", "ARI", "nbr purity", "min"]
    print(" | ".join(header))
    for split in ("val", "test"):
        for r in rows:
            cells = [str(r["seed"]), split] + [f"{100 * r[f'{split}_{m}']:.1f}" for m in METRICS]
            print(" | ".join(cells + [f"{100 * r['neighbour_purity']:.1f}", f"{r['minutes']:.1f}"]))
        print(" | ".join(["mean", split] + [summary(rows, f"{split}_{m}") for m in METRICS]
                         + [summary(rows, "neighbour_purity"), ""]))
    for split in ("val", "test"):
        if all(f"{split}_scan_only_accuracy" in r for r in rows):
            print(" | ".join(["SCAN stage only", split] + [summary(rows, f"{split}_scan_only_{m}")
                                                          for m in METRICS[:3]]))
    for name in METRICS[:3]:
        wins = sum(r[f"test_{name}"] > r[f"test_kmeans_{name}"] for r in rows)
        scan_wins = sum(r.get(f"test_scan_only_{name}", r[f"test_{name}"]) > r[f"test_kmeans_{name}"] for r in rows)
        print(f"test {name}: final model above k-means in {wins} of {len(rows)} seeds, "
              f"SCAN stage alone in {scan_wins}")


def main() -> None:
    args = parse_args()
    if args.summary_of:  # seeds run as separate processes, one table
        print_table([row for path in args.summary_of for row in json.loads(path.read_text())["rows"]])
        return
    if args.out is None:
        raise SystemExit("--out is required unless --summary-of is given")
    torch.set_num_threads(1)
    task = ScanClustering(args.dataset)
    space = nf.load_space("nb101")
    arch = space.validate(json.loads(args.arch))
    recipe = recipe_of(args)
    task.check_trainable(space, recipe)
    rows = []
    for seed in args.seeds:
        rows.append(run_seed(task, space, arch, recipe, seed))
        print(f"seed {seed}: " + ", ".join(f"{k}={v:.3f}" for k, v in rows[-1].items()
                                             if isinstance(v, float)), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"dataset": args.dataset, "arch": json.loads(args.arch), "recipe": recipe.to_dict(),
              "train_images": int(len(task.training_subset(recipe.data_fraction))), "rows": rows}
    with atomic_file(args.out, "w") as handle:
        json.dump(record, handle, indent=1, default=float)
    print_table(rows)


if __name__ == "__main__":
    main()
