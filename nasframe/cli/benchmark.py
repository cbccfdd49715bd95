"""``nasframe benchmark list|query|build|evaluate``: query, build and judge benchmarks."""

from __future__ import annotations

import json

import click

from nasframe.cli import inputs
from nasframe.core.files import check_writable_folder
from nasframe.core.errors import InvalidSetting, UnknownName


@click.group()
def benchmark() -> None:
    """Query, build and evaluate benchmarks."""


@benchmark.command("list")
@click.option("--names-only", is_flag=True, help="Print the names alone, one a line.")
def benchmark_list(names_only) -> None:
    """List the registered benchmarks, each with its card: per metric exact / predicted / none, and the noise source."""
    import benchmarks
    from benchmarks.catalog import card

    for name in benchmarks.names():
        if names_only:
            click.echo(name)
            continue
        found = card(name)
        if found is None:  # a plug-in: its card is its own business
            click.echo(f"{name}\n  (plug-in benchmark: no built-in card)")
            continue
        click.echo(f"{name}: {found.summary}")
        for metric, what in found.metrics.items():
            click.echo(f"  {metric:14s} {what}")
        click.echo(f"  {'noise':14s} {found.noise}")


@benchmark.command("query")
@click.argument("name")
@click.option("--arch", "arch_texts", multiple=True, help="Architecture as JSON (repeatable).")
@click.option("--archs", "arch_file", type=click.File("r"), help="File with one JSON architecture per line ('-': stdin).")
@click.option("--fidelity", type=int, default=None, help="Epochs (default: the largest).")
@click.option("--noise", is_flag=True, help="Draw one plausible training run instead of the mean.")
@click.option("--seed", type=int, default=None, help="Seed of the noise.")
def benchmark_query(name, arch_texts, arch_file, fidelity, noise, seed) -> None:
    """Print what benchmark NAME answers for each architecture, one JSON line each.

    An --archs file may hold the lines `nasframe space sample` prints.
    """
    if seed is not None and not noise:
        raise click.UsageError("--seed only applies to the noise of --noise; add --noise or drop --seed")
    bench = inputs.benchmark(name)
    if fidelity is not None and fidelity not in bench.fidelities:
        raise click.BadParameter(f"benchmark {bench.name!r} answers at {list(bench.fidelities)} epochs, not {fidelity}",
                                 param_hint="--fidelity")
    texts = list(arch_texts) + ([line for line in arch_file.read().splitlines() if line.strip()] if arch_file else [])
    if not texts:
        raise click.UsageError("give at least one --arch or an --archs file")
    archs = []
    for number, text in enumerate(texts, start=1):
        try:
            archs.append(inputs.architecture(bench.space, text))
        except click.BadParameter as exc:
            raise click.BadParameter(f"architecture {number}: {exc.message}", param_hint="--arch") from None
    answer = bench.query(archs, fidelity, noise=noise, seed=seed)
    for arch, row in zip(archs, answer.to_frame().to_dict(orient="records")):
        clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        click.echo(json.dumps({"hash": bench.space.canonical_hash(arch), **clean}))


@benchmark.command("build")
@click.option("--data", "data_path", required=True, help="Result file/folder (nbgraph: the dataset name).")
@click.option("--format", "data_format", required=True, help="nb101-json, nb101-tfrecord, nb301, dvae, naslib-darts, nbgraph.")
@click.option("--surrogate", "families_text", default="xgb", show_default=True, help="Comma-separated families: xgb,lgb,rf,gin,gcn.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write the benchmark to.")
@click.option("--name", default=None, help="Benchmark name (default: the folder name).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Fidelity to fit (default: the largest).")
@click.option("--members", type=click.IntRange(min=1), default=10, show_default=True, help="Ensemble members per family.")
@click.option("--seed", type=int, default=0, show_default=True)
def benchmark_build(data_path, data_format, families_text, out_dir, name, epochs, members, seed) -> None:
    """Fit a surrogate benchmark on real results and save it (with its model cards)."""
    from pathlib import Path

    from benchmarks import load_results
    from benchmarks.build import build_benchmark, check_families
    from benchmarks.catalog import FORMATS

    # everything that can be checked is, before minutes of loading and fitting
    if data_format not in FORMATS:
        raise click.BadParameter(f"unknown format {data_format!r}; known: {', '.join(FORMATS)}", param_hint="--format")
    families = [f.strip() for f in families_text.split(",")]
    try:
        check_families(families, members)
    except UnknownName as exc:
        raise click.BadParameter(str(exc), param_hint="--surrogate") from None
    check_writable_folder(out_dir, "--out")
    click.echo(f"loading {data_path} ...", err=True)
    results = load_results(data_path, data_format)
    click.echo(f"{len(results):,} architectures, {len(results.table):,} results from {results.source}")
    click.echo(f"fitting {', '.join(families)} ({members} members each) ...", err=True)
    built = build_benchmark(results, name=name or Path(out_dir).name, surrogates=families, members=members,
                            epochs=epochs, seed=seed, format=data_format)
    click.echo(built.report.to_markdown(index=False, floatfmt=".4g"))
    click.echo(f"saved to {built.benchmark.save(out_dir)}")


@benchmark.command("evaluate")
@click.argument("name")
@click.option("--data", "data_path", default=None, help="The data the benchmark was built from: its file, or a folder holding it (checked by checksum).")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False), help="Scatter plot PNG (default: NAME-scatter.png).")
def benchmark_evaluate(name, data_path, plot_path) -> None:
    """Held-out quality of surrogate benchmark NAME on its recorded test split, with a scatter plot."""
    from benchmarks import load_results
    from benchmarks.build import held_out
    from benchmarks.provenance import find_data
    from nasframe.analysis import plot_predictions
    from surrogates.metrics import regression_report

    bench = inputs.benchmark(name)
    card = getattr(bench, "card", {})
    if not card.get("format"):
        raise InvalidSetting(f"benchmark {name!r} is not a surrogate benchmark with a recorded data format")
    try:
        results = load_results(find_data(card["data"], data_path), card["format"])
        table = held_out(bench, results)
    except (FileNotFoundError, ValueError) as exc:  # the data is missing, or not the data it was built from
        raise InvalidSetting(str(exc)) from None
    report = regression_report(table["true"], table["predicted"])
    click.echo(f"{bench.name}: {len(table)} held-out architectures of {results.source}")
    for metric, value in report.items():
        click.echo(f"  {metric:20s} {value:.4g}")
    plot_path = plot_path or f"{bench.name}-scatter.png"
    plot_predictions(table, f"{bench.name}: held-out predictions (Kendall tau {report['kendall_tau']:.3f})", plot_path)
    click.echo(f"scatter plot: {plot_path}")
