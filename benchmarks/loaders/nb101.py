"""NAS-Bench-101 results: what its two file formats share.

The official TFRecord files (:mod:`benchmarks.loaders.nb101_tfrecord`) and the
JSON tables of the shared data (:mod:`benchmarks.loaders.nb101_json`) both
become one :class:`~benchmarks.base.ResultSet` of NB101 cells, and both refuse
a record whose stored hash is not its spec's official hash. The budgets, the
error type and those two steps live here so that the formats cannot drift
apart.
"""

from __future__ import annotations

import re
from array import array
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from benchmarks.base import METRICS
from nasframe.core.errors import UserError
from search_spaces.nb101.cell import NB101Cell
from search_spaces.nb101.space import NB101Space

#: the training budgets of NAS-Bench-101
NB101_EPOCHS = (4, 12, 36, 108)
#: how an official NB101 hash looks (32 hex digits of an md5): both formats check it
OFFICIAL_HASH = re.compile(r"[0-9a-f]{32}")


class NB101FormatError(UserError, ValueError):
    """A NAS-Bench-101 data file does not hold what its format promises.

    The message names the file and, where one is to blame, the record (0-based)
    and the field.
    """


def result_table(hashes: np.ndarray, epochs: np.ndarray, columns: Mapping[str, np.ndarray | array]) -> pd.DataFrame:
    """The long result table of :class:`~benchmarks.base.ResultSet` from per-row columns.

    Runs of one (hash, epochs) pair are numbered ``repeat`` 0, 1, 2... in row
    order. A column may be a compact ``array("d")``: it is read without a copy.
    """
    table = pd.DataFrame({"hash": hashes, "epochs": epochs.astype(np.int64)})
    table["repeat"] = table.groupby(["hash", "epochs"], sort=False).cumcount().to_numpy(np.int64)
    for metric in METRICS:
        column = columns[metric]
        table[metric] = np.frombuffer(column, dtype=np.float64) if isinstance(column, array) else column
    return table


def check_spec_hashes(
    path: Path, stored: Sequence[str], cells: Sequence[NB101Cell], records: Sequence[int], what: str
) -> None:
    """Raise naming the first record whose stored hash is not its spec's official hash.

    A mismatch means the spec or the hash was damaged, or the file uses another
    hashing; either way every result of that record would be filed under the
    wrong architecture, so the file is refused rather than read.
    """
    computed = NB101Space().canonical_hashes(cells)
    wrong = [i for i, (s, c) in enumerate(zip(stored, computed)) if s != c]
    if wrong:
        i = wrong[0]
        raise NB101FormatError(
            f"{path}: record {records[i]}: stored hash {stored[i]} but its spec hashes to "
            f"{computed[i]} ({len(wrong)} {what} with a wrong hash)"
        )


__all__ = ["NB101_EPOCHS", "NB101FormatError", "OFFICIAL_HASH", "check_spec_hashes", "result_table"]
