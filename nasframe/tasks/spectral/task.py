"""``spectral-upconv``: autoencoders whose up-sampling leaves (or hides) spectral artefacts.

Durall et al., "Watch your Up-Convolution" (arXiv 2003.01826), show that
generators built on up-convolutions fail to reproduce the high-frequency end
of their training images' spectra, so that a linear classifier on the 1-D
azimuthal spectrum ("Unmasking DeepFakes with simple Features", arXiv
1911.00686) spots their outputs; a spectral loss added to the generator's
loss removes the tell-tale. This task searches both choices on an
autoencoder (:mod:`nasframe.tasks.spectral.model`): the up-sampling operation
of each decoder stage and the spectral loss weight
(:class:`~nasframe.tasks.spectral.space.UpsamplingSpace`).

Objectives: ``reconstruction_error`` (mean squared error per pixel on the
split, in the normalised units the network sees; minimised, primary),
``detector_accuracy`` (the spectrum detector's held-out accuracy on the
split's real images against their reconstructions, minimised: 0.5 is
indistinguishable; :mod:`nasframe.tasks.spectral.detector`), ``flops`` and
``params``. Data, splits and batches are an image task's
(:class:`~nasframe.tasks.image.ImageClassification`; labels are ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import InvalidSetting
from nasframe.core.task import Objective, Task
from nasframe.tasks.costs import count_flops, count_parameters
from nasframe.tasks.delegate import ImageDelegate
from nasframe.tasks.networks import training_memory
from nasframe.tasks.spectral.detector import MIN_PART, detector_accuracy, detector_parts
from nasframe.tasks.spectral.space import DEFAULT_WEIGHTS, UpsamplingSpace
from nasframe.tasks.spectral.spectrum import TARGETS, azimuthal_spectrum, spectral_loss

#: per split, a second seed word: the detector's parts differ between validation and test
_SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}


class SpectralUpconv(ImageDelegate):
    """The spectral up-convolution task; see the module docstring.

    ``dataset``: an image task or a dataset name (``path`` for one read from
    a folder); ``stages``/``weights``: the space's (2 stages: 7 -> 14 -> 28 on
    28x28 images); ``seed``: the data split's and the detector parts'.
    """

    name = "spectral-upconv"
    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("reconstruction_error", "min"), Objective("detector_accuracy", "min"),
        Objective("flops", "min", cost=True), Objective("params", "min", cost=True))
    #: latent: the bottleneck's width (0: none, fully convolutional); spectral_target: what the spectral loss
    #: compares a reconstruction's spectrum with (``pair``: its input's; ``mean``: the batch's mean real
    #: spectrum, the paper's GAN form); detector_train/test: the most images of each detector part;
    #: spectral_warmup: the first epochs trained on the pixel loss alone (the spectral loss joins after them)
    recipe_options: ClassVar[dict[str, Any]] = {"latent": 32, "spectral_target": "pair", "detector_train": 500,
                                                "detector_test": 500, "spectral_warmup": 0}

    def __init__(self, dataset: str | Task = "fashion-mnist", *, path: str | None = None, stages: int = 2,
                 weights: Sequence[float] = DEFAULT_WEIGHTS, seed: int = 0) -> None:
        if isinstance(dataset, str):
            from nasframe.tasks.image import ImageClassification

            dataset = ImageClassification(dataset, path=path, seed=seed)
        super().__init__(dataset)
        self.space = UpsamplingSpace(stages, weights)  # checks stages and weights, naming them
        self.seed = seed
        self.name = "spectral-upconv"

    def __repr__(self) -> str:
        return f"SpectralUpconv({self.images!r}, space={self.space!r}, seed={self.seed})"

    def search_space(self) -> UpsamplingSpace:
        return self.space

    def fingerprint(self) -> dict[str, Any]:
        return {"task": self.name, "data": self.images.fingerprint(), "space": self.space.config(), "seed": self.seed}

    # -- checks before training -----------------------------------------------------------------------------

    def _space_of(self, space: SearchSpace) -> UpsamplingSpace:
        if not isinstance(space, UpsamplingSpace):
            raise InvalidSetting(f"task {self.name!r} searches an UpsamplingSpace, not the space {space.name!r}")
        return space

    def check_arch(self, space: SearchSpace, arch: Architecture) -> None:
        self._space_of(space).validate(arch)

    def check_trainable(self, space: SearchSpace, recipe: Any) -> None:
        """Refuse a space, an image size or an option the autoencoder or the detector cannot use, naming it."""
        self._check_recipe(self._space_of(space), recipe)
        recipe.check_memory(recipe.image_size or self.image_side, *training_memory())

    def _check_recipe(self, space: UpsamplingSpace, recipe: Any) -> None:
        """The checks :meth:`build_model` repeats, so that a bare ``Trainer`` refuses what the CLI refuses."""
        side = recipe.image_size or self.image_side
        if side < 2 ** space.stages:
            raise InvalidSetting(f"recipe field 'image_size'={side}: the encoder's {space.stages} stages each "
                                 f"halve the side, so it must be at least {2 ** space.stages}")
        latent = self.option(recipe, "latent")
        if isinstance(latent, bool) or not isinstance(latent, int) or latent < 0:
            raise InvalidSetting(f"recipe task option 'latent'={latent!r}: an integer >= 0 (0: no bottleneck)")
        target = self.option(recipe, "spectral_target")
        if target not in TARGETS:
            raise InvalidSetting(f"recipe task option 'spectral_target'={target!r}: one of {TARGETS}")
        warmup = self.option(recipe, "spectral_warmup")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or not 0 <= warmup < max(recipe.epochs, 1):
            raise InvalidSetting(f"recipe task option 'spectral_warmup'={warmup!r}: an integer in "
                                 f"0..epochs-1={recipe.epochs - 1} (epochs trained on the pixel loss alone)")
        for name in ("detector_train", "detector_test"):
            value = self.option(recipe, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < MIN_PART:
                raise InvalidSetting(f"recipe task option {name!r}={value!r}: an integer >= {MIN_PART}")

    # -- model, step, evaluation ----------------------------------------------------------------------------

    def build_model(self, space: SearchSpace, arch: Architecture, recipe: Any,
                    model_options: dict[str, Any]) -> torch.nn.Module:
        """The autoencoder of ``arch`` sized by the recipe; it carries its spectral weight for :meth:`loss`."""
        space = self._space_of(space)
        self._check_recipe(space, recipe)
        arch = space.validate(arch)
        config = {"side": recipe.image_size or self.image_side, "in_channels": self.images.in_channels,
                  "channels": recipe.channels, "layers": recipe.layers, "latent": self.option(recipe, "latent")}
        model = space.build_model(arch, **{**config, **model_options})
        # loss() sees only the model: the weight and the target travel with it
        model.spectral_weight, model.spectral_target = arch.spectral_weight, self.option(recipe, "spectral_target")
        return model

    def before_epoch(self, model: torch.nn.Module, epoch: int, recipe: Any) -> None:
        """The spectral loss is off during the first ``spectral_warmup`` epochs (set again after a resume)."""
        model.spectral_on = epoch >= self.option(recipe, "spectral_warmup")

    def loss(self, model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        """Mean squared reconstruction error, plus the spectral loss times the architecture's weight."""
        x = batch[0]
        reconstruction = model(x)
        loss = F.mse_loss(reconstruction.float(), x.float())
        weight = getattr(model, "spectral_weight", 0.0) if getattr(model, "spectral_on", True) else 0.0
        if weight > 0:
            loss = loss + weight * spectral_loss(reconstruction, x, getattr(model, "spectral_target", "pair"))
        return loss

    @torch.no_grad()
    def spectra(self, model: torch.nn.Module, split: str, recipe: Any,
                device: Any) -> tuple[float, np.ndarray, np.ndarray]:
        """The split's mean squared error and the spectra of its images and of their reconstructions."""
        model.eval()
        squared, pixels, seen = 0.0, 0, 0
        real, fake = [], []
        for x, _ in self.images.eval_batches(split, recipe, device=device):
            reconstruction = model(x).float()
            squared += float(((reconstruction - x.float()) ** 2).sum())
            pixels += x.numel()
            real.append(azimuthal_spectrum(x, f"{split} images", first=seen).cpu().numpy())
            fake.append(azimuthal_spectrum(reconstruction, f"reconstructions of the {split} images",
                                           first=seen).cpu().numpy())
            seen += len(x)
        return squared / pixels, np.concatenate(real), np.concatenate(fake)

    def evaluate(self, model: torch.nn.Module, split: str, recipe: Any, device: Any) -> dict[str, float]:
        error, real, fake = self.spectra(model, split, recipe, device)
        train, test = detector_parts(len(real), self.option(recipe, "detector_train"),
                                     self.option(recipe, "detector_test"), [self.seed, _SPLIT_SEEDS[split]])
        return {"reconstruction_error": error, "detector_accuracy": detector_accuracy(real, fake, train, test)}

    def costs(self, model: torch.nn.Module, space: Any, arch: Any, recipe: Any) -> dict[str, float]:
        side = recipe.image_size or self.image_side
        example = torch.zeros(1, self.images.in_channels, side, side, device=next(model.parameters()).device)
        return {"flops": float(count_flops(model, example)), "params": float(count_parameters(model))}


__all__ = ["SpectralUpconv"]
