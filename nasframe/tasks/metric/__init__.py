"""Deep metric learning as a task: an L2-normalised embedding head on a searched backbone.

Trained with the triplet loss (semi-hard negatives, FaceNet) or ProxyNCA
(Movshovitz-Attias et al., arXiv 1703.07464) on the *seen* classes of an
image set, judged by retrieval (Recall@1, Recall@4) and k-means NMI on the
*unseen* ones; the SVMax regulariser (Taha et al., arXiv 2103.02770) and
label noise are recipe options. See ``docs/tasks/metric.md``.
"""

from __future__ import annotations

from nasframe.tasks.metric.task import MetricLearning

__all__ = ["MetricLearning"]
