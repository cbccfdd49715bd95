"""What the driver costs at scale, and what the model-based searchers' refit schedule saves.

``store``: 7,000 runs (7 searcher labels x 1,000 seeds x 150 queries) written
to a result store the way an experiment's driver writes them, then their
regret curves and final-regret table computed, each phase in its own
process so its peak memory (``ru_maxrss``) is its own. ``--baseline-rev``
names a git revision whose ``nasframe/store.py`` and ``nasframe/analysis.py``
(one fsynced file per run; regret by re-querying every architecture) are
measured the same way, side by side::

    python scripts/perf/bench_driver.py store --runs-per-searcher 1000 --baseline-rev 8148d10

The histories are real: ``--base-runs`` real runs of random search,
evolution and local search on the shipped nb101 (batch 1, 150 queries,
through the experiment worker, so with every column a stored run has), each
re-used for many run keys (searcher label, seed). Re-use flatters only the
baseline's regret, which queries each *distinct* architecture once.

``refit``: BANANAS and BO at batch 1 with a refit after every result
(``fit_every=1``, the old default) and with the current default, seed by
seed alternately in this one process, so both see the same machine; wall
and CPU seconds and both final regrets per run::

    python scripts/perf/bench_driver.py refit --seeds 3

Run it inside the loopback-only namespace like every Ray run of this project.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEARCHERS = ["random", "evolution", "local", "optuna", "reinforce", "bananas", "bo"]
BASE_SEARCHERS = ["random", "evolution", "local"]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- refit ------------------------------------------------------------------------------------------------


def refit(seeds: int, budget: int) -> None:
    import benchmarks
    from nasframe.analysis import final_regret
    from nasframe.core.registry import SEARCHERS as REGISTRY
    from nasframe.runner import run_search

    bench = benchmarks.load("nb101")
    rows = []
    for seed in range(seeds):
        for name in ("bo", "bananas"):
            for fit_every in (1, None):
                options = {} if fit_every is None else {"fit_every": fit_every}
                searcher = REGISTRY.factory(name)(space=bench.space, seed=seed, **options)
                wall, cpu = time.perf_counter(), time.process_time()
                history = run_search(searcher, bench, budget, seed=seed, batch_size=1)
                row = {"searcher": name, "fit_every": searcher.fit_every, "seed": seed,
                       "wall s": time.perf_counter() - wall, "cpu s": time.process_time() - cpu,
                       **final_regret(history.to_frame(), bench)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    import pandas as pd

    frame = pd.DataFrame(rows)
    table = frame.groupby(["searcher", "fit_every"])[["wall s", "cpu s", "regret", "seen_regret"]].mean()
    print(table.round(4).to_markdown())
    for name in ("bo", "bananas"):
        part = table.loc[name]
        print(f"{name}: {part['cpu s'].iloc[0] / part['cpu s'].iloc[1]:.1f}x less CPU, "
              f"{part['wall s'].iloc[0] / part['wall s'].iloc[1]:.1f}x less wall time than fit_every=1")


# -- store: making the runs ------------------------------------------------------------------------------


def make_base(folder: Path, base_runs: int, budget: int) -> None:
    """``base_runs`` real runs per cheap searcher on nb101, pickled as (frame, meta) outcomes."""
    import pickle

    from nasframe.experiment import Experiment
    from nasframe.worker import execute_run

    experiment = Experiment(BASE_SEARCHERS, ["nb101"], base_runs, budget, store=folder / "unused")
    outcomes = [execute_run(spec) for spec in experiment.specs]
    (folder / "base.pkl").write_bytes(pickle.dumps([(o.frame, o.meta) for o in outcomes]))


def _runs(folder: Path, per_searcher: int, budget: int) -> tuple[list, list]:
    """The 7,000 (key, frame, meta) runs, keys as the experiment of 7 searchers x seeds names them."""
    import pickle

    from nasframe.experiment import Experiment

    base = pickle.loads((folder / "base.pkl").read_bytes())
    experiment = Experiment(SEARCHERS, ["nb101"], per_searcher, budget, store=folder / "unused")
    runs = []
    for i, spec in enumerate(experiment.specs):
        frame, meta = base[i % len(base)]
        runs.append((spec.key, frame, {**meta, "searcher": spec.searcher, "seed": spec.seed}))
    return runs, experiment


def _module(rev: str, path: str, name: str) -> types.ModuleType:
    """``path`` of git revision ``rev`` as a module named ``name`` (the baseline implementation)."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{rev}:{path}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own code at a revision
    return module


