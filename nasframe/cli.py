"""The ``nasframe`` command line.

Sub-commands import their heavy dependencies inside the command body so that
``nasframe --help`` answers instantly.
"""

from __future__ import annotations

import json
import sys

import click
import numpy as np

from nasframe.core import registry


@click.group()
@click.version_option(package_name="nasframe")
def main() -> None:
    """Neural-architecture search and benchmarking."""


@main.command("spaces")
def list_spaces() -> None:
    """List the installed search spaces and their sizes."""
    for name in registry.spaces.names():
        space = registry.load_space(name)
        size = space.size()
        click.echo(f"{name:8s} {type(space).__name__:14s} size={size if size else 'unknown'}")


@main.group()
def space() -> None:
    """Work with one search space."""


def _space(name: str):
    try:
        return registry.load_space(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="SPACE") from None


def _parse_arch(space_obj, text: str):
    from nasframe.core import InvalidArchitecture

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--arch") from None
    try:
        return space_obj.from_json(data) if isinstance(data, dict) else space_obj.validate(data)
    except InvalidArchitecture as exc:
        raise click.BadParameter(str(exc), param_hint="--arch") from None


@space.command("sample")
@click.argument("name")
@click.option("-n", "count", default=5, show_default=True, help="How many architectures.")
@click.option("--seed", default=0, show_default=True)
def space_sample(name: str, count: int, seed: int) -> None:
    """Print N random architectures of space NAME, one JSON object per line."""
    space_obj = _space(name)
    for arch in space_obj.sample(np.random.default_rng(seed), count):
        record = {"hash": space_obj.canonical_hash(arch), "arch": arch.to_json()}
        click.echo(json.dumps(record))


@space.command("hash")
@click.argument("name")
@click.option("--arch", "arch_text", required=True, help="Architecture as JSON.")
def space_hash(name: str, arch_text: str) -> None:
    """Validate an architecture and print its canonical hash."""
    space_obj = _space(name)
    click.echo(space_obj.canonical_hash(_parse_arch(space_obj, arch_text)))


@space.command("enumerate")
@click.argument("name")
@click.option("--path", type=click.Path(dir_okay=False), default=None,
              help="Index file (default: $NASFRAME_CACHE/nb101_index.npz).")
@click.option("--rebuild", is_flag=True, help="Rebuild even if a valid index exists.")
def space_enumerate(name: str, path: str | None, rebuild: bool) -> None:
    """Enumerate every architecture of space NAME into the on-disk index.

    Only spaces small enough to list have an index (NB101: 423,624 cells).
    Later commands (uniform sampling, hash -> spec recovery) reuse it.
    """
    import time

    if name != "nb101":
        raise click.BadParameter(f"space {name!r} has no enumeration index (only nb101)", param_hint="NAME")
    from search_spaces.nb101.enumeration import default_index_path, load_index

    start = time.perf_counter()
    index = load_index(path, rebuild=rebuild)
    sizes, counts = np.unique(index.num_vertices, return_counts=True)
    click.echo(f"{len(index):,} unique cells in {time.perf_counter() - start:.1f} s -> {path or default_index_path()}")
    for n, c in zip(sizes.tolist(), counts.tolist()):
        click.echo(f"  {n} vertices: {c:>8,}")


@main.group()
def benchmark() -> None:
    """Query, build and evaluate benchmarks."""


def _benchmark(name: str):
    import benchmarks

    try:
        return benchmarks.load(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


@benchmark.command("list")
def benchmark_list() -> None:
    """List the registered benchmark names."""
    import benchmarks

    for name in benchmarks.names():
        click.echo(name)


@benchmark.command("query")
@click.argument("name")
@click.option("--arch", "arch_texts", multiple=True, help="Architecture as JSON (repeatable).")
@click.option("--archs", "arch_file", type=click.File("r"), help="File with one JSON architecture per line ('-': stdin).")
@click.option("--fidelity", type=int, default=None, help="Epochs (default: the largest).")
@click.option("--noise", is_flag=True, help="Draw one plausible training run instead of the mean.")
@click.option("--seed", type=int, default=None, help="Seed of the noise.")
def benchmark_query(name, arch_texts, arch_file, fidelity, noise, seed) -> None:
    """Print what benchmark NAME answers for each architecture, one JSON line each."""
    bench = _benchmark(name)
    texts = list(arch_texts) + ([line for line in arch_file.read().splitlines() if line.strip()] if arch_file else [])
    if not texts:
        raise click.UsageError("give at least one --arch or an --archs file")
    archs = []
    for number, text in enumerate(texts, start=1):
        try:
            archs.append(_parse_arch(bench.space, text))
        except click.BadParameter as exc:
            raise click.BadParameter(f"architecture {number}: {exc.message}", param_hint="--arch") from None
    try:
        answer = bench.query(archs, fidelity, noise=noise, seed=seed)
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for arch, row in zip(archs, answer.to_frame().to_dict(orient="records")):
        clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        click.echo(json.dumps({"hash": bench.space.canonical_hash(arch), **clean}))


@benchmark.command("build")
@click.option("--data", "data_path", required=True, help="Result file/folder (nbgraph: the dataset name).")
@click.option("--format", "data_format", required=True, help="nb101-json, nb101-tfrecord, nb301, dvae, naslib-darts, nbgraph.")
@click.option("--surrogate", "families_text", default="xgb", show_default=True, help="Comma-separated families: xgb,lgb,rf,gin,gcn.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write the benchmark to.")
@click.option("--name", default=None, help="Benchmark name (default: the folder name).")
@click.option("--epochs", type=int, default=None, help="Fidelity to fit (default: the largest).")
@click.option("--members", type=int, default=10, show_default=True, help="Ensemble members per family.")
@click.option("--seed", type=int, default=0, show_default=True)
def benchmark_build(data_path, data_format, families_text, out_dir, name, epochs, members, seed) -> None:
    """Fit a surrogate benchmark on real results and save it (with its model cards)."""
    from pathlib import Path

    from benchmarks import load_results
    from benchmarks.build import build_benchmark

    try:
        results = load_results(data_path, data_format)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(results):,} architectures, {len(results.table):,} results from {results.source}")
    built = build_benchmark(
        results, name=name or Path(out_dir).name, surrogates=[f.strip() for f in families_text.split(",")],
        members=members, epochs=epochs, seed=seed, format=data_format,
    )
    click.echo(built.report.to_markdown(index=False, floatfmt=".4g"))
    click.echo(f"saved to {built.benchmark.save(out_dir)}")


