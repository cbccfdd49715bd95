"""Every registered space, searcher and surrogate family passes nasframe.testing's conformance checks.

Parametrised over the registries, so a new built-in is checked the moment it
is registered. Sizes are the smallest that still exercise each model (a few
members, a few epochs): the point is the contract, not the quality.
"""

from __future__ import annotations

import numpy as np
import pytest

import nasframe as nf
from nasframe.tasks import DatasetError, Recipe
from nasframe.testing import check_searcher, check_space, check_surrogate, check_task

#: small settings per searcher so that the model-based ones refit within the check's rounds
SEARCHER_OPTIONS = {
    "evolution": {"population_size": 5, "tournament_size": 2, "num_init": 4},
    "local": {"num_init": 3},
    "bananas": {"num_init": 4, "members": 1, "candidates": 10, "surrogate_params": {"epochs": 20}},
    "bo": {"num_init": 4, "members": 1, "candidates": 10, "random_candidates": 5,
           "surrogate_params": {"n_estimators": 20}},
    "latent-bo": {"num_init": 4, "candidates": 20},
    "extrapolate": {"candidates": 20, "random_candidates": 20},
}

#: small settings per surrogate family
SURROGATE_OPTIONS = {
    "xgb": {"n_estimators": 20},
    "lgb": {"n_estimators": 20},
    "gin": {"epochs": 3},
    "gcn": {"epochs": 3},
    "mlp": {"epochs": 3},
    "vsgae-mlp": {"epochs": 3},
}

#: the compression tasks on digits with a tiny base (trained in seconds into a private cache)
_TINY_BASE = {"dataset": "digits", "widths": (4, 8, 8), "blocks": 1,
              "base_recipe": Recipe(epochs=1, batch_size=64, data_fraction=0.3)}
_COMPRESSION = ("prune-hrank", "prune-filtersketch", "prune-l1", "prune-random", "lottery")
#: per task: load options and the short recipe check_task trains with (small: the contract, not the quality)
TASK_SETTINGS = {
    "default": ({}, Recipe(epochs=1, batch_size=64, channels=8, data_fraction=0.02)),
    "digits": ({}, Recipe(epochs=1, batch_size=64, channels=8, data_fraction=0.2)),
    **{name: (_TINY_BASE, Recipe(epochs=1, batch_size=32, data_fraction=0.1)) for name in _COMPRESSION},
    "knowledge-evolution": ({"dataset": "digits", "generations": (1, 2)},
                            Recipe(epochs=2, batch_size=32, channels=8, task_options={"samples_per_class": 10})),
    "multitask-branching": ({"dataset": "digits", "train_canvases": 200, "val_canvases": 64, "test_canvases": 64},
                            Recipe(epochs=1, batch_size=32, channels=4)),
    "metric": ({"dataset": "digits"}, Recipe(epochs=1, batch_size=32, channels=4, task_options={"embedding_dim": 8})),
    "scan": ({"dataset": "digits"}, Recipe(epochs=2, batch_size=64, channels=8, data_fraction=0.2)),
    "spectral-upconv": ({"dataset": "digits"}, Recipe(epochs=1, batch_size=32, channels=4, image_size=16,
                                                      task_options={"detector_train": 60, "detector_test": 60})),
}


#: small CPU models: one intra-op thread (conftest) for every test here
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def nb101():
    return nf.load_space("nb101")


@pytest.mark.parametrize("name", nf.SPACES.names())
def test_space_conforms(name):
    check_space(nf.load_space(name))


def _tiny_vae(space):
    """A graph VAE trained for a moment: latent-bo needs one that decodes, not a good one."""
    from surrogates.embeddings import VSGAE, train

    model = VSGAE(space, hidden=16, latent=8, seed=0)
    train(model, space.sample(np.random.default_rng(0), 60), epochs=5, batch_size=30, lr=3e-3, seed=0)
    return model


def _extrapolation_setting():
    """extrapolate's setting: a graph predictor fitted on 4-layer ENAS, searching 6-layer ENAS."""
    from search_spaces.enas.space import ENASSpace

    small = ENASSpace(num_layers=4)
    archs = small.sample(np.random.default_rng(0), 40)
    predictor = nf.make_surrogate("gin", small, members=1, epochs=5, seed=0).fit(archs, np.linspace(0.5, 0.9, 40))
    return ENASSpace(num_layers=6), {"predictor": predictor}


@pytest.mark.parametrize("name", nf.SEARCHERS.names())
def test_searcher_conforms(name, nb101):
    space, options = nb101, dict(SEARCHER_OPTIONS.get(name, {}))
    if name == "latent-bo":
        options["model"] = _tiny_vae(space)
    if name == "extrapolate":
        space, needed = _extrapolation_setting()
        options.update(needed)
    check_searcher(name, space, **options)


def _family_ensemble(space, **_):
    from surrogates import FamilyEnsemble

    return FamilyEnsemble([nf.make_surrogate("xgb", space, members=1, n_estimators=10),
                           nf.make_surrogate("rf", space, members=1)])


@pytest.mark.parametrize("family", nf.SURROGATES.names())
def test_surrogate_conforms(family, nb101):
    if family == "ensemble":  # built from other families' members, not from hyper-parameters
        check_surrogate(_family_ensemble, nb101)
    else:
        check_surrogate(family, nb101, members=2, **SURROGATE_OPTIONS.get(family, {}))


@pytest.mark.float_sensitive  # trains for a moment; asserts only the contract's invariants
@pytest.mark.parametrize("name", nf.TASKS.names())
def test_task_conforms(name, tmp_path, monkeypatch):
    monkeypatch.setenv("NASFRAME_CACHE", str(tmp_path))  # a compression task's base goes here, not the user's cache
    options, recipe = TASK_SETTINGS.get(name, TASK_SETTINGS["default"])
    try:
        task = nf.TASKS.create(name, **options)
    except DatasetError as missing:  # a user's folder (cifar10) or an uninstalled package
        pytest.skip(f"task {name!r} has no data here: {missing}")
    assert task.name == name
    check_task(task, recipe=recipe)


def test_a_broken_rule_is_named(nb101):
    class Stuck(nf.Searcher):  # proposes the same architecture for ever
        def ask(self, n=1):
            return self.space.sample(np.random.default_rng(0), 1)

    with pytest.raises(AssertionError, match="never re-proposes an architecture already told"):
        check_searcher(Stuck, nb101)

    class NoMove(type(nb101)):
        def mutate(self, arch, rng):
            return arch

    with pytest.raises(AssertionError, match="'mutate\\(arch\\) differs from arch'"):
        check_space(NoMove(), graphs=False)
