"""NB101 space: validation rules, hash fidelity, local moves, encodings, graphs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasframe as nf
from nasframe.core import InvalidArchitecture
from search_spaces.nb101 import OPS, NB101Cell
from search_spaces.nb101.graph_util import official_hash
from search_spaces.nb101.space import NB101Space, padded
from tests.conftest import shared_file

SPACE = NB101Space()
seeds = st.integers(0, 2**32 - 1)


def _cells(seed: int, n: int = 1) -> list[NB101Cell]:
    return SPACE.sample(np.random.default_rng(seed), n)


def test_registry_returns_the_space():
    assert isinstance(nf.load_space("nb101"), NB101Space)
    assert SPACE.size() == 423_624


def test_hash_matches_all_real_keys():
    data = json.loads(shared_file("nb101/nb101_1k_with_specs.json").read_text())
    cells = [NB101Cell.from_codes(a, o) for a, o in zip(data["adjacency"], data["operations"])]
    assert [c.canonical_key() for c in cells] == data["key"]
    fresh = [NB101Cell.from_codes(a, o) for a, o in zip(data["adjacency"], data["operations"])]
    assert SPACE.canonical_hashes(fresh) == data["key"]


@settings(max_examples=60, deadline=None)
@given(seed=seeds)
def test_hash_invariant_under_vertex_relabelling(seed):
    rng = np.random.default_rng(seed)
    cell = _cells(seed)[0]
    n = cell.num_vertices
    perm = np.concatenate([[0], 1 + rng.permutation(n - 2), [n - 1]])
    matrix = cell.adjacency()[np.ix_(perm, perm)]
    labels = [cell.labels[i] for i in perm]
    assert official_hash(matrix, labels) == cell.canonical_key()
    # when the relabelling keeps the matrix upper triangular it is a valid spec of the same cell
    if not np.tril(matrix).any():
        assert NB101Cell(tuple(map(tuple, matrix)), tuple(cell.ops[i] for i in perm)) == cell


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_sample_mutate_neighbours_are_valid_and_pruned(seed):
    rng = np.random.default_rng(seed)
    cell = _cells(seed)[0]
    child = SPACE.mutate(cell, rng)
    neighbours = SPACE.neighbors(cell)
    assert child != cell
    assert cell not in neighbours
    assert len({n.canonical_key() for n in neighbours}) == len(neighbours)
    for c in [cell, child, *neighbours]:
        # re-validating a stored cell is the identity: it is already pruned and legal
        again = NB101Cell(c.matrix, c.ops)
        assert again.matrix == c.matrix and again.ops == c.ops
        assert c.num_vertices <= 7 and c.num_edges <= 9


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_json_round_trip_is_identity(seed):
    cell = _cells(seed)[0]
    text = json.dumps(cell.to_json())
    back = SPACE.from_json(json.loads(text))
    assert back == cell and back.matrix == cell.matrix and back.ops == cell.ops


def test_pruning_removes_dangling_vertices():
    matrix = np.zeros((5, 5), dtype=int)
    matrix[0, 1] = matrix[1, 4] = 1  # the path input -> 1 -> output
    matrix[0, 2] = 1  # 2 has no way to the output
    matrix[3, 4] = 1  # 3 has no way from the input
    cell = NB101Cell(tuple(map(tuple, matrix)), ("input", OPS[0], OPS[1], OPS[2], "output"))
    assert cell.ops == ("input", OPS[0], "output")
    assert cell.matrix == ((0, 1, 0), (0, 0, 1), (0, 0, 0))


@pytest.mark.parametrize(
    "matrix, ops, rule",
    [
        ([[0, 1], [0, 0], [0, 0]], ["input", "output"], "square"),
        ([[0, 2], [0, 0]], ["input", "output"], "0 or 1"),
        ([[0, 1], [1, 0]], ["input", "output"], "upper triangular"),
        ([[0, 1], [0, 0]], ["input"], "one operation per vertex"),
        ([[0, 1], [0, 0]], ["output", "input"], "first op must be 'input'"),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv7x7", "output"], "unknown operation"),
        ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", OPS[0], "output"], "disconnected"),
        (np.triu(np.ones((8, 8), int), 1), ["input"] + [OPS[0]] * 6 + ["output"], "at most 7 vertices"),
        (np.triu(np.ones((7, 7), int), 1), ["input"] + [OPS[0]] * 5 + ["output"], "at most 9 edges"),
    ],
)
def test_invalid_cells_name_the_rule(matrix, ops, rule):
    with pytest.raises(nf.InvalidArchitecture, match=rule):
        SPACE.validate({"matrix": np.asarray(matrix).tolist(), "ops": ops})


def test_validate_accepts_official_codes_with_padding():
    adjacency = np.zeros((7, 7))
    adjacency[0, 1] = adjacency[1, 2] = 1
    cell = SPACE.validate({"adjacency": adjacency.tolist(), "operations": [-1, 2, -2, -3, -3, -3, -3]})
    assert cell.ops == ("input", "maxpool3x3", "output")
    with pytest.raises(nf.InvalidArchitecture, match="unknown operation code"):
        SPACE.validate({"adjacency": adjacency.tolist(), "operations": [-1, 7, -2, -3, -3, -3, -3]})
    with pytest.raises(nf.InvalidArchitecture, match="needs 'matrix' and 'ops'"):
        SPACE.validate({"adj": 1})


def test_padding_keeps_output_last():
    cell = NB101Cell(((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", OPS[2], "output"))
    matrix, ops = padded(cell)
    assert matrix.shape == (7, 7) and matrix[0, 1] == 1 and matrix[1, 6] == 1
    assert ops == ["input", OPS[2], None, None, None, None, "output"]


def test_encodings_have_fixed_width_and_known_values():
    chain = NB101Cell(((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", OPS[1], "output"))
    skip = NB101Cell(((0, 1), (0, 0)), ("input", "output"))
    adjacency = SPACE.encode([chain, skip], "adjacency")
    assert adjacency.shape == (2, 36)
    assert adjacency[0].sum() == 3  # two edges + one op
    paths = SPACE.encode([chain, skip], "path")
    assert paths.shape == (2, 364)
    assert paths[0].nonzero()[0].tolist() == [1 + 1]  # the length-1 path through conv1x1 (label 1)
    assert paths[1].nonzero()[0].tolist() == [0]  # the empty path input -> output
    with pytest.raises(ValueError, match="unknown encoding"):
        SPACE.encode([chain], "nope")


def test_graph_batch_counts():
    cells = _cells(3, 5)
    batch = SPACE.to_graph(cells)
    assert batch.num_graphs == 5
    assert batch.x.shape == (sum(c.num_vertices for c in cells), 5)
    assert batch.edge_index.shape[1] == sum(c.num_edges for c in cells)
    # edges stay inside their own graph
    assert (batch.batch[batch.edge_index[0]] == batch.batch[batch.edge_index[1]]).all()


def test_same_seed_same_samples():
    assert _cells(11, 20) == _cells(11, 20)


def test_larger_configuration_for_extrapolation():
    import torch

    large = NB101Space(max_vertices=8)
    cells = large.sample(np.random.default_rng(0), 300)
    assert all(c.num_vertices <= 8 and c.num_edges <= 9 for c in cells)
    chain = np.eye(8, k=1, dtype=int)
    chain[0, 2] = 1  # a chain of 6 ops with one skip: 8 vertices, 8 edges
    big = large.validate({"matrix": chain.tolist(), "ops": ["input", *OPS, *OPS, "output"]})
    assert big.num_vertices == 8 and big.limits == (8, 9)
    assert large.config() == {"sampling": "spec", "max_vertices": 8, "max_edges": 9}
    assert NB101Space().config() == {"sampling": "spec"}  # recorded configurations stay valid
    assert large.size() is None and "max_vertices=8" in repr(large)
    with pytest.raises(InvalidArchitecture, match="at most 7 vertices"):
        NB101Space().validate(big)
    with pytest.raises(InvalidArchitecture, match="at most 7 vertices"):
        NB101Space().from_json(big.to_json())
    assert large.from_json(big.to_json()) == big
    small = NB101Space().sample(np.random.default_rng(1), 5)
    assert [large.validate(c) for c in small] == small  # every NB101 cell is a cell of the larger space
    assert large.encode(cells[:3], "adjacency").shape == (3, 28 + 6 * 3)
    assert large.encode(cells[:3], "path").shape == (3, sum(3**k for k in range(7)))
    assert all(large.validate(large.mutate(big, np.random.default_rng(s))) for s in range(20))
    assert large.neighbors(big) and all(c.num_vertices <= 8 for c in large.neighbors(big))
    assert large.from_choices(large.to_choices(big)) == big
    assert large.to_graph([big]).num_nodes == 8
    net = large.build_model(big, stem_channels=8, num_stacks=1, cells_per_stack=1)
    assert net(torch.zeros(1, 3, 8, 8)).shape == (1, 10)
    with pytest.raises(ValueError, match="enumeration"):
        NB101Space(sampling="uniform", max_vertices=8)
