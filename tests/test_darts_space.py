"""DARTS / NB301 space: canonical form, validation rules, conversions, moves, features."""

from __future__ import annotations

import ast
import itertools
import json
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasframe as nf
from search_spaces.darts import (
    NB301_PREFIX,
    OPS,
    DARTSGenotype,
    DARTSSpace,
    count_cells,
    count_labelled_cells,
    from_darts_genotype,
    from_naslib_compact,
    from_nb301_config,
    parse_genotype_string,
    to_genotype_string,
    to_naslib_compact,
    to_nb301_config,
)
from search_spaces.darts.genotype import NODES, canonical_nodes
from tests.conftest import shared_file

SPACE = DARTSSpace()
seeds = st.integers(0, 2**32 - 1)
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)
#: a chain 2 -> 3 -> 4 -> 5 has one spelling; used where a test needs a fixed reduce cell
CHAIN = (("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 1), ("dil_conv_3x3", 2),
         ("avg_pool_3x3", 0), ("sep_conv_5x5", 3), ("max_pool_3x3", 1), ("dil_conv_5x5", 4))


def _one(seed: int) -> DARTSGenotype:
    return SPACE.sample(np.random.default_rng(seed), 1)[0]


def _renumbered(cell, rng: np.random.Generator):
    """The cell spelt with its nodes renumbered by a random valid order and edges swapped."""
    nodes = [list(cell[2 * v : 2 * v + 2]) for v in range(4)]
    orders = [
        order for order in itertools.permutations(range(4))
        if all(s < 2 or order.index(s - 2) < order.index(v) for v in range(4) for _, s in nodes[v])
    ]
    order = orders[rng.integers(len(orders))]
    new_id = {0: 0, 1: 1, **{old + 2: new + 2 for new, old in enumerate(order)}}
    spelt = []
    for old in order:
        edges = [(op, new_id[s]) for op, s in nodes[old]]
        spelt += edges[::-1] if rng.random() < 0.5 else edges
    return tuple(spelt)


# -- registry and size ---------------------------------------------------------


def test_registry_returns_the_space_under_both_names():
    assert isinstance(nf.load_space("darts"), DARTSSpace)
    assert isinstance(nf.load_space("nb301"), DARTSSpace)


def test_size_counts_distinct_architectures():
    assert count_cells() == 382_128_166
    assert SPACE.size() == 382_128_166**2
    # NB301's "~10^18" counts spellings: pairs of inputs and ops per node
    assert count_labelled_cells() == 1 * 3 * 6 * 10 * 49**4
    assert 1.0e18 < count_labelled_cells() ** 2 < 1.1e18


def test_cell_count_formula_matches_enumeration_with_two_ops():
    """Every cell over two ops, canonicalised: as many classes as the Burnside count says."""
    pairs = [list(itertools.combinations(range(k), 2)) for k in NODES]
    classes = set()
    for structure in itertools.product(*pairs):
        sources = [s for pair in structure for s in pair]
        for ops in itertools.product(range(2), repeat=8):
            classes.add(canonical_nodes(list(zip(sources, ops))))
    assert len(classes) == count_cells(2) == 17_531


# -- canonical form --------------------------------------------------------------


def test_swapped_inputs_are_equal():
    swapped = tuple(e for v in range(4) for e in (CHAIN[2 * v + 1], CHAIN[2 * v]))
    assert DARTSGenotype(CHAIN, CHAIN) == DARTSGenotype(swapped, swapped)
    assert DARTSGenotype(CHAIN, CHAIN).normal == DARTSGenotype(swapped, CHAIN).normal


def test_renumbered_nodes_are_equal_and_distinct_cells_are_not():
    # nodes 2 and 3 exchanged: node 4 reads the other one, so the renumbering is valid
    a = (("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 0), ("dil_conv_3x3", 1),
         ("avg_pool_3x3", 2), ("sep_conv_5x5", 3), ("skip_connect", 0), ("sep_conv_3x3", 4))
    b = (("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 1),
         ("avg_pool_3x3", 3), ("sep_conv_5x5", 2), ("skip_connect", 0), ("sep_conv_3x3", 4))
    assert DARTSGenotype(a, CHAIN) == DARTSGenotype(b, CHAIN)
    assert hash(DARTSGenotype(a, CHAIN)) == hash(DARTSGenotype(b, CHAIN))
    # the same ops with node 4 reading the *other* op's node is a different network
    c = a[:4] + (("avg_pool_3x3", 3), ("sep_conv_5x5", 2)) + a[6:]
    assert DARTSGenotype(a, CHAIN) != DARTSGenotype(c, CHAIN)
    # normal and reduce cells are not interchangeable
    assert DARTSGenotype(a, CHAIN) != DARTSGenotype(CHAIN, a)


@settings(max_examples=60, deadline=None)
@given(seed=seeds)
def test_every_valid_renumbering_gives_the_same_genotype(seed):
    rng = np.random.default_rng(seed)
    arch = _one(seed)
    other = DARTSGenotype(_renumbered(arch.normal, rng), _renumbered(arch.reduce, rng))
    assert other == arch
    assert (other.normal, other.reduce) == (arch.normal, arch.reduce)


def test_canonical_key_is_a_stable_compact_string():
    arch = parse_genotype_string(DARTS_V2)
    assert arch.canonical_key() == "0213.0313.0235.0313|0010.0022.1022.1022"
    assert SPACE.canonical_hash(arch) == arch.canonical_key()


# -- validation rules --------------------------------------------------------------


def _with_edge(position: int, edge) -> tuple:
    return CHAIN[:position] + (edge,) + CHAIN[position + 1 :]


@pytest.mark.parametrize(
    "normal, rule",
    [
        (_with_edge(3, ("dil_conv_3x3", 1)), "two inputs of a node must be distinct"),
        (_with_edge(2, ("skip_connect", 3)), "inputs must be earlier nodes"),
        (_with_edge(2, ("skip_connect", -1)), "inputs must be earlier nodes"),
        (_with_edge(0, ("conv_7x7", 0)), "unknown operation"),
        (_with_edge(0, ("none", 0)), "unknown operation"),
        (_with_edge(0, ("sep_conv_3x3", 0.0)), "integer node id"),
        (_with_edge(0, ("sep_conv_3x3",)), r"\(op, input\) pair"),
        (CHAIN[:6], "4 intermediate nodes with 2 inputs each"),
        (CHAIN + CHAIN[:2], "4 intermediate nodes with 2 inputs each"),
        ("sep_conv_3x3", "sequence of"),
    ],
)
def test_invalid_cells_name_the_rule(normal, rule):
    with pytest.raises(nf.InvalidArchitecture, match=rule) as info:
        DARTSGenotype(normal, CHAIN)
    assert info.value.space == "darts"


def test_errors_name_cell_and_node():
    with pytest.raises(nf.InvalidArchitecture, match="reduce cell, node 4"):
        DARTSGenotype(CHAIN, CHAIN[:4] + (("skip_connect", 5), CHAIN[5]) + CHAIN[6:])


# -- conversions ------------------------------------------------------------------------


def test_published_darts_v2_parses_in_every_spelling():
    arch = parse_genotype_string(DARTS_V2)
    assert parse_genotype_string(DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")) == arch
    assert parse_genotype_string("genotypes." + DARTS_V2) == arch
    positional = DARTS_V2.replace("normal=", "").replace("normal_concat=", "")
    positional = positional.replace("reduce=", "").replace("reduce_concat=", "")
    assert parse_genotype_string(positional) == arch
    Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")  # DARTS's type
    tuple_form = Genotype(
        normal=list(arch.normal),
        normal_concat=range(2, 6),
        reduce=list(arch.reduce),
        reduce_concat=[2, 3, 4, 5],
    )
    assert from_darts_genotype(tuple_form) == arch == SPACE.validate(tuple_form)


@pytest.mark.parametrize(
    "text, rule",
    [
        ("__import__('os').system('true')", "one Genotype"),
        ("DARTS = " + DARTS_V2, "one Genotype"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"), "concat must be"),
        (DARTS_V2.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=range(2, 7)"), "concat must be"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "(open('x'), 0)", 1), "must be literals"),
        (DARTS_V2.replace(", reduce_concat=[2, 3, 4, 5]", ""), "missing Genotype field"),
        (DARTS_V2.replace("normal_concat", "extra"), "unknown Genotype field"),
        (DARTS_V2.replace("'sep_conv_3x3', 0", "'sep_conv_3x3', 1", 1), "must be distinct"),
        ("Genotype(normal=[", "syntax error"),
    ],
)
def test_genotype_strings_are_parsed_not_evaluated(text, rule):
    with pytest.raises(nf.InvalidArchitecture, match=rule):
        parse_genotype_string(text)


def test_nb301_config_keys_follow_the_configspace():
    arch = DARTSGenotype(CHAIN, CHAIN)
    config = to_nb301_config(arch)
    assert all(k.startswith(NB301_PREFIX) for k in config)
    # node 2: edges 0, 1; node 3 from {1, 2}: edges 3, 4; node 4 from {0, 3}: 5, 8; node 5 from {1, 4}: 10, 13
    edges = sorted(int(k.rsplit("_", 1)[1]) for k in config if "edge_normal_" in k)
    assert edges == [0, 1, 3, 4, 5, 8, 10, 13]
    assert config[NB301_PREFIX + "edge_normal_4"] == "dil_conv_3x3"
    assert [config[f"{NB301_PREFIX}inputs_node_normal_{k}"] for k in (3, 4, 5)] == ["1_2", "0_3", "1_4"]
    assert len(config) == 2 * (8 + 3)


def test_nb301_config_accepts_bare_keys_and_ignores_training_hyperparameters():
    arch = _one(3)
    config = to_nb301_config(arch)
    bare = {k[len(NB301_PREFIX) :]: v for k, v in config.items()}
    assert from_nb301_config(bare) == arch
    full = {**config, NB301_PREFIX + "layers": 8, "OptimizerSelector:sgd:learning_rate": 0.025}
    assert from_nb301_config(full) == arch == SPACE.validate(full)


def _without(config: dict, suffix: str) -> dict:
    return {k: v for k, v in config.items() if not k.endswith(suffix)}


@pytest.mark.parametrize(
    "edit, rule",
    [
        (lambda c: {**c, "edge_normal_14": "skip_connect"}, "unknown NB301 configuration key"),
        (lambda c: {**c, "inputs_node_normal_2": "0_1"}, "unknown NB301 configuration key"),
        (lambda c: {**c, "foo": 1}, "unknown NB301 configuration key"),
        (lambda c: {**c, "Other:edge_normal_0": "skip_connect"}, "unknown NB301 configuration key"),
        (lambda c: {**c, "edge_normal_0": c[NB301_PREFIX + "edge_normal_0"]}, "given twice"),
        (lambda c: {**c, NB301_PREFIX + "edge_normal_2": "skip_connect"}, "inactive edge"),
        (lambda c: _without(c, "edge_reduce_13"), "missing .*edge_reduce_13"),
        (lambda c: _without(c, "inputs_node_reduce_4"), "missing .*inputs_node_reduce_4"),
        (lambda c: {**c, NB301_PREFIX + "inputs_node_normal_5": "1_1"}, "two distinct earlier nodes"),
        (lambda c: {**c, NB301_PREFIX + "inputs_node_normal_3": "0_3"}, "two distinct earlier nodes"),
        (lambda c: {**c, NB301_PREFIX + "inputs_node_normal_3": "01"}, "look like '0_1'"),
        (lambda c: {**c, NB301_PREFIX + "edge_normal_0": "conv"}, "unknown operation.*edge_normal_0"),
    ],
)
def test_bad_nb301_configs_name_the_field(edit, rule):
    config = to_nb301_config(DARTSGenotype(CHAIN, CHAIN))
    with pytest.raises(nf.InvalidArchitecture, match=rule):
        from_nb301_config(edit(config))


@settings(max_examples=50, deadline=None)
@given(seed=seeds)
def test_round_trips_are_identities(seed):
    arch = _one(seed)
    via_json = SPACE.from_json(json.loads(json.dumps(arch.to_json())))
    via_config = from_nb301_config(json.loads(json.dumps(to_nb301_config(arch))))
    via_string = parse_genotype_string(to_genotype_string(arch))
    via_compact = from_naslib_compact(str(to_naslib_compact(arch)))
    for back in (via_json, via_config, via_string, via_compact):
        assert back == arch and (back.normal, back.reduce) == (arch.normal, arch.reduce)
    assert to_nb301_config(via_config) == to_nb301_config(arch)
    assert to_genotype_string(via_string) == to_genotype_string(arch)


def test_validate_accepts_every_documented_form():
    arch = parse_genotype_string(DARTS_V2)
    as_dict = {"normal": arch.normal, "reduce": arch.reduce}
    for spec in (arch, DARTS_V2, to_nb301_config(arch), arch.to_json(), as_dict):
        assert SPACE.validate(spec) == arch
    with pytest.raises(nf.InvalidArchitecture, match="unrecognised spec form"):
        SPACE.validate(42)
    with pytest.raises(nf.InvalidArchitecture, match="another space"):
        SPACE.from_json({**arch.to_json(), "space": "nb101"})
    with pytest.raises(nf.InvalidArchitecture, match="exactly the keys"):
        SPACE.validate({"normal": arch.normal})


@pytest.mark.parametrize(
    "compact, rule",
    [
        ("[[(0, 0)]]", "two cells"),
        ("not a literal", "literal"),
        ([[(0, 0)] * 8, [(0, 0)] * 7], "8 .input, op. pairs"),
        ([[(0, 7)] + [(1, 0)] * 7, [(0, 0)] * 8], "op index"),
        ([[(0, 0), (0, 1)] + [(1, 0)] * 6, [(0, 0)] * 8], "must be distinct"),
    ],
)
def test_bad_naslib_compact_is_rejected(compact, rule):
    with pytest.raises(nf.InvalidArchitecture, match=rule):
        from_naslib_compact(compact)


def test_all_real_nb301_genotypes_parse():
    data = json.loads(shared_file("darts/naslib_zc_nasbench301.json").read_text())["cifar10"]
    archs = [from_naslib_compact(key) for key in data]
    assert len(archs) == len(data) == 725
    assert len(set(archs)) == 725
    # the compact form lists ops by NB301's ConfigSpace index, and every op occurs in both cells
    compact = np.array([ast.literal_eval(key) for key in data])
    assert set(np.unique(compact[..., 1])) == set(range(len(OPS)))
    # NASLib's random sampler: node k's inputs spread over all of 0..k-1
    for position in range(8):
        assert set(np.unique(compact[:, :, position, 0])) == set(range(position // 2 + 2))


# -- local moves ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_sample_mutate_neighbours_are_valid_and_distinct(seed):
    rng = np.random.default_rng(seed)
    arch = _one(seed)
    child = SPACE.mutate(arch, rng)
    neighbours = SPACE.neighbors(arch)
    assert child != arch
    assert child in neighbours
    assert arch not in neighbours
    assert len({n.canonical_key() for n in neighbours}) == len(neighbours) <= 120
    for a in [arch, child, *neighbours]:
        again = DARTSGenotype(a.normal, a.reduce)  # the stored form is already canonical
        assert (again.normal, again.reduce) == (a.normal, a.reduce)
    # a single edit changes exactly one cell
    assert child.normal == arch.normal or child.reduce == arch.reduce


def test_neighbour_count_of_a_chain_is_exact():
    # 2 cells x (8 edges x 6 other ops + input moves 0 + 2 + 4 + 6) and a chain has no symmetries
    assert len(SPACE.neighbors(DARTSGenotype(CHAIN, CHAIN))) == 2 * (48 + 12)


def test_same_seed_same_samples():
    a = SPACE.sample(np.random.default_rng(11), 20)
    assert a == SPACE.sample(np.random.default_rng(11), 20)
    assert len(set(a)) == 20


# -- features ---------------------------------------------------------------------------------


def test_encodings_have_fixed_width_and_known_values():
    archs = SPACE.sample(np.random.default_rng(5), 6)
    adjacency = SPACE.encode(archs)
    assert adjacency.shape == (6, 196) and adjacency.dtype == np.float32
    assert (adjacency.sum(axis=1) == 16).all()  # one op per present edge
    config = SPACE.encode(archs, "configspace")
    assert config.shape == (6, 234)
    assert (config.sum(axis=1) == 2 * (8 + 3)).all()  # active edges + three inputs_node choices
    paths = SPACE.encode(archs, "path")
    assert paths.shape == (6, 11_200)
    chain = SPACE.encode([DARTSGenotype(CHAIN, CHAIN)], "path")
    # chain: 2, 3, 4, 5 paths into nodes 2..5 per cell (node k reads a cell input and k - 1)
    assert chain.sum() == 2 * 14
    with pytest.raises(ValueError, match="unknown encoding"):
        SPACE.encode(archs, "nope")


def test_encodings_agree_on_equivalent_spellings():
    rng = np.random.default_rng(8)
    arch = _one(8)
    other = DARTSGenotype(_renumbered(arch.normal, rng), _renumbered(arch.reduce, rng))
    for kind in SPACE.encodings:
        assert (SPACE.encode([arch], kind) == SPACE.encode([other], kind)).all()


def test_graph_batch_counts():
    archs = SPACE.sample(np.random.default_rng(2), 4)
    batch = SPACE.to_graph(archs)
    assert batch.num_graphs == 4
    assert batch.x.shape == (4 * 30, 22)
    assert batch.edge_index.shape == (2, 4 * 40)
    assert (batch.batch[batch.edge_index[0]] == batch.batch[batch.edge_index[1]]).all()
    dag = SPACE.dag(archs[0])
    adjacency = dag.adjacency()
    assert not np.tril(adjacency).any()  # listed in topological order
    # every op node has one input and feeds one sum node; each cell's output reads 4 sums
    assert sorted(adjacency.sum(axis=0)[[14, 29]]) == [4, 4]


def test_network_options_translate_a_recipe_and_name_the_field_they_refuse():
    options = SPACE.network_options(channels=16, layers=5, in_channels=1, num_classes=7)
    assert options == {"init_channels": 16, "layers": 5, "in_channels": 1, "num_classes": 7}
    with pytest.raises(ValueError, match="field 'layers'=2"):
        SPACE.network_options(channels=16, layers=2, in_channels=3, num_classes=10)
