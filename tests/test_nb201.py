"""NAS-Bench-201: the cell's string, its canonical form, the network, the loaders and the benchmarks."""

from __future__ import annotations

import json
import os
import pickle
from collections import defaultdict
from itertools import product

import numpy as np
import pandas as pd
import pytest

import nasframe as nf
from benchmarks.loaders.nb201 import (
    DATA_VARIABLE,
    NB201DataMissing,
    NB201FormatError,
    load_mini_nb201,
    load_nb201,
    load_nb201_json,
    nb201_benchmark,
)
from nasframe.core import InvalidArchitecture
from nasframe.testing import check_space
from search_spaces.nb201 import EDGES, OPS, NB201Cell, NB201Space, canonical_form, parse_string, to_string
from search_spaces.nb201.cell import live_edges, parameter_count
from tests.conftest import shared_file

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
ALL = list(product(OPS, repeat=6))
SWAP = (1, 0, 2, 3, 5, 4)  # edge positions after exchanging nodes 1 and 2 (valid when edge 1->2 is none)


def spelled(**edges: str) -> tuple[str, ...]:
    """Six ops from ``e01=..., e23=...`` keywords, ``none`` elsewhere."""
    return tuple(edges.get(f"e{s}{t}", "none") for s, t in EDGES)


# -- the official string --------------------------------------------------------


def test_official_string_round_trips_for_every_spelling():
    assert to_string(parse_string(EXAMPLE)) == EXAMPLE
    assert parse_string(EXAMPLE) == spelled(e01="nor_conv_3x3", e02="nor_conv_3x3", e12="avg_pool_3x3",
                                            e03="skip_connect", e13="nor_conv_3x3", e23="skip_connect")
    assert all(parse_string(to_string(ops)) == ops for ops in ALL)
    cell = NB201Space().validate(EXAMPLE)
    assert cell.to_string() == EXAMPLE and NB201Space().from_json(json.loads(json.dumps(cell.to_json()))) == cell


@pytest.mark.parametrize("text, rule", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", r"3 nodes joined by '\+'"),
    ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 has exactly 2 input edges"),
    ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "reads each earlier node 0..1 once"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "reads each earlier node 0..0 once"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", r"written \|op~source\|"),
    ("|none-0|+|none~0|none~1|+|none~0|none~1|none~2|", "an edge is written op~source"),
])
def test_a_broken_string_names_its_rule(text, rule):
    with pytest.raises(InvalidArchitecture, match=f"invalid nb201 architecture: .*{rule}"):
        NB201Space().validate(text)


def test_ops_are_checked():
    with pytest.raises(InvalidArchitecture, match="a cell has 6 edges"):
        NB201Cell(("none",) * 5)
    with pytest.raises(InvalidArchitecture, match="unknown operation.*edge 1->2"):
        NB201Cell(("none", "none", "max_pool", "none", "none", "none"))
    assert NB201Cell((3, 3, 4, 1, 3, 1)).to_string() == EXAMPLE  # op indices work too


# -- canonical form ---------------------------------------------------------------


def test_unique_cells_and_what_they_merge():
    classes = defaultdict(list)
    for ops in ALL:
        classes[canonical_form(ops)].append(ops)
    assert len(classes) == 6985 == NB201Space().size()
    assert len(classes["zero"]) == 341 and len(classes["identity"]) == 400
    # sound: every spelling of a class has the same live parametric operations
    for members in classes.values():
        kinds = {tuple(sorted(op for *_, op in live_edges(m) if op.startswith("nor_conv"))) for m in members}
        assert len(kinds) == 1


def test_isomorphic_and_dead_spellings_are_equal():
    rng = np.random.default_rng(0)
    for _ in range(300):
        ops = [OPS[i] for i in rng.integers(0, 5, 6)]
        ops[2] = "none"  # no edge 1->2: nodes 1 and 2 may be exchanged
        swapped = tuple(ops[p] for p in SWAP)
        assert NB201Cell(tuple(ops)) == NB201Cell(swapped)
        dead = list(ops)
        dead[0] = "none"  # node 1 never reached: what it sends is dead
        other = dead.copy()
        other[4] = OPS[int(rng.integers(5))]
        assert NB201Cell(tuple(dead)) == NB201Cell(tuple(other))
    # a node that only forwards the input through a skip is the input
    assert NB201Cell(spelled(e01="skip_connect", e13="nor_conv_3x3")) == NB201Cell(spelled(e03="nor_conv_3x3"))
    assert NB201Cell(spelled(e03="skip_connect")).to_string() == "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def test_different_networks_stay_apart():
    # one convolution read twice (shared) vs two convolutions: NB201's to_unique_str merges them
    shared = spelled(e01="nor_conv_3x3", e12="skip_connect", e13="nor_conv_3x3", e23="nor_conv_3x3")
    separate = spelled(e01="nor_conv_3x3", e02="nor_conv_3x3", e13="nor_conv_3x3", e23="nor_conv_3x3")
    assert NB201Cell(shared) != NB201Cell(separate)
    assert _nb201_unique_str(shared) == _nb201_unique_str(separate)
    assert parameter_count(NB201Cell(shared).ops) < parameter_count(NB201Cell(separate).ops)
    # two convs summed vs one conv
    assert NB201Cell(spelled(e03="nor_conv_1x1")) != NB201Cell(spelled(e01="skip_connect", e03="nor_conv_1x1",
                                                                      e13="nor_conv_1x1"))


