"""ENAS macro space (as in D-VAE / SVGe): N layers, 6 ops, skip bits to earlier nodes.

``model`` (torch) is imported only by :meth:`ENASSpace.build_model`.
"""

from search_spaces.enas.arch import NODE_TYPES, OPS, ENASArch, num_skip_bits
from search_spaces.enas.io import (
    DVAE_BURN_IN,
    DVAEFormatError,
    DVAERecord,
    dvae_split,
    format_dvae_line,
    parse_dvae_line,
    read_dvae_file,
    write_dvae_file,
)
from search_spaces.enas.space import ENASSpace

__all__ = [
    "DVAE_BURN_IN",
    "DVAEFormatError",
    "DVAERecord",
    "ENASArch",
    "ENASSpace",
    "NODE_TYPES",
    "OPS",
    "dvae_split",
    "format_dvae_line",
    "num_skip_bits",
    "parse_dvae_line",
    "read_dvae_file",
    "write_dvae_file",
]
