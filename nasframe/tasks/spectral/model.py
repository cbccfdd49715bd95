"""The autoencoder whose decoder up-samples in stages, one searched operation per stage.

The encoder halves the side ``stages`` times with strided 3x3 convolutions
(widths ``channels * 2**i``), a linear bottleneck of ``latent`` numbers
squeezes the code (``latent=0``: none, the code is the last feature map),
and the decoder mirrors the encoder: each stage runs ``layers - 1`` 3x3
convolutions at its input size, then its up-sampling operation (x2); a side
the stages cannot halve evenly is padded (replicating the border) and the
output cropped back. The
last stage's operation outputs the image itself, with no convolution after
it, so its artefacts reach the output unsmoothed: the setting of the paper's
Figure 1 (DCGAN-like generators whose last layer is an up-convolution).
ReLU between layers, no normalisation (evaluation equals training
behaviour, and a reconstruction never depends on the batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def upsample(op: str, in_channels: int, out_channels: int) -> nn.Module:
    """One x2 up-sampling of ``op`` (one of :data:`~nasframe.tasks.spectral.space.OPS`), ``in_channels`` to
    ``out_channels``.

    ``transposed``: kernel 4, stride 2, padding 1 (DCGAN's, the reference
    generator's); its uneven kernel overlap makes the checkerboard pattern.
    ``nearest``/``bilinear``: resize, then a 3x3 convolution (Odena et al.'s
    fix). ``pixelshuffle``: a 3x3 convolution to 4x the channels, then
    sub-pixel rearrangement (Shi et al.).
    """
    if op == "transposed":
        return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)
    if op in ("nearest", "bilinear"):
        resize = nn.Upsample(scale_factor=2, mode=op, **({"align_corners": False} if op == "bilinear" else {}))
        return nn.Sequential(resize, nn.Conv2d(in_channels, out_channels, 3, padding=1))
    if op == "pixelshuffle":
        return nn.Sequential(nn.Conv2d(in_channels, out_channels * 4, 3, padding=1), nn.PixelShuffle(2))
    # the space validates ops first; this guards direct use of the model (it does not import the space: no cycle)
    raise ValueError(f"unknown up-sampling op {op!r}: transposed, nearest, bilinear or pixelshuffle")


class UpsamplingAutoencoder(nn.Module):
    """Encoder, linear bottleneck, and a decoder of ``len(ops)`` up-sampling stages; see the module docstring."""

    def __init__(self, ops: tuple[str, ...], *, side: int = 28, in_channels: int = 1, channels: int = 16,
                 layers: int = 1, latent: int = 32) -> None:
        super().__init__()
        stages = len(ops)
        if side < 1:
            raise ValueError(f"image side must be positive, got {side}")
        # a side that the stages cannot halve evenly (BPE's 21 or 14 pixels) is padded up to one they can,
        # and the reconstruction cropped back: the loss and the spectra only ever see the image's own pixels
        self.side, self.padded = side, -(-side // 2 ** stages) * 2 ** stages
        widths = [channels * 2 ** i for i in range(stages)]
        encoder: list[nn.Module] = []
        for width, previous in zip(widths, [in_channels, *widths]):
            encoder += [nn.Conv2d(previous, width, 3, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*encoder)
        self.code_shape = (widths[-1], self.padded // 2 ** stages, self.padded // 2 ** stages)
        flat = widths[-1] * self.code_shape[1] * self.code_shape[2]
        # no ReLU on the way out of the bottleneck: a code of all zeros would make the output one constant;
        # latent 0: no bottleneck, the network is fully convolutional (its code is the last feature map)
        self.bottleneck = nn.Sequential(nn.Flatten(), nn.Linear(flat, latent), nn.ReLU(), nn.Linear(latent, flat)) \
            if latent else nn.Identity()
        decoder: list[nn.Module] = []
        outs = [*reversed(widths[:-1]), in_channels]
        for i, (op, width, out) in enumerate(zip(ops, reversed(widths), outs)):
            for _ in range(layers - 1):
                decoder += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
            decoder.append(upsample(op, width, out))
            if i < stages - 1:
                decoder.append(nn.ReLU())
        self.decoder = nn.Sequential(*decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padded != self.side:
            extra = self.padded - self.side
            x = F.pad(x, (0, extra, 0, extra), mode="replicate")
        code = self.bottleneck(self.encoder(x)).view(len(x), *self.code_shape)
        return self.decoder(code)[..., :self.side, :self.side]
