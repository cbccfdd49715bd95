"""Search spaces: NAS-Bench-101, DARTS / NAS-Bench-301, ENAS, nas-bench-graph and MnasNet blocks.

Each space lives in its own subpackage and is registered below by import
string, so importing this package imports none of them: the registry
(:data:`nasframe.core.SPACES`) imports this module on its first lookup and a
space's package on first use. Obtain one with ``nasframe.load_space(name)``.
"""

from nasframe.core.registry import SPACES

SPACES.register("nb101", "search_spaces.nb101.space:NB101Space")
SPACES.register("darts", "search_spaces.darts.space:DARTSSpace")
SPACES.register("nb301", "search_spaces.darts.space:DARTSSpace")
SPACES.register("enas", "search_spaces.enas.space:ENASSpace")
SPACES.register("nbgraph", "search_spaces.nbgraph.space:NBGraphSpace")
SPACES.register("mnas", "search_spaces.mnas.space:MnasSpace")
SPACES.register("nb201", "search_spaces.nb201.space:NB201Space")
