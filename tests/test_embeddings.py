"""Graph embeddings (VS-GAE, SVGe): encoder, graph views read back, learning, decoding, metrics, checkpoints.

Everything is tiny (hidden 16-32, tens of graphs) and single-threaded: the
learning tests train for a few hundred steps and check a quality bar that an
untrained or broken model misses.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from nasframe.core import InvalidArchitecture
from nasframe.core.dag import DAG
from surrogates.embeddings import (
    SVGE,
    VSGAE,
    GraphEncoder,
    PaddedGraphs,
    load_model,
    novelty,
    prediction_quality,
    prior_quality,
    reconstruction_accuracy,
    reconstruction_rate,
    reverse_dag,
    save_model,
    stochastic_prior_quality,
    train,
    uniqueness,
    validity,
)
from surrogates.embeddings.train import CHECKPOINT
from search_spaces.darts.space import DARTSSpace
from search_spaces.enas.arch import ENASArch
from search_spaces.enas.space import ENASSpace
from search_spaces.nb101.cell import NB101Cell
from search_spaces.nb101.space import NB101Space

NB101 = NB101Space()
ENAS = ENASSpace()
TINY = {"hidden": 32, "latent": 16}


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def nb101_cells() -> list[NB101Cell]:
    return NB101.sample(np.random.default_rng(0), 50)


@pytest.fixture(scope="module")
def trained(nb101_cells):
    """A tiny VS-GAE fitted on 50 NB101 cells (300 full-batch Adam steps, ~4 s)."""
    torch.set_num_threads(1)
    model = VSGAE(NB101, seed=0, **TINY)
    before = model.teacher_forced_accuracy(nb101_cells)
    result = train(model, nb101_cells, epochs=300, batch_size=len(nb101_cells), lr=3e-3, seed=0)
    return model, result, before


# -- encoder --------------------------------------------------------------------------


def _encode(encoder: GraphEncoder, batch, perm: torch.Tensor | None = None) -> torch.Tensor:
    node_type, edge_index, graph = batch.node_type, batch.edge_index, batch.batch
    if perm is not None:  # node p of the relabelled batch is old node perm[p]
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(len(perm))
        node_type, edge_index, graph = node_type[perm], inverse[edge_index], graph[perm]
    return encoder(node_type, edge_index, graph, int(batch.num_graphs))[1]


def test_encoder_shapes_and_invariance_to_node_relabelling(nb101_cells):
    torch.manual_seed(0)
    encoder = GraphEncoder(num_types=5, hidden=16, layers=2, out_channels=12)
    batch = NB101.to_graph(nb101_cells[:20])
    nodes, graphs = encoder(batch.node_type, batch.edge_index, batch.batch, 20)
    assert nodes.shape == (batch.num_nodes, 16) and graphs.shape == (20, 12)
    assert torch.equal(encoder.encode_batch(batch), graphs)
    with torch.no_grad():
        plain = _encode(encoder, batch)
        perm = torch.randperm(batch.num_nodes, generator=torch.Generator().manual_seed(1))
        relabelled = _encode(encoder, batch, perm)
    torch.testing.assert_close(relabelled, plain, rtol=1e-5, atol=1e-5)
    # distinct cells get distinct embeddings
    assert torch.cdist(plain, plain)[~torch.eye(20, dtype=torch.bool)].min() > 1e-4


def test_backward_pass_is_the_forward_pass_on_reversed_edges(nb101_cells):
    torch.manual_seed(0)
    forward = GraphEncoder(5, hidden=16, directions="forward")
    backward = GraphEncoder(5, hidden=16, directions="backward")
    backward.load_state_dict(
        {k.replace("forward_conv", "backward_conv"): v for k, v in forward.state_dict().items()}
    )
    batch = NB101.to_graph(nb101_cells[:10])
    args = (batch.node_type, batch.batch, 10)
    with torch.no_grad():
        h_backward = backward(args[0], batch.edge_index, *args[1:])[1]
        h_forward_reversed = forward(args[0], batch.edge_index.flip(0), *args[1:])[1]
        h_forward = forward(args[0], batch.edge_index, *args[1:])[1]
    torch.testing.assert_close(h_backward, h_forward_reversed)
    assert not torch.allclose(h_forward, h_forward_reversed, atol=1e-4)  # direction is seen


def test_padded_batches_encode_like_pyg_batches(nb101_cells):
    model = VSGAE(NB101, hidden=16, latent=8)
    cells = nb101_cells[:15]
    node_type, edge_index, graph, mask = model.graphs(cells).flat()
    with torch.no_grad():
        padded = model.encoder(node_type, edge_index, graph, len(cells), node_mask=mask)[1]
        direct = model.encoder.encode_batch(NB101.to_graph(cells))
    torch.testing.assert_close(padded, direct, rtol=1e-5, atol=1e-5)


# -- graph views read back -------------------------------------------------------------------------


def _canon(dag: DAG) -> tuple:
    """A DAG up to the order its edges are listed in."""
    return dag.node_types, frozenset(dag.edges)


def test_graph_views_round_trip_and_reject_foreign_graphs():
    rng = np.random.default_rng(3)
    for space in (NB101, ENAS):
        archs = space.sample(rng, 30)
        assert all(space.from_dag(space.dag(a)) == a for a in archs)
        padded = PaddedGraphs.from_dags([space.dag(a) for a in archs], space.max_dag_nodes())
        assert list(map(_canon, padded.to_dags())) == [_canon(space.dag(a)) for a in archs]
        reversed_ = padded.reversed().to_dags()
        assert list(map(_canon, reversed_)) == [_canon(reverse_dag(space.dag(a))) for a in archs]
    with pytest.raises(InvalidArchitecture):
        NB101.from_dag(DAG((0, 1, 0, 4), ((0, 1), (1, 2), (2, 3))))  # input in the middle
    with pytest.raises(InvalidArchitecture):
        NB101.from_dag(DAG((0, 1, 2, 4), ((0, 1), (1, 2))))  # output unreachable
    assert NB101.from_dag(DAG((0, 1, 2, 4), ((0, 1), (1, 3), (0, 2)))) == NB101.validate(
        {"matrix": [[0, 1, 0], [0, 0, 1], [0, 0, 0]], "ops": ["input", "conv3x3-bn-relu", "output"]}
    )  # a dangling vertex is pruned, as NB101's API does
    arch = ENAS.sample(rng, 1)[0]
    dag = arch.to_dag()
    chain = (1, 2)  # layer 0 -> layer 1, always present
    with pytest.raises(InvalidArchitecture):
        ENAS.from_dag(DAG(dag.node_types, tuple(e for e in dag.edges if e != chain)))
    with pytest.raises(InvalidArchitecture):
        ENAS.from_dag(DAG(dag.node_types, dag.edges + ((0, 7),)))  # extra output input
    five_layers = DAG(dag.node_types[:-2] + (1,), tuple(e for e in dag.edges if e[1] < 6) + ((5, 6),))
    with pytest.raises(InvalidArchitecture, match="this space has 6 layers"):
        ENAS.from_dag(five_layers)
    with pytest.raises(NotImplementedError, match="cannot read architectures back"):
        DARTSSpace().from_dag(dag)


# -- VS-GAE ---------------------------------------------------------------------------


@pytest.mark.float_sensitive
def test_vsgae_learns_to_reconstruct_its_training_cells(trained, nb101_cells):
    model, result, before = trained
    assert before < 0.2  # untrained, the decoder gets whole cells right by chance only
    assert result.epochs == 300 and result.history[-1]["loss"] < result.history[0]["loss"] / 5
    # measured over data/model seeds 0-4 x 1 and 2 threads x AVX-512, AVX2 and baseline ATen
    # kernels: teacher forcing 0.96-1.0, greedy decoding 0.98-1.0, sampled 0.89-0.99, loss
    # ratio 0.018-0.037, prior validity 1.0; the bars sit well below every float path
    assert model.teacher_forced_accuracy(nb101_cells) >= 0.8
    decoded = model.decode(model.encode(nb101_cells))  # greedy, from the latent means
    assert reconstruction_rate(NB101, nb101_cells, [[d] for d in decoded]) >= 0.8
    sampled = reconstruction_accuracy(model, nb101_cells[:10], n_encode=3, n_decode=3, seed=0)
    assert 0.5 <= sampled <= 1.0


def _read_back(space, dag):
    try:
        return space.from_dag(dag)
    except InvalidArchitecture:
        return None


def test_decode_gives_space_architectures_or_none(trained):
    model, _, _ = trained
    z = torch.randn((200, model.latent), generator=torch.Generator().manual_seed(0)) * 3.0
    decoded = model.decode(z, stochastic=True, seed=1)
    graphs, finished = model.decode_graphs(z, stochastic=True, seed=1)
    assert len(decoded) == 200
    for arch, dag, done in zip(decoded, graphs.to_dags(), finished.tolist()):
        expected = _read_back(NB101, dag) if done else None
        assert (arch is None) == (expected is None) and (arch is None or arch == expected)
        if arch is not None:
            assert isinstance(arch, NB101Cell) and NB101.from_json(arch.to_json()) == arch
    # an untrained ENAS model decodes to ENAS architectures (or None), never to a raw graph
    enas_model = VSGAE(ENAS, hidden=16, latent=8)
    for arch in enas_model.decode(torch.randn(50, 8), stochastic=True, seed=0):
        assert arch is None or ENAS.validate(arch) == arch


@pytest.mark.float_sensitive
def test_prior_samples_decode(trained, nb101_cells):
    model, _, _ = trained
    samples = model.sample_prior(100, seed=0)
    assert len(samples) == 100 and validity(samples) >= 0.5
    assert all(s is None or isinstance(s, NB101Cell) for s in samples)
    again = model.sample_prior(100, seed=0)
    assert [s and s.canonical_key() for s in again] == [s and s.canonical_key() for s in samples]
    quality = prior_quality(model, 100, train=nb101_cells, seed=0)
    assert quality["validity"] == validity(samples)
    assert 0.0 < quality["uniqueness"] <= 1.0 and 0.0 <= quality["novelty"] <= 1.0


@pytest.mark.float_sensitive
def test_stochastic_prior_quality_decodes_each_prior_point_ten_times(trained, nb101_cells):
    """The papers' protocol: 10 sampled decodings of each prior point, beside the greedy one."""
    model, _, _ = trained
    points = model.prior_points(40, seed=3)
    assert torch.equal(points, model.prior_points(40, seed=3))
    greedy = model.decode(points)
    assert [g and g.canonical_key() for g in greedy] == [s and s.canonical_key() for s in model.sample_prior(40, seed=3)]
    quality = stochastic_prior_quality(model, 40, decodes=10, train=nb101_cells, seed=3)
    assert quality == stochastic_prior_quality(model, 40, decodes=10, train=nb101_cells, seed=3)
    drawn = model.decode(points.repeat_interleave(10, dim=0), stochastic=True, seed=4)
    assert quality["validity"] == validity(drawn) and quality["uniqueness"] == uniqueness(NB101, drawn)
    # sampled decodings of one point differ: more distinct cells than 40 greedy decodings could give
    distinct = {a.canonical_key() for a in drawn if a is not None}
    assert len(distinct) > len({a.canonical_key() for a in greedy if a is not None})
    assert stochastic_prior_quality(model, 5, decodes=1, train=None, seed=0)["novelty"] is None
    with pytest.raises(ValueError, match="decodes"):
        stochastic_prior_quality(model, 5, decodes=0)


