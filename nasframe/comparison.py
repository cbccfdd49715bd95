"""``nasframe.compare``: searchers against each other on benchmarks, as regret, in one call.

A thin front of :class:`nasframe.experiment.Experiment` for the common
question "which searcher does better here?": the experiment does the runs
(on Ray, or in this process) and measures regret; this only supplies a
throw-away store when the caller does not want to keep the runs.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    import pandas as pd


def compare(
    searchers: Sequence[Any],
    benchmarks: Any,
    *,
    budget: int,
    seeds: Iterable[int] | int = 5,
    batch_size: int = 1,
    store: str | os.PathLike[str] | None = None,
    allow_failures: bool = False,
    **run_options: Any,
) -> "pd.DataFrame":
    """Run every searcher on every benchmark for every seed; the regret per run and step.

    ``searchers`` and ``benchmarks`` take what :class:`~nasframe.experiment.Experiment`
    takes (registered names, Searcher classes or factories, ``(spec, options)``
    pairs; benchmark names or ``(name, factory)`` pairs); a single benchmark
    needs no list. ``store`` keeps the runs (and resumes them on a later
    call); without it they go to a temporary folder that is removed afterwards.
    ``run_options`` go to :meth:`Experiment.run` (``parallel=False`` runs in
    this process, without Ray). Columns are those of :meth:`Experiment.regret`.

    A run that ends in an error raises :class:`~nasframe.experiment.FailedRuns`
    naming every failed run and its error, after all runs are done: a searcher
    missing from the curves is never silent. ``allow_failures=True`` returns
    the curves anyway, failed runs (cut short) left out.
    """
    from nasframe.experiment import Experiment

    one_pair = isinstance(benchmarks, tuple) and len(benchmarks) == 2 and callable(benchmarks[1])
    if isinstance(benchmarks, str) or one_pair:
        benchmarks = [benchmarks]
    run_options.setdefault("progress", False)
    with tempfile.TemporaryDirectory(prefix="nasframe-compare-") as scratch:
        experiment = Experiment(searchers, benchmarks, seeds=seeds, budget=budget, batch_size=batch_size,
                                store=store if store is not None else scratch)
        report = experiment.run(allow_failures=allow_failures, **run_options)
        curves = experiment.regret()
        return curves[~curves["run_key"].isin(set(report.failed))].reset_index(drop=True)
