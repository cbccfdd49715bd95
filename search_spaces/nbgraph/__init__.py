"""NAS-Bench-Graph: GNN architectures of 4 computing nodes, one input each, 9 operations.

26,206 distinct architectures (2,021 over the ogbn-proteins op set), keyed by
the benchmark's own ``valid_hash`` so that lookups hit its tables
(:func:`benchmarks.loaders.nbgraph.load_nbgraph`). ``model`` (torch,
torch_geometric) is imported only by :meth:`NBGraphSpace.build_model`.
"""

from search_spaces.nbgraph.arch import (
    LINKS,
    OP_SETS,
    OPS,
    PROTEINS_OPS,
    NBGraphArch,
    decode_hash,
    valid_hash,
)
from search_spaces.nbgraph.datasets import DATASET_NAMES, DATASETS, NBGraphDataset, get_dataset
from search_spaces.nbgraph.space import NBGraphSpace
from search_spaces.nbgraph.spellings import enumerate_archs

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "LINKS",
    "NBGraphArch",
    "NBGraphDataset",
    "NBGraphSpace",
    "OPS",
    "OP_SETS",
    "PROTEINS_OPS",
    "decode_hash",
    "enumerate_archs",
    "get_dataset",
    "valid_hash",
]
