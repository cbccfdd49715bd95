"""How an experiment's runs are cut into Ray tasks.

Runs are grouped into chunks, one Ray task each: the first task of each
(searcher, benchmark) pair carries one run and measures its time; later
chunks are sized to about ``chunk_seconds`` of work, but never more than half
of a worker's share of what is left, so the work still spreads at the end.
A plain Ray task is cheap (docs/PERFORMANCE.md has the figures), so the
chunks are not there for the scheduling cost but to keep the driver's
per-task bookkeeping, the result transfers and the number of objects small
for experiments of many short runs; the first task of each worker process
pays its start (process, imports, benchmark load) whatever the chunking.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque

from nasframe.worker import RunOutcome, RunSpec


class ChunkPlanner:
    """Hands out chunks of runs sized by the measured time per evaluation.

    Runs are grouped by (benchmark, searcher): the first chunk of a group is
    one run (a probe); once a run of the group has been timed, chunks carry
    about ``chunk_seconds`` of work, capped at half of one worker's share of
    the runs left (so every worker gets at least two more chunks and the
    tail balances).
    """

    def __init__(self, todo: list[RunSpec], workers: int, chunk_seconds: float, max_chunk: int) -> None:
        self.groups: dict[tuple[str, str], deque[RunSpec]] = defaultdict(deque)
        for spec in todo:
            self.groups[(spec.benchmark, spec.searcher)].append(spec)
        self.order = deque(self.groups)
        self.workers = workers
        self.chunk_seconds = chunk_seconds
        self.max_chunk = max_chunk
        self.probing: set[tuple[str, str]] = set()
        #: measured seconds per evaluation, per group: (total seconds, total evaluations)
        self.cost: dict[tuple[str, str], list[float]] = {}

    def __bool__(self) -> bool:
        return any(self.groups[g] for g in self.order)

    def observe(self, outcome: RunOutcome) -> None:
        if outcome.infra_error is not None:
            return
        meta = outcome.meta
        group = (meta["benchmark"], meta["searcher"])
        total = self.cost.setdefault(group, [0.0, 0.0])
        total[0] += outcome.run_seconds
        total[1] += max(int(meta.get("budget", 1)), 1)
        self.probing.discard(group)

    def next_chunk(self, in_flight_runs: int = 0) -> list[RunSpec]:
        # prefer a group that is measured, else one not yet probed, else any
        live = [g for g in self.order if self.groups[g]]
        measured = [g for g in live if g in self.cost]
        unprobed = [g for g in live if g not in self.cost and g not in self.probing]
        group = (measured or unprobed or live)[0]
        queue = self.groups[group]
        if group not in self.cost:
            self.probing.add(group)
            size = 1
        else:
            seconds, evaluations = self.cost[group]
            per_run = seconds / max(evaluations, 1) * max(queue[0].budget, 1)
            wanted = math.floor(self.chunk_seconds / per_run) if per_run > 0 else self.max_chunk
            remaining = sum(len(q) for q in self.groups.values()) + in_flight_runs
            spread = math.ceil(remaining / (2 * self.workers))
            size = max(1, min(wanted, spread, self.max_chunk))
        chunk = [queue.popleft() for _ in range(min(size, len(queue)))]
        # rotate so groups take turns
        self.order.remove(group)
        self.order.append(group)
        return chunk


__all__ = ["ChunkPlanner"]
