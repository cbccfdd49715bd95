"""Tasks: offline dataset loaders and their errors, splits, augmentation, recipes and the trainer."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from nasframe.core import load_space
from nasframe.core.errors import InvalidSetting
from nasframe.tasks import (
    CheckpointMismatch,
    DatasetError,
    ImageClassification,
    Recipe,
    RecipeError,
    Trainer,
    load_task,
    parse_overrides,
    read_idx,
    task_names,
)
from nasframe.tasks.augment import cutout, random_crop, random_flip
from nasframe.tasks.datasets import DEBIAN_FASHION_MNIST, load_cifar10, load_fashion_mnist


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    with (gzip.open(path, "wb") if compress else open(path, "wb")) as handle:
        handle.write(payload)


def fashion_folder(tmp_path, n_train=30, n_test=10):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return tmp_path


def test_idx_round_trip_gzipped_and_raw(tmp_path):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b", array, compress=False)
    assert (read_idx(tmp_path / "a.gz") == array).all() and (read_idx(tmp_path / "b") == array).all()


@pytest.mark.parametrize("damage, message", [
    (lambda raw: b"\x01" + raw[1:], "not an IDX file"),
    (lambda raw: raw[:-5], "payload is"),
    (lambda raw: raw[:3], "not an IDX file"),
])
def test_malformed_idx_names_the_file_and_the_fault(tmp_path, damage, message):
    array = np.zeros((2, 3, 3))
    write_idx(tmp_path / "ok", array, compress=False)
    raw = (tmp_path / "ok").read_bytes()
    (tmp_path / "bad").write_bytes(damage(raw))
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(tmp_path / "bad")
    assert str(tmp_path / "bad") in str(info.value)


def test_truncated_gzip_and_missing_file_are_clear_errors(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((50, 28, 28)))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match="cut.gz"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(DatasetError, match="no such file"):
        read_idx(tmp_path / "absent.gz")


def test_fashion_mnist_folder_layout_and_errors(tmp_path):
    data = load_fashion_mnist(fashion_folder(tmp_path))
    assert data.x_train.shape == (30, 1, 28, 28) and data.x_test.shape == (10, 1, 28, 28)
    assert data.flip_invariant and data.num_classes == 10
    with pytest.raises(DatasetError, match="does not exist"):
        load_fashion_mnist(tmp_path / "nowhere")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="missing t10k-labels"):
        load_fashion_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(9) % 10)  # 9 labels for 10 images
    with pytest.raises(DatasetError, match="do not match"):
        load_fashion_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(10, 12))  # class 12 of 10
    with pytest.raises(DatasetError, match="labels outside"):
        load_fashion_mnist(tmp_path)


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (apt install dataset-fashion-mnist)")
def test_real_fashion_mnist():
    task = load_task("fashion-mnist")
    assert (len(task.train), len(task.val), len(task.test)) == (50000, 10000, 10000)
    assert np.bincount(task.test.y).tolist() == [1000] * 10  # the published test set: 1,000 per class
    assert task.train.x.dtype == np.uint8 and task.train.x.shape[1:] == (1, 28, 28)


def test_cifar10_pickle_layout(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(tmp_path / name, "wb") as handle:
            pickle.dump({b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 9]}, handle)
    data = load_cifar10(tmp_path)
    assert data.x_train.shape == (20, 3, 32, 32) and data.y_test.tolist() == [0, 1, 2, 9]
    (tmp_path / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_cifar10(tmp_path)
    monkeypatch.delenv("NASFRAME_CIFAR10", raising=False)
    with pytest.raises(DatasetError, match="no downloads"):
        load_cifar10()


def test_registry_packaged_sets_and_reproducible_splits():
    assert {"fashion-mnist", "mnist5k", "digits", "cifar10"} <= set(task_names())
    mnist = load_task("mnist5k")
    assert len(mnist.train) + len(mnist.val) + len(mnist.test) == 5000
    assert np.bincount(np.concatenate([mnist.train.y, mnist.val.y, mnist.test.y])).tolist() == [500] * 10
    a, b = load_task("digits", seed=3), load_task("digits", seed=3)
    assert (a.val.y == b.val.y).all() and (a.train.x == b.train.x).all()
    assert not (load_task("digits", seed=4).val.y == a.val.y).all()
    with pytest.raises(DatasetError, match="takes no path"):
        load_task("digits", path="/tmp")
    with pytest.raises(KeyError, match="unknown task"):
        load_task("imagenet")


def test_training_subset_is_class_balanced_and_fixed():
    task = load_task("digits")
    subset = task.training_subset(0.25)
    assert abs(len(subset) - 0.25 * len(task.train)) <= 10
    counts = np.bincount(task.train.y[subset])
    assert counts.max() - counts.min() <= 0.1 * counts.mean() + 3
    assert (subset == task.training_subset(0.25)).all() and len(task.training_subset(1.0)) == len(task.train)


def test_prepare_normalises_and_resizes():
    task = load_task("digits")
    recipe = Recipe(image_size=16)
    x = task.prepare(task.train.x[:64], recipe)
    assert x.shape == (64, 1, 16, 16) and x.dtype == torch.float32
    full = task.prepare(task.train.x, Recipe())
    assert abs(float(full.mean())) < 1e-4 and abs(float(full.std()) - 1.0) < 1e-2


def test_augmentations():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6) + 1
    cropped = random_crop(x, 2, g)
    assert cropped.shape == x.shape
    # every crop is a window of the zero-padded image: its non-zero values keep their row/column steps
    for image in cropped[:, 0]:
        nonzero = image[image > 0]
        assert set(nonzero.tolist()) <= set(x.flatten().tolist())
    flipped = random_flip(torch.stack([x[0]] * 64), g)
    mirrored = sum(bool((f == x[0].flip(-1)).all()) for f in flipped)
    assert 10 < mirrored < 54 and all((f == x[0]).all() or (f == x[0].flip(-1)).all() for f in flipped)
    holes = cutout(torch.ones(200, 1, 12, 12), 4, g)
    zeros = (holes == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 16 and zeros.min() >= 4  # full squares inside, clipped at borders


def test_recipe_validation_and_overrides():
    with pytest.raises(RecipeError, match="'epochs'=0"):
        Recipe(epochs=0)
    with pytest.raises(RecipeError, match="data_fraction"):
        Recipe(data_fraction=1.5)
    with pytest.raises(RecipeError, match="unknown recipe field"):
        Recipe.from_dict({"epoch": 3})
    assert Recipe.from_dict({"precision": 16}).precision == "16"
    assert parse_overrides(["epochs=3", "lr=0.1", "image_size=none", "augment=false", "optimizer=adam"]) == {
        "epochs": 3, "lr": 0.1, "image_size": None, "augment": False, "optimizer": "adam"}
    with pytest.raises(RecipeError, match="is not a"):
        parse_overrides(["epochs=three"])


class _SmoothedDigits(ImageClassification):
    """Digits with one task option (label smoothing) and a before_epoch hook that records its calls."""

    recipe_options = {"smoothing": 0.0}

    def __init__(self):
        super().__init__("digits")
        self.epochs_started = []

    def before_epoch(self, model, epoch, recipe):
        self.epochs_started.append(epoch)

    def loss(self, model, batch):
        x, y = batch
        return torch.nn.functional.cross_entropy(model(x), y, label_smoothing=self.option(self.recipe, "smoothing"))

    def build_model(self, space, arch, recipe, model_options):
        self.recipe = recipe
        return super().build_model(space, arch, recipe, model_options)


def test_task_options_parse_check_and_reach_the_task(tmp_path, one_thread):
    task = _SmoothedDigits()
    parsed = parse_overrides(["epochs=2", "smoothing=0.3"], task.recipe_options)
    assert parsed == {"epochs": 2, "task_options": {"smoothing": 0.3}}
    with pytest.raises(RecipeError, match="task option of \\['smoothing'\\]"):
        parse_overrides(["smoothin=0.3"], task.recipe_options)
    with pytest.raises(RecipeError, match="'task_options'"):
        Recipe(task_options={"smoothing": [0.1]})
    assert "task_options" not in Recipe().to_dict()  # old fingerprints and stored recipes are unchanged
    with pytest.raises(InvalidSetting, match="'label_noise'.*'digits' has no such option.*smoothing"):
        Trainer(task, Recipe(task_options={"label_noise": 0.1}))
    with pytest.raises(InvalidSetting, match="'smoothing'='high'.*expects a float"):
        Trainer(task, Recipe(task_options={"smoothing": "high"}))
    space = load_space("nb101")
    arch = space.sample(np.random.default_rng(2), 1)[0]
    recipe = Recipe(channels=8, data_fraction=0.3, **parsed)
    losses = []
    for options in ({}, parsed["task_options"]):
        result = Trainer(task, recipe.replace(task_options=options), device="cpu").fit(space, arch)
        losses.append(result.history[0]["train_loss"])
    # same seed, data and start: only the option differs, and smoothing 0.3 over 10 classes puts a floor of
    # H(0.73, 9 x 0.03) = 1.18 nats under cross-entropy
    assert losses[1] != losses[0] and losses[1] >= 1.18
    task.epochs_started.clear()
    with pytest.raises(KeyboardInterrupt):
        Trainer(task, recipe, device="cpu").fit(space, arch, checkpoint_dir=tmp_path,
                                                on_epoch=lambda m, f: (_ for _ in ()).throw(KeyboardInterrupt))
    Trainer(task, recipe, device="cpu").fit(space, arch, checkpoint_dir=tmp_path)
    assert task.epochs_started == [0, 1]  # the resumed run starts at the second epoch


def test_trainer_learns_and_resumes_exactly(tmp_path, one_thread):
    task = load_task("digits")
    space = load_space("nb101")
    arch = space.sample(np.random.default_rng(2), 1)[0]
    recipe = Recipe(epochs=3, channels=8, cutout=2)
    # on the CPU, where a resumed run is bit for bit the uninterrupted one (GPU kernels need not be)
    straight = Trainer(task, recipe, evaluate_test=True, device="cpu").fit(space, arch)
    assert straight.val_accuracy > 0.3 and straight.epochs == 3  # chance is 0.1
    assert [h["epoch"] for h in straight.history] == [1, 2, 3] and straight.test_accuracy is not None

    class Killed(Exception):
        pass

    def die_after_first(metrics, folder):
        if metrics["epoch"] == 1:
            raise Killed

    trainer = Trainer(task, recipe, evaluate_test=True, device="cpu")
    with pytest.raises(Killed):
        trainer.fit(space, arch, checkpoint_dir=tmp_path, on_epoch=die_after_first)
    resumed_epochs = []
    resumed = trainer.fit(space, arch, checkpoint_dir=tmp_path, on_epoch=lambda m, f: resumed_epochs.append(m["epoch"]))
    assert resumed_epochs == [2, 3]  # resumed after the checkpointed epoch, not from scratch
    assert resumed.val_accuracy == straight.val_accuracy and resumed.train_loss == pytest.approx(straight.train_loss)
    with pytest.raises(CheckpointMismatch, match="another training"):
        Trainer(task, recipe.replace(lr=0.1), device="cpu").fit(space, arch, checkpoint_dir=tmp_path)


@pytest.mark.parametrize("space_name, recipe", [
    ("enas", Recipe(epochs=1, channels=8, precision="16", optimizer="adam", lr=1e-3)),
    ("darts", Recipe(epochs=1, channels=4, layers=3, image_size=16, schedule="constant")),
])
def test_trainer_other_spaces_and_settings(space_name, recipe, one_thread):
    task = load_task("digits")
    space = load_space(space_name)
    result = Trainer(task, recipe).fit(space, space.sample(np.random.default_rng(0), 1)[0])
    assert 0.0 <= result.val_accuracy <= 1.0 and result.params > 0 and result.seconds > 0


def test_darts_needs_three_cells():
    space = load_space("darts")
    with pytest.raises(RecipeError, match="needs >= 3 cells"):
        Trainer(load_task("digits"), Recipe(layers=2)).build(space, space.sample(np.random.default_rng(0), 1)[0])


def test_task_repr_and_shapes():
    task = ImageClassification("digits")
    assert "digits" in repr(task) and task.in_channels == 1 and task.num_classes == 10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_trainer_on_cuda_with_amp_resumes(tmp_path):
    task = load_task("digits")
    space = load_space("nb101")
    arch = space.sample(np.random.default_rng(2), 1)[0]
    recipe = Recipe(epochs=3, channels=8, precision="16", cutout=2)
    straight = Trainer(task, recipe, device="cuda").fit(space, arch)
    assert straight.val_accuracy > 0.3

    def die_after_first(metrics, folder):
        if metrics["epoch"] == 1:
            raise KeyboardInterrupt

    trainer = Trainer(task, recipe, device="cuda")
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(space, arch, checkpoint_dir=tmp_path, on_epoch=die_after_first)
    resumed = trainer.fit(space, arch, checkpoint_dir=tmp_path)
    assert resumed.epochs == 3 and resumed.val_accuracy == pytest.approx(straight.val_accuracy, abs=0.05)
