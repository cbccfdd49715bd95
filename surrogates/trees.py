"""Tree-ensemble surrogates: XGBoost, LightGBM and a random forest.

All three featurise an architecture with the space's fixed-length encoding
(``space.encode(archs, encoding)``) and fit the targets as given (accuracy
fractions, no transform). Members are stored in their library's own portable
format, gzipped: XGBoost's binary JSON (UBJSON, ``Booster.save_raw("ubj")``)
and LightGBM's text model; plain ``.json``/``.ubj`` files XGBoost wrote load too.

Early stopping uses the bag: a bootstrap resample leaves about 37% of the rows
out of the bag, and those rows are the member's stopping set, so no data is
held back from the ensemble. With ``members == 1`` there is no bag and a
member always grows ``n_estimators`` rounds.

Inference speed sets the defaults: a 10-member ensemble is asked for tens of
thousands of predictions per second, and tree inference costs about
``members * n_estimators * depth`` node visits per architecture, so the
defaults use a few hundred shallow-to-medium trees rather than NB301's
thousands of rounds at eta 0.008 (that configuration remains reachable
through the parameters).

``n_jobs`` (library threads for fit and predict) defaults to 1: the models
are small, and on a two-core machine shared with other work a second OpenMP
thread mostly spins (measured in ``docs/PERFORMANCE.md``). Raise it on a
dedicated machine.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from nasframe.core import Architecture
from surrogates.base import Surrogate
from surrogates.dimensions import Dimension, Float, Int

_FRACTION = Float(1e-6, 1.0)
_NONNEG = Float(0.0, float("inf"))
_POS = Float(1e-12, float("inf"))
_THREADS = Int(1, 1024)
#: permitted values of the parameters both boosted families (XGBoost, LightGBM) share
_BOOSTED_VALID: dict[str, Dimension] = {
    "n_estimators": Int(1, 100_000),
    "learning_rate": _POS,
    "subsample": _FRACTION,
    "colsample_bytree": _FRACTION,
    "reg_lambda": _NONNEG,
    "reg_alpha": _NONNEG,
    "early_stopping_rounds": Int(0, 100_000),
    "n_jobs": _THREADS,
}
#: their shared Optuna dimensions
_BOOSTED_HPO: dict[str, Dimension] = {
    "n_estimators": Int(50, 600, log=True),
    "learning_rate": Float(0.005, 0.3, log=True),
    "subsample": Float(0.5, 1.0),
    "colsample_bytree": Float(0.2, 1.0),
    "reg_lambda": Float(1e-3, 50.0, log=True),
    "reg_alpha": Float(1e-6, 0.05, log=True),
}


class _TreeSurrogate(Surrogate):
    """Shared featurisation, parameter checks and tuning declaration of the trees.

    The targets are fitted unscaled, so the L1 penalty ``reg_alpha`` acts on
    gradient sums in target units: accuracy fractions leave residuals of
    hundredths, so an alpha of the usual magnitude removes every split, hence
    its small range in the search spaces.
    """

    uses_encoding = True

    def _features(self, archs: Sequence[Architecture]) -> np.ndarray:
        return self._encoded(archs)

    @staticmethod
    def _out_of_bag(index: np.ndarray, n: int) -> np.ndarray:
        mask = np.ones(n, dtype=bool)
        mask[index] = False
        return np.flatnonzero(mask)

    def _stopping_rows(self, index: np.ndarray, n: int) -> np.ndarray | None:
        if self.params.get("early_stopping_rounds", 0) <= 0:
            return None
        oob = self._out_of_bag(index, n)
        return oob if len(oob) >= 2 else None


class _XGBoostFormat(_TreeSurrogate):
    """Prediction and JSON persistence of XGBoost boosters."""

    def _predict_member(self, model: Any, features: np.ndarray) -> np.ndarray:
        return np.asarray(model.inplace_predict(features), dtype=np.float64)

    def _save_member(self, model: Any, path: Path) -> str:
        # XGBoost's binary JSON (UBJSON), gzipped: a quarter of the plain JSON,
        # which matters for the models shipped inside the package
        file = path.with_suffix(".ubj.gz")
        file.write_bytes(gzip.compress(bytes(model.save_raw("ubj")), compresslevel=9, mtime=0))
        return file.name

    def _load_member(self, path: Path) -> Any:
        import xgboost as xgb

        booster = xgb.Booster()
        try:
            if path.name.endswith(".gz"):
                booster.load_model(bytearray(gzip.decompress(path.read_bytes())))
            else:  # plain .json / .ubj written by XGBoost itself
                booster.load_model(str(path))
        except (xgb.core.XGBoostError, OSError, EOFError) as exc:
            raise ValueError(f"{path} is not a readable XGBoost model: {exc}") from None
        booster.set_param({"nthread": self.params["n_jobs"]})
        return booster


class XGBSurrogate(_XGBoostFormat):
    """Gradient-boosted trees (XGBoost, ``hist`` method) on the space encoding.

    Parameters follow XGBoost's scikit-learn names. The defaults are shaped
    like NB301's tuned XGB (row and column subsampling, L2 regularisation)
    but with 300 rounds at eta 0.05 and depth 6, which keeps a 10-member
    ensemble fast enough for a benchmark default (its query rate is in
    ``docs/PERFORMANCE.md``). NB301's own
    values (depth 13, ``min_child_weight`` 39, eta 0.008, thousands of rounds
    with ``early_stopping_rounds``) ranked worse on 800 NB101 cells and
    predict several times slower.
    """

    family = "xgb"
    default_params: ClassVar[dict[str, Any]] = {
        "encoding": None,
        "n_estimators": 300,
        "learning_rate": 0.05,
        "max_depth": 6,
        "min_child_weight": 2.0,
        "subsample": 0.8,
        "colsample_bytree": 0.7,
        "colsample_bylevel": 0.8,
        "reg_lambda": 1.0,
        "reg_alpha": 0.0,
        "early_stopping_rounds": 0,
        "n_jobs": 1,
    }
    valid: ClassVar[dict[str, Dimension]] = {
        **_BOOSTED_VALID,
        "max_depth": Int(1, 64),
        "min_child_weight": _NONNEG,
        "colsample_bylevel": _FRACTION,
    }
    hpo_space: ClassVar[dict[str, Dimension]] = {
        **_BOOSTED_HPO,
        "max_depth": Int(2, 12),
        "min_child_weight": Float(0.5, 50.0, log=True),
        "colsample_bylevel": Float(0.3, 1.0),
    }

    def _fit_member(self, features: np.ndarray, y: np.ndarray, index: np.ndarray, seed: int) -> Any:
        import xgboost as xgb

        p = self.params
        threads = p["n_jobs"]
        booster_params = {
            "objective": "reg:squarederror",
            "tree_method": "hist",
            "eta": p["learning_rate"],
            "max_depth": p["max_depth"],
            "min_child_weight": p["min_child_weight"],
            "subsample": p["subsample"],
            "colsample_bytree": p["colsample_bytree"],
            "colsample_bylevel": p["colsample_bylevel"],
            "lambda": p["reg_lambda"],
            "alpha": p["reg_alpha"],
            "seed": seed,
            "nthread": threads,
            "verbosity": 0,
        }
        train = xgb.DMatrix(features[index], label=y[index], nthread=threads)
        stop = self._stopping_rows(index, len(y))
        if stop is None:
            return xgb.train(booster_params, train, num_boost_round=p["n_estimators"])
        valid = xgb.DMatrix(features[stop], label=y[stop], nthread=threads)
        booster = xgb.train(
            booster_params,
            train,
            num_boost_round=p["n_estimators"],
            evals=[(valid, "oob")],
            early_stopping_rounds=p["early_stopping_rounds"],
            verbose_eval=False,
        )
        # keep only the rounds up to the best one, so prediction needs no range
        return booster[: booster.best_iteration + 1]


class RFSurrogate(_XGBoostFormat):
    """A random forest, grown by XGBoost's random-forest mode (``XGBRFRegressor``).

    Why not scikit-learn's ``RandomForestRegressor``: its models only persist
    as pickles, which are tied to the scikit-learn version and execute code
    when loaded, and it predicts tree by tree with per-estimator overhead and
    large unpruned trees. XGBoost's forest is one boosting round of
    ``n_estimators`` parallel trees, bootstrapped by row (``subsample``) and
    column (``colsample_bynode``): it saves as the same versioned JSON as
    the boosted trees and predicts whole batches in XGBoost's C++ predictor.
    Defaults: 50 trees of depth at most 10 per member (500 trees for a
    10-member ensemble); more trees did not rank better on NB101.
    """

    family = "rf"
    default_params: ClassVar[dict[str, Any]] = {
        "encoding": None,
        "n_estimators": 50,
        "max_depth": 10,
        "min_child_weight": 1.0,
        "subsample": 0.8,
        "colsample_bynode": 0.6,
        "reg_lambda": 1e-5,
        "n_jobs": 1,
    }
    valid: ClassVar[dict[str, Dimension]] = {
        "n_estimators": Int(1, 100_000),
        "max_depth": Int(1, 64),
        "min_child_weight": _NONNEG,
        "subsample": _FRACTION,
        "colsample_bynode": _FRACTION,
        "reg_lambda": _NONNEG,
        "n_jobs": _THREADS,
    }
    hpo_space: ClassVar[dict[str, Dimension]] = {
        "n_estimators": Int(20, 300, log=True),
        "max_depth": Int(3, 20),
        "min_child_weight": Float(0.1, 20.0, log=True),
        "subsample": Float(0.5, 1.0),
        "colsample_bynode": Float(0.2, 1.0),
    }

    def _fit_member(self, features: np.ndarray, y: np.ndarray, index: np.ndarray, seed: int) -> Any:
        import xgboost as xgb

        p = self.params
        forest = xgb.XGBRFRegressor(
            n_estimators=p["n_estimators"],
            max_depth=p["max_depth"],
            min_child_weight=p["min_child_weight"],
            subsample=p["subsample"],
            colsample_bynode=p["colsample_bynode"],
            reg_lambda=p["reg_lambda"],
            tree_method="hist",
            random_state=seed,
            n_jobs=p["n_jobs"],
            verbosity=0,
        )
        forest.fit(features[index], y[index])
        return forest.get_booster()


class LGBSurrogate(_TreeSurrogate):
    """Gradient-boosted trees (LightGBM, leaf-wise growth) on the space encoding.

    Members are kept as LightGBM text models (``model_to_string``); a fitted
    member is re-read from that text at once, so a saved and re-loaded
    surrogate predicts exactly what the fitted one did. LightGBM predicts
    rows several times slower per tree than XGBoost, so the defaults use
    fewer, smaller trees (150 rounds at 0.1, 15 leaves).
    """

    family = "lgb"
    default_params: ClassVar[dict[str, Any]] = {
        "encoding": None,
        "n_estimators": 150,
        "learning_rate": 0.1,
        "num_leaves": 15,
        "max_depth": -1,
        "min_child_samples": 10,
        "subsample": 0.8,
        "colsample_bytree": 0.7,
        "reg_lambda": 1.0,
        "reg_alpha": 0.0,
        "early_stopping_rounds": 0,
        "n_jobs": 1,
    }
    valid: ClassVar[dict[str, Dimension]] = {
        **_BOOSTED_VALID,
        "num_leaves": Int(2, 131_072),
        "max_depth": Int(-1, 64),
        "min_child_samples": Int(1, 1_000_000),
    }
    hpo_space: ClassVar[dict[str, Dimension]] = {
        **_BOOSTED_HPO,
        "num_leaves": Int(4, 128, log=True),
        "min_child_samples": Int(2, 50, log=True),
    }

    def _fit_member(self, features: np.ndarray, y: np.ndarray, index: np.ndarray, seed: int) -> Any:
        import lightgbm as lgb

        p = self.params
        params = {
            "objective": "regression",
            "learning_rate": p["learning_rate"],
            "num_leaves": p["num_leaves"],
            "max_depth": p["max_depth"],
            "min_data_in_leaf": p["min_child_samples"],
            "bagging_fraction": p["subsample"],
            "bagging_freq": 1 if p["subsample"] < 1.0 else 0,
            "feature_fraction": p["colsample_bytree"],
            "lambda_l2": p["reg_lambda"],
            "lambda_l1": p["reg_alpha"],
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": p["n_jobs"],
            "verbosity": -1,
        }
        train = lgb.Dataset(features[index], label=y[index], params={"verbosity": -1})
        stop = self._stopping_rows(index, len(y))
        if stop is None:
            booster = lgb.train(params, train, num_boost_round=p["n_estimators"])
            text = booster.model_to_string()
        else:
            valid = lgb.Dataset(features[stop], label=y[stop], reference=train)
            booster = lgb.train(
                params,
                train,
                num_boost_round=p["n_estimators"],
                valid_sets=[valid],
                callbacks=[lgb.early_stopping(p["early_stopping_rounds"], verbose=False)],
            )
            text = booster.model_to_string(num_iteration=booster.best_iteration)
        return lgb.Booster(model_str=text)

    def _predict_member(self, model: Any, features: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(features, num_threads=self.params["n_jobs"]), dtype=np.float64)

    def _save_member(self, model: Any, path: Path) -> str:
        file = path.with_suffix(".txt.gz")
        file.write_bytes(gzip.compress(model.model_to_string().encode(), compresslevel=9, mtime=0))
        return file.name

    def _load_member(self, path: Path) -> Any:
        import lightgbm as lgb

        try:
            data = path.read_bytes()
            text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode()
            return lgb.Booster(model_str=text)
        except (lgb.basic.LightGBMError, UnicodeDecodeError, ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{path} is not a readable LightGBM model: {exc}") from None


__all__ = ["XGBSurrogate", "LGBSurrogate", "RFSurrogate"]
