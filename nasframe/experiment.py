"""Many search runs (searchers x benchmarks x seeds), fanned out over Ray, stored exactly once.

    exp = Experiment(["random", ("evolution", {"population_size": 50})], ["nbgraph-cora"],
                     seeds=10, budget=300, store="results/cora")
    exp.run()                      # local Ray with every core; address="auto" joins a cluster
    curves = exp.regret()          # per run and step; see nasframe.analysis

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
A plain Ray task is cheap (docs/PERFORMANCE.md has the figures), so the
chunks are not there for the scheduling cost but to keep the driver's
per-task bookkeeping, the result transfers and the number of objects small
for experiments of many short runs; the first task of each worker process
pays its start (process, imports, benchmark load) whatever the chunking.

Searchers and benchmarks are resolved to factories *in the driver* and the
factories are shipped to the workers, so anything registered at run time in
the driver (``SEARCHERS.register("mine", Mine)``), or passed as a
class, works on the workers too. What a worker does with a run is
:mod:`nasframe.worker`; regret is measured by :mod:`nasframe.analysis`.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import pandas as pd

from nasframe.analysis import REGRET_COLUMNS, regret
from nasframe.core.registry import BENCHMARKS, SEARCHERS
from nasframe.ray_session import ray_session
from nasframe.runner import History
from nasframe.store import ResultStore, options_hash, run_key
from nasframe.worker import RunOutcome, RunSpec, execute_chunk, execute_run, load_benchmark

#: what ``Experiment(searchers=[...])`` accepts per entry
SearcherSpec = Union[str, type, Callable[..., Any], tuple]
#: what ``Experiment(benchmarks=[...])`` accepts per entry: a registered name or (name, factory)
BenchmarkSpec = Union[str, tuple]


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
        return target, SEARCHERS.factory(target), options
    if callable(target):
        return _label(target), target, options
    raise TypeError(f"a searcher entry must be a registered name, a Searcher class or a factory; got {spec!r}")


def _resolve_benchmark(spec: BenchmarkSpec) -> tuple[str, Callable[..., Any]]:
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[0], str) or not callable(spec[1]):
            raise ValueError(f"a benchmark entry tuple must be (name, factory), got {spec!r}")
        return spec[0], spec[1]
    if isinstance(spec, str):
        return spec, BENCHMARKS.factory(spec)
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
        """:func:`nasframe.analysis.regret` of every benchmark of this experiment, concatenated."""
        frame = self.results()
        parts = [regret(frame, load_benchmark(name, factory)[0]) for name, factory in self._benchmarks]
        if not parts:
            return pd.DataFrame(columns=[*REGRET_COLUMNS])
        return pd.concat(parts, ignore_index=True)


def search_on_ray(
    searcher: str,
    benchmark: str,
    budget: int,
    *,
    seed: int = 0,
    batch_size: int = 1,
    store: str | os.PathLike[str] = "results/search/store",
    address: str | None = None,
    progress: bool = True,
) -> History:
    """One search as a one-run experiment on a Ray cluster; its history read back from the store.

    What ``run_search`` returns in-process, for a run done on the cluster at
    ``address``; stored like any experiment's run, so a second call resumes.
    """
    experiment = Experiment([searcher], [benchmark], [seed], budget, batch_size, store=store)
    experiment.run(address=address, progress=progress)
    return History.from_frame(experiment.results(), error=experiment.runs().iloc[0].get("error"))


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
