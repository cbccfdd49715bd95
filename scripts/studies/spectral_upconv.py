"""Study: the spectrum detector against up-sampling operations and the spectral loss (task ``spectral-upconv``).

Trains the autoencoder of every ``--configs`` architecture (decoder ops and
spectral weight) for every ``--seeds`` seed (the trainer's seed: weights and
data order; the data split and the detector's parts stay those of the task's
seed 0) and records, on the validation split, the reconstruction error and
the spectrum detector's held-out accuracy, both the task's (trained on this
architecture's reconstructions) and a fixed one's (trained on the first
configuration's, same seed: the paper's protocol); ``--warmup`` trains the
weighted configurations' first epochs on the pixel loss alone. Prints the
same-seed pairs against the first configuration with their error ratio
("similar reconstruction error": within 20%). Writes every run and the
per-configuration mean and standard deviation to ``--out`` (JSON) and prints
the table. ``--summary-of`` reprints the table of a JSON written before, and
``--pareto`` the non-dominated rows of a search's ``history.csv``.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/studies/spectral_upconv.py --seeds 0,1,2 \\
        --out results/spectral/compare.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_CONFIGS = ("transposed-transposed:0,transposed-transposed:0.1,transposed-transposed:1,"
                   "nearest-nearest:0,bilinear-bilinear:0,pixelshuffle-pixelshuffle:0")
METRICS = ("reconstruction_error", "detector_accuracy")
#: summarised as well: the accuracy of a fixed detector trained on the reference configuration (the first of
#: ``--configs``, same seed) and scored on this one (the paper's protocol: a detector trained on real against
#: a plain generator's images); the mean normalised spectrum at the highest ring (the Nyquist corners) of the
#: reconstructions, where a transposed convolution's checkerboard shows
EXTRA = ("reference_detector_accuracy", "top_ring_reconstructed")


def parse_configs(text: str) -> list[tuple[tuple[str, ...], float]]:
    """``"transposed-nearest:0.1,..."`` as (ops, spectral weight) pairs."""
    configs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        ops, sep, weight = item.partition(":")
        if not sep:
            raise SystemExit(f"--configs item {item!r}: expected OPS:WEIGHT, e.g. transposed-transposed:0.1")
        configs.append((tuple(ops.split("-")), float(weight)))
    return configs


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train every configuration under every seed; one row per training."""
    import torch

    from nasframe.tasks import Recipe, Trainer
    from nasframe.tasks.spectral.detector import detector_parts, fit_detector
    from nasframe.tasks.spectral.space import DEFAULT_WEIGHTS
    from nasframe.tasks.spectral.task import SpectralUpconv

    torch.set_num_threads(1)
    configs = parse_configs(args.configs)
    weights = sorted(set(DEFAULT_WEIGHTS) | {w for _, w in configs})
    stages = {len(ops) for ops, _ in configs}
    if len(stages) != 1:
        raise SystemExit("--configs: every configuration needs the same number of stages")
    class Keeping(SpectralUpconv):  # keeps the trained model, for its spectra
        def build_model(self, *a: Any, **k: Any) -> Any:
            self.model = super().build_model(*a, **k)
            return self.model

    task = Keeping(args.dataset, stages=stages.pop(), weights=weights)
    space = task.search_space()
    options = {"latent": args.latent, "spectral_target": args.target, "detector_train": args.detector_images,
               "detector_test": args.detector_images}
    rows, references = [], {}
    for ops, weight in configs:
        for seed in args.seeds:
            began = time.perf_counter()
            warmup = args.warmup if weight > 0 else 0
            recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                            data_fraction=args.data_fraction, channels=args.channels, layers=args.layers,
                            task_options={**options, "spectral_warmup": warmup})
            result = Trainer(task, recipe, device="cpu", seed=seed).fit(space, space.validate((ops, weight)))
            _, real, fake = task.spectra(task.model, "val", recipe, "cpu")
            parts = detector_parts(len(real), args.detector_images, args.detector_images, [task.seed, 1])
            references.setdefault(seed, fit_detector(real[parts[0]], fake[parts[0]]))
            test = np.concatenate([real[parts[1]], fake[parts[1]]])
            truth = np.concatenate([np.zeros(len(parts[1])), np.ones(len(parts[1]))])
            rows.append({"ops": "-".join(ops), "spectral_weight": weight, "seed": seed, **result.objectives,
                         "reference_detector_accuracy": float((references[seed].predict(test) == truth).mean()),
                         "wall_seconds": time.perf_counter() - began, "spectral_warmup": warmup,
                         # the paper's tell-tale: the reconstructions' excess at the highest frequencies
                         "top_ring_real": float(real[:, -1].mean()),
                         "top_ring_reconstructed": float(fake[:, -1].mean()),
                         "mean_curve_real": real.mean(axis=0).round(4).tolist(),
                         "mean_curve_reconstructed": fake.mean(axis=0).round(4).tolist()})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation of each metric per configuration, in the order first seen."""
    keys = list(dict.fromkeys((r["ops"], r["spectral_weight"]) for r in rows))
    out = []
    for ops, weight in keys:
        group = [r for r in rows if (r["ops"], r["spectral_weight"]) == (ops, weight)]
        summary: dict[str, Any] = {"ops": ops, "spectral_weight": weight, "seeds": len(group)}
        for name in (*METRICS, *EXTRA, "wall_seconds"):
            values = np.array([r[name] for r in group], dtype=float)
            summary[name] = float(values.mean())
            summary[f"{name}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary["per_seed_detector_accuracy"] = [round(r["detector_accuracy"], 3) for r in group]
        out.append(summary)
    return out


def print_table(summary: list[dict[str, Any]]) -> None:
    print("| decoder ops | spectral weight | reconstruction MSE | detector accuracy | per seed "
          "| fixed detector | top ring | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in summary:
        fixed = (f"{s['reference_detector_accuracy']:.3f} ± {s['reference_detector_accuracy_sd']:.3f}"
                 if "reference_detector_accuracy" in s else "-")
        print(f"| {s['ops']} | {s['spectral_weight']:g} | {s['reconstruction_error']:.4f} ± "
              f"{s['reconstruction_error_sd']:.4f} | {s['detector_accuracy']:.3f} ± {s['detector_accuracy_sd']:.3f} "
              f"| {', '.join(map(str, s['per_seed_detector_accuracy']))} | {fixed} "
              f"| {s['top_ring_reconstructed']:.3f} | {s['wall_seconds']:.0f} |")


def print_pairs(rows: list[dict[str, Any]], tolerance: float = 0.2) -> None:
    """Each run against the same seed's reference run (the first configuration): the error ratio and the change
    in detector accuracy, marking the pairs "at similar reconstruction error" (ratio within 1 +- ``tolerance``)."""
    first = (rows[0]["ops"], rows[0]["spectral_weight"])
    reference = {r["seed"]: r for r in rows if (r["ops"], r["spectral_weight"]) == first}
    print(f"\npairs against {first[0]}:{first[1]:g} (same seed); similar: error ratio within 1 +- {tolerance}")
    print("| configuration | seed | error ratio | similar | detector accuracy change | fixed detector change |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        base = reference.get(r["seed"])
        if base is None or r is base:
            continue
        ratio = r["reconstruction_error"] / base["reconstruction_error"]
        print(f"| {r['ops']}:{r['spectral_weight']:g} | {r['seed']} | {ratio:.2f} | "
              f"{'yes' if abs(ratio - 1) <= tolerance else 'no'} | "
              f"{r['detector_accuracy'] - base['detector_accuracy']:+.3f} | "
              f"{r['reference_detector_accuracy'] - base['reference_detector_accuracy']:+.3f} |")


def print_pareto(history_csv: str) -> None:
    """The evaluated architectures of a search and which are non-dominated in (error, detector accuracy)."""
    import pandas as pd

    frame = pd.read_csv(history_csv)
    columns = [f"objective.{m}" for m in METRICS]
    points = frame[columns].to_numpy(dtype=float)
    dominated = [bool(((points <= p).all(axis=1) & (points < p).any(axis=1)).any()) for p in points]
    frame["on_front"] = [not d for d in dominated]
    print(frame[["arch", *columns, "on_front"]].to_string(index=False) if "arch" in frame else
          frame[[*columns, "on_front"]].to_string(index=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="OPS:WEIGHT,... (ops joined by '-')")
    parser.add_argument("--seeds", default="0,1,2", type=lambda t: [int(s) for s in t.split(",")])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--data-fraction", type=float, default=0.2)
    parser.add_argument("--latent", type=int, default=128)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=0,
                        help="epochs on the pixel loss alone before the spectral loss joins (weighted configs)")
    parser.add_argument("--target", default="pair", help="the spectral loss's target: pair or mean")
    parser.add_argument("--detector-images", type=int, default=500, help="images in each detector part")
    parser.add_argument("--out", help="JSON file for the runs and the summary")
    parser.add_argument("--summary-of", help="reprint the table of a JSON this script wrote")
    parser.add_argument("--pareto", help="a search's history.csv: print its non-dominated architectures")
    args = parser.parse_args(argv)
    if args.pareto:
        print_pareto(args.pareto)
        return
    if args.summary_of:
        saved = json.loads(Path(args.summary_of).read_text())
        print_table(saved["summary"])
        if "reference_detector_accuracy" in saved["runs"][0]:
            print_pairs(saved["runs"])
        return
    rows = run(args)
    summary = summarise(rows)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        settings = {k: v for k, v in vars(args).items() if k not in ("out", "summary_of", "pareto")}
        Path(args.out).write_text(json.dumps({"settings": settings, "runs": rows, "summary": summary}, indent=1))
    print_table(summary)
    print_pairs(rows)


if __name__ == "__main__":
    main()
