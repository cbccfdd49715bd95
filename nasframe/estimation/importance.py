"""Which BPE hyper-parameters matter: random-forest importance, as MIP uses it.

Minimum Importance Pruning fits a random forest from BPE settings to their
quality (rank correlation with full training) and fixes the least important
hyper-parameter. With a few dozen trials one forest is noisy, so the forest
is refitted with ``seeds`` different seeds and both importances are averaged:
scikit-learn's impurity importance (what MIP uses) and permutation importance
(the drop in R^2 when one column is shuffled, which does not favour
many-valued columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance


def hyperparameter_importance(
    config: pd.DataFrame, target: pd.Series, *, seeds: int = 10, n_estimators: int = 300, repeats: int = 20
) -> pd.DataFrame:
    """Importance of each column of ``config`` for predicting ``target``, most important first.

    Columns of the result: ``impurity`` and ``permutation`` (means over the
    seeds), ``permutation_std`` (spread over seeds) and ``values`` (how many
    distinct settings the trials tried: a hyper-parameter never varied has no
    measurable importance).
    """
    if len(config) != len(target) or len(config) < 4:
        raise ValueError(f"need matching config and target rows (>= 4), got {len(config)} and {len(target)}")
    x, y = config.to_numpy(float), np.asarray(target, dtype=float)
    impurity, permutation = [], []
    for seed in range(seeds):
        forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1).fit(x, y)
        impurity.append(forest.feature_importances_)
        permutation.append(
            permutation_importance(forest, x, y, n_repeats=repeats, random_state=seed).importances_mean
        )
    result = pd.DataFrame(
        {
            "impurity": np.mean(impurity, axis=0),
            "permutation": np.mean(permutation, axis=0),
            "permutation_std": np.std(permutation, axis=0),
            "values": [config[c].nunique() for c in config.columns],
        },
        index=config.columns,
    )
    result.index.name = "hyperparameter"
    return result.sort_values("impurity", ascending=False)