@benchmark.command("evaluate")
@click.argument("name")
@click.option("--data", "data_path", default=None, help="The data the benchmark was built from (default: as recorded).")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False), help="Scatter plot PNG (default: NAME-scatter.png).")
def benchmark_evaluate(name, data_path, plot_path) -> None:
    """Held-out quality of surrogate benchmark NAME on its recorded test split, with a scatter plot."""
    from benchmarks import load_results
    from benchmarks.build import held_out
    from surrogates.metrics import regression_report

    bench = _benchmark(name)
    card = getattr(bench, "card", {})
    if not card.get("format"):
        raise click.ClickException(f"benchmark {name!r} is not a surrogate benchmark with a recorded data format")
    try:
        results = load_results(data_path or card["source"], card["format"])
        table = held_out(bench, results)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    report = regression_report(table["true"], table["predicted"])
    click.echo(f"{bench.name}: {len(table)} held-out architectures of {results.source}")
    for metric, value in report.items():
        click.echo(f"  {metric:20s} {value:.4g}")
    plot_path = plot_path or f"{bench.name}-scatter.png"
    _scatter(table, f"{bench.name}: held-out predictions (Kendall tau {report['kendall_tau']:.3f})", plot_path)
    click.echo(f"scatter plot: {plot_path}")


@main.command("search")
@click.option("--benchmark", "bench_name", default="nb101", show_default=True, help="Benchmark name or saved folder.")
@click.option("--searcher", "searcher_name", default="evolution", show_default=True, help="Searcher name (nasframe searchers).")
@click.option("--budget", default=150, show_default=True, help="Architectures to evaluate.")
@click.option("--seed", default=0, show_default=True)
@click.option("--batch-size", default=1, show_default=True, help="Architectures asked and evaluated at once.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Results folder (default: results/search-<benchmark>-<searcher>-<seed>).")
@click.option("--address", default=None, help="Run on this Ray cluster (e.g. auto or ray://host:10001).")
def search(bench_name: str, searcher_name: str, budget: int, seed: int, batch_size: int, out_dir: str | None,
           address: str | None) -> None:
    """Run one search on a benchmark; print the best architecture, write history and plot."""
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nasframe import searchers
    from nasframe.runner import run_search

    bench = _benchmark(bench_name)
    try:
        searcher = searchers.make(searcher_name, bench.space, seed=seed)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--searcher") from None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("best val {task.fields[best]}"))
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(f"{searcher_name} on {bench.name}", total=budget, best="-")

        def show(history) -> None:
            best = history.best()
            progress.update(task, completed=len(history), best=f"{best['val_accuracy']:.4f}" if best else "-")

        if address is None:
            history = run_search(searcher, bench, budget, seed=seed, batch_size=batch_size, callback=show)
    out = Path(out_dir or f"results/search-{Path(bench.name).name}-{searcher_name}-{seed}")
    out.mkdir(parents=True, exist_ok=True)
    if address is not None:
        history = _remote_search(bench_name, searcher_name, budget, seed, batch_size, out, address)
    frame = history.to_frame()
    frame.to_csv(out / "history.csv", index=False)
    optimum = bench.optimum()
    best = history.best()
    summary = {"benchmark": bench.name, "searcher": searcher_name, "seed": seed, "budget": budget,
               "evaluated": len(history), "failed": int(frame["error"].notna().sum()), "error": history.error,
               "best": best, "optimum": optimum[1] if optimum else None, "timings": history.timings}
    if best is not None:
        summary["best_mean_val_accuracy"] = float(
            bench.query([bench.space.from_json(json.loads(best["arch"]))]).val_accuracy[0])
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    _curve(frame, optimum[1] if optimum else None, f"{searcher_name} on {bench.name}", out / "best.png")
    if history.error:
        click.echo(f"the searcher stopped with an error after {len(history)} evaluations:\n{history.error}", err=True)
    if best is None:
        raise click.ClickException("no architecture was evaluated successfully")
    click.echo(f"best architecture (hash {best['hash']}):\n{best['arch']}")
    rows = [("evaluated", f"{len(history)} (failed {summary['failed']})"),
            ("best validation accuracy", f"{best['val_accuracy']:.4f}")]
    if best["test_accuracy"] == best["test_accuracy"]:
        rows.append(("its test accuracy", f"{best['test_accuracy']:.4f}"))
    # searchers see noisy evaluations; regret is measured on the noiseless value of their pick
    true_value = summary["best_mean_val_accuracy"]
    rows.append(("its mean validation accuracy", f"{true_value:.4f}"))
    if optimum:
        rows.append(("benchmark optimum (val)", f"{optimum[1]:.4f}"))
        rows.append(("regret", f"{optimum[1] - true_value:.4f}"))
    rows.append(("results", str(out)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"  {key:<{width}}  {value}")


def _remote_search(bench_name, searcher_name, budget, seed, batch_size, out, address):
    """One search as a one-run experiment on a Ray cluster; its history read back from the store."""
    from nasframe.experiment import Experiment
    from nasframe.runner import HISTORY_COLUMNS, History

    experiment = Experiment([searcher_name], [bench_name], [seed], budget, batch_size, store=out / "store")
    experiment.run(address=address, progress=True)
    frame = experiment.results()
    meta = experiment.runs().iloc[0]
    rows = frame[list(HISTORY_COLUMNS)].to_dict(orient="records")
    for row in rows:  # the store writes missing errors as NaN
        row["error"] = row["error"] if isinstance(row["error"], str) else None
    error = meta.get("error")
    return History(rows=rows, error=error if isinstance(error, str) else None)


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display on servers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curve(frame, optimum: float | None, title: str, path) -> None:
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(frame["step"] + 1, frame["best_val_accuracy"], label="best validation accuracy so far")
    ax.scatter(frame["step"] + 1, frame["val_accuracy"], s=4, alpha=0.4, color="grey", label="evaluated")
    if optimum is not None:
        ax.axhline(optimum, color="black", linestyle=":", linewidth=1, label="benchmark optimum")
    valid = frame["val_accuracy"].dropna()
    if len(valid):
        ax.set_ylim(max(valid.quantile(0.1) - 0.01, 0), (optimum or valid.max()) + 0.005)
    ax.set(xlabel="queries", ylabel="validation accuracy", title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@main.command("compare")
@click.option("--benchmark", "bench_names", multiple=True, default=["nb101"], show_default=True,
              help="Benchmark (repeatable).")
@click.option("--searchers", "searcher_text", default="random,evolution,local", show_default=True,
              help="Comma-separated searcher names.")
@click.option("--seeds", default=20, show_default=True, help="Seeds 0..N-1 per searcher and benchmark.")
@click.option("--budget", default=150, show_default=True)
@click.option("--batch-size", default=1, show_default=True)
@click.option("--out", "out_dir", default="results/compare", show_default=True, type=click.Path(file_okay=False),
              help="Results folder; re-running with the same folder resumes.")
@click.option("--address", default=None, help="Ray cluster address (default: a local Ray).")
@click.option("--serial", is_flag=True, help="Run in this process, without Ray.")
@click.option("--option", "option_texts", multiple=True, metavar="SEARCHER:KEY=VALUE",
              help="A searcher option (repeatable), e.g. latent-bo:model=models/vsgae-nb101. "
                   "VALUE is read as JSON when it parses, else as text.")
def compare(bench_names, searcher_text, seeds, budget, batch_size, out_dir, address, serial, option_texts) -> None:
    """Run searchers x seeds on benchmarks; write regret curves (PNG) and a table (markdown, CSV)."""
    from pathlib import Path

    from nasframe.experiment import Experiment, IncompleteExperiment

    names = [n.strip() for n in searcher_text.split(",") if n.strip()]
    options = _searcher_options(option_texts, names)
    out = Path(out_dir)
    entries = [(name, options[name]) if name in options else name for name in names]
    experiment = Experiment(entries, list(bench_names), seeds, budget, batch_size, store=out / "store")
    try:
        report = experiment.run(address=address, parallel=not serial)
    except IncompleteExperiment as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.stored} runs done now, {report.skipped} already stored, {len(report.failed)} failed "
               f"({report.wall_seconds:.0f} s)")
    curves = experiment.regret()
    table = _regret_table(curves)
    table.to_csv(out / "regret.csv", index=False)
    markdown = table.to_markdown(index=False, floatfmt=".4f")
    (out / "regret.md").write_text(markdown + "\n")
    click.echo(markdown)
    for bench_name, part in curves.groupby("benchmark"):
        path = out / f"regret-{Path(bench_name).name}.png"
        _regret_plot(part, f"{bench_name}: {seeds} seeds, {budget} queries", path)
        click.echo(f"regret curves: {path}")


