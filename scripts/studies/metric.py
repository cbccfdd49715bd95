"""The ``metric`` task's acceptance study: ProxyNCA's convergence, SVMax under label noise, SVMax's bounds.

Three measurements on one fixed NB101 architecture (``--arch``; by default
a ResNet-like cell: two 3x3 convolutions and a skip), trained on the seen classes 0-4 of
Fashion-MNIST and evaluated on the unseen classes 5-9 (val: Recall@1 per
epoch; test: the official test split's 5,000 unseen images at the end):

1. **convergence** (ProxyNCA, arXiv 1703.07464, claims it converges faster
   than the triplet loss): per seed, both losses' val Recall@1 per epoch,
   and for each loss the first epoch at which it reaches the *triplet
   loss's final* Recall@1.
2. **SVMax under label noise** (arXiv 2103.02770): the same loss with
   ``svmax=0`` and ``svmax>0``, same seeds, ``label_noise`` of the training
   labels flipped; Recall@1 / NMI means and per-seed differences.
3. **bounds**: the smallest and largest batch mean singular value of every
   training run against SVMax's ``[sqrt(b)/d, sqrt(b/d)]`` (the task raises
   at run time if one leaves them; this reports the range seen).

Results go to ``--out`` (JSON, rewritten atomically after every training, so
an interrupted study keeps what it finished) and a table is printed::

    OMP_NUM_THREADS=1 nice -n 10 python scripts/studies/metric.py --seeds 0,1,2 --epochs 8 \\
        --out results/metric-study.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

import nasframe as nf
from nasframe.core.files import atomic_file
from nasframe.tasks import Recipe, Trainer
from nasframe.tasks.metric import MetricLearning
from nasframe.tasks.metric.losses import svmax_bounds


#: input -> conv3x3 -> conv3x3 -> output with input -> output: NB101's version of a ResNet basic block
RESNET_CELL = {"matrix": [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
               "ops": ["input", "conv3x3-bn-relu", "conv3x3-bn-relu", "output"]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--seeds", default="0,1,2", help="trainer seeds (comma-separated)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--data-fraction", type=float, default=0.1, help="share of the seen training images")
    parser.add_argument("--val-fraction", type=float, default=1 / 12, help="share of the training set held out")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--noise", type=float, default=0.3, help="label_noise of the SVMax comparison")
    parser.add_argument("--svmax", type=float, default=0.1, help="SVMax weight of the comparison")
    parser.add_argument("--noise-loss", default="triplet", help="the loss of the SVMax comparison")
    parser.add_argument("--temperatures", default="",
                        help="ProxyNCA temperatures besides the task's default 1/9, e.g. 1 (the paper's)")
    parser.add_argument("--proxy-lr-scales", default="",
                        help="proxy_lr_scale values besides 1 (each crossed with every temperature), e.g. 10,100")
    parser.add_argument("--proxy-variants", default="",
                        help="instead of the crossing: ProxyNCA runs as temperature:proxy_lr_scale pairs, e.g. "
                             "0.111111:1,0.111111:10,1:1 (a value equal to the task's default is left out)")
    parser.add_argument("--no-noise", action="store_true", help="only the convergence runs (no SVMax comparison)")
    parser.add_argument("--arch", default=json.dumps(RESNET_CELL),
                        help="NB101 cell as JSON ({matrix, ops}); 'sample': space.sample's first with seed 0")
    parser.add_argument("--out", default="results/metric-study.json")
    return parser.parse_args()


def train(task: MetricLearning, args: argparse.Namespace, seed: int, **options: Any) -> dict[str, Any]:
    """One training; its per-epoch val metrics, final test metrics and singular-value range."""
    recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, channels=args.channels, lr=args.lr,
                    data_fraction=args.data_fraction,
                    task_options={"embedding_dim": args.embedding_dim, **options})
    space = nf.load_space("nb101")
    arch = (space.sample(np.random.default_rng(0), 1)[0] if args.arch == "sample"
            else space.validate(json.loads(args.arch)))
    task.check_trainable(space, recipe)
    result = Trainer(task, recipe, device="cpu", seed=seed, evaluate_test=True).fit(space, arch)
    last = result.history[-1]
    return {"seed": seed, "options": options, "seconds": result.seconds,
            "val_recall_at_1": [h["val_recall_at_1"] for h in result.history],
            "val_nmi": [h["val_nmi"] for h in result.history],
            "sv_min": min(h["val_min_singular_value"] for h in result.history),
            "sv_max": max(h["val_max_singular_value"] for h in result.history),
            **{key: last[key] for key in ("test_recall_at_1", "test_recall_at_4", "test_nmi")}}


def epochs_to_reach(curve: list[float], target: float) -> int | None:
    """The first epoch (1-based) whose value is at least ``target``; None if never."""
    return next((i + 1 for i, value in enumerate(curve) if value >= target), None)


def save(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "w") as handle:
        json.dump(results, handle, indent=1)


def previous_runs(path: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The finished runs of an earlier study at ``path`` with the same training settings (reused, not redone)."""
    if not path.is_file():
        return []
    old = json.loads(path.read_text())
    same = {k: v for k, v in old.get("settings", {}).items() if k not in REUSABLE}
    return old["runs"] if same == {k: v for k, v in vars(args).items() if k not in REUSABLE} else []


