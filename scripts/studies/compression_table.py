"""The compression study of docs/TASKS.md: HRank's premise, four filter-pruning criteria at equal FLOPs, and a
lottery ticket against its dense network, all on one cached base ResNet.

1. Premise: per-filter average feature-map rank of the base, measured on
   ``--premise-batches`` training batches separately; Spearman between every pair.
2. Filter pruning: every method of ``--methods`` prunes the base at the same
   per-stage ratios (so the same FLOPs), then fine-tunes under the same
   recipe, for every seed (the seed drives random selection and the
   fine-tuning's data order). Accuracy right after pruning and after
   fine-tuning, on the validation split.
3. Lottery: IMP to ``--lottery-sparsity`` (one round, global magnitudes,
   rewinding to the base's first-epoch weights), retrained with the base's
   own recipe, against the dense base.

Every finished measurement is appended to ``--out`` (JSON lines), so a killed
run keeps what it measured; the summary table is printed at the end. Run
from the repository root (the parts can run in parallel processes once the
first has cached the base)::

    OMP_NUM_THREADS=1 nice -n 10 unshare --net sh -c 'ip link set lo up; exec python scripts/studies/compression_table.py'
    ... compression_table.py --parts lottery --out results/compression/lottery.jsonl
    python scripts/studies/compression_table.py --summary-of results/compression/*.jsonl

docs/TASKS.md lists the exact commands of its tables. On a loaded shared CPU
use one torch thread per process (``OMP_NUM_THREADS=1``): with two, most of
the CPU time went to spin-waiting (a trial took 16.7 minutes instead of 1.6).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from nasframe.tasks import ImageClassification, Recipe, Trainer
from nasframe.tasks.compression.hrank import rank_premise
from nasframe.tasks.compression.lottery_space import (
    SparsitySchedule,
    SparsityScheduleSpace,
)
from nasframe.tasks.compression.tasks import METHODS, FilterPruning, LotteryTicket


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--path", default=None, help="folder of a dataset read from disk (cifar10)")
    p.add_argument("--val-fraction", type=float, default=1 / 12)
    p.add_argument("--widths", type=int, nargs=3, default=(8, 16, 32))
    p.add_argument("--blocks", type=int, default=3)
    p.add_argument("--base-epochs", type=int, default=3)
    p.add_argument("--base-fraction", type=float, default=0.2)
    p.add_argument("--ratio", type=float, default=0.5, help="prune ratio of every stage")
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--finetune-epochs", type=int, default=1, help="0: evaluate each pruned net, no fine-tuning")
    p.add_argument("--finetune-fraction", type=float, default=0.05)
    p.add_argument("--finetune-lr", type=float, default=0.01)
    p.add_argument("--pruned-accuracy", action="store_true", help="also evaluate each pruned net before fine-tuning")
    p.add_argument("--recalibrate-batches", type=int, default=0,
                   help="re-fit BatchNorm statistics of each pruned net on this many training batches first")
    p.add_argument("--premise-batches", type=int, default=5)
    p.add_argument("--premise-batch-size", type=int, default=128)
    p.add_argument("--lottery-sparsity", type=float, default=0.8)
    p.add_argument("--parts", nargs="+", default=["premise", "prune", "lottery"],
                   choices=["premise", "prune", "lottery"], help="what to measure (each part can run in its own "
                   "process once the base is cached)")
    p.add_argument("--out", default="results/compression/study.jsonl")
    p.add_argument("--summary-of", nargs="+", type=Path, default=None,
                   help="measure nothing: print the tables of these result files (parts run in parallel)")
    return p.parse_args()


def record(out: Path, row: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as handle:
        handle.write(json.dumps(row, sort_keys=True) + "\n")
    print(json.dumps(row, sort_keys=True), flush=True)


def premise(task: FilterPruning, recipe: Recipe, batches: int, batch_size: int, out: Path) -> None:
    task.rank_batches, task.rank_batch_size = batches, batch_size
    result = rank_premise(task.base.model("final"), task.rank_images(recipe))
    record(out, {"kind": "premise", "batch_size": batch_size, **result})


def pruning_trial(method: str, seed: int, images: ImageClassification, options: dict, recipe: Recipe | None,
                  ratio: float, out: Path, pruned_accuracy: bool, recalibrate: int) -> None:
    """One method and seed; ``recipe`` None: the pruned network is only evaluated, never fine-tuned."""
    task = FilterPruning(method, images, seed=seed, recalibrate_batches=recalibrate, **options)
    space = task.search_space()
    arch = space.validate((ratio, ratio, ratio))
    began, cpu = time.perf_counter(), time.process_time()
    measure = recipe or Recipe(batch_size=64)
    network = task.build_model(space, arch, measure, {})  # the criterion's choice, before any fine-tuning
    before = None
    if pruned_accuracy or recipe is None:  # one more evaluation
        before = task.evaluate(network, "val", measure, "cpu")["accuracy"]
    dense_costs = task.costs(task.base.model("final"), space, arch, measure)
    pruned = task.costs(network, space, arch, measure)
    result = Trainer(task, recipe, device="cpu", seed=seed).fit(space, arch).objectives if recipe else {}
    record(out, {"kind": "prune", "method": method, "seed": seed, "ratio": ratio, "acc_pruned": before,
                 "acc_finetuned": result.get("accuracy"), "flops": pruned["flops"],
                 "flops_cut": 1 - pruned["flops"] / dense_costs["flops"],
                 "params_cut": 1 - pruned["params"] / dense_costs["params"],
                 "dense_acc": task.base.val_accuracy, "minutes": (time.perf_counter() - began) / 60,
                 "cpu_seconds": time.process_time() - cpu, "recalibrate_batches": recalibrate,
                 "finetune": recipe.to_dict() if recipe else None})


def lottery_trial(images: ImageClassification, options: dict, sparsity: float, out: Path) -> None:
    task = LotteryTicket(images, **options)
    space = SparsityScheduleSpace()
    arch = space.validate(SparsitySchedule(sparsity, rounds=1, rewind="early", scope="global"))
    began = time.perf_counter()
    recipe = task.base_recipe  # the ticket is trained exactly as the dense base was
    result = Trainer(task, recipe, device="cpu", seed=0).fit(space, arch)
    dense = task.base.model("final")
    record(out, {"kind": "lottery", "sparsity": sparsity, "ticket_acc": result.objectives["accuracy"],
                 "nonzero_params": result.costs["nonzero_params"], "dense_acc": task.base.val_accuracy,
                 "dense_nonzero": task.costs(dense, space, arch, recipe)["nonzero_params"],
                 "minutes": (time.perf_counter() - began) / 60, "recipe": recipe.to_dict()})


def summary(paths: list[Path]) -> None:
    """The tables of every row in ``paths`` (one row per method and seed: the first one found)."""
    rows, seen = [], set()
    for path in paths:
        for row in map(json.loads, path.read_text().splitlines()):
            key = (row["kind"], row.get("method"), row.get("seed"), row.get("batch_size"))
            if key not in seen:
                seen.add(key)
                rows.append(row)
    for row in rows:
        if row["kind"] == "premise":
            print(f"premise: {row['batches']} batches of {row.get('batch_size', 128)}, {row['filters']} filters: "
                  f"Spearman pooled min {row['spearman_min']:.4f} mean {row['spearman_mean']:.4f}; within blocks "
                  f"min {row['per_block_min']:.4f} mean {row.get('per_block_mean', float('nan')):.4f}")
        if row["kind"] == "lottery":
            print(f"lottery: {100 * row['sparsity']:.0f}% sparse ticket {100 * row['ticket_acc']:.2f}% vs dense "
                  f"{100 * row['dense_acc']:.2f}% ({row['nonzero_params']:.0f} of {row['dense_nonzero']:.0f} weights)")
    print("\n| method | FLOPs cut | acc. after pruning | acc. after fine-tuning | seeds | CPU s/trial |")
    print("| --- | --- | --- | --- | --- | --- |")
    for method in METHODS:
        mine = [r for r in rows if r["kind"] == "prune" and r["method"] == method]
        if not mine:
            continue

        def mean_sd(key: str, mine: list = mine) -> str:
            values = [100 * r[key] for r in mine if r.get(key) is not None]
            if not values:
                return "-"
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.2f} ± {sd:.2f}"

        print(f"| {method} | {100 * mine[0]['flops_cut']:.1f}% | {mean_sd('acc_pruned')} | {mean_sd('acc_finetuned')} "
              f"| {len(mine)} | {statistics.mean(r.get('cpu_seconds', float('nan')) for r in mine):.0f} |")
    for key in ("acc_pruned", "acc_finetuned"):
        random = {r["seed"]: r[key] for r in rows
                  if r["kind"] == "prune" and r["method"] == "random" and r.get(key) is not None}
        for method in METHODS[:-1]:
            gaps = [100 * (r[key] - random[r["seed"]]) for r in rows
                    if r["kind"] == "prune" and r["method"] == method and r["seed"] in random]
            if gaps:
                print(f"{key}: {method} minus random, per seed (points): {[round(g, 2) for g in gaps]}, mean "
                      f"{statistics.mean(gaps):.2f}, better in {sum(g > 0 for g in gaps)} of {len(gaps)}")


def main() -> None:
    args = parse()
    if args.summary_of:
        summary(args.summary_of)
        return
    torch.manual_seed(0)
    out = Path(args.out)
    images = ImageClassification(args.dataset, path=args.path, val_fraction=args.val_fraction)
    base_recipe = Recipe(epochs=args.base_epochs, batch_size=128, lr=0.1, weight_decay=5e-4,
                         data_fraction=args.base_fraction)
    options = {"widths": tuple(args.widths), "blocks": args.blocks, "base_recipe": base_recipe}
    finetune = Recipe(epochs=max(args.finetune_epochs, 1), batch_size=64, lr=args.finetune_lr, weight_decay=5e-4,
                      data_fraction=args.finetune_fraction)
    began = time.perf_counter()
    probe = FilterPruning("hrank", images, **options)
    record(out, {"kind": "base", "val_accuracy": probe.base.val_accuracy, "minutes": (time.perf_counter() - began) / 60,
                 "recipe": base_recipe.to_dict(), "widths": list(args.widths), "blocks": args.blocks})
    if "premise" in args.parts:
        premise(probe, finetune, args.premise_batches, args.premise_batch_size, out)
    if "lottery" in args.parts:
        lottery_trial(images, options, args.lottery_sparsity, out)
    if "prune" in args.parts:
        for seed in args.seeds:
            for method in args.methods:
                pruning_trial(method, seed, images, options, finetune if args.finetune_epochs else None, args.ratio,
                              out, args.pruned_accuracy, args.recalibrate_batches)
    summary([out])


if __name__ == "__main__":
    main()