@pytest.mark.float_sensitive
def test_enas_vsgae_decodes_back_to_enas_architectures():
    archs = ENAS.sample(np.random.default_rng(0), 20)
    model = VSGAE(ENAS, seed=0, **TINY)
    before = model.teacher_forced_accuracy(archs)
    train(model, archs, epochs=250, batch_size=20, lr=3e-3, seed=0)
    # Whole architectures right, of 20, measured over data/model seeds 0-4 x 1 and 2 threads
    # x AVX-512, AVX2 and baseline ATen kernels (30 runs): untrained 0.0 in all; trained 1.0 in
    # 26, 0.8 in 2 (seed 0 on AVX2, the 0.80 of issue 15), 0.7 in 2 (seed 3 on baseline
    # kernels), the same for teacher forcing and greedy decoding. So: most of them, far above
    # the untrained model, below every float path.
    assert before < 0.2 and model.teacher_forced_accuracy(archs) >= 0.5
    decoded = model.decode(model.encode(archs))
    # a greedy decode that misses may be no valid graph (None; seen on AVX2), never a raw graph
    assert all(d is None or isinstance(d, ENASArch) for d in decoded)
    assert reconstruction_rate(ENAS, archs, [[d] for d in decoded]) >= 0.5


# -- training loop, checkpoints, saved models ----------------------------------------


