"""The training losses of the metric task and SVMax's regulariser, as pure functions of a batch.

Every function takes L2-normalised embeddings (one row per image), so a
squared distance is ``2 - 2 cos``: bounded in [0, 4], which is what makes a
fixed margin (triplet) or temperature (ProxyNCA) meaningful.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nasframe.core.errors import InvalidSetting

#: relative slack on SVMax's bounds: singular values of a float32 SVD are exact to a few ulps, not exactly
BOUND_TOLERANCE = 1e-4


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between unit rows of ``a`` and ``b`` (clamped: rounding can make them < 0)."""
    return (2.0 - 2.0 * a @ b.T).clamp_min(0.0)


def triplet_semihard_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """The triplet loss with semi-hard negatives (Schroff et al., FaceNet, 2015), over every positive pair.

    For an anchor ``a`` and positive ``p`` the negative is the closest one
    farther than ``p`` (semi-hard); when there is none, the farthest
    negative, as TensorFlow's ``triplet_semihard_loss`` does (the hardest
    one collapses training early). A batch needs two classes and one class
    with two images, else there is no triplet: an error naming the batch.
    """
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    negative = ~same
    if not bool(positive.any()) or not bool(negative.any()):
        classes = int(torch.unique(labels).numel())
        raise InvalidSetting(f"triplet loss: a training batch of {len(labels)} images from {classes} class(es) "
                             f"has no (anchor, positive, negative) triplet; recipe field 'batch_size' must hold "
                             f"at least two classes with two images each")
    dist = squared_distances(embeddings, embeddings)
    d_ap, d_an = dist[:, :, None], dist[:, None, :]  # (anchor, positive, 1), (anchor, 1, negative)
    semihard = negative[:, None, :] & (d_an > d_ap)
    closest = torch.where(semihard, d_an, torch.full_like(d_an, math.inf)).amin(dim=-1)
    farthest = torch.where(negative, dist, torch.full_like(dist, -math.inf)).amax(dim=-1, keepdim=True)
    chosen = torch.where(torch.isinf(closest), farthest.expand_as(closest), closest)
    return F.relu(margin + dist - chosen)[positive].mean()


def proxynca_loss(embeddings: torch.Tensor, labels: torch.Tensor, proxies: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """ProxyNCA (arXiv 1703.07464, eq. 7): ``-log(exp(-d(x, p_y)) / sum_{z != y} exp(-d(x, p_z)))``.

    ``d`` is the squared distance between the embedding and the L2-normalised
    proxies, divided by ``temperature`` (1: the paper; a low one sharpens the
    softmax, which Teh et al., arXiv 2004.01113, found decisive). As in the
    paper the positive proxy is left out of the denominator.
    """
    dist = squared_distances(embeddings, F.normalize(proxies.float(), dim=1)) / temperature
    own = F.one_hot(labels, proxies.shape[0]).bool()
    positive = dist[own]
    others = dist.masked_fill(own, math.inf)
    return (positive + torch.logsumexp(-others, dim=1)).mean()


def svmax_bounds(batch: int, dim: int) -> tuple[float, float]:
    """SVMax's bounds on the mean singular value of ``batch`` unit rows of ``dim`` numbers (batch > dim).

    The squared singular values sum to the squared Frobenius norm, ``batch``;
    so their sum is at least ``sqrt(batch)`` (all rows equal: one non-zero
    singular value) and, by Cauchy-Schwarz over ``dim`` of them, at most
    ``sqrt(dim * batch)`` (rows spread evenly). Divided by ``dim``:
    ``sqrt(b) / d <= s_mu <= sqrt(b / d)`` (Taha et al., section 3).
    """
    if batch <= dim:
        raise InvalidSetting(f"SVMax's bounds need a batch larger than the embedding: recipe fields "
                             f"'batch_size'={batch} and 'embedding_dim'={dim}")
    return math.sqrt(batch) / dim, math.sqrt(batch / dim)


def mean_singular_value(embeddings: torch.Tensor) -> torch.Tensor:
    """The mean singular value of a batch's embedding matrix, in float32 (no SVD under bfloat16 autocast)."""
    with torch.autocast(embeddings.device.type, enabled=False):
        return torch.linalg.svdvals(embeddings.float()).mean()


def check_within_bounds(value: float, batch: int, dim: int) -> None:
    """Raise if a batch's mean singular value leaves SVMax's analytic bounds: the embeddings were not unit rows."""
    lower, upper = svmax_bounds(batch, dim)
    if not lower * (1 - BOUND_TOLERANCE) <= value <= upper * (1 + BOUND_TOLERANCE):
        raise FloatingPointError(f"SVMax: mean singular value {value:.6f} of a batch of {batch} embeddings of "
                                 f"{dim} dimensions is outside its bounds [{lower:.6f}, {upper:.6f}]")
