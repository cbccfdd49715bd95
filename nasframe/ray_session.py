"""Joining or starting Ray for one block of work, and leaving it as found.

Every driver that fans work out (experiments, trainings, the BPE study) needs
the same three cases: Ray already running (use it, leave it running), a
cluster address (join it), or nothing (start a local instance on every core,
without the dashboard). Only what the block started is shut down at its end.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, **init: Any) -> Iterator[None]:
    """Ray for the block: joins ``address`` or starts a local instance (``num_cpus``, default every
    core, no dashboard) unless one is running already; ``init`` adds ``ray.init`` keywords
    (e.g. a ``runtime_env``). Shuts down only what it started."""
    import ray

    if ray.is_initialized():
        yield
        return
    if address is not None:
        ray.init(address=address, **init)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), **{"include_dashboard": False, **init})
    try:
        yield
    finally:
        ray.shutdown()