class _Killed(Exception):
    pass


def _kill_after(epoch: int):
    def callback(done: int, stats: dict[str, float]) -> None:
        assert math.isfinite(stats["loss"])
        if done == epoch:
            raise _Killed

    return callback


def test_resumed_training_continues_exactly(tmp_path, nb101_cells):
    cells = nb101_cells[:20]
    settings = {"epochs": 3, "batch_size": 8, "lr": 1e-3, "seed": 5}
    straight = VSGAE(NB101, hidden=16, latent=8, seed=2)
    reference = train(straight, cells, checkpoint=tmp_path / "a", **settings)

    with pytest.raises(_Killed):
        train(VSGAE(NB101, hidden=16, latent=8, seed=2), cells, checkpoint=tmp_path / "b",
              callback=_kill_after(2), **settings)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [CHECKPOINT]  # no stray temp file
    resumed_model = VSGAE(NB101, hidden=16, latent=8, seed=2)
    resumed = train(resumed_model, cells, checkpoint=tmp_path / "b", **settings)
    assert resumed.resumed_from == 2 and resumed.epochs == 3
    assert resumed.history == reference.history
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key

    with pytest.raises(ValueError, match="another run"):
        train(VSGAE(NB101, hidden=16, latent=8, seed=2), cells, checkpoint=tmp_path / "b",
              **{**settings, "lr": 2e-3})
    stopped = train(VSGAE(NB101, hidden=16, latent=8), cells, epochs=5, callback=lambda e, s: e < 1)
    assert stopped.stopped and stopped.epochs == 1


