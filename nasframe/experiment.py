"""Many search runs (searchers x benchmarks x seeds), fanned out over Ray, stored exactly once.

    exp = Experiment(["random", ("evolution", {"population_size": 50})], ["nbgraph-cora"],
                     seeds=10, budget=300, store="results/cora")
    exp.run()                      # local Ray with every core; address="auto" joins a cluster
    curves = exp.regret()          # per run and step; see nasframe.analysis

A *run* is one ``run_search(searcher, benchmark, budget, seed=seed)``; its
identity (:func:`nasframe.store.run_key`) is the searcher label, the benchmark
name, the seed, the budget and a hash of the searcher options and batch size.
Finished runs are written by the driver to the
:class:`~nasframe.store.ResultStore` in batches, one Parquet part per
``flush_seconds`` (or ``flush_runs`` runs) of results, so the driver's cost
per run stays well under a millisecond or two however many runs there are:

- ``run()`` again skips every stored run (resume); killing the driver loses
  only the runs in flight and the finished ones not yet written (at most
  ``flush_seconds`` of results; an exception or Ctrl-C writes them first);
- a Ray worker that dies is retried by Ray (``max_retries``); a retried chunk
  may recompute runs, but the store publishes each key once (first write wins),
  so every run is complete exactly once;
- a searcher that raises (in its constructor, ``ask`` or ``tell``) is a
  *result*: the run is stored with ``error`` set and whatever it evaluated,
  and the other runs go on; once everything is stored, ``run()`` raises
  :class:`FailedRuns` naming every failed run of the experiment and its
  error (stored earlier or now: a rerun names them again), unless
  ``allow_failures=True``, and ``report.failed`` names them either way. An
  architecture the benchmark fails on is a row with its ``error``
  (``run_search`` records it), not a failed run. Failures that are not the
  run's own (the benchmark cannot be loaded, a task lost after all its
  retries) store nothing, so a later ``run()`` retries them; ``run()`` raises
  :class:`IncompleteExperiment` naming them after storing everything else.

The store records the experiment's settings (searchers and their options,
benchmarks, seeds, budget, batch size) in ``experiment.json`` when it is
first run, and an experiment with other settings is refused on construction
(:class:`~nasframe.core.errors.SettingsMismatch`, naming what differs), so a
report never mixes configurations or leaves stored runs out. Seeds may be
added (the same experiment with more seeds runs only the new ones); to
change anything else, use a new store.

Runs are grouped into chunks, one Ray task each, sized by
:class:`nasframe.chunking.ChunkPlanner`.

Searchers and benchmarks are resolved to factories *in the driver* and the
factories are shipped to the workers, so anything registered at run time in
the driver (``SEARCHERS.register("mine", Mine)``), or passed as a
class, works on the workers too. What a worker does with a run is
:mod:`nasframe.worker`; regret is measured by :mod:`nasframe.analysis`.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Union

import pandas as pd

from nasframe.analysis import REGRET_COLUMNS, REGRET_INPUTS, regret
from nasframe.benchmark_refs import share_benchmarks
from nasframe.chunking import ChunkPlanner
from nasframe.core.errors import InvalidSetting
from nasframe.core.registry import SEARCHERS
from nasframe.experiment_report import (
    ExperimentReport,
    FailedRuns,
    IncompleteExperiment,
    count_stored,
)
from nasframe.noiseless import NOISELESS
from nasframe.ray_session import ray_session
from nasframe.runner import History
from nasframe.store import ResultStore, RunBuffer, options_hash, run_key
from nasframe.worker import (
    RunOutcome,
    RunSpec,
    execute_chunk,
    execute_run,
    load_benchmark,
)

#: what ``Experiment(searchers=[...])`` accepts per entry
SearcherSpec = Union[str, type, Callable[..., Any], tuple]
#: what ``Experiment(benchmarks=[...])`` accepts per entry: a registered name, a saved folder or (name, factory)
BenchmarkSpec = Union[str, os.PathLike, tuple]
#: the file in the store that pins it to one experiment's settings
SETTINGS_FILE = "experiment.json"


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
    """(label, factory) of one ``benchmarks=`` entry; a saved folder is labelled by the path as given."""
    from benchmarks.catalog import factory

    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[0], str) or not callable(spec[1]):
            raise ValueError(f"a benchmark entry tuple must be (name, factory), got {spec!r}")
        return spec[0], spec[1]
    if isinstance(spec, (str, os.PathLike)):
        return os.path.normpath(spec), factory(spec)  # './my-bench' and 'my-bench' are one label
    raise TypeError(f"a benchmark entry must be a registered name, a saved folder or (name, factory); got {spec!r}")


def _check_sizes(seeds: list[int], budget: int, batch_size: int) -> None:
    """Refuse settings no run can do, before any work (seeds are NumPy seeds: non-negative)."""
    problems = []
    if not seeds:
        problems.append("no seeds (give at least one)")
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        problems.append(f"seeds must be distinct and >= 0, got {seeds}")
    if budget < 1:
        problems.append(f"budget must be >= 1, got {budget}")
    if batch_size < 1:
        problems.append(f"batch size must be >= 1, got {batch_size}")
    if problems:
        raise InvalidSetting("experiment: " + "; ".join(problems))


def _check_labels(searchers: list[str], benchmarks: list[str]) -> None:
    """Labels identify runs (and name files): every experiment needs some, each once."""
    for kind, labels in (("searcher", searchers), ("benchmark", benchmarks)):
        if not labels:
            raise InvalidSetting(f"experiment: no {kind} given")
        doubled = sorted({x for x in labels if labels.count(x) > 1})
        if doubled:
            raise InvalidSetting(f"{kind} labels must be unique in an experiment; repeated: {doubled} "
                                 "(give the runs distinct names)")


class Experiment:
    """Every (searcher, benchmark, seed) run of one budget, stored in ``store``.

    ``searchers`` entries: a registered name (``"random"``), a Searcher class
    or any factory ``f(space=..., seed=..., **options)``, or a pair of one of
    those and an options dict. The label of a run is the name, else the class's
    ``name`` attribute, else its ``__name__``; labels must be unique within an
    experiment. ``benchmarks`` entries: a registered name, a saved benchmark
    folder (labelled by its path as given), or a ``(name, factory)`` pair.
    ``seeds``: a list, or ``n`` for ``range(n)``. ``store``: a folder
    (local or NFS) or a pyarrow filesystem URI such as ``s3://bucket/prefix``
    (:class:`~nasframe.store.ResultStore`). Settings that cannot run
    (no seeds, a budget below 1...) raise
    :class:`~nasframe.core.errors.InvalidSetting`, and settings other than
    those ``store`` recorded raise :class:`~nasframe.core.errors.SettingsMismatch`,
    both before anything runs.
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
        self.seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
        self.budget = int(budget)
        self.batch_size = int(batch_size)
        _check_sizes(self.seeds, self.budget, self.batch_size)
        self.store = ResultStore(store)
        self._searchers = [_resolve_searcher(s) for s in searchers]
        self._benchmarks = [_resolve_benchmark(b) for b in benchmarks]
        _check_labels([s[0] for s in self._searchers], [b[0] for b in self._benchmarks])
        self._pin(write=False)  # refuse a store of another experiment now, before any work
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

    @property
    def settings(self) -> dict[str, Any]:
        """What the store records of this experiment (:data:`SETTINGS_FILE`): every run's identity but the seed
        is fixed by these, so runs of other settings can never be mixed into its results."""
        return {"searchers": {label: options for label, _, options in self._searchers},
                "benchmarks": sorted(label for label, _ in self._benchmarks), "seeds": sorted(self.seeds),
                "budget": self.budget, "batch_size": self.batch_size}

    def _pin(self, write: bool) -> None:
        """Check this experiment's settings against the store's record (and, with ``write``, record them)."""
        self.store.pin_settings(SETTINGS_FILE, self.settings, what="experiment", growing=["seeds"], write=write)

    def __repr__(self) -> str:
        return (f"Experiment({len(self._searchers)} searchers x {len(self._benchmarks)} benchmarks x "
                f"{len(self.seeds)} seeds, budget={self.budget}, store={self.store.location!r})")

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
        flush_seconds: float = 2.0,
        flush_runs: int = 1000,
        strict: bool = True,
        allow_failures: bool = False,
        ray_init: Mapping[str, Any] | None = None,
    ) -> ExperimentReport:
        """Do every run not yet stored; returns what was done, with every failed run in ``report.failed``.

        ``parallel=False`` runs them one after the other in this process (the
        baseline for speed-ups; no Ray). Otherwise each chunk of runs is a Ray
        task: Ray is started here (``num_cpus``, default every core) unless it
        is already initialised or ``address`` names a cluster to join
        (``ray_init`` adds keyword arguments to ``ray.init``, e.g. a
        ``runtime_env``). ``max_retries``: how often Ray re-runs a task whose
        worker died. ``strict``: raise :class:`IncompleteExperiment` at the end
        if some runs could not be done (everything else is stored first).
        Then, unless ``allow_failures``, raise :class:`FailedRuns` if any run of
        the experiment ended in an error, this call's or an earlier one's. The
        settings are recorded in the store once Ray is up (nothing is written
        to the store before). Finished runs are written in batches: one part
        once ``flush_runs`` wait or the oldest has waited ``flush_seconds``.
        """
        start = time.perf_counter()
        todo = self.pending()
        report = ExperimentReport(total=len(self.specs), skipped=len(self.specs) - len(todo), parallel=parallel)
        label = f"runs ({report.skipped} stored before)" if report.skipped else "runs"
        seconds: dict[str, float] = {}
        buffer = RunBuffer(self.store, flush_runs, flush_seconds,
                           on_flush=lambda done: count_stored(done, seconds, report))
        with _progress_bar(progress, report.total, report.skipped, label) as advance:
            try:
                if parallel and todo:
                    self._run_ray(todo, report, advance, buffer, seconds, address=address, num_cpus=num_cpus,
                                  max_retries=max_retries, chunk_seconds=chunk_seconds, max_chunk=max_chunk,
                                  ray_init=ray_init)
                else:
                    self._pin(write=True)
                    for spec in todo:
                        if spec.key in self.store:  # another driver of this store did it meanwhile
                            report.skipped += 1
                            advance()
                            continue
                        outcome = execute_run(spec)
                        self._record(outcome, report, advance, buffer, seconds)
                        if outcome.run_seconds >= flush_seconds:  # slow runs: the next check would come late
                            buffer.flush()
            finally:
                buffer.flush()  # what finished is kept, whatever stopped the loop
        report.wall_seconds = time.perf_counter() - start
        report.failed = self.failures()
        if report.not_run and strict:
            raise IncompleteExperiment(report)
        if report.not_run:
            warnings.warn(str(IncompleteExperiment(report)), RuntimeWarning, stacklevel=2)
        if report.failed and not allow_failures:
            raise FailedRuns(report)
        return report

    def _record(self, outcome: RunOutcome, report: ExperimentReport, advance: Callable[[], None],
                buffer: RunBuffer, seconds: dict[str, float]) -> None:
        if outcome.infra_error is not None:
            report.not_run[outcome.key] = outcome.infra_error
            return
        assert outcome.frame is not None
        seconds[outcome.key] = outcome.run_seconds
        report.not_run.pop(outcome.key, None)
        buffer.add(outcome.key, outcome.frame, outcome.meta)
        advance()

    def _run_ray(self, todo: list[RunSpec], report: ExperimentReport, advance: Callable[[], None],
                 buffer: RunBuffer, seconds: dict[str, float], *,
                 address: str | None, num_cpus: int | None, max_retries: int, chunk_seconds: float,
                 max_chunk: int, ray_init: Mapping[str, Any] | None) -> None:
        import ray

        with ray_session(address, num_cpus, **dict(ray_init or {})):
            self._pin(write=True)
            todo = share_benchmarks(todo)  # saved benchmark folders go by content: every node can load them
            remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(execute_chunk)
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
            planner = ChunkPlanner(todo, workers, chunk_seconds, max_chunk)
            in_flight: dict[Any, list[RunSpec]] = {}
            try:
                while planner or in_flight:
                    while planner and len(in_flight) < 2 * workers:
                        chunk = planner.next_chunk(in_flight_runs=sum(map(len, in_flight.values())))
                        in_flight[remote.remote(chunk)] = chunk
                        report.tasks += 1
                    ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=buffer.due())
                    if buffer.due() == 0.0:
                        buffer.flush()
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
                            self._record(outcome, report, advance, buffer, seconds)
            except BaseException:
                for ref in in_flight:  # interrupted: nothing of theirs will be stored
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:  # noqa: BLE001 - best effort; the driver is going away
                        pass
                raise

    # -- results -----------------------------------------------------------------------------------

    def results(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every stored history row of this experiment's runs, only ``columns`` if given
        (see :meth:`ResultStore.load`)."""
        done = self.store.completed()
        return self.store.load([k for k in self.keys if k in done], columns=columns)

    def runs(self) -> pd.DataFrame:
        """One row of facts per stored run of this experiment."""
        done = self.store.completed()
        return self.store.runs([k for k in self.keys if k in done])

    def failures(self) -> dict[str, str]:
        """Every stored run of this experiment that ended in an error: run key -> the error with its traceback."""
        runs = self.runs()
        failed = runs[runs["error"].notna()]
        return dict(zip(failed["run_key"], failed["error"]))

    def regret(self) -> pd.DataFrame:
        """:func:`nasframe.analysis.regret` of every benchmark of this experiment, concatenated.

        Per run and step both regrets: ``regret`` of the incumbent the search
        would return (best observed value, scored by its noiseless value) and
        ``seen_regret`` of the best noiseless value among everything evaluated.
        """
        frame = self.results(columns=REGRET_INPUTS)  # pushdown: no architecture is read or queried ...
        missing = frame["val_accuracy"].notna() & frame[NOISELESS].isna()
        if missing.any():  # ... unless runs stored without noiseless values (older stores) need them
            frame = self.results(columns=[*REGRET_INPUTS, "arch"])
        parts = [regret(frame, load_benchmark(name, factory)[0], label=name) for name, factory in self._benchmarks]
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
    experiment.run(address=address, progress=progress, allow_failures=True)  # the history carries the error
    return History.from_frame(experiment.results(), error=experiment.runs().iloc[0].get("error"))


class _progress_bar:
    """A rich progress bar of runs done / total (a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int, done: int, description: str) -> None:
        self.enabled = enabled
        self.total, self.done, self.description = total, done, description
        self._progress = None
        self._task = None

    def __enter__(self) -> Callable[[], None]:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn())
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, completed=self.done)

        def advance() -> None:
            if self._progress is not None:
                self._progress.advance(self._task)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
