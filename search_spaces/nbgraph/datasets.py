"""The nine NAS-Bench-Graph datasets and the network each table was trained with.

The benchmark tuned one set of training hyper-parameters per dataset and
trained every architecture with it; its tables do not record them. The
network-shape part is recovered here from the tables themselves: the ``para``
column (parameters in millions, ``np.sum(sizes) / 1e6`` in the benchmark's
worker) equals, for every architecture of the dataset, the parameter count of
:func:`~search_spaces.nbgraph.model.build_nbgraph_model` with exactly one
choice of hidden width (64/128/256), pre-processing and post-processing
linear layers (0/1 each) among the benchmark's ``random_hp`` choices:
26,206 of 26,206 for seven datasets, 2,021 of 2,021 for proteins and
24,639 of 26,206 for physics, whose remaining 1,567 ``para`` values are not
whole counts (means over three runs that disagree). ``tests/test_nbgraph.py``
re-checks a sample. Input features and classes are the public datasets'
(PyG Planetoid/Coauthor/Amazon, OGB arXiv; ogbn-proteins: 8 features, the
mean of its edge features per node, and 112 binary tasks).

Dropout, learning rate, optimiser and epochs leave no trace in the tables;
they are not guessed here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NBGraphDataset:
    """One benchmark dataset: its sizes and the network shape of its table."""

    name: str
    num_features: int
    num_classes: int
    hidden_dim: int
    num_pre: int
    num_post: int
    #: ``"accuracy"`` (node classification) or ``"roc_auc"`` (ogbn-proteins, multi-label)
    metric: str = "accuracy"
    #: which op set the table covers (see :data:`~search_spaces.nbgraph.arch.OP_SETS`)
    op_set: str = "all"
    #: GCN normalisation and GAT self-loops (off for ogbn-proteins, as in the benchmark)
    normalize: bool = True


DATASETS: dict[str, NBGraphDataset] = {
    d.name: d
    for d in (
        NBGraphDataset("cora", 1433, 7, 256, 0, 1),
        NBGraphDataset("citeseer", 3703, 6, 256, 0, 1),
        NBGraphDataset("pubmed", 500, 3, 128, 0, 0),
        NBGraphDataset("cs", 6805, 15, 128, 1, 0),
        NBGraphDataset("physics", 8415, 5, 256, 1, 0),
        NBGraphDataset("photo", 745, 8, 128, 0, 0),
        NBGraphDataset("computers", 767, 10, 64, 1, 1),
        NBGraphDataset("arxiv", 128, 40, 128, 0, 1),
        NBGraphDataset(
            "proteins", 8, 112, 256, 1, 1, metric="roc_auc", op_set="proteins", normalize=False
        ),
    )
}
DATASET_NAMES = tuple(DATASETS)


def get_dataset(name: str) -> NBGraphDataset:
    """The dataset called ``name``; the error lists the nine."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown NAS-Bench-Graph dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}"
        ) from None


__all__ = ["DATASETS", "DATASET_NAMES", "NBGraphDataset", "get_dataset"]
