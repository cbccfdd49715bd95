"""A tabular benchmark over the toy space, from a formula: so that a search has something to evaluate."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

import nasframe as nf
from tests.toy_plugin.space import LAYERS, OPS, Chain, ToySpace


def toy_accuracy(arch: Chain) -> float:
    """More convs score better, a pool early costs a little: one exact optimum (all conv)."""
    return 0.5 + 0.1 * arch.ops.count(0) - 0.01 * sum(i for i, o in enumerate(arch.ops) if o == 1)


def toy_benchmark():
    from benchmarks import ResultSet, TabularBenchmark

    space = ToySpace()
    archs = [Chain(ops) for ops in itertools.product(range(len(OPS)), repeat=LAYERS)]
    keys = space.canonical_hashes(archs)
    table = pd.DataFrame({"hash": keys, "epochs": -1, "repeat": 0,
                          "val_accuracy": [toy_accuracy(a) for a in archs],
                          "test_accuracy": [toy_accuracy(a) - 0.01 for a in archs],
                          "train_time": 1.0, "params": np.int64(1000)})
    return TabularBenchmark(ResultSet(space, dict(zip(keys, archs)), table, source="toy formula"), name="toy")


nf.register_benchmark("toy", toy_benchmark)
