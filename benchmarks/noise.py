"""The seed noise of a surrogate benchmark: what it is, checked against real repeats, and where it stops.

NB301 simulates the run-to-run noise of training by drawing each answer from
N(ensemble mean, member spread). That is an assumption until it is compared
with real repeats; this module makes the comparison and bounds the spread.

**Real repeats of NB101.** The official NB101 trained every cell 3 times.
The shared data kit has no per-seed table, but two of its files each hold
*one* of those repeats per record: ``nb101_by_hash_part_a.json`` (one run per
cell) and NASLib's ``zc_nasbench101.json``, whose 500 records are spellings of
292 cells, each record carrying the validation accuracy of one repeat that
NB101's API drew at random. A cell with several spellings (or present in both
files) therefore shows several real repeats; distinct values are distinct
repeats (never more than 3 per cell, as it must be). :func:`nb101_repeats`
collects them.

**The check** (:func:`calibrate`), NB301's: Kendall tau between two real
repeats of the same cells against Kendall tau between two noisy draws of the
benchmark on those cells, and the pooled real within-cell variance against
the pooled member variance (their ratio is the scale that would make the
noise match).

**The cap** (:func:`spread_cap`, :func:`noise_std`): the members of a GIN
ensemble disagree most on cells unlike the data they were fitted on, so an
uncapped noise grows off-distribution (on NB101: up to 9.6 pp std on the
small cells its ``random_spec`` sampler favours, where real runs differ by
tenths of a point). The noise std is capped at :data:`CAP_QUANTILE` of the
spread over the data's architectures, recorded in the benchmark's card under
``noise``; below the cap the answers are NB301's unchanged.
"""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from nasframe.core import Architecture
from nasframe.core.errors import UserError

#: the quantile of the fitting data's member spread at which the noise std is capped
CAP_QUANTILE = 0.99
#: NASLib's NB101 op codes -> the NB101 space's op names (0 input, 1 output)
_NASLIB_OPS = {2: "maxpool3x3", 3: "conv1x1-bn-relu", 4: "conv3x3-bn-relu"}


class NoiseDataError(UserError, ValueError):
    """A file meant to hold NB101 repeats is not what it should be; the message names it."""


def spread_cap(member_std: np.ndarray, quantile: float = CAP_QUANTILE) -> float:
    """The cap on the noise std: ``quantile`` of the member spread over the fitting data's architectures."""
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    return float(np.quantile(np.asarray(member_std, dtype=float), quantile))


def noise_std(members: np.ndarray, noise: Mapping[str, Any] | None) -> np.ndarray:
    """Per architecture, the std of a noisy answer: the member spread, capped as the card's ``noise`` says.

    ``members`` is ``(n_members, n_archs)``. Without a ``noise`` entry (cards
    written before the cap) the spread is used as it is.
    """
    return cap_std(np.asarray(members).std(axis=0), noise)


def cap_std(std: np.ndarray, noise: Mapping[str, Any] | None) -> np.ndarray:
    """The member spread ``std`` capped as the card's ``noise`` says (unchanged without a cap)."""
    cap = (noise or {}).get("std_cap")
    return std if cap is None else np.minimum(std, float(cap))


