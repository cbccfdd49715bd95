"""Fit a surrogate benchmark from real results, NAS-Bench-301 style, and measure it.

The split is by architecture (repeats of one architecture never straddle
train and test), fixed by a seed; every family is fitted on the training part
and scored on the held-out test part, and the manifest of the saved benchmark
records those scores next to the data (file name and checksum, see
:mod:`benchmarks.provenance`) and counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from benchmarks.base import ResultSet
from benchmarks.provenance import data_reference
from benchmarks.surrogate import SurrogateBenchmark
from nasframe.core import Architecture
from nasframe.core.errors import InvalidSetting
from nasframe.core.registry import SURROGATES
from surrogates.base import Surrogate
from surrogates.ensemble import FamilyEnsemble
from surrogates.metrics import regression_report

#: runtime and parameter models answer with their mean only: one small XGBoost each
#: (100 trees keep them under a tenth of the query time of the accuracy ensemble)
_AUX_FAMILY = "xgb"
_AUX_MEMBERS = 1
_AUX_PARAMS = {"n_estimators": 100, "learning_rate": 0.15}


def split_indices(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> list[np.ndarray]:
    """A seeded permutation of ``range(n)`` cut into parts of the given fractions."""
    fractions = np.asarray(fractions, dtype=float)
    if (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions.tolist()}")
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
    return np.split(order, cuts)


@dataclass
class BuildResult:
    benchmark: SurrogateBenchmark
    #: one row per family (and "ensemble"): held-out metrics on the test split
    report: pd.DataFrame


@dataclass
class Split:
    """A result set at one fidelity, cut into train/valid/test by architecture."""

    archs: list[Architecture]
    frame: pd.DataFrame
    y: np.ndarray
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    def pick(self, part: np.ndarray) -> list[Architecture]:
        return [self.archs[i] for i in part]


def split_results(
    results: ResultSet, epochs: int | None = None, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """The split :func:`build_benchmark` uses; the same arguments give the same parts."""
    frame = results.at(epochs)
    archs = [results.archs[h] for h in frame["hash"]]
    train, valid, test = split_indices(len(archs), fractions, seed)
    return Split(archs, frame, frame["val_accuracy"].to_numpy(float), train, valid, test)


def held_out(benchmark: SurrogateBenchmark, results: ResultSet) -> pd.DataFrame:
    """True and predicted accuracy on the test part of the split recorded in ``benchmark``."""
    recorded = benchmark.card.get("split")
    if not recorded:
        raise ValueError(f"benchmark {benchmark.name!r} records no split; it was not built by build_benchmark")
    part = split_results(results, benchmark.fidelities[0], recorded["fractions"], recorded["seed"])
    if len(part.test) != recorded["test"]:
        raise ValueError(
            f"{results.source} does not reproduce the split of {benchmark.name!r} "
            f"({len(part.test)} test architectures, the card says {recorded['test']}): different data?"
        )
    predicted = benchmark.models["val_accuracy"].predict(part.pick(part.test))[0]
    return pd.DataFrame({"hash": part.frame["hash"].to_numpy()[part.test], "true": part.y[part.test],
                         "predicted": predicted})


def check_families(surrogates: Sequence[str], members: int) -> None:
    """Refuse unknown surrogate families and empty ensembles, before any data is loaded or model fitted."""
    if not surrogates or not all(surrogates):
        raise InvalidSetting(f"name at least one surrogate family (known: {', '.join(SURROGATES.names())})")
    for family in surrogates:
        SURROGATES.factory(family)  # UnknownName listing the known families
    if members < 1:
        raise InvalidSetting(f"an ensemble needs at least 1 member, got members={members}")


def check_results(results: ResultSet, epochs: int | None, split: Sequence[float], seed: int) -> int:
    """The fidelity to fit (the largest by default), after checking the results can make a benchmark at it.

    Every part of the split needs two architectures at least (a fit and a
    rank correlation on one point mean nothing), so an empty or tiny result
    file is refused here rather than deep inside a fit.
    """
    if not len(results):
        raise InvalidSetting(f"{results.source} holds no results")
    if epochs is not None and epochs not in results.fidelities:
        raise InvalidSetting(f"{results.source} has no results at {epochs} epochs; it has {results.fidelities}")
    epochs = int(max(results.fidelities) if epochs is None else epochs)
    count = len(results.at(epochs))
    sizes = [len(part) for part in split_indices(count, split, seed)]
    if min(sizes) < 2:
        raise InvalidSetting(f"{results.source} holds {count} architecture(s) at {epochs} epochs: too few to split "
                             f"{list(split)} into train/valid/test parts of 2 or more (sizes {sizes})")
    return epochs


def build_benchmark(
    results: ResultSet,
    *,
    name: str,
    surrogates: Sequence[str] = ("xgb",),
    members: int = 10,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    epochs: int | None = None,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    auxiliary: bool = True,
    format: str | None = None,
) -> BuildResult:
    """Fit one ``members``-strong ensemble per family on ``results`` at ``epochs``.

    With several families the benchmark answers with their pooled ensemble
    (:class:`FamilyEnsemble`). The validation part of ``split`` is not used
    for fitting here; it is held back for hyper-parameter search
    (:func:`surrogates.tune_surrogate`) so that test scores stay untouched.
    ``auxiliary`` adds mean-only models for train time and parameter count
    where the data has them. ``format`` (the loader's) is recorded so that
    ``nasframe benchmark evaluate`` can reload the data.
    """
    check_families(surrogates, members)
    params = dict(params or {})
    epochs = check_results(results, epochs, split, seed)
    part = split_results(results, epochs, split, seed)
    train, test, y = part.train, part.test, part.y
    rows, parts, predictions = [], [], {}
    for family in surrogates:
        model: Surrogate = SURROGATES.factory(family)(
            results.space, members=members, seed=seed, **params.get(family, {})
        )
        model.fit(part.pick(train), y[train])
        parts.append(model)
        predictions[family] = model.predict_members(part.pick(test))
        rows.append({"model": family, **regression_report(y[test], predictions[family].mean(axis=0))})
    main_model = parts[0] if len(parts) == 1 else FamilyEnsemble(parts)
    if len(parts) > 1:
        pooled = np.concatenate(list(predictions.values())).mean(axis=0)
        rows.append({"model": "ensemble", **regression_report(y[test], pooled)})
    report = pd.DataFrame(rows)
    data = data_reference(results.source)
    card = {
        "data": data,
        "format": format,
        "notes": results.notes,
        "architectures": len(part.archs),
        "split": {"fractions": list(split), "seed": seed, "train": len(train), "valid": len(part.valid),
                  "test": len(test)},
        "held_out": report.to_dict(orient="records"),
    }
    for model in parts:
        model.card.update(data=data, split=card["split"], fidelity_epochs=epochs,
                          held_out=next(r for r in card["held_out"] if r["model"] == model.family))
    models: dict[str, Surrogate] = {"val_accuracy": main_model}
    if auxiliary:
        for metric in ("train_time", "params"):
            target = part.frame[metric].to_numpy(float)
            known = train[np.isfinite(target[train])]
            if len(known) >= 10:
                aux = SURROGATES.factory(_AUX_FAMILY)(results.space, members=_AUX_MEMBERS, seed=seed, **_AUX_PARAMS)
                models[metric] = aux.fit(part.pick(known), target[known])
                aux.card.update(data=data, target=metric, n_train=len(known))
    return BuildResult(SurrogateBenchmark(name, results.space, models, epochs, card), report)


def record_optimum(benchmark: SurrogateBenchmark, candidates: Sequence[Architecture], scope: str,
                   chunk: int = 50_000) -> tuple[Architecture, float]:
    """Store in the card the candidate with the best predicted mean validation accuracy.

    ``scope`` says what the candidates are: the whole space where it can be
    enumerated (NB101: exact optimum of the benchmark), else the architectures
    of the data (a lower bound). Regret is measured against this value.
    """
    model = benchmark.models["val_accuracy"]
    best_value, best_arch = -np.inf, None
    for start in range(0, len(candidates), chunk):
        part = list(candidates[start : start + chunk])
        mean = model.predict(part)[0]
        i = int(np.argmax(mean))
        if mean[i] > best_value:
            best_value, best_arch = float(mean[i]), part[i]
    if best_arch is None:
        raise ValueError("no candidates to take the optimum over")
    benchmark.card["optimum"] = {"arch": best_arch.to_json(), "val_accuracy": best_value, "scope": scope,
                                 "candidates": len(candidates)}
    return best_arch, best_value
