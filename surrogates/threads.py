"""Torch's intra-op thread count, set for a block and restored after it.

Surrogates and searchers run inside Ray workers where other work shares the
cores: each family says how many threads its fits and predictions may use
(default 1: on a loaded small machine a second thread mostly spins, see
``docs/PERFORMANCE.md``).
"""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads, restoring the previous setting."""
    import torch

    previous = torch.get_num_threads()
    if threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads != previous:
            torch.set_num_threads(previous)
