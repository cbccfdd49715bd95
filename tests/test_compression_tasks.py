"""The compression tasks end to end on scikit-learn's digits with a tiny base: the cached base network
(checksum, identity, atomic writes), the registry names, and a killed fine-tune resuming. The Task contract
itself is checked for every registered task, these included, in tests/test_conformance.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nasframe.core.errors import InvalidSetting
from nasframe.core.registry import TASKS
from nasframe.tasks import ImageClassification, Recipe
from benchmarks.provenance import sha256
from nasframe.tasks.compression import base as base_module
from nasframe.tasks.compression.base import BaseMismatch, load_base
from nasframe.tasks.compression.lottery_space import SparsityScheduleSpace
from nasframe.tasks.compression.resnet import ResNetConfig
from nasframe.tasks.compression.tasks import (
    REGISTERED,
    FilterPruning,
)

BASE_RECIPE = Recipe(epochs=1, batch_size=64, data_fraction=0.3)
SHAPE = {"widths": (4, 8, 8), "blocks": 1}
TRIAL = Recipe(epochs=1, batch_size=32, data_fraction=0.1)


@pytest.fixture(scope="module")
def digits():
    return ImageClassification("digits")


@pytest.fixture(scope="module")
def base(private_cache, digits):
    config = ResNetConfig(SHAPE["widths"], SHAPE["blocks"], digits.in_channels, digits.num_classes)
    return load_base(digits, config, BASE_RECIPE, 0)


def test_a_cached_base_is_reused_not_retrained(base, digits, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the base was trained again")

    monkeypatch.setattr(base_module, "train_base", refuse)
    again = load_base(digits, base.config, BASE_RECIPE, 0)
    assert again.record == base.record
    assert all((again.states["final"][k] == v).all() for k, v in base.states["final"].items())
    assert set(again.states) == {"init", "early", "final"}


def test_a_base_of_another_network_is_refused_naming_the_field(base, digits, private_cache):
    path = next((private_cache / "compression").glob("base-*.pt"))
    other = ResNetConfig((4, 8, 16), 1, digits.in_channels, digits.num_classes)
    with pytest.raises(BaseMismatch, match=r"config\.widths: \[4, 8, 8\] there, \[4, 8, 16\] here"):
        load_base(digits, other, BASE_RECIPE, 0, path=path)
    with pytest.raises(BaseMismatch, match=r"recipe\.epochs"):
        load_base(digits, base.config, BASE_RECIPE.replace(epochs=2), 0, path=path)
    with pytest.raises(BaseMismatch, match=r"data\.val_size"):  # another split: the base saw validation images
        load_base(ImageClassification("digits", val_fraction=0.3), base.config, BASE_RECIPE, 0, path=path)
    with pytest.raises(BaseMismatch, match="no such file"):
        load_base(digits, base.config, BASE_RECIPE, 0, path=private_cache / "missing.pt")


def test_a_corrupt_base_is_refused_by_its_checksum(base, digits, private_cache, tmp_path):
    original = next((private_cache / "compression").glob("base-*.pt"))
    copy = tmp_path / original.name
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    copy.with_suffix(".json").write_text(original.with_suffix(".json").read_text())
    with pytest.raises(BaseMismatch, match="sha256"):
        load_base(digits, base.config, BASE_RECIPE, 0, path=copy)
    assert json.loads(copy.with_suffix(".json").read_text())["sha256"] != sha256(copy)


def test_a_failed_base_training_leaves_nothing_behind(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("NASFRAME_CACHE", str(tmp_path))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(base_module, "train_base", killed)
    config = ResNetConfig((4, 4, 4), 1, digits.in_channels, digits.num_classes)
    with pytest.raises(KeyboardInterrupt):
        load_base(digits, config, BASE_RECIPE, 0)
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.json"))


def test_tasks_refuse_other_spaces_and_methods(digits):
    task, space = FilterPruning("l1", digits, **SHAPE), SparsityScheduleSpace()
    with pytest.raises(InvalidSetting, match="PruneRatioSpace"):
        task.build_model(space, space.sample(np.random.default_rng(0), 1)[0], TRIAL, {})
    with pytest.raises(InvalidSetting, match="'method'"):
        FilterPruning("magnitude", digits)


def test_recalibration_refits_only_batchnorm_statistics(base, digits):
    import torch

    plain = FilterPruning("l1", digits, **SHAPE, base_recipe=BASE_RECIPE)
    recal = FilterPruning("l1", digits, **SHAPE, base_recipe=BASE_RECIPE, recalibrate_batches=2, rank_batch_size=16)
    space = plain.search_space()
    arch = space.validate((0.5, 0.5, 0.5))
    before, after = plain.build_model(space, arch, TRIAL, {}), recal.build_model(space, arch, TRIAL, {})
    stats = ("running_mean", "running_var", "num_batches_tracked")
    moved = [k for k, v in after.state_dict().items() if not torch.equal(v, before.state_dict()[k])]
    assert moved and all(k.endswith(stats) for k in moved)  # every weight the same, statistics re-fitted
    # the statistics are the training batches' own: normalising them gives ~zero mean, unit variance
    images = torch.cat(recal.rank_images(TRIAL, 2))
    after.eval()
    with torch.no_grad():
        stem = torch.relu(after.stem_bn(after.stem(images)))
        normalised = after.blocks[0].bn1(after.blocks[0].conv1(stem))
    bn = after.blocks[0].bn1
    shifted = (normalised - bn.bias[None, :, None, None]) / bn.weight[None, :, None, None]
    assert shifted.mean(dim=(0, 2, 3)).abs().max() < 1e-3
    assert recal.fingerprint()["recalibrate_batches"] == 2 and "recalibrate_batches" not in plain.fingerprint()
    for bad in (-1, 1.5, True):
        with pytest.raises(InvalidSetting, match="'recalibrate_batches'"):
            FilterPruning("l1", digits, recalibrate_batches=bad)


def test_a_base_recipe_given_as_fields_changes_the_default(digits):
    from nasframe.tasks.compression.tasks import DEFAULT_BASE_RECIPE
    from nasframe.tasks.recipe import RecipeError

    task = FilterPruning("l1", digits, base_recipe={"epochs": 20, "data_fraction": 1.0})
    assert task.base_recipe == DEFAULT_BASE_RECIPE.replace(epochs=20, data_fraction=1.0)
    with pytest.raises(RecipeError, match="field 'base_recipe': unknown recipe field.*'epoch'"):
        FilterPruning("l1", digits, base_recipe={"epoch": 20})


def test_registered_names_create_the_tasks(digits):
    assert set(REGISTERED) <= set(TASKS.names())
    task = TASKS.create("prune-filtersketch", dataset=digits, **SHAPE)
    assert isinstance(task, FilterPruning) and task.method == "filtersketch"
    assert [o.name for o in TASKS.create("lottery", dataset=digits).objectives] == ["accuracy", "nonzero_params"]


@pytest.mark.slow
def test_a_fine_tune_killed_mid_trial_resumes_from_its_checkpoint(ray_session, base, digits, tmp_path):
    from pathlib import Path

    from ray import tune

    from tests.test_tune_adapter import _kill_after_first_epoch

    task = FilterPruning("hrank", digits, base_recipe=BASE_RECIPE, **SHAPE)
    space = task.search_space()
    arch = space.sample(np.random.default_rng(0), 1)[0]
    marker = tmp_path / "killed"
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_kill_after_first_epoch, task=task, space=space), {"cpu": 1}),
        param_space={"arch": arch.to_json(), "recipe": {"epochs": 3, "batch_size": 32, "data_fraction": 0.1},
                     "marker": str(marker)},
        tune_config=tune.TuneConfig(num_samples=1, metric="objective", mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="kill", verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=1)),
    )
    result = tuner.fit()[0]
    assert marker.read_text() == "1"  # killed after epoch 1 was checkpointed
    assert result.error is None and result.metrics["epoch"] == 3
    assert Path(f"{marker}.epochs").read_text().split() == ["1", "2", "3"]  # resumed at 2, not from scratch
    assert {"objective", "val_accuracy", "flops", "params"} <= set(result.metrics)
