"""Conformance checks of the plug-in contracts, for built-ins and third-party plug-ins alike.

Each check exercises one contract of :mod:`nasframe.core` through its public
methods only and raises ``AssertionError`` whose message names the rule that
was broken, so a new space, searcher or surrogate family is checked with one
call in its own test suite::

    from nasframe.testing import check_searcher, check_space, check_surrogate

    check_space(MySpace())
    check_searcher("my-searcher", MySpace(), population=8)
    check_surrogate("xgb", MySpace(), members=2)
    check_task(MyTask(), recipe=Recipe(epochs=1, data_fraction=0.02))
"""

from nasframe.testing._searcher import check_searcher
from nasframe.testing._space import check_space
from nasframe.testing._surrogate import check_surrogate
from nasframe.testing._task import check_task

__all__ = ["check_searcher", "check_space", "check_surrogate", "check_task"]