def _nb201_unique_str(ops):
    """NB201's ``to_unique_str(consider_zero=True)``, written from its description, for comparison."""
    nodes = {0: "0"}
    for target in (1, 2, 3):
        terms = []
        for (s, t), op in zip(EDGES, ops):
            if t != target:
                continue
            if op == "none" or nodes[s] == "#":
                terms.append("#")
            else:
                terms.append(nodes[s] if op == "skip_connect" else f"({nodes[s]})@{op}")
        nodes[target] = "+".join(sorted(terms))
    return nodes[3]


def test_nb201s_own_count_is_6466():
    assert len({_nb201_unique_str(ops) for ops in ALL}) == 6466


# -- the space ---------------------------------------------------------------------


@pytest.mark.parametrize("sampling", ["edges", "uniform"])
def test_space_conforms(sampling):
    check_space(NB201Space(sampling), graphs=False)


def test_views_and_encodings():
    space = NB201Space()
    cell = space.validate(EXAMPLE)
    assert space.decisions() == [(f"edge_{s}_{t}", 5) for s, t in EDGES]
    assert space.to_choices(cell) == [3, 3, 4, 1, 3, 1] and space.from_choices([3, 3, 4, 1, 3, 1]) == cell
    onehot = space.encode([cell], "onehot")
    assert onehot.shape == (1, 30) and onehot.sum() == 6 and onehot[0, 3] == 1
    path = space.encode([cell], "path")
    assert path.shape == (1, 84) and path.sum() == 4  # 0-3, 0-1-3, 0-2-3, 0-1-2-3 carry no none
    dag = space.dag(cell)
    assert len(dag.node_types) == 8 and dag.node_types[0] == 0 and dag.node_types[-1] == 6
    assert all(s < t for s, t in dag.edges) and (1, 3) in dag.edges and (6, 7) in dag.edges
    assert len(space.neighbors(cell)) == 24  # every single op change of this cell is a new network


def test_sampling_modes():
    uniform = NB201Space("uniform").sample(np.random.default_rng(0), 2000)
    edges = NB201Space().sample(np.random.default_rng(0), 2000)
    zero = NB201Cell(("none",) * 6)
    assert sum(c == zero for c in edges) > 20 > sum(c == zero for c in uniform)  # 341/15,625 vs 1/6,985


# -- the network ---------------------------------------------------------------------


def test_network_matches_nb201_parameter_counts():
    import torch

    from search_spaces.nb201.model import build_nb201_model

    records = json.loads(shared_file("nb201/naslib_zc_nasbench201.json").read_text())
    naslib_ops = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
    naslib_order = (0, 1, 3, 2, 4, 5)  # NASLib lists edges 0-1, 0-2, 0-3, 1-2, 1-3, 2-3
    for dataset, classes in (("cifar10", 10), ("cifar100", 100), ("ImageNet16-120", 120)):
        for key, record in list(records[dataset].items())[:15]:
            codes = [int(c) for c in key.strip("()").split(",")]
            ops = [naslib_ops[codes[naslib_order[i]]] for i in range(6)]
            model = build_nb201_model(ops, num_classes=classes, device="meta")
            count = sum(p.numel() for p in model.parameters())
            assert count == parameter_count(ops, num_classes=classes)
            assert round(count / 1e6, 6) == pytest.approx(record["params"]["score"], abs=1e-6), (dataset, key)
    model = NB201Space().build_model(NB201Space().validate(EXAMPLE), cells_per_stage=1)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    options = NB201Space().network_options(channels=8, layers=2, in_channels=1, num_classes=3)
    assert options == {"channels": 8, "cells_per_stage": 2, "in_channels": 1, "num_classes": 3}


# -- loaders and benchmarks ------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir():
    return shared_file("nb201/nb201_cifar10_200ep_test.json").parent


