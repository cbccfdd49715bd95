"""Many search runs (searchers x benchmarks x seeds), fanned out over Ray, stored exactly once.

    exp = Experiment(["random", ("evolution", {"population_size": 50})], ["nbgraph-cora"],
                     seeds=10, budget=300, store="results/cora")
    exp.run()                      # local Ray with every core; address="auto" joins a cluster
    curves = regret(exp.results(), "nbgraph-cora")

A *run* is one ``run_search(searcher, benchmark, budget, seed=seed)``; its
identity (:func:`nasframe.store.run_key`) is the searcher label, the benchmark
name, the seed, the budget and a hash of the searcher options and batch size.
Each finished run becomes one file of the :class:`~nasframe.store.ResultStore`,
written by the driver as soon as its result arrives, so:

- ``run()`` again skips every stored run (resume); killing the driver loses
  only the runs in flight;
- a Ray worker that dies is retried by Ray (``max_retries``); a retried chunk
  may recompute runs, but the store publishes each key once (first write wins),
  so every run is complete exactly once;
- a searcher that raises (in its constructor, ``ask`` or ``tell``) is a
  *result*: the run is stored with ``error`` set and whatever it evaluated,
  and the other runs go on. An architecture the benchmark fails on is a row
  with its ``error`` (``run_search`` records it). Failures that are not the
  run's own (the benchmark cannot be loaded, a task lost after all its
  retries) store nothing, so a later ``run()`` retries them; ``run()`` raises
  :class:`IncompleteExperiment` naming them after storing everything else.

Runs are grouped into chunks, one Ray task each: the first task of each
(searcher, benchmark) pair carries one run and measures its time; later
chunks are sized to about ``chunk_seconds`` of work, but never more than half
of a worker's share of what is left, so the work still spreads at the end.
Measured on 2 cores (warm workers): a plain Ray task costs 1-2 ms, so the
chunks are not there for the scheduling cost (it is Tune trials that cost
~1 s each) but to keep the driver's per-task bookkeeping, the result
transfers and the number of objects small for experiments of many short
runs; the first task of each worker process pays its start (1-3 s: process,
imports, benchmark load) whatever the chunking.

Searchers and benchmarks are resolved to factories *in the driver* and the
factories are shipped to the workers, so anything registered at run time in
the driver (``registry.searchers.register("mine", Mine)``), or passed as a
class, works on the workers too. Each worker process keeps the benchmarks it
has loaded in a module-level cache (keyed by name and factory): loading one
costs 0.5-2 s, a run on it milliseconds.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import time
import traceback
import warnings
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from nasframe.core import registry
from nasframe.ray_session import ray_session
from nasframe.runner import History, run_search
from nasframe.store import ResultStore, options_hash, run_key

#: what ``Experiment(searchers=[...])`` accepts per entry
SearcherSpec = Union[str, type, Callable[..., Any], tuple]
#: what ``Experiment(benchmarks=[...])`` accepts per entry: a registered name or (name, factory)
BenchmarkSpec = Union[str, tuple]

#: benchmarks loaded by this process (a Ray worker or the driver), by (name, factory)
_BENCHMARKS: dict[tuple[str, str], Any] = {}


class IncompleteExperiment(RuntimeError):
    """Some runs could not be done for reasons outside the runs (see ``report.not_run``)."""

    def __init__(self, report: "ExperimentReport") -> None:
        self.report = report
        lines = [f"  {key}: {error.strip().splitlines()[-1] if error.strip() else error}"
                 for key, error in sorted(report.not_run.items())]
        super().__init__(
            f"{len(report.not_run)} of {report.total} runs were not done (nothing stored for them; "
            f"run() again retries them):\n" + "\n".join(lines[:20])
            + ("\n  ..." if len(lines) > 20 else "")
        )


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run (picklable)."""

    key: str
    searcher: str
    searcher_factory: Callable[..., Any]
    options: Mapping[str, Any]
    benchmark: str
    benchmark_factory: Callable[..., Any]
    seed: int
    budget: int
    batch_size: int


@dataclass
class RunOutcome:
    """What a worker sends back for one run."""

    key: str
    frame: pd.DataFrame | None
    meta: dict[str, Any]
    #: set when the run could not be done at all (benchmark failed to load): nothing is stored
    infra_error: str | None = None
    #: seconds spent loading the benchmark for this run (0 when it came from the cache)
    load_seconds: float = 0.0
    #: seconds of the run itself (searcher construction + run_search + frame)
    run_seconds: float = 0.0


