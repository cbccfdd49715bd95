"""What SCAN computes on features and labels without training: neighbours, k-means, and the scores.

Small pure functions over numpy arrays, each delegating to the library
that does it well: scikit-learn's nearest neighbours, k-means, NMI and
ARI, and scipy's Hungarian matching.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, confusion_matrix, normalized_mutual_info_score
from sklearn.neighbors import NearestNeighbors

from nasframe.core.errors import InvalidSetting


def mine_neighbours(features: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` nearest other rows of every row of ``features`` (``n x k`` row indices, nearest first).

    Features are L2-normalised first, so Euclidean order is cosine order (as
    SCAN mines on the normalised pretext embedding). A row is never its
    own neighbour, even when duplicates make it tie with others at distance 0.
    """
    n = len(features)
    if not 1 <= k < n:
        raise InvalidSetting(f"recipe task option 'neighbours'={k}: need 1 <= neighbours < {n} "
                             f"(the number of training images)")
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    found = NearestNeighbors(n_neighbors=k + 1).fit(unit).kneighbors(unit, return_distance=False)
    not_self = found != np.arange(n)[:, None]
    # each row keeps its first k entries other than itself (if itself is absent, the k nearest)
    keep = not_self & (np.cumsum(not_self, axis=1) <= k)
    return found[keep].reshape(n, k)


def kmeans_clusters(train: np.ndarray, others: list[np.ndarray], clusters: int, seed: int) -> list[np.ndarray]:
    """k-means fitted on the ``train`` features, then the nearest centre of every row of each of ``others``.

    The baseline SCAN is compared with ("pretext + k-means"): the same
    normalised features, clustered without any training.
    """
    unit = [f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12) for f in (train, *others)]
    model = KMeans(n_clusters=clusters, n_init=10, random_state=seed).fit(unit[0].astype(np.float64))
    return [model.predict(f.astype(np.float64)).astype(np.int64) for f in unit[1:]]


def cluster_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Accuracy under the best one-to-one matching of clusters to classes (Hungarian algorithm).

    With more clusters than classes the unmatched clusters count as wrong;
    with fewer, the unmatched classes do.
    """
    counts = confusion_matrix(clusters, labels, labels=np.arange(max(clusters.max(), labels.max()) + 1))
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum()) / len(labels)


def cluster_scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """Hungarian accuracy, normalised mutual information and adjusted Rand index of a clustering."""
    return {"accuracy": cluster_accuracy(labels, clusters),
            "nmi": float(normalized_mutual_info_score(labels, clusters)),
            "ari": float(adjusted_rand_score(labels, clusters))}
