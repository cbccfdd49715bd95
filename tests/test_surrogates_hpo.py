"""Hyper-parameter search: declared spaces, seeded Optuna studies, clear errors."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from search_spaces.nb101.space import NB101Space
from nasframe.core import SURROGATES
from surrogates import make_surrogate, tune_surrogate
from surrogates.dimensions import Choice, Float, Int, outside, suggest
from tests.test_surrogates_trees import synthetic

SPACE = NB101Space()


@pytest.fixture(scope="module")
def data():
    return synthetic(150, seed=7)


def test_dimensions_contain_and_suggest():
    dims = {"a": Int(1, 5), "b": Float(0.1, 1.0, log=True), "c": Choice(("x", "y")), "d": Choice((False, True))}
    assert outside(dims, {"a": 3, "b": 0.5, "c": "y", "d": True, "other": 99}) == {}
    assert outside(dims, {"a": 6, "b": 0.01, "c": "z", "d": 1}) == {"a": 6, "b": 0.01, "c": "z", "d": 1}
    fixed = optuna.trial.FixedTrial({"a": 2, "b": 0.3, "c": "x", "d": False})
    assert suggest(fixed, dims) == {"a": 2, "b": 0.3, "c": "x", "d": False}
    with pytest.raises(ValueError):
        Int(3, 1)


@pytest.mark.parametrize("family", ["xgb", "lgb", "rf", "gin", "gcn"])
def test_every_family_declares_a_space_of_known_valid_parameters(family):
    cls = SURROGATES.factory(family)
    dims = cls.search_space(SPACE)
    assert dims and set(dims) <= set(cls.default_params)
    # the defaults themselves are valid values
    assert outside(cls.valid, cls(SPACE).params) == {}


def test_tree_search_space_includes_the_encodings():
    assert SURROGATES.factory("xgb").search_space(SPACE)["encoding"] == Choice(SPACE.encodings)


@pytest.mark.parametrize("family, fixed", [("xgb", {"n_estimators": 20}), ("gin", {"epochs": 2, "hidden": 16})])
def test_tune_returns_params_inside_the_declared_space(family, fixed, data):
    cells, y = data
    result = tune_surrogate(family, SPACE, cells, y, n_trials=3, seed=0, fixed=fixed)
    cls = SURROGATES.factory(family)
    assert len(result.study.trials) == 3 and result.family == family and result.metric == "kendall_tau"
    assert (result.n_train, result.n_valid) == (120, 30)
    assert set(result.best_params) == set(cls.default_params)
    tuned = {k: v for k, v in result.best_params.items() if k not in fixed}
    assert set(cls.search_space(SPACE)) - set(fixed) <= set(tuned)
    assert outside(cls.search_space(SPACE), tuned) == {}
    # fixed values are kept even where they lie outside the declared space
    assert all(result.best_params[k] == v for k, v in fixed.items())
    assert math.isfinite(result.best_value) and result.best_value == result.best_report["kendall_tau"]
    # the result plugs straight back into the factory
    make_surrogate(family, SPACE, members=1, **result.best_params).fit(cells, y)


def test_tune_is_seeded_and_minimises_mse(data):
    cells, y = data
    kw = dict(n_trials=3, seed=1, metric="mse", fixed={"n_estimators": 20})
    a = tune_surrogate("rf", SPACE, cells, y, **kw)
    b = tune_surrogate("rf", SPACE, cells, y, **kw)
    assert a.best_params == b.best_params and a.best_value == b.best_value
    assert a.study.direction == optuna.study.StudyDirection.MINIMIZE
    assert a.best_value == min(t.value for t in a.study.trials)


def test_tune_rejects_bad_arguments(data):
    cells, y = data
    with pytest.raises(ValueError, match="unknown xgb hyper-parameters"):
        tune_surrogate("xgb", SPACE, cells, y, n_trials=1, fixed={"depth": 3})
    with pytest.raises(ValueError, match="unknown metric"):
        tune_surrogate("xgb", SPACE, cells, y, n_trials=1, metric="accuracy")
    with pytest.raises(ValueError, match="targets"):
        tune_surrogate("xgb", SPACE, cells, y[:-1], n_trials=1)
    with pytest.raises(ValueError, match="valid_fraction"):
        tune_surrogate("xgb", SPACE, cells, y, n_trials=1, valid_fraction=1.0)
    with pytest.raises(KeyError, match="unknown surrogate family 'svm'"):
        tune_surrogate("svm", SPACE, cells, y, n_trials=1)
    with pytest.raises(ValueError, match="unknown gin hyper-parameters"):
        make_surrogate("gin", SPACE, learning_rate=0.1)
    assert np.isfinite(y).all()
