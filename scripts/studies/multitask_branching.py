"""Branching search on ``multitask-branching``: a Δm-vs-MAdds Pareto front, with the all-shared and all-separate
networks trained explicitly and drawn on the same plot.

Steps (one recipe throughout): the single-task baselines are trained (or read
from the cache); the all-shared and the all-separate trees are trained with
the generic trainer; then ``nasframe.task_search.search_task`` runs a
branching search (one Ray Tune trial per tree) on ``delta_m:max,madds:min``.
Writes ``--out``/results.json (every trial, both references, the front,
timings), prints a markdown table of the front, and draws ``--png``.

    python scripts/studies/multitask_branching.py --budget 12 --recipe epochs=3 --out results/multitask \\
        --png docs/img/multitask_front.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--canvases", default="3000,500,500", help="train,val,test canvases")
    parser.add_argument("--searcher", default="mo-evolution")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="searcher options (JSON values), e.g. population_size=6")
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=2, help="trials at a time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipe", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--out", required=True)
    parser.add_argument("--png", default=None, help="the plot (default: OUT/front.png)")
    parser.add_argument("--repeat-seeds", default="", help="retrain the references and the best front trees "
                        "with these training seeds (e.g. 1,2) to measure Δm's seed noise")
    parser.add_argument("--repeat-top", type=int, default=2, help="front trees (best Δm first) to retrain")
    parser.add_argument("--skip-search", action="store_true", help="reuse OUT/results.json; only --repeat-seeds")
    return parser.parse_args()


def train_reference(task, recipe, space, arch, seed: int) -> dict:
    """One explicit training of a reference tree: its objectives, per-task metrics and wall seconds."""
    from nasframe.tasks import Trainer

    began = time.perf_counter()
    result = Trainer(task, recipe, device="cpu", seed=seed).fit(space, arch)
    last = result.history[-1]
    return {"arch": arch.canonical_key(), **result.objectives, "seconds": time.perf_counter() - began,
            **{k: v for k, v in last.items() if k.startswith("val_") and k != "val_delta_m"}}


def main() -> None:
    args = parse()
    import torch

    torch.set_num_threads(1)
    from nasframe.core.task import parse_objectives
    from nasframe.tasks import Recipe, parse_overrides
    from nasframe.tasks.multitask.task import MultitaskBranching

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, val, test = (int(n) for n in args.canvases.split(","))
    task = MultitaskBranching(args.dataset, train_canvases=train, val_canvases=val, test_canvases=test)
    recipe = Recipe.from_dict(parse_overrides(args.recipe, task.recipe_options))
    space = task.search_space()
    objectives = parse_objectives("delta_m:max,madds:min", task)
    began = time.perf_counter()
    baselines = task.baselines(recipe)  # trained once here; the pickled task carries them to the trials
    baseline_seconds = time.perf_counter() - began
    print(f"baselines ({baseline_seconds:.0f} s): {json.dumps(baselines['val'])}", flush=True)
    path = out / "results.json"
    if args.skip_search:
        summary = json.loads(path.read_text())
    else:
        references = {name: train_reference(task, recipe, space, arch, args.seed)
                      for name, arch in (("all-shared", space.all_shared()), ("all-separate", space.all_separate()))}
        for name, row in references.items():
            print(f"{name}: delta_m {row['delta_m']:+.2f}%  madds {row['madds']:.0f}  "
                  f"({row['seconds']:.0f} s)", flush=True)
        summary = search(args, task, recipe, objectives, out)
        summary.update({"task": repr(task), "baselines": baselines, "references": references,
                        "baseline_seconds": baseline_seconds})
        print(table(summary["front"], references))
        print(f"search: {summary['budget']} trials in {summary['seconds']['search']:.0f} s "
              f"({summary['seconds']['per_trial']:.0f} s per trial, {args.batch_size} at a time)")
    if args.repeat_seeds:
        summary["repeats"] = repeat(task, recipe, space, summary, [int(x) for x in args.repeat_seeds.split(",")],
                                    args.repeat_top)
    path.write_text(json.dumps(summary, indent=1, default=str))
    plot(summary, Path(args.png or out / "front.png"), repr(task))


def search(args: argparse.Namespace, task, recipe, objectives, out: Path) -> dict:
    """The branching search on Ray: every trial's objectives, the front and the timings."""
    from nasframe.ray_session import ray_session
    from nasframe.runner import OBJECTIVE_PREFIX
    from nasframe.task_search import search_task

    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    began = time.perf_counter()
    with ray_session(num_cpus=args.batch_size):
        result = search_task(task, args.searcher, args.budget, objectives=objectives, recipe=recipe, seed=args.seed,
                             batch_size=args.batch_size, searcher_options=options,
                             storage_path=str((out / "tune").resolve()))
    seconds = time.perf_counter() - began
    frame = result.history.to_frame()
    frame.to_csv(out / "history.csv", index=False)
    columns = {"delta_m": OBJECTIVE_PREFIX + "delta_m", "madds": OBJECTIVE_PREFIX + "madds"}
    # the training seed of a trial: nasframe.runner seeds batch b of a run with seed * 100_003 + b
    trials = [{"arch": str(row["hash"]), "error": row["error"], "seed": args.seed * 100_003 + int(row["batch"]),
               **{k: float(row[c]) for k, c in columns.items()}} for _, row in frame.iterrows()]
    front = [{"arch": str(row["hash"]), **{k: float(row[c]) for k, c in columns.items()}}
             for _, row in result.front.sort_values(columns["madds"]).iterrows()]
    return {"recipe": recipe.to_dict(), "searcher": args.searcher, "options": options, "budget": len(frame),
            "seed": args.seed, "trials": trials, "front": front, "hypervolume": result.hypervolume.tolist(),
            "seconds": {"search": seconds, "per_trial": seconds / max(len(frame), 1)}}