@pytest.fixture(scope="module")
def cifar10(data_dir):
    return nb201_benchmark("cifar10", data=data_dir)


def test_json_loader_keeps_every_record(data_dir):
    results = load_nb201_json(data_dir / "nb201_cifar10_200ep_test.json")
    assert len(results.table) == 15625 and len(results) == 6985 and results.fidelities == [200]
    first = results.table.iloc[1]
    assert first["hash"] == EXAMPLE and first["test_accuracy"] == pytest.approx(0.9366)
    assert results.table["val_accuracy"].isna().all()
    assert results.table.groupby("hash").size().sum() == 15625


def test_mini_loader(data_dir):
    path = data_dir / "mini_nb201_12ep.pd"
    results = load_mini_nb201(path, "cifar100")
    row = results.table.iloc[1]
    assert row["hash"] == EXAMPLE and row["val_accuracy"] == pytest.approx(0.578)
    assert row["test_accuracy"] == pytest.approx(0.5826) and results.fidelities == [12]
    assert len(load_nb201(path, "imagenet16").table) == 15625
    with pytest.raises(ValueError, match="unknown mini-NB201 dataset 'svhn'"):
        load_mini_nb201(path, "svhn")


def test_format_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"archs": ["|none~0|"], "accuracies": [1.0]}')
    with pytest.raises(NB201FormatError, match="broken.json: 1 architectures, NB201 has 15625"):
        load_nb201_json(bad)
    bad.write_text("{not json")
    with pytest.raises(NB201FormatError, match="broken.json: not a readable JSON file"):
        load_nb201_json(bad)
    evil = tmp_path / "evil.pd"
    # os.system, not print: Ray's tqdm patches builtins.print once a Ray test ran in the session
    evil.write_bytes(pickle.dumps(os.system))
    with pytest.raises(NB201FormatError, match=r"evil.pd: not a mini-NB201 pandas pickle.*posix\.system"):
        load_mini_nb201(evil)
    frame = tmp_path / "frame.pd"
    pd.DataFrame({"cellstr": [EXAMPLE]}).to_pickle(frame)
    with pytest.raises(NB201FormatError, match=r"frame.pd: lacks columns \['cifar10-val', 'cifar10-test'\]"):
        load_mini_nb201(frame)


def test_missing_data_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_VARIABLE, raising=False)
    with pytest.raises(NB201DataMissing, match=f"set {DATA_VARIABLE} to the folder"):
        nf.load_benchmark("nb201-cifar10")
    monkeypatch.setenv(DATA_VARIABLE, str(tmp_path))
    with pytest.raises(NB201DataMissing, match="file missing: .*mini_nb201_12ep.pd"):
        nf.load_benchmark("nb201-cifar100-12ep")


def test_benchmark_answers_records_exactly(cifar10, data_dir):
    raw = json.loads((data_dir / "nb201_cifar10_200ep_test.json").read_text())
    by_string = dict(zip(raw["archs"], raw["accuracies"]))
    # a class of one spelling answers its record; a class of several the mean of theirs
    single = cifar10.query([EXAMPLE])
    assert single.test_accuracy[0] == pytest.approx(by_string[EXAMPLE] / 100)
    ops = spelled(e01="nor_conv_1x1", e02="avg_pool_3x3", e13="nor_conv_3x3", e23="nor_conv_1x1")
    spellings = [to_string(o) for o in ALL if NB201Cell(o) == NB201Cell(ops)]
    assert len(spellings) > 1 and to_string(tuple(ops[p] for p in SWAP)) in spellings
    expected = np.mean([by_string[s] for s in spellings]) / 100
    assert cifar10.query([ops]).val_accuracy[0] == pytest.approx(expected)
    noisy = cifar10.query([ops] * 50, noise=True, seed=0).test_accuracy
    assert set(np.round(noisy * 100, 6)) <= {round(by_string[s], 6) for s in spellings} and len(set(noisy)) > 1
    best, value = cifar10.optimum()
    assert value == pytest.approx(0.9437333333) and value == pytest.approx(max(raw["accuracies"]) / 100)
    assert best.to_string() == raw["archs"][int(np.argmax(raw["accuracies"]))]


def test_short_search_finds_a_good_cell(cifar10):
    runs = [nf.run_search(nf.make_searcher("evolution", cifar10.space, seed=s), cifar10, budget=100, seed=s)
            for s in range(3)]
    best = [cifar10.query([NB201Space().validate(json.loads(r.best()["arch"]))]).val_accuracy[0] for r in runs]
    assert all(0.92 < b <= cifar10.optimum()[1] for b in best)