@dataclass
class ExperimentReport:
    """What one :meth:`Experiment.run` call did."""

    total: int = 0
    #: runs already in the store before this call
    skipped: int = 0
    #: runs this call stored
    stored: int = 0
    #: of those, runs stored with a searcher error
    failed: list[str] = field(default_factory=list)
    #: runs that were computed but already stored by someone else meanwhile (not written again)
    duplicates: int = 0
    #: runs not done, with why (nothing stored; a later run() retries them)
    not_run: dict[str, str] = field(default_factory=dict)
    #: Ray tasks submitted (0 in-process)
    tasks: int = 0
    wall_seconds: float = 0.0
    #: per stored run: seconds of the run itself, as measured in the worker
    run_seconds: list[float] = field(default_factory=list)
    parallel: bool = False


# -- the work itself (runs in Ray workers or in-process) -------------------------------------------


def _factory_token(factory: Any) -> str:
    """What identifies a benchmark factory within one process (part of the cache key)."""
    if isinstance(factory, functools.partial):
        return f"{_factory_token(factory.func)}{factory.args!r}{sorted(factory.keywords.items())!r}"
    module, qualname = getattr(factory, "__module__", None), getattr(factory, "__qualname__", None)
    if module and qualname and "<" not in qualname:
        return f"{module}.{qualname}"
    return repr(factory)  # closures and lambdas: their identity in this process


def _load_benchmark(name: str, factory: Callable[..., Any]) -> tuple[Any, float]:
    """The benchmark from this process's cache, loading it on first use; and the seconds loading took."""
    key = (name, _factory_token(factory))
    cached = _BENCHMARKS.get(key)
    if cached is not None:
        return cached, 0.0
    start = time.perf_counter()
    bench = factory()
    _BENCHMARKS[key] = bench
    return bench, time.perf_counter() - start


def execute_run(spec: RunSpec) -> RunOutcome:
    """Do one run; never raises for the run's own failures (they are in the outcome)."""
    try:
        bench, load_seconds = _load_benchmark(spec.benchmark, spec.benchmark_factory)
    except Exception as exc:  # noqa: BLE001 - infrastructure failure, reported, not stored
        return RunOutcome(spec.key, None, {}, infra_error=f"loading benchmark {spec.benchmark!r}: "
                          f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
    start = time.perf_counter()
    try:
        searcher = spec.searcher_factory(space=bench.space, seed=spec.seed, **dict(spec.options))
    except Exception as exc:  # noqa: BLE001 - a searcher that cannot be built is the run's failure
        history = History()
        history.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
    else:
        history = run_search(searcher, bench, spec.budget, seed=spec.seed, batch_size=spec.batch_size)
    try:
        frame = history.to_frame()
    except Exception as exc:  # noqa: BLE001 - a framework fault, not the run's: reported, not stored
        return RunOutcome(spec.key, None, {}, infra_error=f"recording the history: {type(exc).__name__}: {exc}\n"
                          f"{traceback.format_exc(limit=5)}")
    run_seconds = time.perf_counter() - start
    meta = {
        "searcher": spec.searcher,
        "benchmark": spec.benchmark,
        "seed": int(spec.seed),
        "budget": int(spec.budget),
        "batch_size": int(spec.batch_size),
        "options": dict(spec.options),
        "evaluations": len(frame),
        "error": history.error,
        "timings": {**history.timings, "run": run_seconds, "load_benchmark": load_seconds},
        "finished": time.time(),
        "worker_host": socket.gethostname(),
        "worker_pid": os.getpid(),
    }
    return RunOutcome(spec.key, frame, meta, load_seconds=load_seconds, run_seconds=run_seconds)


def execute_chunk(specs: Sequence[RunSpec]) -> list[RunOutcome]:
    """Do several runs in this process (one Ray task carries a chunk)."""
    return [execute_run(spec) for spec in specs]


# -- the experiment --------------------------------------------------------------------------------


def _label(obj: Any) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(obj, "__name__", None) or type(obj).__name__


def _resolve_searcher(spec: SearcherSpec) -> tuple[str, Callable[..., Any], dict[str, Any]]:
    """(label, factory, options) of one ``searchers=`` entry."""
    options: dict[str, Any] = {}
    target = spec
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], Mapping):
            raise ValueError(f"a searcher entry tuple must be (name or class, options dict), got {spec!r}")
        target, options = spec[0], dict(spec[1])
    if isinstance(target, str):
        return target, registry.searchers.factory(target), options
    if callable(target):
        return _label(target), target, options
    raise TypeError(f"a searcher entry must be a registered name, a Searcher class or a factory; got {spec!r}")


