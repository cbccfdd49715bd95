"""The categorical view of every space: decisions, spellings, round trips, invalid spellings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nasframe as nf
from nasframe.core import SPACES as REGISTERED_SPACES, InvalidArchitecture
from search_spaces.darts.genotype import DARTSGenotype
from search_spaces.enas.space import ENASSpace
from search_spaces.nbgraph.space import NBGraphSpace

#: every registered space (nb301 is the DARTS space under NB301's name) plus non-default configurations
SPACES = {name: nf.load_space(name) for name in REGISTERED_SPACES.names()}
SPACES["enas12"] = ENASSpace(num_layers=12)
SPACES["nbgraph-proteins"] = NBGraphSpace(op_set="proteins")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spellings(space):
    return st.tuples(*(st.integers(0, k - 1) for _, k in space.decisions())).map(list)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_decisions_are_fixed_named_and_categorical(name):
    space = SPACES[name]
    decisions = space.decisions()
    assert decisions == space.decisions()
    names = [n for n, _ in decisions]
    assert len(set(names)) == len(names)
    assert all(isinstance(k, int) and k >= 2 for _, k in decisions)


def test_decision_counts_per_space():
    counts = {name: [k for _, k in SPACES[name].decisions()] for name in SPACES}
    assert counts["nb101"] == [2] * 21 + [3] * 5
    assert len(counts["darts"]) == 22 and sorted(set(counts["darts"])) == [3, 6, 7, 10]
    assert counts["enas"] == [6, 6, 2, 6, 2, 2, 6, 2, 2, 2, 6, 2, 2, 2, 2, 6, 2, 2, 2, 2, 2]
    assert len(counts["enas12"]) == 12 + 66
    assert counts["nbgraph"] == [9, 2, 9, 3, 9, 4, 9]
    assert counts["nbgraph-proteins"] == [5, 2, 5, 3, 5, 4, 5]
    assert counts["mnas"] == [3, 2, 3, 2] * 5 + [3, 2, 4, 2] + [3, 2, 3, 2]
    assert [n for n, _ in SPACES["mnas"].decisions()][:4] == ["block0_e", "block0_k", "block0_l", "block0_se"]


@pytest.mark.parametrize("name", sorted(SPACES))
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_sampled_architectures_round_trip(name, seed):
    space = SPACES[name]
    arch = space.sample(np.random.default_rng(seed), 1)[0]
    choices = space.to_choices(arch)
    assert len(choices) == len(space.decisions())
    assert all(type(c) is int for c in choices)
    again = space.from_choices(choices)
    assert again == arch and space.canonical_hash(again) == space.canonical_hash(arch)
    assert space.to_choices(again) == choices  # the spelling of an architecture is deterministic


@pytest.mark.parametrize("name", sorted(SPACES))
@SETTINGS
@given(data=st.data())
def test_any_valid_spelling_round_trips(name, data):
    space = SPACES[name]
    choices = data.draw(spellings(space))
    try:
        arch = space.from_choices(choices)
    except InvalidArchitecture:
        assume(False)
    assert space.from_choices(space.to_choices(arch)) == arch
    assert space.from_json(arch.to_json()) == arch


@pytest.mark.parametrize("name", ["darts", "enas", "enas12", "mnas", "nbgraph"])
def test_spaces_without_invalid_combinations_accept_every_spelling(name):
    space = SPACES[name]
    rng = np.random.default_rng(0)
    for _ in range(200):
        choices = [int(rng.integers(k)) for _, k in space.decisions()]
        if name == "nbgraph" and all(c == 8 for c in choices[::2]):
            continue  # all skip: see the invalid test
        arch = space.from_choices(choices)
        assert space.validate(arch) == arch and space.from_choices(space.to_choices(arch)) == arch, choices
        if name not in ("darts", "nbgraph"):  # one spelling per architecture (darts and nbgraph canonicalise)
            assert space.to_choices(arch) == choices, (choices, space.to_choices(arch))


def test_nb101_invalid_spellings_name_the_rule():
    space = SPACES["nb101"]
    ops = [0] * 5
    with pytest.raises(InvalidArchitecture, match="input and output are disconnected"):
        space.from_choices([0] * 21 + ops)
    with pytest.raises(InvalidArchitecture, match="at most 9 edges"):
        space.from_choices([1] * 21 + ops)
    # 10 edges before pruning, 9 after (vertex 5 is off every path): valid, like any spec
    matrix = np.zeros((7, 7), dtype=int)
    for s, d in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 6), (0, 6), (0, 2), (1, 3), (2, 4), (0, 5)]:
        matrix[s, d] = 1
    cell = space.from_choices(matrix[np.triu_indices(7, 1)].tolist() + ops)
    assert cell.num_edges == 9 and cell.num_vertices == 6


def test_nb101_padding_vertices_are_isolated():
    space = SPACES["nb101"]
    cell = space.validate({"matrix": [[0, 1, 0], [0, 0, 1], [0, 0, 0]], "ops": ["input", "maxpool3x3", "output"]})
    choices = space.to_choices(cell)
    assert sum(choices[:21]) == 2 and choices[21:] == [2, 0, 0, 0, 0]
    assert space.from_choices(choices) == cell


def test_nbgraph_all_skip_is_invalid():
    space = SPACES["nbgraph"]
    with pytest.raises(InvalidArchitecture, match="at least one operation is not 'skip'"):
        space.from_choices([8, 0, 8, 1, 8, 2, 8])
    proteins = SPACES["nbgraph-proteins"]
    with pytest.raises(InvalidArchitecture, match="not 'skip'"):
        proteins.from_choices([4, 1, 4, 0, 4, 3, 4])
    # relabelled spellings give the benchmark's representative
    arch = space.from_choices([1, 0, 0, 1, 4, 2, 7])  # node 2 and node 3 read the input
    assert space.from_choices(space.to_choices(arch)) == arch


def test_darts_inputs_are_an_unordered_pair_and_ops_follow_them():
    space = SPACES["darts"]
    genotype = DARTSGenotype(
        normal=[("sep_conv_3x3", 1), ("skip_connect", 0), ("dil_conv_5x5", 2), ("max_pool_3x3", 0),
                ("avg_pool_3x3", 3), ("sep_conv_5x5", 1), ("skip_connect", 4), ("sep_conv_3x3", 2)],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1)] * 4,
    )
    choices = space.to_choices(genotype)
    assert space.from_choices(choices) == genotype
    names = dict(zip((n for n, _ in space.decisions()), choices))
    # node 3 reads 0 and 2: the pair (0, 2) is option 1 of ("0_1", "0_2", "1_2")
    assert names["inputs_node_normal_3"] == 1
    # the op on the lower input (0) then on the higher one (2)
    assert (names["op_normal_3_a"], names["op_normal_3_b"]) == (0, 6)
    assert "inputs_node_normal_2" not in names  # node 2 always reads 0 and 1


def test_enas_spelling_is_the_flat_fixed_arc():
    space = SPACES["enas"]
    arch = space.validate("[[4], [2, 0], [5, 1, 0], [0, 0, 0, 1], [3, 1, 1, 0, 0], [1, 0, 0, 0, 0, 1]]")
    assert " ".join(map(str, space.to_choices(arch))) == arch.to_fixed_arc()


@pytest.mark.parametrize("name", ["nb101", "darts", "enas", "nbgraph", "mnas"])
def test_wrong_length_or_range_is_a_value_error(name):
    space = SPACES[name]
    choices = space.to_choices(space.sample(np.random.default_rng(1), 1)[0])
    with pytest.raises(ValueError, match=f"takes {len(choices)} choices, got {len(choices) - 1}"):
        space.from_choices(choices[:-1])
    first, options = space.decisions()[0]
    with pytest.raises(ValueError, match=f"choice {first!r} must be in 0..{options - 1}, got {options}") as info:
        space.from_choices([options] + choices[1:])
    assert not isinstance(info.value, InvalidArchitecture)  # a malformed spelling, not a broken rule
    with pytest.raises(ValueError, match="must be an integer"):
        space.from_choices([0.5] + choices[1:])
    with pytest.raises(ValueError, match="must be an integer"):
        space.from_choices([True] + choices[1:])
    with pytest.raises(ValueError, match="sequence of"):
        space.from_choices("0" * len(choices))
    assert space.from_choices(np.array(choices)) == space.from_choices(choices)


def test_search_space_base_requires_the_view():
    from nasframe.core import SearchSpace

    missing = SearchSpace.__abstractmethods__
    assert {"decisions", "to_choices", "from_choices"} <= missing
