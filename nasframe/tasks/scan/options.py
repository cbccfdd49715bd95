"""SCAN's recipe options (``--recipe clusters=10``), their defaults and their ranges.

Checked before anything is built, each error naming the option and its
value: a clustering into fewer than 2 clusters, more neighbours than there
are other training images, or a pretext or self-labelling stage that
leaves no epoch for SCAN would otherwise fail late or train nothing useful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nasframe.core.errors import InvalidSetting

#: defaults (``clusters`` is replaced by the dataset's number of classes); ``pretext_epochs=-1``: half of the
#: recipe's epochs, rounded down, so that every recipe a BPE ladder makes (epochs 1, 2, 4, 8) has a SCAN stage;
#: ``selflabel_epochs``: the last epochs given to the paper's self-labelling (0: none), on the predictions above
#: ``confidence`` (the paper's 0.99)
DEFAULTS: dict[str, Any] = {"pretext_epochs": -1, "clusters": 10, "neighbours": 20, "entropy_weight": 5.0,
                            "temperature": 0.1, "feature_dim": 64, "selflabel_epochs": 0, "confidence": 0.99}


@dataclass(frozen=True)
class ScanSettings:
    """The task options of one recipe, resolved (``pretext_epochs`` made explicit) and range-checked."""

    pretext_epochs: int
    clusters: int
    neighbours: int
    entropy_weight: float
    temperature: float
    feature_dim: int
    selflabel_epochs: int = 0
    confidence: float = 0.99


def _bad(name: str, value: Any, why: str) -> InvalidSetting:
    return InvalidSetting(f"recipe task option {name!r}={value!r}: {why}")


def resolve(options: dict[str, Any], epochs: int, train_size: int) -> ScanSettings:
    """``options`` (every option, defaults filled in) checked against a recipe of ``epochs`` epochs on
    ``train_size`` training images."""
    pretext = options["pretext_epochs"]
    if pretext < -1:
        raise _bad("pretext_epochs", pretext, "a number of epochs >= 0, or -1 for half of the recipe's epochs")
    pretext = epochs // 2 if pretext == -1 else pretext
    if pretext >= epochs:
        raise _bad("pretext_epochs", options["pretext_epochs"],
                   f"must be below the recipe's epochs={epochs}, or no epoch is left for the SCAN stage")
    selflabel = options["selflabel_epochs"]
    if not 0 <= selflabel < epochs - pretext:
        raise _bad("selflabel_epochs", selflabel, f"need 0 <= selflabel_epochs < {epochs - pretext} (the epochs "
                   f"after the {pretext} pretext ones), or no epoch is left for the SCAN stage")
    if not 0.0 < options["confidence"] < 1.0:
        raise _bad("confidence", options["confidence"], "a probability threshold strictly between 0 and 1")
    if options["clusters"] < 2:
        raise _bad("clusters", options["clusters"], "a clustering needs at least 2 clusters")
    if not 1 <= options["neighbours"] < train_size:
        raise _bad("neighbours", options["neighbours"],
                   f"need 1 <= neighbours < {train_size}, the number of training images the recipe uses")
    for name, low in (("entropy_weight", 0.0), ("temperature", None)):
        value = options[name]
        if not math.isfinite(value) or (value < low if low is not None else value <= 0):
            raise _bad(name, value, "a finite number >= 0" if low is not None else "a finite number > 0")
    if options["feature_dim"] < 2:
        raise _bad("feature_dim", options["feature_dim"], "the backbone's feature size must be >= 2")
    return ScanSettings(pretext, options["clusters"], options["neighbours"], float(options["entropy_weight"]),
                        float(options["temperature"]), options["feature_dim"], selflabel,
                        float(options["confidence"]))
