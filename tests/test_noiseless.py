"""The worker's noiseless column: regret read from it equals regret recomputed, and it is what regret reads."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nasframe.analysis import regret
from nasframe.noiseless import NOISELESS, add_noiseless, noiseless_values
from nasframe.runner import run_search
from nasframe.searchers import RandomSearch


@pytest.fixture(scope="module")
def frame(cora):
    return run_search(RandomSearch(cora.space, seed=3), cora, 40, seed=3, batch_size=5).to_frame()


def test_the_column_holds_the_benchmark_answers_and_regret_reads_it(cora, frame):
    with_column = add_noiseless(frame, cora)
    ok = frame["val_accuracy"].notna()
    archs = [cora.space.from_json(json.loads(a)) for a in frame.loc[ok, "arch"]]
    np.testing.assert_array_equal(with_column.loc[ok, NOISELESS], np.asarray(cora.query(archs).val_accuracy, float))
    pd.testing.assert_frame_equal(regret(with_column, cora), regret(frame, cora))
    # the column is what counts: without the architectures, a changed column changes the regret
    shifted = with_column.drop(columns=["arch"]).assign(**{NOISELESS: with_column[NOISELESS] - 0.5})
    assert np.allclose(regret(shifted, cora)["regret"].dropna(), regret(frame, cora)["regret"].dropna() + 0.5)
    with pytest.raises(ValueError, match="neither 'noiseless_val_accuracy' nor 'arch'"):
        regret(frame.drop(columns=["arch"]), cora)


def test_failed_rows_have_no_value_and_plain_evaluators_no_column(cora, frame):
    failed = frame.assign(val_accuracy=np.where(frame.index % 2 == 0, np.nan, frame["val_accuracy"]))
    values = noiseless_values(failed, cora)
    assert np.isnan(values[::2]).all() and np.isfinite(values[1::2]).all()

    class Plain:  # evaluate only: nothing to query
        space = cora.space

    assert NOISELESS not in add_noiseless(frame, Plain())
