"""``nasframe compare``: searchers x seeds on benchmarks, as regret curves and a table."""

from __future__ import annotations

import json

import click


@click.command("compare")
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

    from nasframe.analysis import plot_regret, regret_table
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
    table = regret_table(curves)
    table.to_csv(out / "regret.csv", index=False)
    markdown = table.to_markdown(index=False, floatfmt=".4f")
    (out / "regret.md").write_text(markdown + "\n")
    click.echo(markdown)
    for bench_name, part in curves.groupby("benchmark"):
        path = out / f"regret-{Path(bench_name).name}.png"
        plot_regret(part, f"{bench_name}: {seeds} seeds, {budget} queries", path)
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