def test_checkpoint_from_another_device_kind_resumes_with_a_warning(tmp_path, nb101_cells):
    """A CUDA generator's state (16 bytes) cannot seed a CPU generator: the noise is reseeded, with a warning."""
    cells = nb101_cells[:20]
    settings = {"batch_size": 8, "lr": 1e-3, "seed": 5, "checkpoint": tmp_path}
    train(VSGAE(NB101, hidden=16, latent=8, seed=2), cells, epochs=1, **settings)
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    state["torch_rng"] = torch.zeros(16, dtype=torch.uint8)  # the size of a CUDA generator's state
    torch.save(state, tmp_path / CHECKPOINT)
    runs = []
    for _ in range(2):
        shutil.copy(tmp_path / CHECKPOINT, tmp_path / "copy.pt")
        with pytest.warns(UserWarning, match="another kind of device"):
            runs.append(train(VSGAE(NB101, hidden=16, latent=8, seed=2), cells, epochs=2, **settings))
        shutil.copy(tmp_path / "copy.pt", tmp_path / CHECKPOINT)
    assert runs[0].resumed_from == 1 and runs[0].epochs == 2
    assert runs[0].history == runs[1].history  # still a pure function of the checkpoint


def test_saved_model_reloads_with_its_card(tmp_path, trained, nb101_cells):
    model, result, _ = trained
    path = save_model(model, tmp_path / "vsgae", result=result, metrics={"teacher_forced": 1.0},
                      data_source="50 sampled cells")
    card = json.loads((path / "card.json").read_text())
    assert card["kind"] == "vsgae" and card["space"] == "nb101" and card["epochs"] == 300
    assert card["hyperparameters"]["latent"] == 16 and card["training"]["lr"] == 3e-3
    assert card["metrics"] == {"teacher_forced": 1.0} and "torch" in card["library_versions"]
    loaded = load_model(path)  # the space is rebuilt from the card
    assert np.array_equal(loaded.encode(nb101_cells), model.encode(nb101_cells))
    z = model.encode(nb101_cells[:10])
    assert loaded.decode(z) == model.decode(z)

    (path / "model.pt").write_bytes(b"not a state dict")
    with pytest.raises(ValueError, match="model.pt"):
        load_model(path)
    (path / "card.json").unlink()
    with pytest.raises(FileNotFoundError, match="card.json"):
        load_model(path)


# -- metrics --------------------------------------------------------------------------


def _cell(matrix, ops) -> NB101Cell:
    return NB101.validate({"matrix": matrix, "ops": ["input", *ops, "output"]})


