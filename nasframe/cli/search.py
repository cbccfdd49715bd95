"""``nasframe search``: one search run on a benchmark, here or on a Ray cluster."""

from __future__ import annotations

import json
import math

import click

from nasframe.cli import inputs
from nasframe.core.files import check_writable_folder


@click.command("searchers")
def list_searchers() -> None:
    """List the registered searcher names (for --searcher and --searchers)."""
    from nasframe.core.registry import SEARCHERS

    for name in SEARCHERS.names():
        click.echo(name)


@click.command("search")
@click.option("--benchmark", "bench_name", default="nb101", show_default=True, help="Benchmark name or saved folder.")
@click.option("--searcher", "searcher_name", default="evolution", show_default=True,
              help="Searcher name (`nasframe searchers` lists them).")
@click.option("--budget", type=click.IntRange(min=1), default=150, show_default=True, help="Architectures to evaluate.")
@click.option("--seed", default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Architectures asked and evaluated at once.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Results folder (default: results/search-<benchmark>-<searcher>-<seed>).")
@click.option("--address", default=None,
              help="Run on this Ray cluster (auto, or HEAD:6379 from a node of the cluster; from elsewhere use "
                   "`nasframe submit`); default: in this process.")
@click.option("--storage", default=None,
              help="With --address: where the result store lives, a folder or a URI (s3://...) every node sees "
                   "(default: <out>/store).")
@click.option("--task", "task_name", default=None,
              help="Search by training on this task (`nasframe tasks`) instead of querying --benchmark.")
@click.option("--data", default=None, help="With --task: the dataset folder where the task reads one.")
@click.option("--task-option", "task_options", multiple=True, metavar="KEY=VALUE",
              help="With --task: an option of the task's constructor (e.g. dataset=digits), repeatable.")
@click.option("--space", "space_name", default=None, help="With --task: a registered space (default: the task's).")
@click.option("--objectives", default=None, metavar="NAME:DIR,...",
              help="With --task: objectives, e.g. accuracy:max,flops:min (default: the task's first).")
@click.option("--weights", default=None, metavar="W,...",
              help="With --task and several objectives: scalarisation weights for single-objective searchers.")
@click.option("--recipe", "recipe_items", multiple=True, metavar="FIELD=VALUE",
              help="With --task: training recipe fields, repeatable.")
@click.option("--asha", is_flag=True,
              help="With --task: stop the weaker trials of each batch early (Ray Tune's ASHA over the epochs).")
def search(bench_name: str, searcher_name: str, budget: int, seed: int, batch_size: int, out_dir: str | None,
           address: str | None, storage: str | None, task_name: str | None, data: str | None,
           task_options: tuple[str, ...], space_name: str | None, objectives: str | None, weights: str | None, recipe_items: tuple[str, ...],
           asha: bool) -> None:
    """Run one search on a benchmark (or, with --task, by real trainings); print the best, write history and plot."""
    from pathlib import Path

    if task_name is not None:
        from nasframe.cli.training import search_on_task

        return search_on_task(task_name, data, task_options, space_name, searcher_name, budget, seed, batch_size,
                              out_dir, address, storage, objectives, weights, recipe_items, asha)
    for given, option in ((data, "--data"), (task_options, "--task-option"), (space_name, "--space"), (objectives, "--objectives"),
                          (weights, "--weights"), (recipe_items, "--recipe"), (asha, "--asha")):
        if given:
            raise click.UsageError(f"{option} needs --task (a benchmark fixes its space, data and objective)")

    from nasframe.analysis import final_regret, plot_search
    from nasframe.experiment import search_on_ray
    from nasframe.searchers import make

    inputs.searcher(searcher_name)
    bench = inputs.benchmark(bench_name, "--benchmark")
    _check_budget(budget, bench)
    out = check_writable_folder(out_dir or f"results/search-{Path(bench.name).name}-{searcher_name}-{seed}", "--out")
    if address is None:
        searcher = make(searcher_name, bench.space, seed=seed)
        history = _search_here(searcher, bench, f"{searcher_name} on {bench.name}", budget, seed, batch_size)
    out.mkdir(parents=True, exist_ok=True)
    if address is not None:
        from nasframe.storage import STORE_DIR, child, resolve

        store = child(resolve(storage), STORE_DIR) if storage else out / STORE_DIR
        history = search_on_ray(searcher_name, bench_name, budget, seed=seed, batch_size=batch_size,
                                store=store, address=address)
    frame = history.to_frame()
    frame.to_csv(out / "history.csv", index=False)
    # searchers see noisy evaluations; regret is measured on the noiseless value of their pick, and
    # seen_regret on the best noiseless value among everything they evaluated
    ended = final_regret(frame, bench)
    summary = {"benchmark": bench.name, "searcher": searcher_name, "seed": seed, "budget": budget,
               **history.summary(), "optimum": ended["optimum"]}
    if summary["best"] is not None:
        summary.update(best_mean_val_accuracy=ended["incumbent_val_accuracy"], regret=ended["regret"],
                       best_seen_mean_val_accuracy=ended["best_seen_val_accuracy"], seen_regret=ended["seen_regret"])
    (out / "summary.json").write_text(json.dumps(_strict(summary), indent=2, default=str, allow_nan=False))
    plot_search(frame, ended["optimum"], f"{searcher_name} on {bench.name}", out / "best.png")
    _report(summary, history.error, out)


def _check_budget(budget: int, bench) -> None:
    """Refuse a budget larger than the architectures the benchmark can answer: the run could never spend it.

    Refused up front rather than stopped with a warning, so that a summary
    never reports a budget that was not spent.
    """
    from nasframe.core.errors import InvalidSetting

    sizes = [n for n in (bench.space.size(), len(bench) if hasattr(bench, "__len__") else None) if n]
    if sizes and budget > min(sizes):
        raise InvalidSetting(f"--budget {budget:,} is more than the {min(sizes):,} architectures benchmark "
                             f"{bench.name!r} can answer; give --budget {min(sizes):,} or less")


def _strict(value):
    """``value`` with every NaN or infinite float replaced by ``None``: summary.json stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def _search_here(searcher, bench, title: str, budget: int, seed: int, batch_size: int):
    """``run_search`` in this process, with a progress bar of evaluations and the best value so far."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nasframe.runner import run_search

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("best val {task.fields[best]}"))
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(title, total=budget, best="-")

        def show(history) -> None:
            best = history.best()
            progress.update(task, completed=len(history), best=f"{best['val_accuracy']:.4f}" if best else "-")

        return run_search(searcher, bench, budget, seed=seed, batch_size=batch_size, callback=show)


