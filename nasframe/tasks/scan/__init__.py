"""SCAN (Van Gansbeke et al., "SCAN: Learning to Classify Images without Labels", arXiv 2005.12320).

Unsupervised image classification in one training of a searched backbone:
a SimCLR pretext stage (:mod:`.losses`' NT-Xent on two augmented views,
:mod:`.views`), then, at the switch, the K nearest neighbours of every
training image in the pretext feature space are mined once
(:mod:`.clustering`) and kept in the model (:mod:`.model`), and the
clustering head is trained with the SCAN loss; optionally, the last epochs
self-label (cross-entropy on the confident predictions). Each stage restarts
the optimiser. The task
(:class:`~nasframe.tasks.scan.task.ScanClustering`, registered as ``scan``)
never reads a training label; labels only score the clusters (Hungarian
accuracy, NMI, ARI) and the k-means baseline on the same pretext features.
"""

from __future__ import annotations

__all__: list[str] = []
