"""NAS-Bench-101: cells of at most 7 vertices and 9 edges, 3 operations."""

from search_spaces.nb101.cell import NB101Cell, OPS, INPUT, OUTPUT, MAX_VERTICES, MAX_EDGES

__all__ = ["NB101Cell", "OPS", "INPUT", "OUTPUT", "MAX_VERTICES", "MAX_EDGES"]