def _report(summary: dict, error: str | None, out) -> None:
    """Print the summary as aligned ``key  value`` lines (the searcher's error to stderr)."""
    best = summary["best"]
    if error:
        click.echo(f"the searcher stopped with an error after {summary['evaluated']} evaluations:\n{error}", err=True)
    elif summary["evaluated"] < summary["budget"]:
        click.echo(f"warning: the search stopped after {summary['evaluated']:,} of --budget {summary['budget']:,} "
                   "evaluations: the searcher proposed no new architecture", err=True)
    if best is None:
        raise click.ClickException("no architecture was evaluated successfully")
    click.echo(f"best architecture (hash {best['hash']}):\n{best['arch']}")
    rows = [("evaluated", f"{summary['evaluated']} (failed {summary['failed']})"),
            ("best validation accuracy", f"{best['val_accuracy']:.4f}")]
    if best["test_accuracy"] == best["test_accuracy"]:
        rows.append(("its test accuracy", f"{best['test_accuracy']:.4f}"))
    rows.append(("its mean validation accuracy", f"{summary['best_mean_val_accuracy']:.4f}"))
    rows.append(("best mean val among evaluated", f"{summary['best_seen_mean_val_accuracy']:.4f}"))
    if summary["optimum"] is not None:
        rows.append(("benchmark optimum (val)", f"{summary['optimum']:.4f}"))
        rows.append(("regret (returned architecture)", f"{summary['regret']:.4f}"))
        rows.append(("seen regret (best evaluated)", f"{summary['seen_regret']:.4f}"))
    rows.append(("results", str(out)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"  {key:<{width}}  {value}")
