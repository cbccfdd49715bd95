"""ENAS macro space: the D-VAE data file, forms and round trips, rules, moves, features, graphs."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasframe as nf
from search_spaces.enas import (
    NODE_TYPES,
    OPS,
    DVAEFormatError,
    ENASArch,
    ENASSpace,
    dvae_split,
    format_dvae_line,
    parse_dvae_line,
    read_dvae_file,
    write_dvae_file,
)
from tests.conftest import shared_file

DATA = "enas/enas6_dvae_weight_sharing.txt"
SPACE = ENASSpace()
seeds = st.integers(0, 2**32 - 1)
layer_counts = st.integers(1, 12)
#: the first line of the real file
FIRST = "[[1], [4, 0], [5, 0, 0], [0, 1, 1, 1], [2, 1, 1, 1, 1], [3, 0, 0, 0, 0, 1]]"


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    return shared_file(DATA).read_text().splitlines()


@pytest.fixture(scope="module")
def real_records():
    return read_dvae_file(shared_file(DATA), num_layers=6)


def _one(seed: int, num_layers: int = 6) -> ENASArch:
    return ENASSpace(num_layers).sample(np.random.default_rng(seed), 1)[0]


def _dvae_edges(row: list[list[int]]) -> set[tuple[int, int]]:
    """The edge rule of D-VAE's ``decode_ENAS_to_igraph``, restated as an oracle."""
    edges = set()
    for i, node in enumerate(row):
        edges.add((i, i + 1))
        edges |= {(j, i + 1) for j, bit in enumerate(node[1:]) if bit == 1}
    edges.add((len(row), len(row) + 1))
    return edges


# -- registry and size --------------------------------------------------------------


