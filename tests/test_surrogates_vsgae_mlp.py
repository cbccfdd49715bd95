"""The ``vsgae-mlp`` surrogate: VS-GAE's graph encoder and an MLP as a bagged performance predictor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nasframe.core.registry import load_space
from search_spaces.nb101.space import NB101Space
from surrogates import Surrogate, make_surrogate, regression_report
from surrogates.vsgae_mlp import EncoderRegressor, VSGAEMLPSurrogate
from tests.test_surrogates_trees import nb101_split, synthetic

SPACE = NB101Space()
#: small and quick: the contract tests need no accuracy
QUICK = {"epochs": 4, "hidden": 16, "readout": 12, "head_width": 16}


#: small CPU models: one intra-op thread (conftest) for every test here
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return synthetic(120)


def test_registered_and_fits_with_member_spread(data):
    cells, y = data
    model = make_surrogate("vsgae-mlp", SPACE, members=3, seed=0, **QUICK)
    assert isinstance(model, VSGAEMLPSurrogate) and isinstance(model._network(5), EncoderRegressor)
    model.fit(cells, y)
    mean, std = model.predict(cells[:30])
    assert mean.shape == std.shape == (30,) and model.predict_members(cells[:30]).shape == (3, 30)
    assert np.all((mean > 0) & (mean < 1)) and std.mean() > 0
    assert model.embed(cells[:30]).shape == (30, 12)
    assert [m.shape for m in model.predict([])] == [(0,), (0,)]


def test_same_seed_same_predictions_global_rng_untouched(data):
    cells, y = data
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    a = VSGAEMLPSurrogate(SPACE, members=2, seed=1, **QUICK).fit(cells, y).predict(cells)[0]
    assert torch.equal(torch.random.get_rng_state(), before)
    b = VSGAEMLPSurrogate(SPACE, members=2, seed=1, **QUICK).fit(cells, y).predict(cells)[0]
    c = VSGAEMLPSurrogate(SPACE, members=2, seed=2, **QUICK).fit(cells, y).predict(cells)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.float_sensitive
@pytest.mark.shared_data
def test_ranks_held_out_real_nb101_cells():
    """200 real NB101 cells (108-epoch validation accuracy) to train, 200 held out.

    Measured (3 members, 40 epochs, hidden 32, one core): Kendall tau 0.713,
    0.724, 0.738 for seeds 0, 1, 2 (chance is 0), about 2 s to fit.
    """
    train_x, train_y, test_x, test_y = nb101_split(n_test=200)
    model = VSGAEMLPSurrogate(SPACE, members=3, seed=0, epochs=40, hidden=32).fit(train_x[:200], train_y[:200])
    report = regression_report(test_y, model.predict(test_x)[0])
    assert report["kendall_tau"] > 0.55, report


def test_save_load_roundtrip_identical(data, tmp_path):
    cells, y = data
    model = VSGAEMLPSurrogate(SPACE, members=2, seed=3, directions="forward", **QUICK).fit(cells, y)
    model.save(tmp_path / "m")
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["family"] == "vsgae-mlp" and card["params"] == model.params
    assert card["files"] == ["member0.pt", "member1.pt"] and "torch-geometric" in card["versions"]
    loaded = Surrogate.load(tmp_path / "m")  # the base class finds the family by name
    assert type(loaded) is VSGAEMLPSurrogate and loaded.params["directions"] == "forward"
    np.testing.assert_array_equal(loaded.predict_members(cells), model.predict_members(cells))
    (tmp_path / "m" / "member1.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="member1.pt is not a readable vsgae-mlp member"):
        Surrogate.load(tmp_path / "m")


def test_other_spaces_and_mse_targets():
    space = load_space("enas")
    archs = space.sample(np.random.default_rng(0), 60)
    y = np.array([sum(a.ops) + 0.5 * sum(map(sum, a.skips)) for a in archs], dtype=float)  # any scale
    model = VSGAEMLPSurrogate(space, members=1, loss="mse", **QUICK).fit(archs, y)
    assert abs(model.predict(archs)[0].mean() - y.mean()) < y.std()


def test_pretrained_vsgae_encoder_initialises_members(data, tmp_path):
    from surrogates.embeddings import VSGAE, save_model, train

    cells, y = data
    vae = VSGAE(SPACE, hidden=16, latent=8, seed=0)
    train(vae, cells[:40], epochs=2, batch_size=20, lr=1e-3)
    save_model(vae, tmp_path / "vae")
    model = VSGAEMLPSurrogate(SPACE, members=1, pretrained=tmp_path / "vae", hidden=99, readout=16,
                              epochs=1, lr=1e-12, lr_min=0.0)
    assert model.params["hidden"] == 16 and model.params["pretrained"] == str(tmp_path / "vae")
    model.fit(cells, y)
    member = model._models[0].encoder.state_dict()
    for key, value in vae.encoder.state_dict().items():  # lr ~0: still the VS-GAE's weights
        torch.testing.assert_close(member[key], value, rtol=0, atol=1e-6)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(Surrogate.load(tmp_path / "m").predict(cells)[0], model.predict(cells)[0])


def test_bad_hyper_parameters_raise():
    with pytest.raises(ValueError, match="unknown vsgae-mlp hyper-parameters"):
        VSGAEMLPSurrogate(SPACE, pool="mean")
    with pytest.raises(ValueError, match="invalid vsgae-mlp hyper-parameters.*directions"):
        VSGAEMLPSurrogate(SPACE, directions="sideways")


def test_drives_a_predictor_searcher():
    from nasframe.searchers import BANANAS
    from tests.test_searchers_model_based import fake_results

    searcher = BANANAS(SPACE, seed=0, surrogate="vsgae-mlp", members=2, num_init=4, candidates=20,
                       surrogate_params=QUICK)
    for _ in range(3):
        archs = searcher.ask(3)
        searcher.tell(archs, fake_results(SPACE, archs))
    assert isinstance(searcher._model, VSGAEMLPSurrogate) and len(searcher.seen) == 9
