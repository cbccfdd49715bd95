"""The D-VAE ENAS text file (``final_structures6.txt``) as a result set.

Each line is one architecture sampled by a trained ENAS controller and its
accuracy under the shared weights of the ENAS supernet (a weight-sharing
estimate, not a stand-alone training). The same architecture may appear on
several lines; those become repeats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.base import METRICS, ResultSet
from search_spaces.enas.io import DVAE_BURN_IN, read_dvae_file
from search_spaces.enas.space import ENASSpace


def load_dvae(path: str | Path, *, burn_in: int = DVAE_BURN_IN) -> ResultSet:
    """Records of a D-VAE file after dropping the first ``burn_in`` lines.

    The default follows D-VAE's protocol (the first 1,000 architectures were
    sampled while the controller was still warming up); ``burn_in=0`` keeps
    every line. Accuracies are fractions as in the file; ``epochs`` is -1 (the
    supernet's single budget).
    """
    records = read_dvae_file(path)
    if not 0 <= burn_in < len(records):
        raise ValueError(f"{path}: burn_in must be in [0, {len(records)}), got {burn_in}")
    records = records[burn_in:]
    space = ENASSpace(num_layers=records[0].arch.num_layers)
    archs, repeats, rows = {}, {}, []
    for number, (arch, accuracy) in enumerate(records, start=burn_in + 1):
        if arch.num_layers != space.num_layers:
            raise ValueError(f"{path}, line {number}: {arch.num_layers} layers, the file starts with {space.num_layers}")
        if not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"{path}, line {number}: accuracy {accuracy} is not a fraction")
        key = arch.canonical_key()
        archs.setdefault(key, arch)
        repeats[key] = repeats.get(key, -1) + 1
        rows.append((key, -1, repeats[key], accuracy, np.nan, np.nan, np.nan))
    table = pd.DataFrame(rows, columns=["hash", "epochs", "repeat", *METRICS])
    return ResultSet(
        space, archs, table, source=str(path),
        notes={"labels": "ENAS weight-sharing accuracy (D-VAE data)", "burn_in": burn_in, "lines": len(records)},
    )