def _searcher_options(texts, names: list[str]) -> dict[str, dict]:
    """``{searcher: {key: value}}`` from ``SEARCHER:KEY=VALUE`` texts.

    A value that names an existing file or folder becomes an absolute path:
    Ray workers need not share the driver's working directory.
    """
    from pathlib import Path

    options: dict[str, dict] = {}
    for text in texts:
        head, equals, value = text.partition("=")
        searcher_name, colon, key = head.partition(":")
        if not (equals and colon and searcher_name and key):
            raise click.BadParameter(f"{text!r} is not SEARCHER:KEY=VALUE", param_hint="--option")
        if searcher_name not in names:
            raise click.BadParameter(f"{text!r}: {searcher_name!r} is not among --searchers {','.join(names)}",
                                     param_hint="--option")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = str(Path(value).resolve()) if Path(value).exists() else value
        options.setdefault(searcher_name, {})[key] = parsed
    return options


def _regret_table(curves):
    """Final regret (mean +- standard error over seeds) per benchmark and searcher."""
    import pandas as pd

    last = curves.groupby("run_key").tail(1)
    rows = []
    for (bench_name, searcher_name), part in last.groupby(["benchmark", "searcher"], sort=False):
        regret, found = part["regret"], part["incumbent_val_accuracy"]
        se = regret.std(ddof=1) / np.sqrt(len(regret)) if len(regret) > 1 else float("nan")
        rows.append({"benchmark": bench_name, "searcher": searcher_name, "runs": len(part),
                     "final regret (mean)": regret.mean(), "standard error": se,
                     "found val (mean)": found.mean()})
    return pd.DataFrame(rows).sort_values(["benchmark", "final regret (mean)"])