def _resolve_benchmark(spec: BenchmarkSpec) -> tuple[str, Callable[..., Any]]:
    import benchmarks  # noqa: F401 - registers the built-in benchmark names

    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[0], str) or not callable(spec[1]):
            raise ValueError(f"a benchmark entry tuple must be (name, factory), got {spec!r}")
        return spec[0], spec[1]
    if isinstance(spec, str):
        return spec, registry.benchmarks.factory(spec)
    raise TypeError(f"a benchmark entry must be a registered name or (name, factory); got {spec!r}")


class Experiment:
    """Every (searcher, benchmark, seed) run of one budget, stored in ``store``.

    ``searchers`` entries: a registered name (``"random"``), a Searcher class
    or any factory ``f(space=..., seed=..., **options)``, or a pair of one of
    those and an options dict. The label of a run is the name, else the class's
    ``name`` attribute, else its ``__name__``; labels must be unique within an
    experiment. ``seeds``: a list, or ``n`` for ``range(n)``.
    """

    def __init__(
        self,
        searchers: Sequence[SearcherSpec],
        benchmarks: Sequence[BenchmarkSpec],
        seeds: Iterable[int] | int,
        budget: int,
        batch_size: int = 1,
        store: str | os.PathLike[str] = "results/experiment",
    ) -> None:
        if budget < 0 or batch_size < 1:
            raise ValueError(f"need budget >= 0 and batch_size >= 1, got {budget} and {batch_size}")
        self.seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds repeat: {self.seeds}")
        self.budget = int(budget)
        self.batch_size = int(batch_size)
        self.store = ResultStore(store)
        self._searchers = [_resolve_searcher(s) for s in searchers]
        self._benchmarks = [_resolve_benchmark(b) for b in benchmarks]
        named = (("searcher", [s[0] for s in self._searchers]), ("benchmark", [b[0] for b in self._benchmarks]))
        for kind, labels in named:
            doubled = sorted({x for x in labels if labels.count(x) > 1})
            if doubled:
                raise ValueError(f"{kind} labels must be unique in an experiment; repeated: {doubled} "
                                 "(give the runs distinct names)")
        self.specs: list[RunSpec] = []
        for bench_name, bench_factory in self._benchmarks:
            for label, factory, options in self._searchers:
                digest = options_hash(options, batch_size=self.batch_size)
                for seed in self.seeds:
                    self.specs.append(RunSpec(
                        key=run_key(label, bench_name, seed, self.budget, digest), searcher=label,
                        searcher_factory=factory, options=options, benchmark=bench_name,
                        benchmark_factory=bench_factory, seed=seed, budget=self.budget, batch_size=self.batch_size,
                    ))

    def __repr__(self) -> str:
        return (f"Experiment({len(self._searchers)} searchers x {len(self._benchmarks)} benchmarks x "
                f"{len(self.seeds)} seeds, budget={self.budget}, store={str(self.store.path)!r})")

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.specs]

    def pending(self) -> list[RunSpec]:
        """The runs not yet in the store."""
        done = self.store.completed()
        return [s for s in self.specs if s.key not in done]

    # -- running -----------------------------------------------------------------------------------

    def run(
        self,
        address: str | None = None,
        parallel: bool = True,
        progress: bool = True,
        *,
        num_cpus: int | None = None,
        max_retries: int = 3,
        chunk_seconds: float = 1.0,
        max_chunk: int = 256,
        strict: bool = True,
        ray_init: Mapping[str, Any] | None = None,
    ) -> ExperimentReport:
        """Do every run not yet stored; returns what was done.

        ``parallel=False`` runs them one after the other in this process (the
        baseline for speed-ups; no Ray). Otherwise each chunk of runs is a Ray
        task: Ray is started here (``num_cpus``, default every core) unless it
        is already initialised or ``address`` names a cluster to join
        (``ray_init`` adds keyword arguments to ``ray.init``, e.g. a
        ``runtime_env``). ``max_retries``: how often Ray re-runs a task whose
        worker died. ``strict``: raise :class:`IncompleteExperiment` at the end
        if some runs could not be done (everything else is stored first).
        """
        start = time.perf_counter()
        todo = self.pending()
        report = ExperimentReport(total=len(self.specs), skipped=len(self.specs) - len(todo), parallel=parallel)
        label = f"runs ({report.skipped} stored before)" if report.skipped else "runs"
        with _progress_bar(progress, report.total, report.skipped, label) as advance:
            if parallel and todo:
                self._run_ray(todo, report, advance, address=address, num_cpus=num_cpus, max_retries=max_retries,
                              chunk_seconds=chunk_seconds, max_chunk=max_chunk, ray_init=ray_init)
            else:
                for spec in todo:
                    self._record(execute_run(spec), report, advance)
        report.wall_seconds = time.perf_counter() - start
        if report.not_run and strict:
            raise IncompleteExperiment(report)
        if report.not_run:
            warnings.warn(str(IncompleteExperiment(report)), RuntimeWarning, stacklevel=2)
        return report

    def _record(self, outcome: RunOutcome, report: ExperimentReport, advance: Callable[[], None]) -> None:
        if outcome.infra_error is not None:
            report.not_run[outcome.key] = outcome.infra_error
            return
        assert outcome.frame is not None
        if self.store.write(outcome.key, outcome.frame, outcome.meta):
            report.stored += 1
            report.run_seconds.append(outcome.run_seconds)
            if outcome.meta.get("error"):
                report.failed.append(outcome.key)
        else:
            report.duplicates += 1
        report.not_run.pop(outcome.key, None)
        advance()

    def _run_ray(self, todo: list[RunSpec], report: ExperimentReport, advance: Callable[[], None], *,
                 address: str | None, num_cpus: int | None, max_retries: int, chunk_seconds: float,
                 max_chunk: int, ray_init: Mapping[str, Any] | None) -> None:
        import ray

        with ray_session(address, num_cpus, **dict(ray_init or {})):
            remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(execute_chunk)
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
            planner = _ChunkPlanner(todo, workers, chunk_seconds, max_chunk)
            in_flight: dict[Any, list[RunSpec]] = {}
            try:
                while planner or in_flight:
                    while planner and len(in_flight) < 2 * workers:
                        chunk = planner.next_chunk(in_flight_runs=sum(map(len, in_flight.values())))
                        in_flight[remote.remote(chunk)] = chunk
                        report.tasks += 1
                    ready, _ = ray.wait(list(in_flight), num_returns=1)
                    for ref in ready:
                        chunk = in_flight.pop(ref)
                        try:
                            outcomes = ray.get(ref)
                        except Exception as exc:  # noqa: BLE001 - lost after all retries: not stored
                            for spec in chunk:
                                report.not_run[spec.key] = f"Ray task failed: {type(exc).__name__}: {exc}"
                            continue
                        for outcome in outcomes:
                            planner.observe(outcome)
                            self._record(outcome, report, advance)
            except BaseException:
                for ref in in_flight:  # interrupted: nothing of theirs will be stored
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:  # noqa: BLE001 - best effort; the driver is going away
                        pass
                raise

    # -- results -----------------------------------------------------------------------------------

    def results(self) -> pd.DataFrame:
        """Every stored history row of this experiment's runs (see :meth:`ResultStore.load`)."""
        done = self.store.completed()
        return self.store.load([k for k in self.keys if k in done])

    def runs(self) -> pd.DataFrame:
        """One row of facts per stored run of this experiment."""
        done = self.store.completed()
        return self.store.runs([k for k in self.keys if k in done])

    def regret(self) -> pd.DataFrame:
        """:func:`regret` of every benchmark of this experiment, concatenated."""
        frame = self.results()
        parts = [regret(frame, _load_benchmark(name, factory)[0]) for name, factory in self._benchmarks]
        if not parts:
            return pd.DataFrame(columns=[*_REGRET_COLUMNS])
        return pd.concat(parts, ignore_index=True)