def phase_write(folder: Path, store_dir: Path, per_searcher: int, budget: int, rev: str | None,
                flush_seconds: float) -> dict:
    runs, _ = _runs(folder, per_searcher, budget)
    before = _peak_mib()
    start, cpu = time.perf_counter(), time.process_time()
    if rev:  # the driver of `rev`: one fsynced file per run, as each result arrives
        store = _module(rev, "nasframe/store.py", "baseline_store").ResultStore(store_dir)
        for key, frame, meta in runs:
            store.write(key, frame, meta)
    else:  # this driver: a RunBuffer, as Experiment.run uses it
        from nasframe.store import ResultStore, RunBuffer

        buffer = RunBuffer(ResultStore(store_dir), flush_seconds=flush_seconds)
        for key, frame, meta in runs:
            buffer.add(key, frame, meta)
        buffer.flush()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    size = sum(p.stat().st_size for p in store_dir.rglob("*") if p.is_file())
    return {"runs": len(runs), "write s": seconds, "ms per run": seconds / len(runs) * 1e3,
            "cpu ms per run": cpu / len(runs) * 1e3,
            "MiB on disk": size / 2**20, "peak MiB": _peak_mib(), "peak MiB before writing": before}


def phase_analyse(folder: Path, store_dir: Path, per_searcher: int, budget: int, rev: str | None) -> dict:
    from nasframe.experiment import Experiment

    experiment = Experiment(SEARCHERS, ["nb101"], per_searcher, budget, store=store_dir)
    from nasframe.worker import load_benchmark

    bench = load_benchmark("nb101", experiment._benchmarks[0][1])[0]  # loaded before the clock starts
    before = _peak_mib()
    start, cpu = time.perf_counter(), time.process_time()
    if rev:  # `rev`'s analysis: every row loaded, every distinct architecture queried
        old_store = _module(rev, "nasframe/store.py", "baseline_store").ResultStore(store_dir)
        old = _module(rev, "nasframe/analysis.py", "baseline_analysis")
        curves = old.regret(old_store.load(), bench, label="nb101")
        table = old.regret_table(curves, old_store.runs())
    else:
        from nasframe.analysis import regret_table

        curves = experiment.regret()
        table = regret_table(curves, experiment.runs())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"curve rows": len(curves), "analysis s": seconds, "analysis cpu s": cpu, "peak MiB": _peak_mib(),
            "peak MiB before analysis": before, "table": table.round(5).to_dict(orient="records")}


def store_bench(args: argparse.Namespace) -> None:
    folder = Path(args.work or tempfile.mkdtemp(prefix="bench-driver-"))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "base.pkl").exists():
        start = time.perf_counter()
        make_base(folder, args.base_runs, args.budget)
        print(f"{args.base_runs * len(BASE_SEARCHERS)} base runs made in {time.perf_counter() - start:.0f} s")
    for label, rev in (("before", args.baseline_rev), ("after", None)):
        if label == "before" and not rev:
            continue
        store_dir = folder / f"store-{label}"
        for phase in ("write", "analyse"):
            command = [sys.executable, __file__, "phase", phase, str(folder), str(store_dir),
                       "--runs-per-searcher", str(args.runs_per_searcher), "--budget", str(args.budget),
                       "--flush-seconds", str(args.flush_seconds)] + (["--rev", rev] if rev else [])
            out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
            result = json.loads(out.strip().splitlines()[-1])
            table = result.pop("table", None)
            print(f"{label} {phase}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                  for k, v in result.items()), flush=True)
            if table and label == "after":
                import pandas as pd

                print(pd.DataFrame(table).to_markdown(index=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("refit")
    r.add_argument("--seeds", type=int, default=3)
    r.add_argument("--budget", type=int, default=150)
    s = sub.add_parser("store")
    s.add_argument("--runs-per-searcher", type=int, default=1000)
    s.add_argument("--budget", type=int, default=150)
    s.add_argument("--base-runs", type=int, default=4, help="real runs per cheap searcher")
    s.add_argument("--baseline-rev", default=None)
    s.add_argument("--flush-seconds", type=float, default=2.0)
    s.add_argument("--work", default=None, help="folder for the base runs and stores (default: a new temp one)")
    p = sub.add_parser("phase")
    p.add_argument("which", choices=["write", "analyse"])
    p.add_argument("folder", type=Path)
    p.add_argument("store_dir", type=Path)
    p.add_argument("--runs-per-searcher", type=int, default=1000)
    p.add_argument("--budget", type=int, default=150)
    p.add_argument("--flush-seconds", type=float, default=2.0)
    p.add_argument("--rev", default=None)
    args = parser.parse_args(argv)
    if args.command == "refit":
        refit(args.seeds, args.budget)
    elif args.command == "store":
        store_bench(args)
    elif args.which == "write":
        print(json.dumps(phase_write(args.folder, args.store_dir, args.runs_per_searcher, args.budget, args.rev,
                                     args.flush_seconds)))
    else:
        print(json.dumps(phase_analyse(args.folder, args.store_dir, args.runs_per_searcher, args.budget, args.rev),
                         default=float))


if __name__ == "__main__":
    main()
