"""The spectral up-convolution task: the azimuthal spectrum, the spectral loss, the detector, the space and the task.

Real data only (scikit-learn's digits and MNIST-5k), tiny trainings; margins
are asserted over several seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nasframe as nf
from nasframe.core import InvalidArchitecture
from nasframe.core.errors import InvalidSetting
from nasframe.tasks import Recipe, Trainer
from nasframe.tasks.spectral.detector import detector_accuracy, detector_parts
from nasframe.tasks.spectral.model import UpsamplingAutoencoder
from nasframe.tasks.spectral.space import OPS, Upsampling, UpsamplingSpace
from nasframe.tasks.spectral.spectrum import (
    SpectrumError,
    azimuthal_spectrum,
    azimuthal_spectrum_numpy,
    ring_index,
    spectral_loss,
)
from nasframe.tasks.spectral.task import SpectralUpconv
from nasframe.testing import check_space

SEEDS = (0, 1, 2)


#: small CPU models: one intra-op thread (conftest) for every test here
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_task():
    return SpectralUpconv("digits")


@pytest.fixture(scope="module")
def mnist5k():
    from nasframe.tasks.datasets import load_mnist5k

    return load_mnist5k()


@pytest.fixture(scope="module")
def mnist_images(mnist5k):
    """Real 28x28 digits (MNIST-5k) as float images in [0, 1]."""
    return torch.tensor(mnist5k.x_train[:600], dtype=torch.float64) / 255


# -- the spectrum ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [8, 16, 28, 31])
def test_torch_spectrum_matches_the_numpy_reference(side, mnist_images):
    images = F.interpolate(mnist_images[:20], size=(side, side), mode="bilinear", align_corners=False)
    reference = azimuthal_spectrum_numpy(images.numpy())
    ours = azimuthal_spectrum(images.float()).numpy()
    assert ours.shape == (20, ring_index(side).max() + 1)
    assert np.allclose(ours, reference, atol=1e-5)
    assert ours.min() == 0 and np.allclose(ours.max(axis=1), 1)  # min-max scaled per image


def test_spectrum_is_differentiable():
    images = torch.rand(2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.autograd.gradcheck(lambda x: azimuthal_spectrum(x), (images.requires_grad_(),))


def test_spectrum_ignores_brightness_and_contrast(mnist_images):
    """A positive gain changes the log magnitude by a constant, which min-max scaling removes."""
    images = mnist_images[:10]
    assert torch.allclose(azimuthal_spectrum(images), azimuthal_spectrum(3 * images), atol=1e-6)


def test_checkerboard_lifts_the_highest_ring(mnist_images):
    """The artefact of up-convolutions (a period-2 pattern) raises the ring at the Nyquist corner."""
    images = mnist_images[:50]
    board = (torch.arange(28)[:, None] + torch.arange(28)[None, :]) % 2
    clean, marked = azimuthal_spectrum(images), azimuthal_spectrum(images + 0.05 * board)
    assert bool((marked[:, -1] > clean[:, -1]).all())


@pytest.mark.parametrize("bad, index, match", [("constant", 2, r"images\[2\] is constant"),
                                              ("zero", 0, r"images\[0\] is constant"),
                                              ("nan", 1, r"images\[1\] holds NaN"),
                                              ("inf", 3, r"images\[3\] holds NaN or infinite")])
def test_constant_or_non_finite_images_are_refused_by_index(bad, index, match, mnist_images):
    images = mnist_images[:4].clone()
    images[index] = {"constant": 0.5, "zero": 0.0, "nan": float("nan"), "inf": float("inf")}[bad]
    with pytest.raises(SpectrumError, match=match):
        azimuthal_spectrum(images)
    with pytest.raises(SpectrumError, match=match):
        azimuthal_spectrum_numpy(images.numpy())
    with pytest.raises(SpectrumError, match="real " + match):
        spectral_loss(mnist_images[:4], images)


def test_spectral_loss_is_lowest_for_the_real_spectrum(mnist_images):
    images = mnist_images[:32]
    blurred = F.avg_pool2d(images, 3, stride=1, padding=1)
    noise = images + 0.3 * torch.randn(images.shape, dtype=images.dtype, generator=torch.Generator().manual_seed(0))
    own = spectral_loss(images, images)
    assert own < spectral_loss(blurred, images) and own < spectral_loss(noise, images)
    with pytest.raises(ValueError, match="target"):
        spectral_loss(images, images, target="median")


# -- the detector ------------------------------------------------------------------------------------------------


def test_detector_parts_are_disjoint_seeded_and_capped():
    train, test = detector_parts(100, 30, 500, seed=4)
    assert len(train) == 30 and len(test) == 70 and not np.intersect1d(train, test).size
    again = detector_parts(100, 30, 500, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip((train, test), again))
    assert not np.array_equal(detector_parts(100, 30, 500, seed=5)[0], train)
    with pytest.raises(InvalidSetting, match="detector_train"):
        detector_parts(100, 2, 50, seed=0)
    with pytest.raises(InvalidSetting, match="split has 5 images"):
        detector_parts(5, 10, 10, seed=0)


@pytest.mark.parametrize("seed", SEEDS)
def test_detector_is_at_chance_on_real_against_real_and_spots_blur(seed, mnist_images):
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(mnist_images)))
    half = len(order) // 2
    real, other = mnist_images[order[:half]], mnist_images[order[half:2 * half]]
    train, test = detector_parts(half, 150, 150, seed)
    spectra = azimuthal_spectrum(real).numpy()
    same = detector_accuracy(spectra, azimuthal_spectrum(other).numpy(), train, test)
    assert abs(same - 0.5) < 0.1  # 300 test spectra: the standard error of a coin is 0.03
    blurred = F.interpolate(F.avg_pool2d(real, 2), scale_factor=2, mode="nearest")
    assert detector_accuracy(spectra, azimuthal_spectrum(blurred).numpy(), train, test) > 0.95


# -- the space and the model ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stages", [1, 2, 3])
def test_space_conforms(stages):
    space = UpsamplingSpace(stages)
    check_space(space)
    assert space.size() == len(OPS) ** stages * 4


def test_bad_space_and_architectures_name_the_field():
    space = UpsamplingSpace()
    with pytest.raises(ValueError, match="'stages'"):
        UpsamplingSpace(0)
    with pytest.raises(ValueError, match="'weights'"):
        UpsamplingSpace(weights=(1.0,))
    with pytest.raises(InvalidArchitecture, match="ops"):
        space.validate((("bicubic", "nearest"), 0.0))
    with pytest.raises(InvalidArchitecture, match="spectral_weight"):
        space.validate((("nearest", "nearest"), 0.5))
    with pytest.raises(InvalidArchitecture, match="spectral_weight"):
        Upsampling(("nearest",), -1.0)
    with pytest.raises(InvalidArchitecture, match="one op per stage"):
        space.validate((("nearest",), 0.0))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("side", [32, 21, 14])  # BPE halves 28 to 14 or takes three quarters, 21
def test_every_op_reconstructs_at_the_input_size(op, side):
    model = UpsamplingAutoencoder((op, op, op), side=side, in_channels=3, channels=4, layers=2, latent=8)
    assert model(torch.rand(2, 3, side, side)).shape == (2, 3, side, side)


# -- the task ---------------------------------------------------------------------------------------------------


def test_task_refuses_settings_naming_them(digits_task):
    space = digits_task.search_space()
    with pytest.raises(InvalidSetting, match="image_size"):
        digits_task.check_trainable(UpsamplingSpace(3), Recipe(image_size=6))
    for option, value in [("latent", -1), ("detector_train", 2), ("detector_test", 3), ("spectral_target", "x"),
                          ("spectral_warmup", -1), ("spectral_warmup", 4)]:  # 4: not below Recipe's 4 epochs
        with pytest.raises(InvalidSetting, match=option):
            digits_task.check_trainable(space, Recipe(task_options={option: value}))
    with pytest.raises(InvalidSetting, match="UpsamplingSpace, not the space 'nb101'"):
        digits_task.check_trainable(nf.load_space("nb101"), Recipe())
    with pytest.raises(InvalidSetting, match="latent"):
        Trainer(digits_task, Recipe(task_options={"latent": 1.5}))
    with pytest.raises(InvalidSetting, match="latent"):  # a bare Trainer refuses what the CLI refuses
        arch = space.sample(np.random.default_rng(0), 1)[0]
        Trainer(digits_task, Recipe(task_options={"latent": -1})).fit(space, arch)


def test_a_constant_image_in_the_data_is_named(mnist5k):
    from nasframe.tasks.image import ImageClassification

    task = SpectralUpconv(ImageClassification(mnist5k))  # 667 validation images: three evaluation batches
    space = task.search_space()
    arch = space.validate((("nearest", "nearest"), 0.0))
    recipe = Recipe(epochs=1, task_options={"detector_train": 20, "detector_test": 20})
    model = task.build_model(space, arch, recipe, {})
    x = task.images.val.x.copy()
    x[300] = 3  # in the second evaluation batch: the index is the split's, not the batch's
    task.images.val = type(task.images.val)(x, task.images.val.y)
    with pytest.raises(SpectrumError, match=r"val images\[300\] is constant"):
        task.evaluate(model, "val", recipe, "cpu")


class _Keeping(SpectralUpconv):
    """The task, keeping the last model it built (to read its reconstructions' spectra)."""

    def build_model(self, *args, **kwargs):
        self.model = super().build_model(*args, **kwargs)
        return self.model


@pytest.fixture(scope="module")
def keeping_task(mnist5k):
    from nasframe.tasks.image import ImageClassification

    return _Keeping(ImageClassification(mnist5k))


def _train(task, ops, weight, seed, epochs=2):
    """A fully convolutional autoencoder (latent 0, as in the study) on 30% of MNIST-5k's training split."""
    space = task.search_space()
    recipe = Recipe(epochs=epochs, batch_size=32, lr=0.003, optimizer="adam", data_fraction=0.3, channels=8,
                    task_options={"latent": 0, "detector_train": 200, "detector_test": 200})
    result = Trainer(task, recipe, device="cpu", seed=seed).fit(space, space.validate((ops, weight)))
    _, real, fake = task.spectra(task.model, "val", recipe, "cpu")
    return result, real, fake


@pytest.mark.float_sensitive
@pytest.mark.parametrize("seed", SEEDS)
def test_training_learns_and_transposed_convolutions_leave_their_mark(seed, keeping_task):
    """A short real training on MNIST digits: the error falls below the untrained network's, the spectrum detector
    tells the transposed convolutions' reconstructions from real digits far above chance, and they carry the
    paper's tell-tale, an excess at the highest frequencies (the Nyquist corners), that resize-then-convolve
    decoders (a low-pass) do not have."""
    result, real, transposed = _train(keeping_task, ("transposed", "transposed"), 0.0, seed)
    errors = [h["val_reconstruction_error"] for h in result.history]
    assert errors[-1] < errors[0] < 1.5
    assert result.objectives["detector_accuracy"] > 0.8
    assert set(result.objectives) == {"reconstruction_error", "detector_accuracy", "flops", "params"}
    _, _, nearest = _train(keeping_task, ("nearest", "nearest"), 0.0, seed)
    assert transposed[:, -1].mean() > real[:, -1].mean() > nearest[:, -1].mean()


@pytest.mark.float_sensitive
def test_training_with_the_spectral_loss_under_bfloat16_and_cutout(digits_task):
    space = digits_task.search_space()
    recipe = Recipe(epochs=1, batch_size=64, precision="16", cutout=4, image_size=21, channels=4, layers=2,
                    task_options={"detector_train": 50, "detector_test": 50, "spectral_target": "mean"})
    digits_task.check_trainable(space, recipe)
    result = Trainer(digits_task, recipe, device="cpu", seed=0).fit(space, space.validate((OPS[2:], 10.0)))
    assert np.isfinite(result.train_loss) and 0.5 <= result.objectives["detector_accuracy"] <= 1


def test_spectral_warmup_trains_the_first_epochs_on_the_pixel_loss_alone(digits_task):
    """With ``spectral_warmup=1`` the first epoch's loss is the pixel loss alone, the second adds the spectral
    term (the same seed without the weight gives the identical first epoch, and a different second)."""
    space = digits_task.search_space()
    recipe = Recipe(epochs=2, batch_size=64, lr=0.003, optimizer="adam", channels=4,
                    task_options={"latent": 0, "spectral_warmup": 1, "detector_train": 50, "detector_test": 50})
    losses = {}
    for weight in (0.0, 10.0):
        result = Trainer(digits_task, recipe, device="cpu", seed=0).fit(space, space.validate((OPS[:2], weight)))
        losses[weight] = [h["train_loss"] for h in result.history]
    assert losses[10.0][0] == pytest.approx(losses[0.0][0], rel=1e-6)
    assert losses[10.0][1] > losses[0.0][1] + 0.01  # the spectral term (about 0.4 x 10) now counts
    model = digits_task.build_model(space, space.validate((OPS[:2], 10.0)), recipe, {})
    digits_task.before_epoch(model, 0, recipe)
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert float(digits_task.loss(model, (x,))) == pytest.approx(float(F.mse_loss(model(x), x)))