class _ChunkPlanner:
    """Hands out chunks of runs sized by the measured time per evaluation.

    Runs are grouped by (benchmark, searcher): the first chunk of a group is
    one run (a probe); once a run of the group has been timed, chunks carry
    about ``chunk_seconds`` of work, capped at half of one worker's share of
    the runs left (so every worker gets at least two more chunks and the
    tail balances).
    """

    def __init__(self, todo: list[RunSpec], workers: int, chunk_seconds: float, max_chunk: int) -> None:
        self.groups: dict[tuple[str, str], deque[RunSpec]] = defaultdict(deque)
        for spec in todo:
            self.groups[(spec.benchmark, spec.searcher)].append(spec)
        self.order = deque(self.groups)
        self.workers = workers
        self.chunk_seconds = chunk_seconds
        self.max_chunk = max_chunk
        self.probing: set[tuple[str, str]] = set()
        #: measured seconds per evaluation, per group: (total seconds, total evaluations)
        self.cost: dict[tuple[str, str], list[float]] = {}

    def __bool__(self) -> bool:
        return any(self.groups[g] for g in self.order)

    def observe(self, outcome: RunOutcome) -> None:
        if outcome.infra_error is not None:
            return
        meta = outcome.meta
        group = (meta["benchmark"], meta["searcher"])
        total = self.cost.setdefault(group, [0.0, 0.0])
        total[0] += outcome.run_seconds
        total[1] += max(int(meta.get("budget", 1)), 1)
        self.probing.discard(group)

    def next_chunk(self, in_flight_runs: int = 0) -> list[RunSpec]:
        # prefer a group that is measured, else one not yet probed, else any
        live = [g for g in self.order if self.groups[g]]
        measured = [g for g in live if g in self.cost]
        unprobed = [g for g in live if g not in self.cost and g not in self.probing]
        group = (measured or unprobed or live)[0]
        queue = self.groups[group]
        if group not in self.cost:
            self.probing.add(group)
            size = 1
        else:
            seconds, evaluations = self.cost[group]
            per_run = seconds / max(evaluations, 1) * max(queue[0].budget, 1)
            wanted = math.floor(self.chunk_seconds / per_run) if per_run > 0 else self.max_chunk
            remaining = sum(len(q) for q in self.groups.values()) + in_flight_runs
            spread = math.ceil(remaining / (2 * self.workers))
            size = max(1, min(wanted, spread, self.max_chunk))
        chunk = [queue.popleft() for _ in range(min(size, len(queue)))]
        # rotate so groups take turns
        self.order.remove(group)
        self.order.append(group)
        return chunk