#: settings that only add or select runs: an earlier study that differs in them still has reusable runs
REUSABLE = ("out", "seeds", "temperatures", "proxy_lr_scales", "proxy_variants", "no_noise")


def run(args: argparse.Namespace) -> dict[str, Any]:
    seeds = [int(s) for s in args.seeds.split(",")]
    task = MetricLearning(args.dataset, val_fraction=args.val_fraction)
    out = Path(args.out)
    done = previous_runs(out, args)
    results: dict[str, Any] = {"settings": vars(args), "task": repr(task), "runs": []}
    plan = [{"loss": "triplet"}, *proxy_plan(args)]
    if not args.no_noise:
        plan += [{"loss": args.noise_loss, "label_noise": args.noise},
                 {"loss": args.noise_loss, "label_noise": args.noise, "svmax": args.svmax}]
    for seed in seeds:
        for options in plan:
            earlier = [r for r in done if r["seed"] == seed and r["options"] == options]
            results["runs"].append(earlier[0] if earlier else train(task, args, seed, **options))
            print(f"seed {seed} {options}: val R@1 {results['runs'][-1]['val_recall_at_1']}", flush=True)
            save(results, out)
    results["summary"] = summarise(results["runs"], seeds, args)
    save(results, out)
    return results


def proxy_plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The ProxyNCA runs: the task's default temperature and ``--temperatures`` x scale 1 and ``--proxy-lr-scales``
    or the pairs of ``--proxy-variants`` (an option at its default is left out, so earlier studies' runs are found
    again)."""
    if args.proxy_variants:
        pairs = [tuple(float(v) for v in pair.split(":")) for pair in args.proxy_variants.split(",")]
        return [{"loss": "proxynca", **({"temperature": t} if not math.isclose(t, 1 / 9, rel_tol=1e-5) else {}),
                 **({"proxy_lr_scale": s} if s != 1.0 else {})} for t, s in pairs]
    temperatures = [{}, *({"temperature": float(t)} for t in filter(None, args.temperatures.split(",")))]
    scales = [{}, *({"proxy_lr_scale": float(s)} for s in filter(None, args.proxy_lr_scales.split(",")))]
    return [{"loss": "proxynca", **t, **s} for t in temperatures for s in scales]


def summarise(runs: list[dict[str, Any]], seeds: list[int], args: argparse.Namespace) -> dict[str, Any]:
    def find(seed: int, **options: Any) -> dict[str, Any]:
        return next(r for r in runs if r["seed"] == seed and r["options"] == options)

    convergence, noise = [], []
    for seed in seeds:
        triplet = find(seed, loss="triplet")
        target = triplet["val_recall_at_1"][-1]
        for proxy in (r for r in runs if r["seed"] == seed and r["options"].get("loss") == "proxynca"):
            convergence.append({"seed": seed, "temperature": proxy["options"].get("temperature", 1 / 9),
                                "proxy_lr_scale": proxy["options"].get("proxy_lr_scale", 1.0),
                                "proxynca_curve": proxy["val_recall_at_1"],
                                "triplet_final": target, "proxynca_final": proxy["val_recall_at_1"][-1],
                                "triplet_epochs": epochs_to_reach(triplet["val_recall_at_1"], target),
                                "proxynca_epochs": epochs_to_reach(proxy["val_recall_at_1"], target)})
        if args.no_noise:
            continue
        off = find(seed, loss=args.noise_loss, label_noise=args.noise)
        on = find(seed, loss=args.noise_loss, label_noise=args.noise, svmax=args.svmax)
        noise.append({"seed": seed, **{f"{key}_{tag}": run[key] for key in ("test_recall_at_1", "test_nmi")
                                       for tag, run in (("off", off), ("on", on))}})
    lower, upper = svmax_bounds(args.batch_size, args.embedding_dim)
    return {"convergence": convergence, "noise": noise,
            "bounds": {"lower": lower, "upper": upper, "seen_min": min(r["sv_min"] for r in runs),
                       "seen_max": max(r["sv_max"] for r in runs)}}


def print_tables(summary: dict[str, Any], args: argparse.Namespace) -> None:
    print("\nconvergence: first epoch reaching the triplet loss's final val Recall@1")
    print("| seed | temperature | proxy lr scale | triplet final R@1 | ProxyNCA final R@1 | triplet epochs "
          "| ProxyNCA epochs | ProxyNCA R@1 per epoch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in summary["convergence"]:
        curve = " ".join(f"{v:.3f}" for v in row["proxynca_curve"])
        print(f"| {row['seed']} | {row['temperature']:.3g} | {row['proxy_lr_scale']:g} | {row['triplet_final']:.4f} | "
              f"{row['proxynca_final']:.4f} | "
              f"{row['triplet_epochs']} | {row['proxynca_epochs'] or 'never'} | {curve} |")
    rows = summary["noise"]
    if rows:
        print_noise_table(rows, args)
    b = summary["bounds"]
    inside = b["lower"] <= b["seen_min"] and b["seen_max"] <= b["upper"] * (1 + 1e-4)
    print(f"\nmean singular value: bounds [{b['lower']:.4f}, {b['upper']:.4f}], seen [{b['seen_min']:.4f}, "
          f"{b['seen_max']:.4f}] ({'inside' if inside else 'OUTSIDE'})")
    assert math.isfinite(b["seen_min"]) and inside


def print_noise_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\nSVMax {args.svmax} under label noise {args.noise} ({args.noise_loss}), test split")
    print("| seed | R@1 off | R@1 on | diff | NMI off | NMI on | diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['seed']} | {row['test_recall_at_1_off']:.4f} | {row['test_recall_at_1_on']:.4f} | "
              f"{row['test_recall_at_1_on'] - row['test_recall_at_1_off']:+.4f} | {row['test_nmi_off']:.4f} | "
              f"{row['test_nmi_on']:.4f} | {row['test_nmi_on'] - row['test_nmi_off']:+.4f} |")
    mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0] if key != "seed"}
    print(f"| mean | {mean['test_recall_at_1_off']:.4f} | {mean['test_recall_at_1_on']:.4f} | "
          f"{mean['test_recall_at_1_on'] - mean['test_recall_at_1_off']:+.4f} | {mean['test_nmi_off']:.4f} | "
          f"{mean['test_nmi_on']:.4f} | {mean['test_nmi_on'] - mean['test_nmi_off']:+.4f} |")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    results = run(args)
    print_tables(results["summary"], args)


if __name__ == "__main__":
    main()