def test_registry_and_size():
    assert isinstance(nf.load_space("enas"), ENASSpace)
    twelve = nf.load_space("enas", num_layers=12)
    assert twelve.num_layers == 12 and nf.load_space("enas", **twelve.config()).config() == {"num_layers": 12}
    assert repr(twelve) == "ENASSpace(num_layers=12)"
    assert SPACE.size() == 6**6 * 2**15 == 1_528_823_808
    for n in range(1, 13):
        assert ENASSpace(n).size() == 6**n * 2 ** (n * (n - 1) // 2)
    for bad in (0, -1, 2.0, True, "6"):
        with pytest.raises(ValueError, match="num_layers must be an integer >= 1"):
            ENASSpace(bad)


def test_one_layer_space_is_enumerable():
    space = ENASSpace(1)
    archs = space.sample(np.random.default_rng(0), 200)
    assert {a.to_dvae() for a in archs} == {f"[[{op}]]" for op in range(6)} and space.size() == 6


# -- the real D-VAE file ---------------------------------------------------------------


@pytest.mark.shared_data
def test_every_real_line_parses_and_writes_back_identically(real_lines, real_records):
    assert len(real_lines) == len(real_records) == 20_020
    for line, (arch, accuracy) in zip(real_lines, real_records):
        row, acc_text = line.rsplit(", ", 1)
        assert arch.num_layers == 6
        assert arch.to_dvae() == row == arch.canonical_key()
        assert ENASArch.from_dvae(row) == arch
        assert accuracy == float(acc_text)
        assert format_dvae_line(arch, accuracy) == line
    assert real_records[0].arch.to_dvae() == FIRST
    # a few architectures were sampled twice; the canonical key sees exactly those
    assert len({r.arch for r in real_records}) == len(set(line.rsplit(", ", 1)[0] for line in real_lines))


@pytest.mark.shared_data
def test_real_file_round_trips_byte_for_byte(tmp_path, real_records):
    out = write_dvae_file(tmp_path / "copy.txt", real_records)
    assert out.read_bytes() == shared_file(DATA).read_bytes()
    assert read_dvae_file(out) == real_records
    assert [p.name for p in tmp_path.iterdir()] == ["copy.txt"]  # no temporary file left behind


@pytest.mark.shared_data
def test_dvae_split_sizes_and_protocol(real_records):
    train, test = dvae_split(real_records)
    assert (len(train), len(test)) == (17_118, 1_902)
    kept = real_records[1000:]
    assert sorted(map(id, train + test)) == sorted(map(id, kept))  # a partition of lines 1001..20020
    # D-VAE's load_ENAS_graphs: random.Random(0).shuffle the post-burn-in list, first int(0.9 n) train
    order = list(range(len(kept)))
    random.Random(0).shuffle(order)
    assert [id(r) for r in train] == [id(kept[i]) for i in order[:17_118]]
    again, _ = dvae_split(real_records, seed=0)
    other, _ = dvae_split(real_records, seed=1)
    assert [id(r) for r in again] == [id(r) for r in train] != [id(r) for r in other]


def test_dvae_split_arguments():
    records = list(range(1100))
    train, test = dvae_split(records, burn_in=100, train_fraction=0.5)
    assert len(train) == len(test) == 500 and set(train + test) == set(range(100, 1100))
    with pytest.raises(ValueError, match="burn_in"):
        dvae_split(list(range(10)))
    with pytest.raises(ValueError, match="train_fraction"):
        dvae_split(records, train_fraction=1.5)


# -- malformed files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("[[1], [4, 0]] 0.73", "not '<row list>, <accuracy>'"),
        ("[[1], [4, 0]], 0.73, 1", "found 3 top-level items"),
        ("[[1], [4, 0]]", "found 1 top-level items"),
        ("[[1], [4, 0]], NaN", "accuracy must be a finite number"),
        ("[[1], [4, 0]], \"0.7\"", "accuracy must be a finite number"),
        ("[[1], [4, 0, 1]], 0.7", "layer i has exactly i skip bits"),
        ("[[6], [4, 0]], 0.7", "op ids are integers 0..5"),
        ("[[1], [4, 2]], 0.7", "skip bits are 0 or 1"),
        ("[[1], []], 0.7", "starts with the layer's op id"),
        ("[[1], 4], 0.7", "a D-VAE row is a list"),
        ("eval('x'), 0.7", "not '<row list>, <accuracy>'"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad, reason):
    path = tmp_path / "data.txt"
    path.write_text(f"{FIRST}, 0.7\n{FIRST}, 0.71\n{bad}\n{FIRST}, 0.72\n")
    with pytest.raises(DVAEFormatError, match=reason) as info:
        read_dvae_file(path)
    assert (info.value.path, info.value.line) == (str(path), 3)
    assert str(info.value).startswith(f"{path}, line 3: ")


def test_file_level_format_errors(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text(f"{FIRST}, 0.7\n\n{FIRST}, 0.71\n")
    with pytest.raises(DVAEFormatError, match="line 2: blank line before the end"):
        read_dvae_file(path)
    path.write_text(f"{FIRST}, 0.7\r\n{FIRST}, 0.71\n\n  \n")  # CRLF and trailing blank lines are fine
    assert [r.accuracy for r in read_dvae_file(path)] == [0.7, 0.71]
    twelve = ENASSpace(12).sample(np.random.default_rng(0), 1)[0]
    path.write_text(f"{twelve.to_dvae()}, 0.6\n{FIRST}, 0.7\n")
    with pytest.raises(DVAEFormatError, match="line 2: expected 12 layers, found 6"):
        read_dvae_file(path, num_layers=12)
    path.write_bytes(f"{FIRST}, 0.7\n".encode() + b"\xff\xfe, 0.7\n")
    with pytest.raises(DVAEFormatError, match="line 2: not UTF-8"):
        read_dvae_file(path)
    path.write_text("\n")
    with pytest.raises(DVAEFormatError, match="empty file"):
        read_dvae_file(path)
    with pytest.raises(DVAEFormatError, match="<string>, line 1: "):
        parse_dvae_line("[[9]], 0.5")


def test_write_rejects_bad_accuracy_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    arch = ENASArch.from_dvae(FIRST)
    write_dvae_file(path, [(arch, 0.5)])
    with pytest.raises(ValueError, match="accuracy must be finite"):
        write_dvae_file(path, [(arch, 0.6), (arch, float("nan"))])
    assert path.read_text() == f"{FIRST}, 0.5\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


# -- forms, round trips, identity ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=seeds, n=layer_counts)
def test_every_form_round_trips(seed, n):
    space = ENASSpace(n)
    arch = _one(seed, n)
    back = space.from_json(json.loads(json.dumps(arch.to_json())))
    assert back == arch and (back.ops, back.skips) == (arch.ops, arch.skips)
    assert space.validate(arch.to_dvae()) == arch
    assert space.validate(arch.to_rows()) == arch
    assert space.validate(arch.to_fixed_arc()) == arch
    assert space.validate([int(v) for v in arch.to_fixed_arc().split()]) == arch
    assert space.validate(np.array([int(v) for v in arch.to_fixed_arc().split()])) == arch
    assert ENASArch.from_dvae(json.loads(arch.to_dvae())) == arch
    assert hash(back) == hash(arch) and len({arch, back}) == 1


def test_dvae_fixed_arc_strings_parse():
    # a D-VAE BO find as its fully_train_ENAS.py passes it to ENAS's --child_fixed_arc
    arch = SPACE.validate("5 4 0 2 0 1 5 1 0 0 5 1 0 1 0 2 0 0 0 1 0")
    assert arch.to_dvae() == "[[5], [4, 0], [2, 0, 1], [5, 1, 0, 0], [5, 1, 0, 1, 0], [2, 0, 0, 0, 1, 0]]"


def test_json_and_string_forms_are_as_documented():
    arch = ENASArch.from_dvae(FIRST)
    assert arch.to_json() == {
        "space": "enas",
        "ops": [1, 4, 5, 0, 2, 3],
        "skips": [[], [0], [0, 0], [1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0, 1]],
    }
    assert arch.to_fixed_arc() == "1 4 0 5 0 0 0 1 1 1 2 1 1 1 1 3 0 0 0 0 1"
    assert arch.skip_bits == (0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1)
    assert SPACE.canonical_hash(arch) == FIRST
    # numpy inputs and bool bits are normalised to plain ints
    same = ENASArch(np.array(arch.ops), [np.array(r, dtype=bool) for r in arch.skips])
    assert same == arch and all(type(v) is int for v in same.ops + same.skip_bits)


# -- validation rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, rule",
    [
        ("[[1], [4, 0]]", "this space has 6 layers"),
        (ENASArch((0,), ((),)), "this space has 6 layers"),
        ({"ops": [0], "skips": [[]]}, "this space has 6 layers"),
        (FIRST.replace("[5, 0, 0]", "[6, 0, 0]"), "op ids are integers 0..5"),
        (FIRST.replace("[5, 0, 0]", "[-1, 0, 0]"), "op ids are integers 0..5"),
        (FIRST.replace("[5, 0, 0]", "[true, 0, 0]"), "op ids are integers 0..5"),
        (FIRST.replace("[5, 0, 0]", "[5.0, 0, 0]"), "op ids are integers 0..5"),
        (FIRST.replace("[5, 0, 0]", "[5, 0]"), "layer i has exactly i skip bits"),
        (FIRST.replace("[5, 0, 0]", "[5, 0, 0, 1]"), "layer i has exactly i skip bits"),
        (FIRST.replace("[5, 0, 0]", "[5, 0, 2]"), "skip bits are 0 or 1"),
        (FIRST.replace("[5, 0, 0]", "[5, 0, 0.5]"), "skip bits are 0 or 1"),
        (FIRST.replace("[5, 0, 0]", "[]"), "starts with the layer's op id"),
        ("[[1], [4, 0]", "a D-VAE row string is a nested list"),
        ("1 4 0 5", "N\\(N\\+1\\)/2 integers"),
        ("1 4 x", "whitespace-separated integers"),
        ({"ops": [1], "skips": [[]], "extra": 1}, "exactly the keys 'ops' and 'skips'"),
        ({"ops": [1]}, "exactly the keys 'ops' and 'skips'"),
        ({"space": "nb101", "ops": [1], "skips": [[]]}, "JSON belongs to another space"),
        ({"ops": [1, 2], "skips": [[]]}, "one skip row per layer"),
        ({"ops": [], "skips": []}, "at least one layer"),
        ({"ops": "12", "skips": [[]]}, "ops is a sequence of op ids"),
        ({"ops": [1, 2], "skips": [[], "1"]}, "a skip row is a sequence of bits"),
        (3.5, "unrecognised spec form"),
    ],
)
def test_invalid_specs_name_the_rule(spec, rule):
    with pytest.raises(nf.InvalidArchitecture, match=rule) as info:
        SPACE.validate(spec)
    assert info.value.space == "enas"


def test_errors_name_the_layer():
    with pytest.raises(nf.InvalidArchitecture, match=r"layer 4, bit 2: 7"):
        ENASArch.from_dvae(FIRST.replace("[2, 1, 1, 1, 1]", "[2, 1, 1, 7, 1]"))
    with pytest.raises(nf.InvalidArchitecture, match=r"layer 2: 1 skip bits"):
        ENASArch.from_dvae(FIRST.replace("[5, 0, 0]", "[5, 0]"))


# -- sampling and local moves ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=seeds, n=layer_counts)
def test_sample_mutate_neighbours_are_valid(seed, n):
    space = ENASSpace(n)
    rng = np.random.default_rng(seed)
    arch = space.sample(rng, 1)[0]
    child = space.mutate(arch, rng)
    neighbours = space.neighbors(arch)
    assert len(neighbours) == 5 * n + n * (n - 1) // 2
    assert len(set(neighbours)) == len(neighbours) and arch not in neighbours
    assert child != arch and child in neighbours
    for other in [arch, child, *neighbours]:
        assert space.validate(other.to_json()) == other and other.num_layers == n
    for other in [child, *neighbours]:  # exactly one op or one bit differs
        changes = sum(a != b for a, b in zip(arch.ops, other.ops))
        changes += sum(a != b for a, b in zip(arch.skip_bits, other.skip_bits))
        assert changes == 1


def test_sampling_is_seeded_and_matches_its_distribution():
    twelve = ENASSpace(12)
    a = twelve.sample(np.random.default_rng(7), 400)
    assert a == twelve.sample(np.random.default_rng(7), 400) != twelve.sample(np.random.default_rng(8), 400)
    ops = np.array([x.ops for x in a]).ravel()
    bits = np.array([x.skip_bits for x in a]).ravel()
    assert np.allclose(np.bincount(ops, minlength=6) / ops.size, 1 / 6, atol=0.02)
    assert abs(bits.mean() - 0.5) < 0.02
    assert twelve.sample(np.random.default_rng(0), 0) == []


def test_mutation_reaches_every_neighbour():
    arch = ENASArch.from_dvae(FIRST)
    rng = np.random.default_rng(0)
    reached = {SPACE.mutate(arch, rng) for _ in range(2000)}
    assert reached == set(SPACE.neighbors(arch))


# -- graphs and encodings -------------------------------------------------------------------------


@pytest.mark.shared_data
def test_dag_follows_dvae(real_records):
    for arch, _ in real_records[:300]:
        dag = arch.to_dag()
        rows = json.loads(arch.to_dvae())
        assert dag.node_types == (0, *(row[0] + 2 for row in rows), 1)
        assert set(dag.edges) == _dvae_edges(rows) and len(dag.edges) == len(set(dag.edges))
        assert all(src < dst for src, dst in dag.edges)
    assert NODE_TYPES[:2] == ("input", "output") and NODE_TYPES[2:] == OPS


def test_dag_of_a_known_architecture():
    arch = ENASArch((4, 0, 5), ((), (1,), (0, 1)))
    # layer 1's bit 0 is the input; layer 2's bit 1 is layer 0 (node 1)
    assert arch.to_dag().edges == ((0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (3, 4))
    assert arch.to_dag().node_types == (0, 6, 2, 7, 1)
    assert [arch.layer_inputs(i) for i in range(3)] == [(0,), (0, 1), (1, 2)]


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=layer_counts)
def test_encodings_decode_back(seed, n):
    space = ENASSpace(n)
    archs = space.sample(np.random.default_rng(seed), 3)
    adjacency = space.encode(archs, "adjacency")
    string = space.encode(archs, "string")
    triangle = (n + 2) * (n + 1) // 2
    assert adjacency.shape == (3, triangle + 6 * n) and adjacency.dtype == np.float32
    assert string.shape == (3, 6 * n + n * (n - 1) // 2) and string.dtype == np.float32
    upper = np.triu_indices(n + 2, k=1)
    for row, arch in enumerate(archs):
        assert np.array_equal(adjacency[row, :triangle], arch.to_dag().adjacency()[upper])
        assert adjacency[row, triangle:].reshape(n, 6).argmax(1).tolist() == list(arch.ops)
        expected = [v for op, bits in zip(arch.ops, arch.skips) for v in (*np.eye(6)[op], *bits)]
        assert string[row].tolist() == expected
    assert np.array_equal(space.encode(archs), adjacency)  # adjacency is the default


@pytest.mark.shared_data
def test_encodings_on_real_data_are_distinct_and_deterministic(real_records):
    archs = [r.arch for r in real_records]
    for kind, width in (("adjacency", 64), ("string", 51)):
        features = SPACE.encode(archs, kind)
        assert features.shape == (20_020, width)
        assert len(np.unique(features, axis=0)) == len(set(archs))
        assert np.array_equal(features, SPACE.encode(archs, kind))
    assert SPACE.encode([], "string").shape == (0, 51)
    with pytest.raises(ValueError, match="unknown encoding 'path'"):
        SPACE.encode(archs[:1], "path")
    with pytest.raises(nf.InvalidArchitecture, match="this space has 6 layers"):
        SPACE.encode([_one(0, 5)])


def test_pyg_batch_counts():
    archs = [_one(seed, n) for seed, n in ((0, 6), (1, 6), (2, 6))]
    batch = SPACE.to_graph(archs)
    assert batch.num_graphs == 3
    assert batch.x.shape == (3 * 8, len(NODE_TYPES)) and batch.x.sum(1).eq(1).all()
    assert batch.edge_index.shape[1] == sum(7 + sum(a.skip_bits) for a in archs)
    assert batch.batch.bincount().tolist() == [8, 8, 8]
    assert batch.node_type[:8].tolist() == list(archs[0].to_dag().node_types)
    # edges stay inside their graph
    graph_of = batch.batch[batch.edge_index]
    assert (graph_of[0] == graph_of[1]).all()
    twelve = ENASSpace(12)
    big = twelve.to_graph(twelve.sample(np.random.default_rng(0), 4))
    assert big.num_nodes == 4 * 14
