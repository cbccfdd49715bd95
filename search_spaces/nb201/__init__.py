"""NAS-Bench-201: a 4-node cell with one of 5 operations on each of its 6 edges.

15,625 spellings, 6,985 distinct networks (the canonical form is documented in
:mod:`search_spaces.nb201.cell`). The tabular benchmarks over NB201's real
results are :mod:`benchmarks.loaders.nb201`. ``model`` (torch) is imported only
by :meth:`NB201Space.build_model`.
"""

from search_spaces.nb201.cell import (
    EDGES,
    OPS,
    NB201Cell,
    all_representatives,
    canonical_form,
    parse_string,
    to_string,
)
from search_spaces.nb201.space import NB201Space

__all__ = [
    "EDGES",
    "NB201Cell",
    "NB201Space",
    "OPS",
    "all_representatives",
    "canonical_form",
    "parse_string",
    "to_string",
]