def _regret_plot(curves, title: str, path) -> None:
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    for searcher_name, part in curves.groupby("searcher", sort=False):
        by_step = part.groupby("step")["regret"]
        mean, se = by_step.mean(), by_step.std(ddof=1) / np.sqrt(by_step.count())
        ax.plot(mean.index + 1, mean.values, label=searcher_name)
        ax.fill_between(mean.index + 1, (mean - se).values, (mean + se).values, alpha=0.2)
    ax.set_yscale("log")
    ax.set(xlabel="queries", ylabel="regret (validation accuracy)", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@main.group()
def bpe() -> None:
    """Budgeted performance estimation."""


@bpe.command("importance")
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The BPE trials spreadsheet (Search_Hyperparameters_Results.xlsx).")
@click.option("--seeds", default=10, show_default=True, help="Random forests averaged.")
def bpe_importance(data_path: str, seeds: int) -> None:
    """Random-forest importance of the 8 BPE hyper-parameters for correlation and for cost."""
    from nasframe.estimation import BPEFormatError, hyperparameter_importance, load_bpe_trials

    try:
        trials = load_bpe_trials(data_path)
    except BPEFormatError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(trials.config)} trials x {trials.accuracies.shape[1]} architectures; Spearman recomputed "
               f"(max deviation from the sheet {(trials.spearman - trials.reported_correlation).abs().max():.4f})")
    for title, target in (("Spearman correlation with full training", trials.spearman),
                          ("cost (GPU hours)", trials.gpu_hours)):
        click.echo(f"\nimportance for {title}:")
        click.echo(hyperparameter_importance(trials.config, target, seeds=seeds).to_markdown(floatfmt=".3f"))


def _load_task(name: str, data: str | None):
    from nasframe.tasks import DatasetError, load_task

    try:
        return load_task(name, **({"path": data} if data else {}))
    except (DatasetError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None


def _recipe(items: tuple[str, ...], **defaults):
    from nasframe.tasks import Recipe, RecipeError, parse_overrides

    try:
        return Recipe.from_dict({**defaults, **parse_overrides(list(items))})
    except RecipeError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("tasks")
def list_tasks() -> None:
    """List the registered training tasks."""
    from nasframe.tasks import task_names

    for name in task_names():
        click.echo(name)


@main.command("train")
@click.option("--task", "task_name", default="fashion-mnist", show_default=True, help="A registered task.")
@click.option("--data", default=None, help="Dataset folder (Fashion-MNIST IDX files, cifar-10-batches-py).")
@click.option("--space", "space_name", default="nb101", show_default=True)
@click.option("--arch", "arch_text", default=None, help="Architecture JSON (default: a random one, --seed).")
@click.option("--recipe", "recipe_items", multiple=True, metavar="FIELD=VALUE", help="Recipe fields, repeatable.")
@click.option("--checkpoint", default=None, type=click.Path(file_okay=False),
              help="Checkpoint folder: written every epoch, resumed from when it exists.")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=None, type=int, help="Torch threads (default: torch's).")
def train(task_name, data, space_name, arch_text, recipe_items, checkpoint, seed, threads) -> None:
    """Train one architecture on a task and print its per-epoch metrics."""
    import torch

    from nasframe.tasks import CheckpointMismatch, Trainer

    if threads:
        torch.set_num_threads(threads)
    space_obj = _space(space_name)
    arch = (_parse_arch(space_obj, arch_text) if arch_text
            else space_obj.sample(np.random.default_rng(seed), 1)[0])
    task = _load_task(task_name, data)
    recipe = _recipe(recipe_items)
    click.echo(f"{task}\narchitecture {space_obj.canonical_hash(arch)}\n{recipe}")

    def show(metrics, _folder):
        click.echo(f"epoch {metrics['epoch']}: val_accuracy {metrics['val_accuracy']:.4f}  "
                   f"train_loss {metrics['train_loss']:.4f}  {metrics['images_per_second']:.0f} img/s  "
                   f"{metrics['epoch_seconds']:.1f} s")

    try:
        result = Trainer(task, recipe, seed=seed, evaluate_test=True).fit(
            space_obj, arch, checkpoint_dir=checkpoint, on_epoch=show)
    except CheckpointMismatch as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"val_accuracy": result.val_accuracy, "test_accuracy": result.test_accuracy,
                           "params": result.params, "seconds": round(result.seconds, 2)}))


