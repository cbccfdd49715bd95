"""The 1-D azimuthal spectrum of images (Durall et al., arXiv 1911.00686) and the spectral loss (arXiv 2003.01826).

An image's spectrum is summarised by one number per frequency ring: the
log magnitude of its centred 2-D FFT, averaged over the pixels whose
distance to the zero frequency rounds down to the same integer, then scaled
to [0, 1] per image (min-max). Up-convolutions leave their mark at the high
frequencies of this curve, which a linear classifier spots
(:mod:`nasframe.tasks.spectral.detector`); the spectral loss compares the
curves of generated and real images with a binary cross-entropy.

:func:`azimuthal_spectrum` is the differentiable torch version the loss
uses; :func:`azimuthal_spectrum_numpy` is the same computation written the
plain numpy way (the reference code's ``np.fft`` and per-ring averages), kept
so that tests can hold the torch version to it.

Departures from the reference code (github cc-hpc-itwm/UpConv,
``radialProfile.azimuthalAverage``): the rings are centred on the zero
frequency (index ``side // 2`` after ``fftshift``), not on ``(side - 1) / 2``,
and every ring is kept (the reference drops the first and the last).
The log magnitude is ``log sqrt(|F|^2 + floor)`` with a floor of
:data:`FLOOR` times the image's mean power, not the reference's fixed
``1e-8``: the reference never differentiates through the FFT (its spectral
term is computed in numpy), but a loss that does needs a floor, or the log's
gradient at near-zero frequencies is unbounded. Measured on MNIST digits: with
``1e-8``, Adam on the pixels of blurred images *raises* the spectral loss;
with the relative floor it falls to the real images' own level. Relative,
so that the spectrum still ignores the images' contrast.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from nasframe.core.errors import UserError

#: the floor under the power before the log, as a share of the image's mean power (see the module docstring)
FLOOR = 1e-3
#: predictions are kept this far from 0 and 1 so that the cross-entropy stays finite
BCE_CLAMP = 1e-6


class SpectrumError(UserError, ValueError):
    """Images whose spectrum cannot be normalised: constant (a flat spectrum) or holding NaN or infinity."""


def ring_index(side: int) -> np.ndarray:
    """Per pixel of a centred ``side x side`` spectrum, its ring: the integer part of its distance to the zero
    frequency at (side // 2, side // 2)."""
    y, x = np.indices((side, side))
    return np.hypot(y - side // 2, x - side // 2).astype(np.int64)


@lru_cache(maxsize=16)
def _ring_matrix(side: int) -> torch.Tensor:
    """A (rings x pixels) matrix whose product with a flattened spectrum averages each ring (cached per side)."""
    rings = torch.from_numpy(ring_index(side).ravel())
    onehot = F.one_hot(rings).T.to(torch.float32)
    return onehot / onehot.sum(dim=1, keepdim=True)


def check_images(images: torch.Tensor, name: str = "images", first: int = 0) -> None:
    """Refuse images whose spectrum has no shape to normalise, naming the first bad sample.

    A constant image's spectrum is zero away from the origin, so its
    normalised curve is meaningless (the min-max division is 0/0 for an
    all-zero image); NaN or infinity would spread through the FFT. ``first``
    is the index of the batch's first image in what the caller names.
    """
    if images.ndim != 4:
        raise SpectrumError(f"{name}: expected a batch (n, channels, height, width), got shape {tuple(images.shape)}")
    if images.shape[-1] != images.shape[-2]:
        raise SpectrumError(f"{name}: the rings need square images, got {images.shape[-2]}x{images.shape[-1]}")
    flat = images.detach().reshape(len(images), -1)
    finite = torch.isfinite(flat).all(dim=1)
    if not bool(finite.all()):
        bad = first + int(torch.nonzero(~finite)[0])
        raise SpectrumError(f"{name}[{bad}] holds NaN or infinite values: no spectrum to compute")
    flat_span = flat.amax(dim=1) == flat.amin(dim=1)
    if bool(flat_span.any()):
        bad = first + int(torch.nonzero(flat_span)[0])
        raise SpectrumError(f"{name}[{bad}] is constant: its spectrum is flat away from zero frequency and "
                            f"cannot be normalised")


def azimuthal_spectrum(images: torch.Tensor, name: str = "images", normalise: bool = True,
                       first: int = 0) -> torch.Tensor:
    """The (n, rings) azimuthal spectra of a batch of square images, min-max scaled to [0, 1] per image.

    Colour images are averaged to one grey channel first (the papers use grey
    images). Runs in float32 outside any autocast: ``torch.fft`` has no
    bfloat16 kernels on the CPU, and the cross-entropy is unsafe in float16.
    """
    check_images(images, name, first)
    with torch.autocast(images.device.type, enabled=False):
        # float64 stays float64 (gradcheck needs it); anything narrower is computed in float32
        grey = (images if images.dtype == torch.float64 else images.float()).mean(dim=1)
        centred = torch.fft.fftshift(torch.fft.fft2(grey), dim=(-2, -1))
        power = centred.real ** 2 + centred.imag ** 2
        log_magnitude = 0.5 * torch.log(power + FLOOR * power.mean(dim=(-2, -1), keepdim=True))
        rings = _ring_matrix(images.shape[-1]).to(device=images.device, dtype=grey.dtype)
        curve = log_magnitude.reshape(len(images), -1) @ rings.T
        if not normalise:
            return curve
        low, high = curve.amin(dim=1, keepdim=True), curve.amax(dim=1, keepdim=True)
        span = (high - low).detach()
        if bool((span == 0).any()):  # only possible for near-constant images that pass check_images
            bad = first + int(torch.nonzero(span.ravel() == 0)[0])
            raise SpectrumError(f"{name}[{bad}] has a flat azimuthal spectrum: it cannot be normalised")
        return (curve - low) / (high - low)


def azimuthal_spectrum_numpy(images: np.ndarray) -> np.ndarray:
    """The reference computation of :func:`azimuthal_spectrum` with numpy (no gradient; for tests and checks)."""
    images = np.asarray(images, dtype=np.float64)
    check_images(torch.from_numpy(images))
    side = images.shape[-1]
    rings = ring_index(side).ravel()
    counts = np.bincount(rings)
    out = []
    for image in images.mean(axis=1):
        magnitude = np.fft.fftshift(np.fft.fft2(image))
        power = np.abs(magnitude) ** 2
        log_magnitude = 0.5 * np.log(power + FLOOR * power.mean())
        curve = np.bincount(rings, weights=log_magnitude.ravel()) / counts
        out.append((curve - curve.min()) / (curve.max() - curve.min()))
    return np.stack(out)


#: what a generated spectrum is compared with: its own real image's (``pair``), or the real batch's mean (``mean``)
TARGETS = ("pair", "mean")


def spectral_loss(generated: torch.Tensor, real: torch.Tensor, target: str = "pair") -> torch.Tensor:
    """Durall et al.'s spectral loss: the binary cross-entropy of generated spectra against real ones.

    Both are normalised azimuthal spectra in [0, 1]; the generated curves
    are the predictions, the real ones the targets (no gradient flows into
    them), averaged over rings and images: the paper's
    ``-1/(M/2-1) sum R_i log R^out_i + (1 - R_i) log(1 - R^out_i)``.

    ``target="mean"`` is the paper's GAN form (arXiv 2003.01826, section 4:
    "the binary cross entropy between the generated output AI_out and the
    mean AI_real obtained from real samples"): a GAN's output has no real
    counterpart. An autoencoder's output has one, its input, and
    ``target="pair"`` (the default) compares each reconstruction with its own
    input: then the perfect reconstruction minimises both the pixel and the
    spectral loss, whereas against the mean the network can lower the
    spectral loss by giving every output the same average spectrum.
    """
    if target not in TARGETS:
        raise ValueError(f"spectral loss target must be one of {TARGETS}, got {target!r}")
    with torch.autocast(generated.device.type, enabled=False):
        predicted = azimuthal_spectrum(generated, "generated images").clamp(BCE_CLAMP, 1 - BCE_CLAMP)
        reference = azimuthal_spectrum(real.detach(), "real images")
        if target == "mean":
            reference = reference.mean(dim=0, keepdim=True).expand_as(predicted)
        return F.binary_cross_entropy(predicted, reference.to(predicted.dtype))


__all__ = ["TARGETS", "SpectrumError", "azimuthal_spectrum", "azimuthal_spectrum_numpy", "check_images", "ring_index",
           "spectral_loss"]
