"""``nasframe compare``: searchers x seeds on benchmarks, as regret curves and a table.

Two regrets, both in the table and the plots (:func:`nasframe.analysis.regret`):
``final regret`` of the architecture each search returns (its incumbent, chosen
by observed value, scored by noiseless value) and ``final seen regret`` of the
best noiseless value among everything it evaluated.

Failed runs are never silent: each is printed with its error, counted in the
table (``failed``) and listed in ``regret.md``, and the command exits 1 when
any run of the comparison failed (a rerun lists them again), unless
``--allow-failures`` accepts a partial comparison.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

_POSITIVE = click.IntRange(min=1)


@click.command("compare")
@click.option("--benchmark", "bench_names", multiple=True, default=["nb101"], show_default=True,
              help="Benchmark name or saved benchmark folder (repeatable).")
@click.option("--searchers", "searcher_text", default="random,evolution,local", show_default=True,
              help="Comma-separated searcher names.")
@click.option("--seeds", default=20, show_default=True, type=_POSITIVE,
              help="Seeds 0..N-1 per searcher and benchmark.")
@click.option("--budget", default=150, show_default=True, type=_POSITIVE, help="Architectures per run.")
@click.option("--batch-size", default=1, show_default=True, type=_POSITIVE)
@click.option("--out", "out_dir", default="results/compare", show_default=True, type=click.Path(file_okay=False),
              help="Results folder; re-running with the same folder and settings resumes (more seeds may be "
                   "added; other settings are refused).")
@click.option("--address", default=None,
              help="Ray cluster to join (default: RAY_ADDRESS, else the cluster `ray start` recorded on this "
                   "machine, else a private local Ray; `local` always starts a private one).")
@click.option("--storage", default=None,
              help="Where the result store lives: a folder or a URI such as s3://bucket/prefix that every node of "
                   "a cluster sees (default: <out>/store). The report files still go to --out.")
@click.option("--serial", is_flag=True, help="Run in this process, without Ray.")
@click.option("--option", "option_texts", multiple=True, metavar="SEARCHER:KEY=VALUE",
              help="A searcher option (repeatable), e.g. latent-bo:model=models/vsgae-nb101. "
                   "VALUE is read as JSON when it parses, else as text.")
@click.option("--allow-failures", is_flag=True,
              help="Exit 0 although some runs failed (they are still listed and counted in the report).")
def compare(bench_names, searcher_text, seeds, budget, batch_size, out_dir, address, storage, serial, option_texts,
            allow_failures) -> None:
    """Run searchers x seeds on benchmarks; write regret curves (PNG) and a table (markdown, CSV)."""
    from nasframe.core.files import check_writable_folder
    from nasframe.experiment import Experiment, IncompleteExperiment
    from nasframe.storage import STORE_DIR, child, resolve
    from nasframe.worker import error_summary

    names = [n.strip() for n in searcher_text.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("no searcher named", param_hint="--searchers")
    options = _searcher_options(option_texts, names)
    out = check_writable_folder(out_dir, "--out")
    entries = [(name, options[name]) if name in options else name for name in names]
    store = child(resolve(storage), STORE_DIR) if storage else out / STORE_DIR
    experiment = Experiment(entries, list(bench_names), seeds, budget, batch_size, store=store)
    try:
        report = experiment.run(address=address, parallel=not serial, allow_failures=True)
    except IncompleteExperiment as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.stored} runs done now, {report.skipped} already stored, {len(report.failed)} of "
               f"{report.total} failed ({report.wall_seconds:.0f} s)")
    for key, error in sorted(report.failed.items()):
        click.echo(f"failed: {key}: {error_summary(error)}", err=True)
    out.mkdir(parents=True, exist_ok=True)  # the report's folder (the store may be elsewhere: --storage)
    _write_report(experiment, report, out, f"{seeds} seeds, {budget} queries")
    if report.failed and not allow_failures:  # exit status 1: the runs failed, not the command line
        raise click.ClickException(f"{len(report.failed)} of {report.total} runs failed (listed above and in "
                                   f"{out / 'regret.md'}); --allow-failures accepts a partial comparison")


_COLUMNS_NOTE = ("`final regret`: optimum minus the noiseless value of the architecture each search returns (its "
                 "best observed, `found val`); `final seen regret`: optimum minus the best noiseless value among "
                 "everything it evaluated (`best seen val`), whether or not noise let it recognise that one. Equal "
                 "where evaluations are noise-free; the gap is what noisy evaluations cost. Mean and standard error "
                 "over seeds.")


def _write_report(experiment: Any, report: Any, out: Path, subtitle: str) -> None:
    """regret.csv, regret.md (the table, what its regrets mean, every failed run with its error) and one plot per
    benchmark (solid: the returned incumbent's regret, dashed: the seen regret).

    Failed runs are cut short, so they stay out of the statistics and the
    curves, but the table counts them, and a searcher whose every run failed
    keeps its row.
    """
    from nasframe.analysis import plot_regret, regret_table
    from nasframe.worker import error_summary

    curves = experiment.regret()
    curves = curves[~curves["run_key"].isin(set(report.failed))]
    table = regret_table(curves, experiment.runs())
    table.to_csv(out / "regret.csv", index=False)
    lines = [table.to_markdown(index=False, floatfmt=".4f"), "", _COLUMNS_NOTE]
    if curves.empty:
        lines.insert(0, "No run finished without an error: there is no regret to compare.\n")
    if report.failed:
        lines += ["", f"{len(report.failed)} of {report.total} runs failed (left out of the regret statistics):", ""]
        lines += [f"- `{key}`: {error_summary(error)}" for key, error in sorted(report.failed.items())]
    markdown = "\n".join(lines)
    (out / "regret.md").write_text(markdown + "\n")
    click.echo(markdown)
    for bench_name, part in curves.groupby("benchmark"):
        path = out / f"regret-{Path(bench_name).name}.png"
        plot_regret(part, f"{bench_name}: {subtitle}", path)
        click.echo(f"regret curves: {path}")


def _searcher_options(texts, names: list[str]) -> dict[str, dict]:
    """``{searcher: {key: value}}`` from ``SEARCHER:KEY=VALUE`` texts.

    A value that names an existing file or folder becomes an absolute path:
    Ray workers need not share the driver's working directory.
    """
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