@bpe.command("search")
@click.option("--task", "task_name", default="fashion-mnist", show_default=True, help="A registered task.")
@click.option("--data", default=None, help="Dataset folder, for tasks read from the user's files.")
@click.option("--space", "space_name", default="nb101", show_default=True)
@click.option("--archs", "num_archs", default=24, show_default=True, help="Architectures in the reference ranking.")
@click.option("--full", "full_items", multiple=True, metavar="FIELD=VALUE",
              help="The full recipe's fields (repeatable); the rest are Recipe's defaults.")
@click.option("--budget", default=0.1, show_default=True, help="Largest cost ratio BPE / full.")
@click.option("--rounds", default=3, show_default=True)
@click.option("--per-round", default=5, show_default=True, help="BPE configurations trained per round.")
@click.option("--exploit", default=3, show_default=True,
              help="BPEs the forest predicts best within the budget, trained after the rounds.")
@click.option("--confirm", default=3, show_default=True,
              help="Best BPEs within the budget trained again with other seeds before one is chosen.")
@click.option("--replicates", default=3, show_default=True, help="Seeds per confirmed BPE (the first included).")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Study folder: every training result is kept there, a re-run resumes.")
@click.option("--address", default=None, help="Ray cluster address (default: a local Ray on every core).")
def bpe_search(task_name, data, space_name, num_archs, full_items, budget, rounds, per_round, exploit, confirm,
               replicates, seed, out_dir, address) -> None:
    """Minimum Importance Pruning: a reference ranking at the full recipe, then a cheap recipe that agrees."""
    import time
    from pathlib import Path

    from nasframe.core.files import atomic_file
    from nasframe.estimation import BPEEvaluator, image_bpe_space, minimum_importance_pruning
    from nasframe.ray_session import ray_session

    began = time.perf_counter()
    space_obj = _space(space_name)
    task = _load_task(task_name, data)
    full = _recipe(full_items)
    archs = space_obj.sample(np.random.default_rng(seed), num_archs)
    out = Path(out_dir)
    with ray_session(address):
        try:
            evaluator = BPEEvaluator(task, space_obj, archs, full, out / "trainings", seed=seed)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        reference = evaluator.reference()
        click.echo(f"reference: {num_archs} {space_name} architectures on {task.name}, {full}\n"
                   f"  test accuracy median {reference['test_accuracy'].median():.4f} "
                   f"(min {reference['test_accuracy'].min():.4f}, max {reference['test_accuracy'].max():.4f}), "
                   f"{reference['seconds'].mean():.1f} s per architecture")
        space_bpe = image_bpe_space(full, full.image_size or task.dataset.image_shape[-1])
        shown = space_bpe.names + ["spearman", "kendall", "cost_ratio"]

        def show(round_):
            click.echo(f"\nround {round_.index + 1}: importance for Spearman (random forest)")
            click.echo(round_.importance.to_markdown(floatfmt=".3f") if len(round_.importance) else "  (too few)")
            if round_.fixed is not None:
                click.echo(f"  fix {round_.fixed} = {round_.value}")

        result = minimum_importance_pruning(space_bpe, evaluator, budget=budget, rounds=rounds,
                                            per_round=per_round, seed=seed, exploit=exploit, confirm=confirm,
                                            replicates=replicates, on_round=show)
    evaluations = result.evaluations
    click.echo("\nall evaluated BPEs:")
    confirmed = [c for c in ("spearman_mean", "spearman_std") if c in evaluations]
    click.echo(evaluations[shown + confirmed + ["round"]].to_markdown(index=False, floatfmt=".3f"))
    try:
        best = result.best
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    config = {n: _plain(best[n]) for n in space_bpe.names}
    chosen = space_bpe.recipe(config)
    wall = time.perf_counter() - began
    mean = best.get("spearman_mean")
    confirmed_text = (f", mean over {int(best['replicates'])} seeds {mean:.3f} +- {best['spearman_std']:.3f}"
                      if mean is not None and mean == mean else "")
    click.echo(f"\nbest BPE within {budget:g} of the full cost: {config}\n"
               f"  Spearman {best['spearman']:.3f} (first seed){confirmed_text}, Kendall {best['kendall']:.3f}, "
               f"cost ratio {best['cost_ratio']:.3f}; wall time {wall:.0f} s")
    report = {
        "task": task_name, "data": data, "space": space_name, "seed": seed, "budget": budget,
        "full": full.to_dict(), "bpe": chosen.to_dict(), "bpe_config": config,
        "spearman": float(best["spearman"]), "kendall": float(best["kendall"]),
        "spearman_mean": None if mean is None or mean != mean else float(mean),
        "spearman_std": None if mean is None or mean != mean else float(best["spearman_std"]),
        "cost_ratio": float(best["cost_ratio"]), "wall_seconds": wall,
        "reference_median_test_accuracy": float(reference["test_accuracy"].median()),
        "reference_seconds_per_arch": float(reference["seconds"].mean()),
        "rounds": [{"fixed": r.fixed, "value": _plain(r.value),
                    "importance": {k: float(v) for k, v in r.importance.get("impurity", {}).items()}}
                   for r in result.rounds],
        "evaluations": json.loads(evaluations.to_json(orient="records")),
    }
    with atomic_file(out / "report.json", "w") as handle:
        json.dump(report, handle, indent=1)
    click.echo(f"report: {out / 'report.json'}")


def _plain(value):
    """numpy scalars as Python values, for JSON and recipes."""
    return value.item() if hasattr(value, "item") else value


