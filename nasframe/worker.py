"""One run of an :class:`~nasframe.experiment.Experiment`, as the process that does it sees it.

A Ray worker (or the driver, when an experiment runs in-process) gets
:class:`RunSpec` s, does each with :func:`execute_run` and sends back one
:class:`RunOutcome` per run; the driver stores them. Nothing here raises
for a run's own failures: a searcher that cannot be built or that raises is
part of the outcome, and a benchmark that cannot be loaded is reported as
``infra_error`` (nothing is stored for it, so a later ``run()`` retries it).

Each process keeps the benchmarks it has loaded (keyed by name and factory):
loading one takes far longer than a run on it, and a worker does many runs.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from nasframe.noiseless import add_noiseless
from nasframe.runner import History, run_search

#: benchmarks loaded by this process (a Ray worker or the driver), by (name, factory)
_BENCHMARKS: dict[tuple[str, str], Any] = {}


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


def _factory_token(factory: Any) -> str:
    """What identifies a benchmark factory within one process (part of the cache key)."""
    if isinstance(factory, functools.partial):
        return f"{_factory_token(factory.func)}{factory.args!r}{sorted(factory.keywords.items())!r}"
    module, qualname = getattr(factory, "__module__", None), getattr(factory, "__qualname__", None)
    if module and qualname and "<" not in qualname:
        return f"{module}.{qualname}"
    return repr(factory)  # closures and lambdas: their identity in this process


def load_benchmark(name: str, factory: Callable[..., Any]) -> tuple[Any, float]:
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
        bench, load_seconds = load_benchmark(spec.benchmark, spec.benchmark_factory)
    except Exception as exc:  # noqa: BLE001 - infrastructure failure, reported, not stored
        return RunOutcome(spec.key, None, {}, infra_error=f"loading benchmark {spec.benchmark!r}: "
                          f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-5)}")
    start = time.perf_counter()
    try:
        searcher = spec.searcher_factory(space=bench.space, seed=spec.seed, **dict(spec.options))
    except Exception as exc:  # noqa: BLE001 - a searcher that cannot be built is the run's failure
        history = History()
        history.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-5)}"  # innermost frames
    else:
        history = run_search(searcher, bench, spec.budget, seed=spec.seed, batch_size=spec.batch_size)
    try:
        frame = add_noiseless(history.to_frame(), bench)  # regret reports then read a column, query nothing
    except Exception as exc:  # noqa: BLE001 - a framework fault, not the run's: reported, not stored
        return RunOutcome(spec.key, None, {}, infra_error=f"recording the history: {type(exc).__name__}: {exc}\n"
                          f"{traceback.format_exc(limit=-5)}")
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


#: one frame of a formatted traceback: file, line, function
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')


def error_summary(error: str) -> str:
    """One line for a run's stored error: its first line and where it was raised.

    Stored errors are ``"<Type>: <message>"`` and the traceback; a person
    reading a report of many runs needs what went wrong and the innermost
    frame (shown as its file's last two path parts), not the whole traceback.
    """
    lines = error.strip().splitlines()
    if not lines:
        return error
    frames = [match for match in map(_FRAME.match, lines[1:]) if match]
    if not frames:
        return lines[0]
    where = frames[-1]
    short = "/".join(where["file"].replace(os.sep, "/").split("/")[-2:])
    return f"{lines[0]} (at {short}:{where['line']} in {where['function']})"


def execute_chunk(specs: Sequence[RunSpec]) -> list[RunOutcome]:
    """Do several runs in this process (one Ray task carries a chunk)."""
    return [execute_run(spec) for spec in specs]


__all__ = ["RunOutcome", "RunSpec", "error_summary", "execute_chunk", "execute_run", "load_benchmark"]