def test_metrics_on_hand_made_cases():
    a = _cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["conv3x3-bn-relu"])
    b = _cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["conv1x1-bn-relu"])
    diamond = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    c = _cell(diamond, ["conv3x3-bn-relu", "maxpool3x3"])
    c_swapped = _cell(diamond, ["maxpool3x3", "conv3x3-bn-relu"])  # isomorphic to c
    assert c == c_swapped and c.ops != c_swapped.ops

    assert reconstruction_rate(NB101, [a, c], [[a, b, None, a], [c_swapped, c_swapped]]) == 4 / 6
    assert validity([a, None, b, None]) == 0.5
    assert uniqueness(NB101, [a, a, b, None, c, c_swapped]) == 3 / 5
    assert novelty(NB101, [a, b, c_swapped, None], train=[c.canonical_key()]) == 2 / 3
    assert math.isnan(uniqueness(NB101, [None, None])) and math.isnan(novelty(NB101, [None], train=[]))
    with pytest.raises(ValueError):
        validity([])
    with pytest.raises(ValueError):
        reconstruction_rate(NB101, [a], [])
    quality = prediction_quality([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert quality["rmse"] == pytest.approx(math.sqrt(1 / 3)) and quality["kendall_tau"] == pytest.approx(1.0)


# -- SVGe ---------------------------------------------------------------------------------


@pytest.mark.float_sensitive
def test_svge_joint_predictor_learns(nb101_cells):
    cells = nb101_cells[:30]
    # a synthetic target the graph determines: edges and convolutions
    y = np.array([c.num_edges + 2.0 * c.ops.count("conv3x3-bn-relu") for c in cells])
    model = SVGE(NB101, seed=0, **TINY)
    result = train(model, cells, y, epochs=80, batch_size=30, lr=3e-3, seed=0)
    mse = [h["mse"] for h in result.history]
    # seeds 0-4 x 1 and 2 threads x AVX-512 and baseline ATen kernels: final / first mse
    # 0.005-0.016, Kendall tau 0.959-0.964
    assert mse[-1] < 0.3 * mse[0]
    assert prediction_quality(y, model.predict(cells))["kendall_tau"] > 0.6
    assert model.predict(cells).shape == (30,)

    # unlabelled rows count for the VAE term only
    graphs = model.graphs(cells)
    generator = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with torch.no_grad():
        alone = model.loss(graphs, None, generator())
        nan = model.loss(graphs, torch.full((30,), float("nan")), generator())
        half_y = torch.tensor(np.where(np.arange(30) < 15, y, np.nan), dtype=torch.float32)
        half = model.loss(graphs, half_y, generator())
    assert "mse" not in nan and torch.equal(nan["loss"], alone["loss"])
    assert torch.allclose(half["loss"], 0.1 * alone["vae"] + 0.9 * half["mse"])
    with pytest.raises(ValueError, match="no predictor"):
        train(VSGAE(NB101, hidden=8, latent=4), cells, y, epochs=1)


# -- devices -----------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_model_matches_cpu(nb101_cells):
    cpu = VSGAE(NB101, hidden=16, latent=8, seed=0)
    gpu = VSGAE(NB101, hidden=16, latent=8, seed=0, device="cuda")
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.encode(nb101_cells), cpu.encode(nb101_cells), rtol=1e-4, atol=1e-5)
    train(gpu, nb101_cells[:10], epochs=2, batch_size=5)
    assert len(gpu.decode(gpu.encode(nb101_cells[:5]), stochastic=True, seed=0)) == 5


def test_embedding_split_is_a_recorded_pure_function_of_its_fields():
    from surrogates.embeddings import EmbeddingSplit

    space = ENAS
    split = EmbeddingSplit("enas", archs=30, holdout=5, seed=2)
    train, heldout = split.draw(space)
    assert len(train) == 30 and len(heldout) == 5
    assert not set(space.canonical_hashes(train)) & set(space.canonical_hashes(heldout))
    assert EmbeddingSplit.from_json(split.to_json()) == split
    again_heldout, trained = EmbeddingSplit.from_json(split.to_json()).heldout_and_trained(space)
    assert space.canonical_hashes(again_heldout) == space.canonical_hashes(heldout)
    assert trained == space.canonical_hashes(train)
    assert EmbeddingSplit.from_json("some/file.json") is None and EmbeddingSplit.from_json(None) is None
    train_rows, heldout_rows = EmbeddingSplit("nb101", archs=None, holdout=3, seed=0).rows(20)
    assert len(train_rows) == 17 and sorted([*train_rows, *heldout_rows]) == list(range(20))
    with pytest.raises(ValueError, match="NB101 enumeration"):
        EmbeddingSplit("enas", archs=None, holdout=3)