@bpe.command("apply")
@click.option("--out", "out_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="A study folder of `nasframe bpe search` (its report.json).")
@click.option("--searcher", "searcher_name", default="evolution", show_default=True)
@click.option("--trials", default=16, show_default=True, help="Tune trials (architectures) at the BPE.")
@click.option("--top-k", default=3, show_default=True, help="Architectures retrained at the full recipe.")
@click.option("--seed", default=0, show_default=True)
@click.option("--address", default=None, help="Ray cluster address (default: a local Ray on every core).")
def bpe_apply(out_dir, searcher_name, trials, top_k, seed, address) -> None:
    """Search with the study's BPE (Ray Tune, ASHA), retrain the top-k at the full recipe."""
    from pathlib import Path

    from nasframe.core.files import atomic_file
    from nasframe.searchers import make
    from nasframe.tasks import Recipe
    from nasframe.ray_session import ray_session
    from nasframe.training import search_then_retrain

    out = Path(out_dir)
    if not (out / "report.json").is_file():
        raise click.ClickException(f"{out / 'report.json'} missing: run `nasframe bpe search --out {out}` first")
    report = json.loads((out / "report.json").read_text())
    space_obj = _space(report["space"])
    task = _load_task(report["task"], report["data"])
    searcher = make(searcher_name, space_obj, seed=seed)
    with ray_session(address):
        result = search_then_retrain(searcher, task, Recipe.from_dict(report["bpe"]),
                                     Recipe.from_dict(report["full"]), num_samples=trials, top_k=top_k,
                                     storage_path=str((out / "tune").resolve()), seed=report["seed"])
    median = report["reference_median_test_accuracy"]
    click.echo(f"{len(result.trials)} trials with the BPE; top {top_k} retrained at the full recipe:")
    click.echo(result.retrained.drop(columns="arch").to_markdown(index=False, floatfmt=".4f"))
    best = result.best
    click.echo(f"best: full-budget test accuracy {best['test_accuracy']:.4f} vs median of the "
               f"reference's random architectures {median:.4f} "
               f"({'beats' if best['test_accuracy'] > median else 'does not beat'} it)")
    with atomic_file(out / f"apply-{searcher_name}-{seed}.json", "w") as handle:
        json.dump({"searcher": searcher_name, "seed": seed, "trials": json.loads(result.trials.to_json(orient="records")),
                   "retrained": json.loads(result.retrained.to_json(orient="records")),
                   "reference_median_test_accuracy": median}, handle, indent=1)


def _scatter(table, title: str, path: str) -> None:
    plt = _pyplot()

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(table["true"], table["predicted"], s=4, alpha=0.5)
    low = min(table["true"].min(), table["predicted"].min())
    high = max(table["true"].max(), table["predicted"].max())
    ax.plot([low, high], [low, high], color="grey", linewidth=1)
    ax.set(xlabel="true validation accuracy", ylabel="predicted", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- graph embeddings --------------------------------------------------------------------


@main.group()
def embed() -> None:
    """Graph embeddings (VS-GAE, SVGe): train a model and measure it."""


#: what ``embed train`` records as a model's data source, so ``embed evaluate`` can rebuild its split
_EMBED_RECIPE = "nasframe.embed.train/1"


def _embedding_data(space_name: str, count: int | None, use_all: bool, holdout: int, seed: int,
                    uniform: bool = False):
    """``(space, train, heldout)``: a seeded, disjoint split of distinct architectures.

    ``use_all`` takes every NB101 cell from the enumeration index (423,624);
    ``uniform`` draws ``count`` + ``holdout`` distinct NB101 cells uniformly
    from that index; otherwise ``count`` distinct architectures are drawn
    from the space's own sampler on top of the ``holdout`` ones. A pure
    function of its arguments, which is how ``embed evaluate`` finds the
    held-out cells of a trained model again.
    """
    from nasframe.searchers._bananas import fresh_samples

    space_obj = _space(space_name)
    if use_all or uniform:
        if space_name != "nb101":
            flag = "--all" if use_all else "--uniform"
            raise click.BadParameter(f"{flag} reads the NB101 enumeration; give --archs N for other spaces",
                                     param_hint=flag)
        index, train_rows, heldout_rows = _nb101_split(holdout, seed, None if use_all else count)
        return space_obj, index.cells(train_rows), index.cells(heldout_rows)
    archs = list(fresh_samples(space_obj, np.random.default_rng(seed), count + holdout, set()).values())
    if len(archs) <= holdout:
        raise click.ClickException(f"only {len(archs)} distinct architectures could be drawn; need more than {holdout}")
    return space_obj, archs[holdout:], archs[:holdout]


def _labels(space_obj, path: str, data_format: str, heldout) -> tuple[list, dict[str, float]]:
    """``(labelled archs not in heldout, {hash: validation accuracy})`` from a result file.

    The held-out architectures stay unseen: labelled ones among them are not
    trained on, so reconstruction is still measured on graphs the model never met.
    """
    from benchmarks import load_results

    try:
        results = load_results(path, data_format)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"--labels {path}: {exc}") from None
    if results.space.name != space_obj.name:
        raise click.BadParameter(f"{path} holds {results.space.name} results, not {space_obj.name}",
                                 param_hint="--labels")
    frame = results.at()
    accuracy = dict(zip(frame["hash"], frame["val_accuracy"].astype(float)))
    excluded = set(space_obj.canonical_hashes(heldout))
    archs = [space_obj.validate(results.archs[h]) for h in frame["hash"] if h not in excluded]
    return archs, accuracy


def _nb101_split(holdout: int, seed: int, count: int | None = None):
    """``(index, train_rows, heldout_rows)``: a seeded uniform split of the NB101 enumeration.

    ``count`` training rows (``None``: all the others) after ``holdout`` held-out ones.
    """
    from search_spaces.nb101.enumeration import load_index

    index = load_index()
    rows = np.random.default_rng(seed).permutation(len(index))
    end = len(rows) if count is None else holdout + count
    return index, rows[holdout:end], rows[:holdout]


def _epoch_line(epochs: int, started: list[float], deadline: float | None = None):
    """A ``train`` callback printing one progress line per epoch; stops after ``deadline`` (perf_counter)."""
    import time

    def callback(epoch: int, stats: dict[str, float]) -> bool:
        now = time.perf_counter()
        seconds, started[0] = now - started[0], now
        extra = f"  mse {stats['mse']:.4f}" if "mse" in stats else ""
        click.echo(
            f"epoch {epoch}/{epochs}  loss {stats['loss']:.4f}  recon {stats['reconstruction']:.4f}  "
            f"kl {stats['kl']:.2f}  teacher-forced acc {stats['accuracy']:.3f}{extra}  {seconds:.1f}s"
        )
        if deadline is not None and now >= deadline and epoch < epochs:
            click.echo(f"time limit reached after epoch {epoch}: saving (resume with the same --checkpoint)")
            return False
        return True

    return callback


@embed.command("train")
@click.option("--space", "space_name", type=click.Choice(["nb101", "enas"]), default="nb101", show_default=True)
@click.option("--model", "kind", type=click.Choice(["vsgae", "svge"]), default="vsgae", show_default=True,
              help="SVGe trains as a VAE unless --labels gives its joint predictor targets.")
@click.option("--archs", "count", type=click.IntRange(min=1), default=None, help="Train on N distinct random architectures.")
@click.option("--all", "use_all", is_flag=True, help="Train on every NB101 cell (the enumeration index).")
@click.option("--uniform", is_flag=True,
              help="NB101: draw the --archs cells uniformly from the enumeration index (the space's sampler, "
                   "NB101's random_spec, favours small cells and repeats them: 3,000 draws hold ~1,200 distinct).")
@click.option("--holdout", type=click.IntRange(min=1), default=100, show_default=True,
              help="Architectures kept out of training for `embed evaluate`.")
@click.option("--epochs", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--lr", type=float, default=1e-4, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=250, show_default=True, help="Node state size.")
@click.option("--latent", type=click.IntRange(min=1), default=56, show_default=True)
@click.option("--beta", type=float, default=0.005, show_default=True, help="Weight of the KL term.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch threads (CPU).")
@click.option("--checkpoint", "checkpoint_dir", type=click.Path(file_okay=False), default=None,
              help="Checkpoint every epoch here; an existing checkpoint is resumed.")
@click.option("--time-limit", type=click.FloatRange(min=0), default=None,
              help="Stop after the epoch that ends past this many seconds of training, and save (wall-time limits).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to save the model to.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--labels", "labels_path", type=click.Path(exists=True), default=None,
              help="SVGe: real results whose validation accuracies train the joint predictor (their architectures "
                   "join the training set; the others stay unlabelled).")
@click.option("--labels-format", type=click.Choice(["nb101-json", "nb101-tfrecord", "nb301", "dvae", "naslib-darts"]),
              default=None, help="Format of --labels.")
def embed_train(space_name, kind, count, use_all, uniform, holdout, epochs, batch_size, lr, hidden, latent, beta, device,
                threads, checkpoint_dir, time_limit, out_dir, seed, labels_path, labels_format) -> None:
    """Train a VS-GAE or SVGe on architectures of a space and save it with a model card."""
    import time
    from pathlib import Path

    from surrogates.embeddings import reconstruction_rate, save_model, train
    from surrogates.embeddings.train import CHECKPOINT, MODEL_KINDS

    if (count is None) == (not use_all):
        raise click.UsageError("give exactly one of --archs N and --all")
    if (labels_path is None) != (labels_format is None):
        raise click.UsageError("--labels and --labels-format go together")
    if labels_path is not None and kind != "svge":
        raise click.BadParameter("only SVGe has a predictor to train on labels; use --model svge", param_hint="--labels")
    space_obj, archs, heldout = _embedding_data(space_name, count, use_all, holdout, seed, uniform)
    y = None
    if labels_path is not None:
        labelled, accuracy = _labels(space_obj, labels_path, labels_format, heldout)
        known = set(space_obj.canonical_hashes(archs))
        archs = archs + [a for a, h in zip(labelled, space_obj.canonical_hashes(labelled)) if h not in known]
        y = np.array([accuracy.get(h, np.nan) for h in space_obj.canonical_hashes(archs)])
        click.echo(f"labels: {int(np.isfinite(y).sum()):,} of the training architectures have a validation accuracy "
                   f"({labels_path})")
    model = MODEL_KINDS[kind](space_obj, hidden=hidden, latent=latent, beta=beta, seed=seed, device=device)
    click.echo(f"{kind} on {space_name}: {len(archs):,} architectures to train on, {len(heldout)} held out; "
               f"hidden {hidden}, latent {latent}, {sum(p.numel() for p in model.parameters()):,} parameters, {device}")
    if checkpoint_dir is not None and (Path(checkpoint_dir) / CHECKPOINT).is_file():
        click.echo(f"resuming from {Path(checkpoint_dir) / CHECKPOINT}")
    started = [time.perf_counter()]
    deadline = None if time_limit is None else started[0] + time_limit
    result = train(model, archs, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, checkpoint=checkpoint_dir,
                   callback=_epoch_line(epochs, started, deadline), threads=threads)
    decoded = model.decode(model.encode(heldout))
    metrics = {
        **({} if y is None else {"labelled_architectures": int(np.isfinite(y).sum())}),
        "heldout_teacher_forced_accuracy": model.teacher_forced_accuracy(heldout),
        "heldout_greedy_reconstruction": reconstruction_rate(space_obj, heldout, [[d] for d in decoded]),
    }
    recipe = {"recipe": _EMBED_RECIPE, "space": space_name, "archs": "all" if use_all else count,
              "uniform": bool(uniform and not use_all), "holdout": holdout, "seed": seed}
    if labels_path is not None:
        recipe.update(labels=str(Path(labels_path).resolve()), labels_format=labels_format)
    save_model(model, out_dir, result=result, metrics=metrics, data_source=json.dumps(recipe, sort_keys=True))
    click.echo(f"held out: teacher-forced accuracy {metrics['heldout_teacher_forced_accuracy']:.3f}, "
               f"greedy reconstruction {metrics['heldout_greedy_reconstruction']:.3f}")
    click.echo(f"saved {out_dir} ({result.epochs} epochs)")


@embed.command("evaluate")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--heldout", "max_heldout", type=click.IntRange(min=1), default=100, show_default=True,
              help="At most this many held-out architectures to reconstruct.")
@click.option("--encodings", type=click.IntRange(min=1), default=10, show_default=True, help="Posterior draws per architecture.")
@click.option("--decodings", type=click.IntRange(min=1), default=10, show_default=True, help="Stochastic decodings per draw.")
@click.option("--samples", type=click.IntRange(min=1), default=1000, show_default=True, help="Prior samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def embed_evaluate(model_dir, max_heldout, encodings, decodings, samples, seed, device, as_json) -> None:
    """Reconstruction accuracy on held-out architectures and validity/uniqueness/novelty of prior samples.

    The held-out architectures are those `embed train` kept out (recorded in
    the model card). For a model trained otherwise, fresh random architectures
    stand in and novelty is not measured (the training data is unknown).
    """
    from surrogates.embeddings import load_model, prior_quality, reconstruction_accuracy, reconstruction_rate
    from surrogates.embeddings.metrics import uniqueness, validity

    model = load_model(model_dir, device=device)
    card = model.card
    try:
        recipe = json.loads(card.get("data_source") or "")
    except json.JSONDecodeError:
        recipe = None
    if isinstance(recipe, dict) and recipe.get("recipe") == _EMBED_RECIPE:
        heldout_kind = "held out"
        if recipe["archs"] == "all" or recipe.get("uniform"):  # hashes straight from the index
            count = None if recipe["archs"] == "all" else recipe["archs"]
            index, train_rows, heldout_rows = _nb101_split(recipe["holdout"], recipe["seed"], count)
            heldout, train_hashes = index.cells(heldout_rows), index.hashes[train_rows].tolist()
        else:
            _, train_archs, heldout = _embedding_data(recipe["space"], recipe["archs"], False, recipe["holdout"],
                                                      recipe["seed"])
            train_hashes = model.space.canonical_hashes(train_archs)
        if recipe.get("labels"):  # the labelled architectures were trained on too
            labelled, _ = _labels(model.space, recipe["labels"], recipe["labels_format"], heldout)
            train_hashes = train_hashes + model.space.canonical_hashes(labelled)
    else:
        from nasframe.searchers._bananas import fresh_samples

        heldout = list(fresh_samples(model.space, np.random.default_rng(seed), max_heldout, set()).values())
        heldout_kind, train_hashes = "random, maybe seen in training", None
    heldout = heldout[:max_heldout]
    report = {
        "model": card["kind"],
        "space": card["space"],
        "epochs": card.get("epochs"),
        "heldout": len(heldout),
        "reconstruction_accuracy": reconstruction_accuracy(model, heldout, n_encode=encodings, n_decode=decodings,
                                                           seed=seed),
        "greedy_reconstruction": reconstruction_rate(
            model.space, heldout, [[d] for d in model.decode(model.encode(heldout))]
        ),
        "samples": samples,
    }
    if train_hashes is None:
        drawn = model.sample_prior(samples, seed=seed)
        report.update(validity=validity(drawn), uniqueness=uniqueness(model.space, drawn), novelty=None)
    else:
        report.update(prior_quality(model, samples, train=train_hashes, seed=seed))
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    click.echo(f"{report['model']} on {report['space']}, {report['epochs']} epochs ({model_dir})")
    click.echo(f"reconstruction accuracy ({len(heldout)} {heldout_kind}, {encodings} encodings x {decodings} "
               f"decodings): {report['reconstruction_accuracy']:.4f}")
    click.echo(f"greedy reconstruction (latent mean, argmax decoding): {report['greedy_reconstruction']:.4f}")
    novelty = "n/a" if report["novelty"] is None else f"{report['novelty']:.4f}"
    click.echo(f"prior samples ({samples}): validity {report['validity']:.4f}, "
               f"uniqueness {report['uniqueness']:.4f}, novelty {novelty}")


if __name__ == "__main__":
    sys.exit(main())
