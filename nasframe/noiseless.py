"""The benchmark's noiseless value of each evaluated architecture, recorded once in the worker.

Searches see noisy answers; regret is measured on the benchmark's noiseless
value (the mean over a table's repeats, a surrogate's mean) of what was
found (:func:`nasframe.analysis.regret`). Querying it again for every row
of every stored run at report time is what made reports over thousands of
runs slow (a JSON parse and a model query per architecture). The worker
that ran the search has the benchmark loaded, so it adds the values as the
column :data:`NOISELESS` with one batched query per run
(:func:`add_noiseless`), and reports read that column.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

#: the history column holding the benchmark's noiseless validation accuracy of each successful row
NOISELESS = "noiseless_val_accuracy"


def noiseless_values(frame: pd.DataFrame, bench: Any) -> np.ndarray:
    """The benchmark's noiseless validation accuracy of every successfully evaluated row (NaN for the others).

    Rows that carry :data:`NOISELESS` (the worker of an experiment records it
    when the run ends, :func:`add_noiseless`) are taken as they are, so a
    report over thousands of stored runs reads one column instead of
    parsing and querying every architecture again; the other rows get one
    batched query of their distinct architectures (``arch``, as JSON).
    """
    ok = frame["val_accuracy"].notna().to_numpy()
    known = np.full(len(frame), np.nan)
    if NOISELESS in frame:
        known = frame[NOISELESS].to_numpy(dtype=float, na_value=np.nan)
    true = np.where(ok, known, np.nan)
    todo = ok & np.isnan(known)
    if todo.any():
        if "arch" not in frame:
            raise ValueError(f"{int(todo.sum())} rows have neither {NOISELESS!r} nor 'arch': cannot value them")
        archs_text = frame["arch"].to_numpy()[todo]
        unique = pd.unique(archs_text)
        archs = [bench.space.from_json(json.loads(text)) for text in unique]
        values = dict(zip(unique, np.asarray(bench.query(archs).val_accuracy, dtype=float)))
        true[todo] = [values[text] for text in archs_text]
    return true


def add_noiseless(frame: pd.DataFrame, bench: Any) -> pd.DataFrame:
    """``frame`` (one run's :meth:`History.to_frame <nasframe.runner.History.to_frame>`) with :data:`NOISELESS`.

    One batched query of the run's architectures, paid by the worker that
    has the benchmark loaded, so that regret over many runs needs no
    queries at all. A benchmark without ``query`` (a plain evaluator) gets
    no column; :func:`regret` then needs it at report time as before.
    """
    if not callable(getattr(bench, "query", None)) or NOISELESS in frame:
        return frame
    return frame.assign(**{NOISELESS: noiseless_values(frame, bench)})


__all__ = ["NOISELESS", "add_noiseless", "noiseless_values"]