def _naslib_cell(space: Any, key: str, where: str) -> Architecture:
    try:
        values = ast.literal_eval(key)
        matrix = np.asarray(values[:49], dtype=int).reshape(7, 7)
        ops = ["input"] + [_NASLIB_OPS[o] for o in values[50:55]] + ["output"]
    except (ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise NoiseDataError(f"{where}: not a NASLib NB101 key ({exc})") from None
    return space.validate({"matrix": matrix.tolist(), "ops": ops})


def nb101_repeats(naslib: str | Path, by_hash: str | Path | None = None) -> dict[str, tuple[Architecture, list[float]]]:
    """Cells with at least two distinct real NB101 repeats: ``{hash: (cell, [val accuracy, ...])}``.

    ``naslib`` is NASLib's ``zc_nasbench101.json`` (one random repeat per
    spelling); ``by_hash`` optionally adds ``nb101_by_hash_part_a.json``'s run.
    Values are fractions, in the order first seen (NASLib's file order).
    """
    from search_spaces.nb101.space import NB101Space

    space = NB101Space()
    path = Path(naslib)
    try:
        records = json.loads(path.read_text())["nasbench101"]["cifar10"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NoiseDataError(f"{path}: not NASLib's zc_nasbench101.json ({exc})") from None
    cells: dict[str, Architecture] = {}
    values: dict[str, list[float]] = defaultdict(list)
    for number, (key, record) in enumerate(records.items()):
        cell = _naslib_cell(space, key, f"{path}: record {number}")
        digest = space.canonical_hash(cell)
        cells[digest] = cell
        values[digest].append(float(record["val_accuracy"]) / 100.0)
    if by_hash is not None:
        data = json.loads(Path(by_hash).read_text())
        for digest, value in zip(data["key"], data["108_final_validation_accuracy"]):
            if digest in values:
                values[digest].append(float(value))
    repeats = {}
    for digest, seen in values.items():
        distinct = list(dict.fromkeys(seen))  # equal values are the same repeat drawn twice
        if len(distinct) > 3:
            raise NoiseDataError(f"cell {digest}: {len(distinct)} distinct values, NB101 has 3 repeats per cell")
        if len(distinct) >= 2:
            repeats[digest] = (cells[digest], distinct)
    return repeats


def calibrate(
    predict_members: Callable[[Sequence[Architecture]], np.ndarray],
    repeats: Mapping[str, tuple[Architecture, list[float]]],
    noise: Mapping[str, Any] | None = None,
    draws: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Real repeat noise against the benchmark's noise on the same cells (NB301's check).

    Two real repeats per cell are drawn at random from its distinct repeats
    (``draws`` times, so no order of the files favours one); the benchmark's
    two noisy draws use :func:`noise_std` with the card's ``noise``. Returns
    the mean Kendall taus, the pooled real and model variances (as stds) and
    ``scale``, the factor on the model std that would match the real one.
    """
    # scipy: loaded by the check only, not by every query
    from surrogates.metrics import kendall_tau

    if len(repeats) < 5:
        raise ValueError(f"only {len(repeats)} cells with real repeats: too few to calibrate")
    rng = np.random.default_rng(seed)
    cells = [cell for cell, _ in repeats.values()]
    runs = [np.asarray(v) for _, v in repeats.values()]
    members = predict_members(cells)
    mean, std = members.mean(axis=0), noise_std(members, noise)
    real_var = float(np.mean([r.var(ddof=1) for r in runs]))  # unbiased per cell, pooled
    model_var = float(np.mean(std**2))
    real_taus, model_taus, cross_taus = [], [], []
    for _ in range(draws):
        pairs = np.array([rng.choice(r, 2, replace=False) for r in runs])
        a, b = mean + std * rng.standard_normal((2, len(cells)))
        real_taus.append(kendall_tau(pairs[:, 0], pairs[:, 1]))
        model_taus.append(kendall_tau(a, b))
        cross_taus.append(kendall_tau(a, pairs[:, 0]))
    return {
        "cells": len(runs),
        "repeats": int(sum(len(r) for r in runs)),
        "kendall_tau_real_repeats": float(np.mean(real_taus)),
        "kendall_tau_noisy_draws": float(np.mean(model_taus)),
        "kendall_tau_draw_vs_repeat": float(np.mean(cross_taus)),
        "real_std": float(np.sqrt(real_var)),
        "model_std": float(np.sqrt(model_var)),
        "scale": float(np.sqrt(real_var / model_var)),
        "median_real_std": float(np.median([r.std(ddof=1) for r in runs])),
        "median_model_std": float(np.median(std)),
    }
