"""What one :meth:`Experiment.run <nasframe.experiment.Experiment.run>` call did, and how it ends when runs
failed or could not be done."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from nasframe.worker import error_summary


class IncompleteExperiment(RuntimeError):
    """Some runs could not be done for reasons outside the runs (see ``report.not_run``)."""

    def __init__(self, report: ExperimentReport) -> None:
        self.report = report
        super().__init__(f"{len(report.not_run)} of {report.total} runs were not done (nothing stored for them; "
                         f"run() again retries them):\n" + _listing(report.not_run))


class FailedRuns(RuntimeError):
    """Runs of the experiment ended in an error (stored as such; see ``report.failed``)."""

    def __init__(self, report: ExperimentReport) -> None:
        self.report = report
        super().__init__(f"{len(report.failed)} of {report.total} runs failed (stored with their error; "
                         f"run(allow_failures=True) accepts them):\n" + _listing(report.failed))


def _listing(errors: Mapping[str, str], limit: int = 20) -> str:
    """``  <run key>: <error in one line>`` per run, the first ``limit`` of them."""
    lines = [f"  {key}: {error_summary(error)}" for key, error in sorted(errors.items())]
    return "\n".join(lines[:limit]) + (f"\n  ... and {len(lines) - limit} more" if len(lines) > limit else "")


@dataclass
class ExperimentReport:
    """What one :meth:`Experiment.run` call did."""

    total: int = 0
    #: runs already in the store before this call
    skipped: int = 0
    #: runs this call stored
    stored: int = 0
    #: every stored run of the experiment that ended in an error (this call's or an earlier one's): key -> error
    failed: dict[str, str] = field(default_factory=dict)
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


def count_stored(done: list[tuple[str, bool]], seconds: dict[str, float], report: ExperimentReport) -> None:
    """Book one written part into ``report``: runs stored now, and those another writer had stored first."""
    for key, stored in done:
        if stored:
            report.stored += 1
            report.run_seconds.append(seconds.pop(key, 0.0))
        else:
            report.duplicates += 1
            seconds.pop(key, None)


__all__ = ["ExperimentReport", "FailedRuns", "IncompleteExperiment", "count_stored"]
