"""Retrieval and clustering metrics of embeddings of unseen classes: Recall@K and k-means NMI.

Recall@K (Jegou et al. 2011, the metric of the ProxyNCA and SVMax papers):
the share of queries with at least one image of their class among their K
nearest neighbours, the query itself excluded. NMI: scikit-learn's k-means
with as many clusters as classes, scored by
``normalized_mutual_info_score`` against the labels.
"""

from __future__ import annotations

import numpy as np
import torch

#: rows of the similarity matrix computed at once (a 5,000-image split would be 100 MB in one go)
CHUNK = 1024


def recall_at_k(embeddings: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 4)) -> dict[int, float]:
    """Recall@K for every K of ``ks`` on unit-row ``embeddings`` (cosine neighbours, the query left out)."""
    n, top = len(labels), max(ks)
    if n <= top:
        raise ValueError(f"Recall@{top} needs more than {top} images, got {n}")
    hits = {k: 0 for k in ks}
    for start in range(0, n, CHUNK):
        sim = embeddings[start:start + CHUNK] @ embeddings.T
        rows = torch.arange(sim.shape[0], device=sim.device)
        sim[rows, rows + start] = -torch.inf  # a query is not its own neighbour
        neighbours = sim.topk(top, dim=1).indices
        same = labels[neighbours] == labels[start:start + CHUNK, None]
        for k in ks:
            hits[k] += int(same[:, :k].any(dim=1).sum())
    return {k: hits[k] / n for k in ks}


def kmeans_nmi(embeddings: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """NMI between the labels and a k-means clustering (k = number of classes, fixed seed: repeatable)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    k = len(np.unique(labels))
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embeddings.astype(np.float64))
    return float(normalized_mutual_info_score(labels, clusters))
