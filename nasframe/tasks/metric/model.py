"""The embedding network: a space's network whose outputs are L2-normalised, plus what training needs.

The proxies of ProxyNCA and the running statistics of the batches' mean
singular value live here as parameters and buffers, so that a checkpoint
holds them and a resumed training reports exactly what an uninterrupted one
would.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossSettings:
    """A recipe's training settings for this network (the task's options, read once when it is built)."""

    loss: str = "triplet"
    margin: float = 0.2
    temperature: float = 1 / 9
    svmax: float = 0.0


class EmbeddingNet(torch.nn.Module):
    """``backbone`` (any network with ``dim`` outputs) followed by L2 normalisation.

    ``settings``: how :meth:`MetricLearning.loss` trains it. ``proxies``: the
    number of ProxyNCA proxies (one per training class), 0 for losses without
    them; they are trained with the network but are not part of the
    embedding (costs leave them out).
    """

    def __init__(self, backbone: torch.nn.Module, dim: int, proxies: int = 0,
                 settings: LossSettings = LossSettings()) -> None:
        super().__init__()
        self.backbone = backbone
        self.dim = dim
        self.settings = settings
        # ProxyNCA's proxies start as random unit vectors (the loss normalises them again)
        self.proxies = (torch.nn.Parameter(F.normalize(torch.randn(proxies, dim), dim=1)) if proxies else None)
        # the mean singular value of the epoch's training batches: sum, count, smallest, largest
        self.register_buffer("sv_stats", torch.tensor([0.0, 0.0, torch.inf, -torch.inf]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # normalised in float32: under bfloat16 autocast the rows would be unit only to 3 digits, and
        # SVMax's bounds assume unit rows
        return F.normalize(self.backbone(x).float(), dim=1)

    def reset_singular_values(self) -> None:
        """Forget the last epoch's statistics (called before every epoch)."""
        self.sv_stats.copy_(torch.tensor([0.0, 0.0, torch.inf, -torch.inf]))

    @torch.no_grad()
    def record_singular_value(self, value: torch.Tensor) -> None:
        """Add one batch's mean singular value to the epoch's statistics."""
        value = value.detach().to(self.sv_stats.dtype)
        self.sv_stats[0] += value
        self.sv_stats[1] += 1
        self.sv_stats[2] = torch.minimum(self.sv_stats[2], value)
        self.sv_stats[3] = torch.maximum(self.sv_stats[3], value)

    def singular_values(self) -> dict[str, float]:
        """The epoch's mean, smallest and largest batch mean singular value; empty before any batch."""
        total, count, low, high = (float(v) for v in self.sv_stats)
        if count == 0:
            return {}
        return {"mean_singular_value": total / count, "min_singular_value": low, "max_singular_value": high}
