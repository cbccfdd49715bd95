"""NAS-Bench-Graph: canonical hash vs the package, enumeration, tables, space moves, network."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasframe.core import InvalidArchitecture
from search_spaces.nbgraph import (
    DATASETS,
    LINKS,
    OPS,
    PROTEINS_OPS,
    NBGraphArch,
    NBGraphSpace,
    decode_hash,
    enumerate_archs,
    valid_hash,
)
from search_spaces.nbgraph.arch import ALL_LINKS
from search_spaces.nbgraph.spellings import canonical_codes, from_raw

SPACE = NBGraphSpace()
PROTEINS = NBGraphSpace("proteins")
seeds = st.integers(0, 2**32 - 1)


@pytest.fixture(scope="module")
def package():
    import nas_bench_graph  # a dependency of nasframe

    return nas_bench_graph



# -- canonical hash -----------------------------------------------------------


def test_valid_hash_matches_the_package_on_every_raw_architecture(package):
    raw = 0
    for link in ALL_LINKS:
        for ops in itertools.product(OPS, repeat=4):
            if all(op == "skip" for op in ops):
                continue
            raw += 1
            assert valid_hash(link, ops) == package.Arch(list(link), list(ops)).valid_hash(), (link, ops)
    assert raw == 24 * (9**4 - 1)


def test_enumeration_is_exactly_the_benchmark_tables(package):
    archs = enumerate_archs()
    assert len(archs) == SPACE.size() == 26_206
    assert len({a.canonical_key() for a in archs}) == 26_206
    assert {a.hash for a in archs} == set(package.light_read("cora"))
    proteins = enumerate_archs("proteins")
    assert len(proteins) == PROTEINS.size() == 2_021
    assert {a.hash for a in proteins} == set(package.light_read("proteins"))
    assert all(set(a.ops) <= set(PROTEINS_OPS) for a in proteins)
    # every representative is its own canonical form and decodes from its key
    for arch in archs[::97]:
        assert decode_hash(arch.hash) == (arch.link, arch.ops)
        assert NBGraphArch.from_hash(arch.canonical_key()) == arch


def test_relabellings_and_bypassed_skips_are_equal():
    # the same tree spelt with nodes 2 and 3 swapped (the README's example
    # [0, 1, 1, 2] is a typo: there fc reads cheb; the package hashes it apart too)
    assert NBGraphArch((0, 1, 2, 1), ("gcn", "gin", "fc", "cheb")) == NBGraphArch(
        (0, 1, 1, 3), ("gcn", "cheb", "gin", "fc")
    )
    assert NBGraphArch((0, 1, 2, 1), ("gcn", "gin", "fc", "cheb")) != NBGraphArch(
        (0, 1, 1, 2), ("gcn", "cheb", "gin", "fc")
    )
    # sibling leaves are interchangeable
    assert NBGraphArch((0, 0, 0, 0), ("gcn", "gat", "sage", "fc")) == NBGraphArch(
        (0, 0, 0, 0), ("fc", "sage", "gat", "gcn")
    )
    # a skip with a child is bypassed: skip -> gcn equals gcn plus a skip leaf
    chained = NBGraphArch((0, 1, 0, 0), ("skip", "gcn", "gat", "gin"))
    assert chained == NBGraphArch((0, 0, 0, 0), ("skip", "gcn", "gat", "gin"))
    assert chained.link in LINKS


def test_canonical_form_is_tree_isomorphism_without_skips():
    """Skip-free architectures: equal hashes exactly for isomorphic labelled trees."""

    def tree(link, ops, node=0):
        children = sorted(tree(link, ops, i + 1) for i, s in enumerate(link) if s == node)
        return ("in" if node == 0 else ops[node - 1], tuple(children))

    rng = np.random.default_rng(0)
    by_tree: dict = {}
    for _ in range(3000):
        link = tuple(int(rng.integers(i + 1)) for i in range(4))
        ops = tuple(OPS[i] for i in rng.integers(0, 8, size=4))
        by_tree.setdefault(tree(link, ops), set()).add(NBGraphArch(link, ops).canonical_key())
    assert all(len(keys) == 1 for keys in by_tree.values())
    assert len({k for keys in by_tree.values() for k in keys}) == len(by_tree)


@pytest.mark.parametrize(
    ("link", "ops", "rule"),
    [
        ((0, 0, 0), ("gcn",) * 3, "4 computing nodes"),
        ((0, 2, 0, 0), ("gcn",) * 4, "reads an earlier node"),
        ((1, 0, 0, 0), ("gcn",) * 4, "reads an earlier node"),
        ((0, 0, 0, -1), ("gcn",) * 4, "reads an earlier node"),
        ((0, 0, 0, 0.0), ("gcn",) * 4, "integer node id"),
        ((0, 0, 0, 0), ("gcn", "gcn", "gcn", "mlp"), "unknown operation"),
        ((0, 1, 2, 3), ("skip",) * 4, "not 'skip'"),
        ("0000", ("gcn",) * 4, "sequence of 4 input node ids"),
    ],
)
def test_invalid_architectures_name_the_rule(link, ops, rule):
    with pytest.raises(InvalidArchitecture, match=rule):
        NBGraphArch(link, ops)
    with pytest.raises(InvalidArchitecture, match=rule):  # the raw fast path declines, the full check names it
        SPACE.validate((link, ops))


def test_spelling_map_is_valid_hash_on_every_raw_spelling():
    codes = canonical_codes()
    assert len(codes) == len(ALL_LINKS) * 9**4 == 157_464
    expected = [
        -1 if all(op == "skip" for op in ops) else valid_hash(link, ops)
        for link in ALL_LINKS
        for ops in itertools.product(OPS, repeat=4)
    ]
    assert codes.tolist() == expected
    # one shared instance per architecture, equal to what the full check builds
    for raw in range(0, len(codes), 331):
        link, ops = ALL_LINKS[raw // 9**4], tuple(OPS[raw // 9**k % 9] for k in (3, 2, 1, 0))
        arch = from_raw(list(link), list(ops))
        if codes[raw] < 0:
            assert arch is None
            continue
        full = NBGraphArch(link, ops)
        assert arch == full and (arch.link, arch.ops, arch.hash) == (full.link, full.ops, full.hash)
        assert arch is SPACE.validate((link, ops)) is enumerate_archs()[enumerate_archs().index(full)]


@pytest.mark.parametrize(
    ("link", "ops"),
    [
        ((0, True, 1, 2), ("gcn",) * 4),  # a bool is no node id, even where it equals one
        ((0, 0, 1, 2.0), ("gcn",) * 4),
        ((0, 0, 1, 2, 3), ("gcn",) * 4),
        ((0, 0, 1, 2), "gcnx"),
        ((0, 0, 1, 2), (["gcn"],) * 4),
        ((0, 0, 1, 2), ("skip",) * 4),
        ((0, 0, 1, 2), ("gat", "gcn", "fc", "sage")),  # gat and fc: outside the proteins set
    ],
)
def test_raw_fast_path_declines_what_only_the_full_check_can_judge(link, ops):
    assert from_raw(link, ops, "proteins") is None


def test_raw_specs_of_numpy_integers_are_accepted():
    arch = SPACE.validate(([np.int64(v) for v in (0, 0, 1, 2)], ["gcn", "gat", "sage", "fc"]))
    assert arch == NBGraphArch((0, 0, 1, 2), ("gcn", "gat", "sage", "fc"))


def test_validate_forms_and_op_set():
    arch = NBGraphArch((0, 1, 2, 3), ("gcn", "gat", "fc", "skip"))
    assert SPACE.validate({"link": [0, 1, 2, 3], "op": ["gcn", "gat", "fc", "skip"]}) == arch
    assert SPACE.validate(([0, 1, 2, 3], ["gcn", "gat", "fc", "skip"])) == arch
    assert SPACE.validate(arch.hash) == arch == SPACE.validate(arch.canonical_key())
    with pytest.raises(InvalidArchitecture, match="op set 'proteins'"):
        PROTEINS.validate(arch)
    with pytest.raises(InvalidArchitecture, match="not a NAS-Bench-Graph hash"):
        SPACE.validate(99_999)
    with pytest.raises(InvalidArchitecture, match="canonical form"):
        SPACE.validate(10)  # decodes to ("gat","gat","gcn","gat") on pattern 0: not sorted
    with pytest.raises(InvalidArchitecture, match="unknown keys"):
        SPACE.validate({"link": [0, 0, 0, 0], "ops": ["gcn"] * 4, "dim": 64})
    with pytest.raises(InvalidArchitecture, match="another space"):
        SPACE.from_json({"space": "nb101", "link": [0] * 4, "ops": ["gcn"] * 4})
    with pytest.raises(ValueError, match="op_set"):
        NBGraphSpace("tiny")


# -- space moves, properties over seeds --------------------------------------------


@settings(max_examples=30, deadline=None)
@given(seed=seeds)
def test_sample_mutate_neighbors_and_json(seed):
    rng = np.random.default_rng(seed)
    for space in (SPACE, PROTEINS):
        arch = space.sample(rng, 1)[0]
        assert space.validate(arch) is arch
        assert space.from_json(json.loads(json.dumps(arch.to_json()))) == arch
        assert NBGraphArch(arch.link, arch.ops) == arch
        neighbors = space.neighbors(arch)
        keys = [n.canonical_key() for n in neighbors]
        assert len(keys) == len(set(keys)) and arch.canonical_key() not in keys
        assert all(space.validate(n) == n for n in neighbors)
        child = space.mutate(arch, rng)
        assert child != arch and child.canonical_key() in keys
        assert space.sample(np.random.default_rng(seed), 5) == space.sample(np.random.default_rng(seed), 5)


def test_sampling_is_uniform_over_distinct_architectures():
    draws = SPACE.sample(np.random.default_rng(0), 200_000)
    counts = np.bincount([LINKS.index(a.link) for a in draws], minlength=len(LINKS))
    expected = np.bincount([LINKS.index(a.link) for a in SPACE.archs()], minlength=len(LINKS))
    expected = expected / expected.sum() * len(draws)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 5)


def test_encodings_and_graphs():
    archs = SPACE.sample(np.random.default_rng(3), 40)
    adjacency = SPACE.encode(archs)
    assert adjacency.shape == (40, 9 + 4 * 9) and adjacency.dtype == np.float32
    assert np.all(adjacency.sum(axis=1) == 5)
    links = SPACE.encode(archs, "links")
    assert links.shape == (40, 10 + 36) and np.all(links.sum(axis=1) == 8)
    assert len({row.tobytes() for row in adjacency}) == len({a.canonical_key() for a in archs})
    assert PROTEINS.encode(PROTEINS.sample(np.random.default_rng(0), 3)).shape == (3, 9 + 4 * 5)
    with pytest.raises(ValueError, match="unknown encoding"):
        SPACE.encode(archs, "path")
    batch = SPACE.to_graph(archs)
    assert batch.num_graphs == 40 and batch.x.shape == (40 * 6, len(SPACE.node_types))
    dag = SPACE.dag(NBGraphArch((0, 1, 1, 2), ("gcn", "gin", "cheb", "fc")))
    assert dag.edges == ((0, 1), (1, 2), (1, 3), (2, 4), (3, 5), (4, 5))
    assert dag.node_types == (0, 2, 3, 4, 8, len(SPACE.node_types) - 1)
    assert batch.edge_index.shape[1] == sum(len(SPACE.dag(a).edges) for a in archs)


# -- tables ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_dataset_loads(package, dataset):
    from benchmarks.loaders.nbgraph import load_nbgraph

    results = load_nbgraph(dataset)
    expected = 2_021 if dataset == "proteins" else 26_206
    table = results.table
    assert len(results) == expected == len(table) == table["hash"].nunique()
    assert set(results.archs) == {a.canonical_key() for a in results.space.archs()}
    assert results.space.config() == {"op_set": DATASETS[dataset].op_set}
    assert (table["epochs"] == -1).all() and (table["repeat"] == 0).all()
    assert table["val_accuracy"].between(0, 1).all() and table["test_accuracy"].between(0, 1).all()
    assert table["train_time"].isna().all()
    assert (table["latency"] > 0).all()
    assert (table["params"] > 10_000).all() and (table["params"] == np.rint(table["params"])).all()
    raw = package.light_read(dataset)
    for digest in table["hash"].iloc[:: max(1, expected // 50)]:
        row = table.set_index("hash").loc[digest]
        record = raw[int(digest)]
        assert row["val_accuracy"] == record["valid_perf"] and row["test_accuracy"] == record["perf"]
        assert row["params"] == round(record["para"] * 1e6)
        arch = results.archs[digest]
        assert package.Arch(list(arch.link), list(arch.ops)).valid_hash() == int(digest)
    assert results.notes["metric"] == ("roc_auc" if dataset == "proteins" else "accuracy")


def test_unknown_dataset_lists_the_nine():
    from benchmarks.loaders.nbgraph import load_nbgraph

    names = "cora, citeseer, pubmed, cs, physics, photo, computers, arxiv, proteins"
    with pytest.raises(ValueError, match=names):
        load_nbgraph("reddit")


def test_unpickler_refuses_other_classes(tmp_path):
    import pickle

    from benchmarks.loaders.nbgraph import _TableUnpickler

    payload = pickle.dumps({1: {"valid_perf": np.float64(0.5)}, 2: object()})
    with pytest.raises(pickle.UnpicklingError, match="builtins.object"):
        _TableUnpickler(__import__("io").BytesIO(payload)).load()


# -- network ----------------------------------------------------------------------


def _tiny_graph(torch, features: int, nodes: int = 12):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(nodes, features, generator=generator)
    edges = torch.randint(0, nodes, (2, 40), generator=generator)
    return x, torch.cat([edges, edges.flip(0)], dim=1)


def test_every_op_builds_and_runs_forward(one_thread):
    torch = one_thread
    x, edge_index = _tiny_graph(torch, 16)
    for op in OPS[:-1]:
        for link in ((0, 1, 2, 3), (0, 0, 1, 1)):
            arch = NBGraphArch(link, (op, "skip", op, "gcn"))
            model = SPACE.build_model(arch, num_features=16, num_classes=5, hidden_dim=32, dropout=0.5)
            assert isinstance(model, torch.nn.Module)
            model.train()
            out = model(x, edge_index)
            assert out.shape == (12, 5)
            out.sum().backward()
            model.eval()
            with torch.no_grad():
                assert torch.isfinite(model(x, edge_index)).all()
    with pytest.raises(ValueError, match="num_features and num_classes"):
        SPACE.build_model(arch)
    with pytest.raises(ValueError, match="multiple of 4"):
        SPACE.build_model(NBGraphArch((0, 0, 0, 0), ("gat",) * 4), num_features=8, num_classes=2, hidden_dim=30)


def test_parameter_counts_match_the_tables(package, one_thread):
    torch = one_thread
    rng = np.random.default_rng(7)
    special = [
        NBGraphArch((0, 0, 0, 0), ("skip", "gcn", "gat", "arma")),  # a raw-input skip leaf
        NBGraphArch((0, 1, 2, 3), ("skip", "skip", "gin", "cheb")),  # skips feeding an op
    ]
    for name, dataset in DATASETS.items():
        table = package.light_read(name)
        space = NBGraphSpace(dataset.op_set)
        candidates = special if dataset.op_set == "all" else []
        candidates = candidates + space.sample(rng, 3)
        for arch in candidates:
            para = table[arch.hash]["para"] * 1e6
            if abs(para - round(para)) > 1e-3:
                continue  # physics: a mean over runs that disagree, not one network's count
            model = space.build_model(arch, dataset=name)
            assert sum(p.numel() for p in model.parameters()) == round(para), (name, arch)
        x, edge_index = _tiny_graph(torch, dataset.num_features)
        model.eval()
        with torch.no_grad():
            assert model(x, edge_index).shape == (12, dataset.num_classes)


def test_no_recipe_translation_and_no_reading_graphs_back():
    with pytest.raises(NotImplementedError, match="'nbgraph' has no translation"):
        SPACE.network_options(channels=16, layers=3, in_channels=3, num_classes=10)
    with pytest.raises(NotImplementedError, match="'nbgraph' cannot read architectures back"):
        SPACE.from_dag(SPACE.dag(SPACE.sample(np.random.default_rng(0), 1)[0]))
