"""NASLib's zero-cost benchmark files for the DARTS space (``zc_nasbench301.json``).

The file maps a dataset name to ``{compact genotype string: record}``, each
record holding ``val_accuracy`` (percent) and zero-cost proxy scores as
``{"score", "time"}``. Its accuracies are predictions of the NB301 v1.0
surrogate, not trainings: the benchmark fitted on them reproduces NB301's
opinion, which is what the ``notes`` of the result set say.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.base import ResultSet
from nasframe.core import InvalidArchitecture
from nasframe.core.errors import UserError
from search_spaces.darts.convert import from_naslib_compact
from search_spaces.darts.space import DARTSSpace


class NASLibFormatError(UserError, ValueError):
    """A NASLib benchmark file is malformed; the message names file and record."""


def load_naslib_darts(path: str | Path, dataset: str = "cifar10") -> ResultSet:
    """The DARTS architectures of a NASLib ``zc_nasbench301.json`` file.

    ``params`` is the proxy file's parameter count (millions in the file,
    converted to a count; NASLib's small evaluation network). ``epochs`` is
    -1: NB301's single full budget.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NASLibFormatError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or dataset not in data:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise NASLibFormatError(f"{path}: no dataset {dataset!r} (found {found})")
    space = DARTSSpace()
    archs, rows = {}, []
    for number, (key, record) in enumerate(data[dataset].items()):
        where = f"{path}: record {number} ({key[:40]}...)"
        try:
            genotype = from_naslib_compact(key)
            accuracy = float(record["val_accuracy"]) / 100.0
            params = float(record["params"]["score"]) * 1e6
        except InvalidArchitecture as exc:
            raise NASLibFormatError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise NASLibFormatError(f"{where}: missing or bad field {exc}") from None
        if not 0.0 <= accuracy <= 1.0:
            raise NASLibFormatError(f"{where}: val_accuracy {accuracy * 100} is not a percentage")
        digest = genotype.canonical_key()
        repeat = sum(1 for r in rows if r[0] == digest) if digest in archs else 0
        archs[digest] = genotype
        rows.append((digest, -1, repeat, accuracy, np.nan, np.nan, round(params)))
    table = pd.DataFrame(
        rows, columns=["hash", "epochs", "repeat", "val_accuracy", "test_accuracy", "train_time", "params"]
    )
    return ResultSet(
        space, archs, table, source=str(path),
        notes={"labels": "NB301 v1.0 surrogate predictions (NASLib), not trainings", "dataset": dataset},
    )
