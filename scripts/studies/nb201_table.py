"""NB201 searcher tables: final regret with 95% CIs and a rank-significance test.

Reads the stores that ``nasframe compare --serial --out FOLDER`` wrote (one
or more folders; every searcher found in them that ran on ``--benchmark``)
and prints, per searcher, in percentage points:

* ``regret``: the table's best mean validation accuracy minus the mean
  (noiseless) validation accuracy of the run's incumbent, the architecture
  with the best *observed* value after ``step`` queries (what the searcher
  returns); mean and 95% t-interval over seeds, and how many runs sit at the
  optimum;
* ``test regret`` (where the table has test accuracy apart from validation
  accuracy, e.g. ``nb201-*-12ep``): the best mean test accuracy minus the
  incumbent's mean test accuracy, and that test accuracy itself (what the
  NB201 paper's tables report);
* ``seen regret``: the optimum minus the best noiseless value among
  everything evaluated (equal to ``regret`` on an exact table unless a noisy
  record hid the best one).

Then the significance of the order: the Friedman test across searchers
(ranks within each seed, over the seeds every searcher has; again without
the searchers that have fewer seeds, where some have), and pairwise
two-sided Wilcoxon signed-rank tests on the per-seed regrets with Holm's
correction for the number of pairs, each pair on every seed the two share
(searchers with fewer seeds done). A pair whose regrets are equal on every
seed has p = 1.

    NASFRAME_NB201=../shared/data/nb201 python scripts/studies/nb201_table.py \\
        --benchmark nb201-cifar10 /tmp/nb201-c10-base /tmp/nb201-c10-bo /tmp/nb201-c10-bananas
"""

from __future__ import annotations

import argparse
import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

import benchmarks
from nasframe.store import ResultStore

PP = 100.0  # accuracies are stored as fractions; tables are in percentage points


def load_histories(folders: list[str], benchmark: str) -> pd.DataFrame:
    """Every stored history row of ``benchmark`` in the stores of ``folders`` (runs that failed left out)."""
    frames = []
    for folder in folders:
        store = ResultStore(f"{folder}/store")
        frame = store.load()
        if len(frame):
            frames.append(frame[(frame["benchmark"] == benchmark) & frame["run_error"].isna()])
    if not frames:
        raise SystemExit(f"no runs of {benchmark} in {folders}")
    rows = pd.concat(frames, ignore_index=True)
    duplicated = rows.drop_duplicates(["searcher", "seed", "step"]).shape[0] != len(rows)
    if duplicated:
        raise SystemExit("a (searcher, seed) appears in two stores: pass each run once")
    return rows


def final_values(rows: pd.DataFrame, bench, step: int) -> pd.DataFrame:
    """Per run (searcher, seed) after ``step`` queries: the incumbent's noiseless val and test, and the best seen."""
    out = []
    for (searcher, seed), run in rows.groupby(["searcher", "seed"], sort=True):
        run = run.sort_values("step")
        if len(run) < step:
            continue  # a run shorter than the step (cut budget) has no value there
        part = run.iloc[:step]
        means = bench.query_hashes(part["hash"].tolist(), noise=False)
        incumbent = part["incumbent_step"].iloc[-1]
        if pd.isna(incumbent):
            continue
        inc = int(incumbent)
        out.append({"searcher": searcher, "seed": int(seed), "val": means.val_accuracy[inc],
                    "test": means.test_accuracy[inc], "seen": np.nanmax(means.val_accuracy)})
    return pd.DataFrame(out)


def interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval (0 when all values are equal)."""
    n = len(values)
    if n < 2:
        return float(np.mean(values)), float("nan")
    half = stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / np.sqrt(n)
    return float(np.mean(values)), float(half)


def summary(finals: pd.DataFrame, bench, has_test: bool) -> pd.DataFrame:
    """One row per searcher: regret (val) mean +- CI, runs at the optimum, seen regret, test regret and accuracy."""
    best_val = bench.best()[1]
    best_test = bench.best(metric="test_accuracy")[1]
    rows = []
    for searcher, part in finals.groupby("searcher"):
        regret = (best_val - part["val"].to_numpy()) * PP
        mean, half = interval(regret)
        seen_mean, seen_half = interval((best_val - part["seen"].to_numpy()) * PP)
        row = {"searcher": searcher, "seeds": len(part), "regret": f"{mean:.3f} +- {half:.3f}",
               "at optimum": f"{int(np.sum(regret <= 1e-9))} / {len(part)}",
               "seen regret": f"{seen_mean:.3f} +- {seen_half:.3f}", "_order": mean}
        if has_test:
            test_mean, test_half = interval((best_test - part["test"].to_numpy()) * PP)
            acc_mean, acc_half = interval(part["test"].to_numpy() * PP)
            row["test regret"] = f"{test_mean:.3f} +- {test_half:.3f}"
            row["test accuracy"] = f"{acc_mean:.2f} +- {acc_half:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).sort_values("_order").drop(columns="_order")


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order."""
    order = np.argsort(pvalues)
    m = len(pvalues)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted.tolist()


def friedman(every: pd.DataFrame) -> str:
    """Friedman's test across the columns (searchers) on the rows (seeds) all of them have, and the mean ranks."""
    regret = every.dropna()
    line = f"{len(regret.columns)} searchers on the {len(regret)} seeds they share"
    if len(regret.columns) < 3 or len(regret) < 2:
        return line + ": too few for Friedman's test"
    if np.ptp(regret.to_numpy()) == 0:
        return line + ": every regret equal, no test"
    chi2, p = stats.friedmanchisquare(*[regret[s].to_numpy() for s in regret.columns])
    ranks = regret.rank(axis=1).mean().sort_values()
    shown = ", ".join(f"{s} {r:.2f}" for s, r in ranks.items())
    return line + f": Friedman chi2 = {chi2:.1f}, p = {p:.2g}; mean rank (1 = best): {shown}"


def significance(finals: pd.DataFrame, metric: str, optimum: float) -> tuple[str, pd.DataFrame]:
    """Friedman's test across searchers (on the seeds all share) and Holm-corrected pairwise Wilcoxon tests."""
    every = (optimum - finals.pivot(index="seed", columns="searcher", values=metric)) * PP
    searchers = list(every.columns)
    line = friedman(every)
    counts = every.notna().sum()
    complete = [s for s in searchers if counts[s] == counts.max()]
    if len(complete) < len(searchers):  # some searchers have fewer seeds: also test those with all of them
        line += "\n" + friedman(every[complete])
    pairs, raw = [], []
    for a, b in itertools.combinations(searchers, 2):
        both = every[[a, b]].dropna()  # pairs use every seed the two share
        diff = both[a].to_numpy() - both[b].to_numpy()
        if not np.any(diff):
            p = 1.0
        else:
            with warnings.catch_warnings():  # exact distribution unavailable with ties/zeros: normal approximation
                warnings.simplefilter("ignore")
                p = float(stats.wilcoxon(diff).pvalue)
        pairs.append((a, b, len(diff), float(np.mean(diff)), int(np.sum(diff < 0)), int(np.sum(diff > 0))))
        raw.append(p)
    table = pd.DataFrame(pairs, columns=["A", "B", "seeds", "mean(A - B)", "A better", "B better"])
    table["p (Wilcoxon)"] = raw
    table["p (Holm)"] = holm(raw) if raw else []
    return line, table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="output folders of nasframe compare")
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--steps", default="100,150", help="comma-separated query counts to tabulate")
    args = parser.parse_args(argv)
    bench = benchmarks.load(args.benchmark)
    rows = load_histories(args.folders, args.benchmark)
    table = bench.results.table
    has_test = not np.allclose(table["val_accuracy"], table["test_accuracy"], equal_nan=True)
    for step in (int(s) for s in args.steps.split(",")):
        finals = final_values(rows, bench, step)
        print(f"\n### {args.benchmark}, after {step} queries (regret in percentage points, mean +- 95% CI)\n")
        print(summary(finals, bench, has_test).to_markdown(index=False))
        for metric, optimum in (("val", bench.best()[1]),
                                *((("test", bench.best(metric="test_accuracy")[1]),) if has_test else ())):
            line, pairs = significance(finals, metric, optimum)
            print(f"\n{metric} regret, {line}\n")
            print(pairs.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
