"""DARTS / NAS-Bench-301: a normal and a reduction cell of 4 nodes, 7 operations.

``model`` (torch) is imported only by :meth:`DARTSSpace.build_model`.
"""

from search_spaces.darts.convert import (
    NB301_PREFIX,
    from_darts_genotype,
    from_naslib_compact,
    from_nb301_config,
    parse_genotype_string,
    to_genotype_string,
    to_naslib_compact,
    to_nb301_config,
)
from search_spaces.darts.genotype import (
    CELL_TYPES,
    OPS,
    DARTSGenotype,
    count_cells,
    count_labelled_cells,
    edge_index,
)
from search_spaces.darts.space import DARTSSpace

__all__ = [
    "CELL_TYPES",
    "DARTSGenotype",
    "DARTSSpace",
    "NB301_PREFIX",
    "OPS",
    "count_cells",
    "count_labelled_cells",
    "edge_index",
    "from_darts_genotype",
    "from_naslib_compact",
    "from_nb301_config",
    "parse_genotype_string",
    "to_genotype_string",
    "to_naslib_compact",
    "to_nb301_config",
]