class _progress_bar:
    """A rich progress bar of runs done / total (a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int, done: int, description: str) -> None:
        self.enabled = enabled
        self.total, self.done, self.description = total, done, description
        self._progress = None
        self._task = None

    def __enter__(self) -> Callable[[], None]:
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn())
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, completed=self.done)

        def advance() -> None:
            if self._progress is not None:
                self._progress.advance(self._task)

        return advance

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()


# -- regret ----------------------------------------------------------------------------------------


_REGRET_COLUMNS = (
    "run_key", "searcher", "benchmark", "seed", "step", "best_val_accuracy", "incumbent_val_accuracy", "optimum",
    "regret",
)


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


def regret(frame: pd.DataFrame, benchmark: Any) -> pd.DataFrame:
    """Per run and step: the incumbent's value and ``regret = optimum - that value``.

    The incumbent is the architecture with the best *observed* validation
    accuracy so far (what a searcher would return); its value is the
    benchmark's noiseless answer for it (the mean over repeats, or the
    surrogate's mean), because searches see noisy evaluations and the noisy
    maximum of many draws overstates what was found. ``frame`` is
    :meth:`Experiment.results` (or :meth:`ResultStore.load`); ``benchmark`` a
    benchmark object or name; only rows of that benchmark are used.
    ``regret`` is NaN where the benchmark has no known optimum (see
    :func:`optimum`) and before the first successful evaluation of a run.
    Columns: run_key, searcher, benchmark, seed, step, best_val_accuracy
    (observed), incumbent_val_accuracy, optimum, regret.
    """
    import json

    if isinstance(benchmark, str):
        bench = _load_benchmark(*_resolve_benchmark(benchmark))[0]
    else:
        bench = benchmark
    name = getattr(bench, "name", str(benchmark))
    rows = (frame[frame["benchmark"] == name] if "benchmark" in frame else frame).reset_index(drop=True)
    best = optimum(bench)
    out = rows[[c for c in _REGRET_COLUMNS[:-3] if c in rows]].copy()
    # the incumbent's arch JSON at every step, then one batched noiseless query for all of them
    first_row = rows.groupby("run_key", sort=False).cumcount().to_numpy()
    steps = rows["incumbent_step"].astype("Int64")
    has = steps.notna().to_numpy()
    source = np.flatnonzero(has) - first_row[has] + steps[has].to_numpy(dtype=np.int64)
    incumbent_arch = pd.Series(pd.NA, index=rows.index, dtype=object)
    incumbent_arch[has] = rows["arch"].to_numpy()[source]
    unique = pd.unique(incumbent_arch[has])
    values = {}
    if len(unique):
        archs = [bench.space.from_json(json.loads(text)) for text in unique]
        values = dict(zip(unique, bench.query(archs).val_accuracy))
    out["incumbent_val_accuracy"] = [values[a] if a is not pd.NA else np.nan for a in incumbent_arch]
    out["optimum"] = np.nan if best is None else best
    out["regret"] = out["optimum"] - out["incumbent_val_accuracy"]
    return out
