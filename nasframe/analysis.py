"""What search runs found: the optimum, regret curves, the final-regret table and the plots.

One place for them, so a single ``nasframe search``, an :class:`~nasframe.experiment.Experiment`
and ``nasframe compare`` measure regret the same way:

    curves = regret(experiment.results(), "nbgraph-cora")   # per run and step
    table = regret_table(curves)                              # per benchmark and searcher
    plot_regret(curves, "nbgraph-cora", "regret.png")

Plots are written to files with matplotlib's Agg backend (servers have no display).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from nasframe.noiseless import NOISELESS, noiseless_values

#: columns of :func:`regret`
REGRET_COLUMNS = (
    "run_key", "searcher", "benchmark", "seed", "step", "best_val_accuracy", "incumbent_val_accuracy", "optimum",
    "regret", "best_seen_val_accuracy", "seen_regret",
)
#: the columns :func:`regret` copies from the frame it is given
_COPIED = REGRET_COLUMNS[:6]
#: the history columns :func:`regret` reads (``arch`` too for rows without :data:`NOISELESS`)
REGRET_INPUTS = (*_COPIED, "val_accuracy", "incumbent_step", NOISELESS)


def optimum(bench: Any) -> float | None:
    """The validation accuracy regret is measured against, or ``None`` where unknown.

    Tabular benchmarks: the best mean validation accuracy of the table
    (``bench.best()``; exact). Surrogate benchmarks: the best predicted mean
    recorded in the benchmark's card when it was built
    (``benchmarks.build.record_optimum``: over every cell for NB101, over the
    architectures of the training data otherwise, a lower bound of the true
    optimum). A benchmark with neither has no optimum; :func:`regret` then
    reports the best value found only.

    Searches see noisy answers (one training run of a table with repeats, a
    draw around the surrogate mean) while the optimum is a mean, and a
    lower-bound optimum can be beaten: regret can dip slightly below zero.
    """
    find = getattr(bench, "optimum", None)
    if callable(find):
        found = find()
        if found is not None:
            return float(found[1])
    best = getattr(bench, "best", None)
    if callable(best):
        return float(best()[1])
    return None


def regret(frame: pd.DataFrame, benchmark: Any, label: str | None = None) -> pd.DataFrame:
    """Per run and step, two regrets: the incumbent's (``regret``) and the best seen (``seen_regret``).

    ``regret = optimum - incumbent_val_accuracy``: the incumbent is the
    architecture with the best *observed* validation accuracy so far (what a
    searcher would return); its value is the benchmark's noiseless answer for
    it (the mean over repeats, or the surrogate's mean), because searches see
    noisy evaluations and the noisy maximum of many draws overstates what was
    found. ``seen_regret = optimum - best_seen_val_accuracy``: the best
    noiseless value among *every* architecture evaluated so far, whether or not
    its noisy draw made it the incumbent. The two are equal on an exact table
    (one answer per architecture); under noise ``seen_regret <= regret``, and
    the gap is what the noise cost the search in recognising its best
    architecture (``seen_regret`` measures the search, ``regret`` also the luck
    of the draws). Noiseless values come from one batched query of the distinct
    successfully evaluated architectures.

    ``frame`` is :meth:`Experiment.results
    <nasframe.experiment.Experiment.results>` (or :meth:`ResultStore.load
    <nasframe.store.ResultStore.load>`), or the :meth:`History.to_frame
    <nasframe.runner.History.to_frame>` of one run (no ``run_key`` column: one
    run); ``benchmark`` a benchmark object, name or saved folder; only rows of
    that benchmark are used, those whose ``benchmark`` is ``label`` (default:
    the benchmark's name; an experiment labels a saved folder by the path it was
    given). Both regrets are NaN where the benchmark has no known optimum (see
    :func:`optimum`) and before the first successful evaluation of a run.
    Columns: :data:`REGRET_COLUMNS` (those the frame has of run_key, searcher,
    benchmark, seed, step, best_val_accuracy (observed); then
    incumbent_val_accuracy, optimum, regret, best_seen_val_accuracy,
    seen_regret).
    """
    bench = _benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    name = label or getattr(bench, "name", str(benchmark))
    mine = frame["benchmark"] == name if "benchmark" in frame else None
    rows = frame if mine is None or mine.all() else frame[mine]  # no copy of a frame of one benchmark
    if not rows.index.equals(pd.RangeIndex(len(rows))):
        rows = rows.reset_index(drop=True)
    best = optimum(bench)
    out = rows[[c for c in _COPIED if c in rows]].copy()
    # runs as integer codes (a run's rows are contiguous): no Python object per row
    runs = pd.factorize(rows["run_key"])[0] if "run_key" in rows else np.zeros(len(rows), dtype=int)
    ok = rows["val_accuracy"].notna().to_numpy()
    true = noiseless_values(rows, bench)
    # the incumbent's noiseless value: the true value of the row its incumbent_step points to
    first_row = pd.Series(runs).groupby(runs, sort=False).cumcount().to_numpy()
    steps = rows["incumbent_step"].astype("Int64")
    has = steps.notna().to_numpy()
    source = np.flatnonzero(has) - first_row[has] + steps[has].to_numpy(dtype=np.int64)
    incumbent = np.full(len(rows), np.nan)
    incumbent[has] = true[source]
    out["incumbent_val_accuracy"] = incumbent
    out["optimum"] = np.nan if best is None else best
    out["regret"] = out["optimum"] - out["incumbent_val_accuracy"]
    seen = pd.Series(np.where(ok, true, -np.inf)).groupby(runs, sort=False).cummax().to_numpy()
    out["best_seen_val_accuracy"] = np.where(np.isfinite(seen), seen, np.nan)
    out["seen_regret"] = out["optimum"] - out["best_seen_val_accuracy"]
    return out


def _benchmark(name: str) -> Any:
    """A benchmark by registered name or saved folder, from this process's cache of loaded benchmarks."""
    from benchmarks.catalog import factory
    from nasframe.worker import load_benchmark

    return load_benchmark(name, factory(name))[0]


def final_regret(frame: pd.DataFrame, bench: Any) -> dict[str, float | None]:
    """Where one run ended: the optimum, its last incumbent's noiseless value and regret, and the best seen.

    The last row of :func:`regret` for the run's ``History.to_frame()``
    (keys ``optimum``, ``incumbent_val_accuracy``, ``regret``,
    ``best_seen_val_accuracy``, ``seen_regret``); ``None`` for what is unknown
    (no optimum, no successful evaluation).
    """
    keys = REGRET_COLUMNS[6:]
    curve = regret(frame, bench)
    if curve.empty:
        return {key: optimum(bench) if key == "optimum" else None for key in keys}
    last = curve.iloc[-1]
    return {key: _known(last[key]) for key in keys}


def _known(value: Any) -> float | None:
    return None if value != value else float(value)


def regret_table(curves: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Final regrets (mean +- standard error over seeds) per benchmark and searcher, best first.

    Two regrets (see :func:`regret`): ``final regret`` of the incumbent the
    search would return (chosen by its observed value, scored by its noiseless
    one), and ``final seen regret`` of the best noiseless value among
    everything the search evaluated; rows are ordered by the first. ``runs``
    (one row per stored run with ``run_key``, ``benchmark``, ``searcher`` and
    ``error``: :meth:`Experiment.runs <nasframe.experiment.Experiment.runs>`)
    makes failures visible: ``runs`` then counts every run and ``failed`` those
    that ended in an error, whose curves (cut short) are left out of the
    statistics, and a searcher whose every run failed keeps its row (with NaN
    statistics) instead of vanishing.
    """
    last = curves.groupby("run_key").tail(1)
    if runs is not None:
        failed = runs["error"].notna()
        last = last[last["run_key"].isin(set(runs.loc[~failed, "run_key"]))]
    pairs = (last if runs is None else runs)[["benchmark", "searcher"]].drop_duplicates()
    rows = []
    for bench_name, searcher_name in pairs.itertuples(index=False):
        part = last[(last["benchmark"] == bench_name) & (last["searcher"] == searcher_name)]
        row = {"benchmark": bench_name, "searcher": searcher_name, "runs": len(part)}
        if runs is not None:
            mine = (runs["benchmark"] == bench_name) & (runs["searcher"] == searcher_name)
            row.update(runs=int(mine.sum()), failed=int((mine & failed).sum()))
        # NaN when no run finished
        row["final regret (mean)"], row["standard error"] = _mean_se(part["regret"])
        row["found val (mean)"] = part["incumbent_val_accuracy"].mean()
        row["final seen regret (mean)"], row["seen standard error"] = _mean_se(part["seen_regret"])
        row["best seen val (mean)"] = part["best_seen_val_accuracy"].mean()
        rows.append(row)
    columns = ["benchmark", "searcher", "runs", *(["failed"] if runs is not None else []), "final regret (mean)",
               "standard error", "found val (mean)", "final seen regret (mean)", "seen standard error",
               "best seen val (mean)"]
    return pd.DataFrame(rows, columns=columns).sort_values(["benchmark", "final regret (mean)"])


def _mean_se(values: pd.Series) -> tuple[float, float]:
    """Mean and standard error of ``values`` (NaN standard error below two values)."""
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return values.mean(), se


# -- plots -------------------------------------------------------------------------------------------


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display on servers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_search(frame: pd.DataFrame, best: float | None, title: str, path: str | os.PathLike[str]) -> None:
    """One run's best validation accuracy so far over the queries, against the benchmark optimum ``best``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(frame["step"] + 1, frame["best_val_accuracy"], label="best validation accuracy so far")
    ax.scatter(frame["step"] + 1, frame["val_accuracy"], s=4, alpha=0.4, color="grey", label="evaluated")
    if best is not None:
        ax.axhline(best, color="black", linestyle=":", linewidth=1, label="benchmark optimum")
    valid = frame["val_accuracy"].dropna()
    if len(valid):
        ax.set_ylim(max(valid.quantile(0.1) - 0.01, 0), (best or valid.max()) + 0.005)
    ax.set(xlabel="queries", ylabel="validation accuracy", title=title)
    ax.legend(loc="lower right", fontsize=8)
    _save(plt, fig, path)


def plot_regret(curves: pd.DataFrame, title: str, path: str | os.PathLike[str]) -> None:
    """Mean regret per step with a standard-error band, one colour per searcher.

    Solid: the incumbent's regret (``regret``); dashed, same colour: the best
    seen (``seen_regret``, see :func:`regret`). The y axis is logarithmic down
    to the smallest positive regret (at least 1e-6) and linear below it, so a
    mean regret of exactly zero (the optimum found by every seed, common for
    ``seen_regret``) stays on the plot.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    positive = curves[["regret", "seen_regret"]].to_numpy(float)
    positive = positive[positive > 0]
    for index, (searcher_name, part) in enumerate(curves.groupby("searcher", sort=False)):
        color = f"C{index % 10}"
        for column, style, label in (("regret", "-", searcher_name), ("seen_regret", "--", f"{searcher_name} (seen)")):
            by_step = part.groupby("step")[column]
            mean, se = by_step.mean(), by_step.std(ddof=1) / np.sqrt(by_step.count())
            ax.plot(mean.index + 1, mean.values, linestyle=style, color=color, label=label)
            ax.fill_between(mean.index + 1, (mean - se).values, (mean + se).values, color=color, alpha=0.15)
    ax.set_yscale("symlog", linthresh=max(float(positive.min()), 1e-6) if len(positive) else 1e-4)
    ax.set(xlabel="queries", ylabel="regret (validation accuracy)",
           title=f"{title}\nsolid: returned incumbent; dashed: best seen")
    ax.legend(fontsize=7, ncol=2)
    _save(plt, fig, path)


def plot_predictions(table: pd.DataFrame, title: str, path: str | os.PathLike[str]) -> None:
    """Predicted against true validation accuracy (``table``'s ``true`` and ``predicted``), with the diagonal."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(table["true"], table["predicted"], s=4, alpha=0.5)
    low = min(table["true"].min(), table["predicted"].min())
    high = max(table["true"].max(), table["predicted"].max())
    ax.plot([low, high], [low, high], color="grey", linewidth=1)
    ax.set(xlabel="true validation accuracy", ylabel="predicted", title=title)
    _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: str | os.PathLike[str]) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = [
    "REGRET_COLUMNS",
    "REGRET_INPUTS",
    "final_regret",
    "optimum",
    "plot_predictions",
    "plot_regret",
    "plot_search",
    "pyplot",
    "regret",
    "regret_table",
]
