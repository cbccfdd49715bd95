"""One search run in this process: ask, evaluate in batches, tell, record.

A run is a pure function of (searcher, evaluator, budget, seed): the searcher
is seeded by its constructor and every evaluation batch gets a noise seed
derived from the run seed and the batch number, so the same inputs replay
the same trajectory. Failures are data, not crashes: an architecture whose
evaluation raises is recorded with the error and never told to the searcher;
a searcher that raises ends its run with the error recorded, and whatever the
run evaluated so far is kept.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from nasframe.core import Architecture, EvalResult, Fidelity, Searcher
from nasframe.core.protocols import Evaluator

#: columns of a run's history, one row per evaluated architecture
HISTORY_COLUMNS = (
    "step", "batch", "hash", "arch", "val_accuracy", "test_accuracy", "train_time", "params", "cost",
    "error",
)
#: prefix of the columns that keep a task's objectives per row (``objective.flops``...), after the fixed ones
OBJECTIVE_PREFIX = "objective."


def objective_columns(columns: Any) -> list[str]:
    """The objective columns among ``columns``, sorted."""
    return sorted(c for c in columns if str(c).startswith(OBJECTIVE_PREFIX))


@dataclass
class History:
    """The record of one run: rows of :data:`HISTORY_COLUMNS`, plus run-level facts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    #: the searcher's exception (type, message and traceback) if it ended the run
    error: str | None = None
    #: seconds spent in the framework, the searcher and the evaluator
    timings: dict[str, float] = field(default_factory=lambda: {"framework": 0.0, "searcher": 0.0, "evaluator": 0.0})

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        found = objective_columns({key for row in self.rows for key in row})
        frame = pd.DataFrame(self.rows, columns=list(HISTORY_COLUMNS) + found)
        values = frame["val_accuracy"].astype(float).fillna(-np.inf).to_numpy()
        best = np.maximum.accumulate(values) if len(values) else values
        frame["best_val_accuracy"] = np.where(np.isfinite(best), best, np.nan)
        # the incumbent changes only on a strict improvement (the first of equal bests stays)
        previous = np.concatenate([[-np.inf], best[:-1]])
        improved = np.where(values > previous, np.arange(len(values)), -1)
        incumbent = np.maximum.accumulate(improved) if len(values) else improved
        tests = frame["test_accuracy"].to_numpy(float)
        frame["incumbent_step"] = pd.array(np.where(incumbent >= 0, incumbent, -1), dtype="Int64")
        frame.loc[frame["incumbent_step"] < 0, "incumbent_step"] = pd.NA
        frame["incumbent_test_accuracy"] = np.where(incumbent >= 0, tests[np.maximum(incumbent, 0)], np.nan)
        frame["cum_cost"] = frame["cost"].fillna(0.0).cumsum()
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, error: Any = None) -> "History":
        """The history a :meth:`to_frame` holds, as read back from a store (timings are not stored)."""
        rows = frame[list(HISTORY_COLUMNS) + objective_columns(frame.columns)].to_dict(orient="records")
        for row in rows:  # the store writes missing errors as NaN
            row["error"] = row["error"] if isinstance(row["error"], str) else None
        return cls(rows=rows, error=error if isinstance(error, str) else None)

    def summary(self) -> dict[str, Any]:
        """What the run did: how many evaluated and failed, the searcher's error, the best row, the timings.

        ``nasframe search`` prints it with the benchmark's noiseless view of the
        run (:func:`nasframe.analysis.final_regret`: the regret of this best row,
        the architecture the search returns, and the seen regret of the best
        architecture it evaluated; both need the benchmark, which a history does
        not hold) and keeps it in ``summary.json``.
        """
        failed = sum(row["error"] is not None for row in self.rows)
        return {"evaluated": len(self), "failed": failed, "error": self.error, "best": self.best(),
                "timings": self.timings}

    def best(self) -> dict[str, Any] | None:
        """The row with the highest validation accuracy (first one on ties)."""
        ok = [r for r in self.rows if r["error"] is None]
        return max(ok, key=lambda r: r["val_accuracy"]) if ok else None


def _row(step: int, batch: int, key: str, arch: Architecture, result: EvalResult | None, error: str | None) -> dict:
    import json

    return {
        "step": step,
        "batch": batch,
        "hash": key,
        "arch": json.dumps(arch.to_json(), sort_keys=True),
        "val_accuracy": result.val_accuracy if result else np.nan,
        "test_accuracy": result.test_accuracy if result and result.test_accuracy is not None else np.nan,
        "train_time": result.train_time if result and result.train_time is not None else np.nan,
        "params": result.params if result and result.params is not None else np.nan,
        "cost": result.cost if result else 0.0,
        "error": error,
        **{OBJECTIVE_PREFIX + name: float(value) for name, value in (result.objectives if result else {}).items()},
    }


def _evaluate(
    evaluator: Evaluator, archs: list[Architecture], fidelity: Fidelity | None, seed: int
) -> list[EvalResult | str]:
    """Results for ``archs``; when the batch fails, each architecture alone, so
    one bad architecture costs only its own result (its entry is the error text)."""
    try:
        return list(evaluator.evaluate(archs, fidelity, seed=seed))
    except Exception:  # noqa: BLE001 - narrowed below, per architecture
        if len(archs) == 1:
            return [traceback.format_exc(limit=3)]
    out: list[EvalResult | str] = []
    for i, arch in enumerate(archs):
        try:
            out.extend(evaluator.evaluate([arch], fidelity, seed=seed * 1_000_003 + i))
        except Exception:  # noqa: BLE001 - recorded as data
            out.append(traceback.format_exc(limit=3))
    return out


def run_search(
    searcher: Searcher,
    evaluator: Evaluator,
    budget: int,
    *,
    seed: int = 0,
    batch_size: int = 1,
    fidelity: Fidelity | None = None,
    callback: Callable[[History], None] | None = None,
) -> History:
    """Evaluate ``budget`` architectures proposed by ``searcher``, ``batch_size`` at a time.

    ``callback(history)`` runs after every batch (progress bars, checkpoints).
    """
    if budget < 0 or batch_size < 1:
        raise ValueError(f"need budget >= 0 and batch_size >= 1, got {budget} and {batch_size}")
    history = History()
    clock = history.timings
    batch = 0
    while len(history) < budget:
        start = time.perf_counter()
        try:
            archs = searcher.ask(min(batch_size, budget - len(history)))
        except Exception as exc:  # noqa: BLE001 - the run ends, the error is kept
            history.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
            break
        asked = time.perf_counter()
        clock["searcher"] += asked - start
        if not archs:
            break  # the searcher has nothing left to propose
        outcomes = _evaluate(evaluator, archs, fidelity, seed=seed * 100_003 + batch)
        evaluated = time.perf_counter()
        clock["evaluator"] += evaluated - asked
        keys = searcher.space.canonical_hashes(archs)
        good_archs, good_results = [], []
        for arch, key, outcome in zip(archs, keys, outcomes):
            failed = isinstance(outcome, str)
            history.rows.append(_row(len(history), batch, key, arch, None if failed else outcome,
                                     outcome if failed else None))
            if not failed:
                good_archs.append(arch)
                good_results.append(outcome)
        recorded = time.perf_counter()
        clock["framework"] += recorded - evaluated
        try:
            if good_archs:
                searcher.tell(good_archs, good_results)
        except Exception as exc:  # noqa: BLE001
            history.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
            break
        told = time.perf_counter()
        clock["searcher"] += told - recorded
        batch += 1
        if callback is not None:
            callback(history)
        clock["framework"] += time.perf_counter() - told
    return history

