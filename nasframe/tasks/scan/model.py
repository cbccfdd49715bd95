"""SCAN's network: a searched backbone, a projection head for the pretext, a clustering head, and the state
of the two stages as buffers, so that a checkpoint holds everything a resumed training needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasframe.tasks.scan.options import ScanSettings

#: ``stage`` buffer values (self-labelling keeps the mined neighbours and the frozen baseline of the SCAN stage)
PRETEXT, CLUSTERING, SELF_LABELLING = 0, 1, 2


class ScanModel(nn.Module):
    """``backbone`` (images -> ``feature_dim`` features) with SimCLR's projection MLP and a linear
    clustering head over ``clusters``; ``forward`` returns the cluster logits (what is deployed).

    Buffers, all of fixed shape from the start (a checkpoint loads into a
    freshly built model): ``stage`` (:data:`PRETEXT`, :data:`CLUSTERING` or :data:`SELF_LABELLING`),
    ``neighbours`` (per training image, in the order of the task's training
    subset, the training-split indices of its mined neighbours) and
    ``pretext_clusters_<split>`` (the k-means clusters of the val and test
    images on the pretext features, frozen at the switch for the baseline).
    """

    def __init__(self, backbone: nn.Module, settings: ScanSettings, train_size: int,
                 split_sizes: dict[str, int]) -> None:
        super().__init__()
        feature_dim, clusters = settings.feature_dim, settings.clusters
        # the losses' constants, fixed by the recipe (which a checkpoint's fingerprint holds), not state
        self.temperature, self.entropy_weight = settings.temperature, settings.entropy_weight
        self.confidence = settings.confidence
        self.backbone = backbone
        # SimCLR's head: the contrastive loss acts on its output, so the backbone's features keep more
        # than the augmentation-invariant part (Chen et al. 2020, sec. 4.2)
        self.projection = nn.Sequential(nn.Linear(feature_dim, feature_dim), nn.ReLU(inplace=True),
                                        nn.Linear(feature_dim, feature_dim))
        self.cluster_head = nn.Linear(feature_dim, clusters)
        self.register_buffer("stage", torch.tensor(PRETEXT, dtype=torch.long))
        self.register_buffer("neighbours", torch.zeros(train_size, settings.neighbours, dtype=torch.long))
        for split, size in split_sizes.items():
            self.register_buffer(f"pretext_clusters_{split}", torch.full((size,), -1, dtype=torch.long))

    @property
    def clustering(self) -> bool:
        """Whether the SCAN stage has begun (neighbours mined; also true while self-labelling)."""
        return int(self.stage) >= CLUSTERING

    @property
    def self_labelling(self) -> bool:
        """Whether the self-labelling stage has begun."""
        return int(self.stage) == SELF_LABELLING

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised pretext embedding: what NT-Xent trains, neighbours are mined on and k-means clusters."""
        return F.normalize(self.projection(self.backbone(x)).float(), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cluster_head(self.backbone(x))