def repeat(task, recipe, space, summary: dict, seeds: list[int], top: int) -> dict:
    """Δm of the references and the ``top`` best front trees over training seeds: the seed each already had,
    then ``seeds`` (pairs already trained, in the search or an earlier repeat, are reused, not retrained)."""
    known = {(r["arch"], summary["seed"]): r["delta_m"] for r in summary["references"].values()}
    known |= {(t["arch"], t["seed"]): t["delta_m"] for t in summary["trials"] if not t.get("error")}
    for rep in summary.get("repeats", {}).values():
        known |= {(rep["arch"], s): v for s, v in zip(rep["seeds"], rep["delta_m"])}
    trees = {name: (ref["arch"], summary["seed"]) for name, ref in summary["references"].items()}
    for row in sorted(summary["front"], key=lambda r: -r["delta_m"])[:top]:
        first = next(t["seed"] for t in summary["trials"] if t["arch"] == row["arch"])
        trees.setdefault(f"front {row['arch']}", (row["arch"], first))
    out = {}
    for name, (key, first) in trees.items():
        arch = space.validate([[g.split(",") for g in layer.split("|")] for layer in key.split("/")])
        order = list(dict.fromkeys([first, *seeds]))
        for seed in order:
            if (key, seed) not in known:
                known[key, seed] = train_reference(task, recipe, space, arch, seed)["delta_m"]
        values = [known[key, seed] for seed in order]
        out[name] = {"arch": key, "seeds": order, "delta_m": values, "mean": statistics.mean(values),
                     "sd": statistics.stdev(values)}
        print(f"{name}: Δm over seeds {order}: " + " / ".join(f"{v:+.2f}" for v in values)
              + f"  mean {out[name]['mean']:+.2f} sd {out[name]['sd']:.2f}", flush=True)
    return out


def table(front: list[dict], references: dict) -> str:
    rows = [f"| {name} | {r['arch']} | {r['delta_m']:+.2f} | {r['madds'] / 1e6:.3f} |" for name, r in references.items()]
    rows += [f"| front | {r['arch']} | {r['delta_m']:+.2f} | {r['madds'] / 1e6:.3f} |" for r in front]
    return "\n".join(["| network | tree (groups per layer) | Δm % (val) | MAdds (M) |", "| --- | --- | --- | --- |", *rows])


def plot(summary: dict, path: Path, title: str) -> None:
    """Searched trees, the search's front as a staircase, the two references labelled, seed spread as bars."""
    from nasframe.analysis import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    trials = [t for t in summary["trials"] if not t.get("error")]
    ax.scatter([t["madds"] / 1e6 for t in trials], [t["delta_m"] for t in trials], s=18, color="grey", alpha=0.7,
               label="searched trees")
    front = summary["front"]
    ax.step([r["madds"] / 1e6 for r in front], [r["delta_m"] for r in front], where="post", color="C3", marker="o",
            label="Pareto front (search)")
    for (name, row), marker in zip(summary["references"].items(), ("s", "D")):
        ax.scatter([row["madds"] / 1e6], [row["delta_m"]], s=70, marker=marker, zorder=3, label=name)
        ax.annotate(name, (row["madds"] / 1e6, row["delta_m"]), textcoords="offset points", xytext=(6, -12),
                    fontsize=8)
    madds = {t["arch"]: t["madds"] for t in trials} | {r["arch"]: r["madds"] for r in summary["references"].values()}
    for name, rep in summary.get("repeats", {}).items():
        ax.errorbar([madds[rep["arch"]] / 1e6], [rep["mean"]], yerr=[rep["sd"]], color="black", capsize=3,
                    linewidth=0.8, label="mean ± sd over training seeds" if name == "all-shared" else None)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set(xlabel="MAdds per canvas (millions)", ylabel="Δm vs single-task baselines (%, val)", title=title)
    ax.title.set_fontsize(7)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
