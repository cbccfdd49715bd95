"""Multi-objective search on a task against random search, several seeds, real fine-tunings on Ray.

Each run is ``nasframe.task_search.search_task`` (one Ray Tune trial per
architecture) with the same budget, recipe and objectives; the hypervolume
of every run is computed under one common reference point (the worst value
of each objective over all runs), so runs are comparable. Writes a table
(markdown, stdout), ``summary.json`` and a PNG of every run's front plus the
mean hypervolume curves into ``--out``.

    python scripts/studies/mo_search.py --task prune-hrank --budget 30 --seeds 0,1,2 \\
        --searchers mo-evolution,random --recipe epochs=1 --recipe data_fraction=0.2 --out results/mo-hrank
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="prune-hrank")
    parser.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE",
                        help="task options (JSON values), e.g. dataset='\"digits\"'")
    parser.add_argument("--objectives", default="accuracy:max,flops:min")
    parser.add_argument("--searchers", default="mo-evolution,random")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--recipe", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--option", action="append", default=[], metavar="SEARCHER:KEY=VALUE",
                        help="searcher options (JSON values), e.g. mo-evolution:population_size=10")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import nasframe as nf
    from nasframe.core.task import parse_objectives
    from nasframe.pareto import hypervolume, hypervolume_curve, reference_point
    from nasframe.ray_session import ray_session
    from nasframe.task_search import search_task, signed_points
    from nasframe.tasks import Recipe, parse_overrides

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    task_options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.task_option)}
    if "base_recipe" in task_options:  # the compression tasks' base training, as recipe fields
        task_options["base_recipe"] = Recipe.from_dict(task_options["base_recipe"])
    task = nf.TASKS.create(args.task, **task_options)
    objectives = parse_objectives(args.objectives, task)
    recipe = Recipe.from_dict(parse_overrides(args.recipe))
    searchers = args.searchers.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    options: dict[str, dict] = {}
    for item in args.option:
        name, _, assignment = item.partition(":")
        key, _, value = assignment.partition("=")
        options.setdefault(name, {})[key] = json.loads(value)
    runs, seconds = {}, {}
    with ray_session(num_cpus=2):
        for seed in seeds:
            for name in searchers:  # interleaved: a drift of the machine's load hits both alike
                began = time.perf_counter()
                result = search_task(task, name, args.budget, objectives=objectives, recipe=recipe, seed=seed,
                                     batch_size=args.batch_size, searcher_options=options.get(name),
                                     storage_path=str((out / "tune").resolve()))
                seconds[name, seed] = time.perf_counter() - began
                frame = result.history.to_frame()
                frame.to_csv(out / f"history-{name}-{seed}.csv", index=False)
                runs[name, seed] = signed_points(frame[frame["error"].isna()], objectives)
                print(f"{name} seed {seed}: {len(frame)} trained, {seconds[name, seed]:.0f} s", flush=True)
    reference = reference_point(list(runs.values()))
    volume = {key: hypervolume(points, reference) for key, points in runs.items()}
    rows = []
    for name in searchers:
        values = np.array([volume[name, s] for s in seeds])
        rows.append(f"| {name} | {' / '.join(f'{v:.4g}' for v in values)} | {values.mean():.4g} | "
                    f"{values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float('nan'):.2g} | "
                    f"{np.mean([seconds[name, s] for s in seeds]) / args.budget:.1f} |")
    table = "\n".join(["| searcher | hypervolume per seed | mean | s.e. | s per trial |",
                       "| --- | --- | --- | --- | --- |", *rows])
    print(table)
    wins = {name: sum(volume[name, s] == max(volume[n, s] for n in searchers) for s in seeds) for name in searchers}
    (out / "summary.json").write_text(json.dumps({
        "task": args.task, "objectives": [str(o) for o in objectives], "recipe": recipe.to_dict(),
        "budget": args.budget, "seeds": seeds, "reference": reference.tolist(),
        "hypervolume": {f"{n}/{s}": volume[n, s] for n, s in volume}, "best_on_seed": wins,
        "seconds": {f"{n}/{s}": seconds[n, s] for n, s in seconds}}, indent=1))
    _plot(runs, searchers, seeds, objectives, reference, out / "fronts.png", hypervolume_curve)


def _plot(runs, searchers, seeds, objectives, reference, path, hypervolume_curve) -> None:
    from nasframe.analysis import pyplot

    plt = pyplot()
    fig, (ax, hv) = plt.subplots(1, 2, figsize=(11, 4))
    first, second = objectives[:2]
    for index, name in enumerate(searchers):
        color = f"C{index}"
        curves = []
        for seed in seeds:
            points = runs[name, seed]
            ax.scatter(second.sign * points[:, 1], first.sign * points[:, 0], s=8, color=color, alpha=0.5,
                       label=name if seed == seeds[0] else None)
            curves.append(hypervolume_curve(points, reference))
        length = min(map(len, curves))
        hv.plot(np.arange(1, length + 1), np.mean([c[:length] for c in curves], axis=0), color=color, label=name)
    if second.cost:
        ax.set_xscale("log")
    ax.set(xlabel=str(second), ylabel=str(first), title="every trained architecture, all seeds")
    hv.set(xlabel="trained architectures", ylabel="hypervolume (common reference)", title="mean over seeds")
    ax.legend(fontsize=8)
    hv.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
