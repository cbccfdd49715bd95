"""The losses of SCAN's single training: SimCLR's NT-Xent (pretext), the SCAN clustering loss, self-labelling.

All are computed in float32 whatever the trainer's autocast: a softmax
over a batch of similarities and a log of a product of probabilities lose
too much in bfloat16.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: the smallest probability the SCAN loss takes the log of (as ``torch.nn.BCELoss`` clamps its log)
EPSILON = 1e-8


def nt_xent(first: torch.Tensor, second: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy of two views' embeddings (``n x d`` each).

    Every one of the ``2n`` embeddings must pick its other view among the
    ``2n - 1`` others (its own similarity excluded), with cosine similarities
    divided by ``temperature`` as logits (Chen et al. 2020, eq. 1).
    """
    z = F.normalize(torch.cat([first, second]).float(), dim=1)
    n = first.shape[0]
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of one distribution."""
    return -(probabilities * probabilities.clamp_min(EPSILON).log()).sum()


def scan_loss(anchors: torch.Tensor, neighbours: torch.Tensor, entropy_weight: float) -> torch.Tensor:
    """SCAN's loss (arXiv 2005.12320, eq. 2) from the cluster logits of anchors and one neighbour each.

    ``-mean log <p(anchor), p(neighbour)>`` pulls an image and its mined
    neighbour into the same, confident cluster; minus ``entropy_weight``
    times the entropy of the batch's mean prediction keeps every cluster in
    use (without it, one cluster takes everything and the first term is 0).
    """
    p_anchor = anchors.float().softmax(dim=1)
    p_neighbour = neighbours.float().softmax(dim=1)
    agreement = (p_anchor * p_neighbour).sum(dim=1)
    consistency = -agreement.clamp_min(EPSILON).log().mean()
    return consistency - entropy_weight * entropy(p_anchor.mean(dim=0))


def self_label_loss(weak: torch.Tensor, strong: torch.Tensor, confidence: float) -> torch.Tensor:
    """SCAN's self-labelling loss (arXiv 2005.12320, sec. 3.3) from the cluster logits of two views of a batch.

    The images whose weakly augmented view is predicted with a probability
    above ``confidence`` take that cluster as their label; the strongly
    augmented view is trained on it by cross-entropy, each cluster weighted
    by the inverse of its share of the confident images (the official
    code's class balancing), so that the largest clusters do not grow by
    self-training alone. No image confident: a zero loss (with a graph).
    """
    probabilities = weak.detach().float().softmax(dim=1)
    top, labels = probabilities.max(dim=1)
    confident = top > confidence
    if not bool(confident.any()):
        return strong.float().sum() * 0.0
    labels = labels[confident]
    counts = torch.bincount(labels, minlength=weak.shape[1]).float()
    weights = torch.where(counts > 0, len(labels) / counts.clamp_min(1.0), torch.ones_like(counts))
    return F.cross_entropy(strong[confident].float(), labels, weight=weights)
