"""Local search (hill climbing with restarts), White, Nolen & Savani 2020/2021."""

from __future__ import annotations

from nasframe.core import Architecture, EvalResult, SearchSpace, Searcher
from nasframe.searchers._evolution import score


class LocalSearch(Searcher):
    """Local search as in White, Nolen & Savani, "Local search is state of the art for
    neural architecture search benchmarks" (arXiv:2005.02960; UAI 2021 as "Exploring the
    loss landscape in neural architecture search").

    One climb: evaluate ``num_init`` random architectures and start from the
    best; evaluate the start's neighbours (``space.neighbors``, in random
    order, skipping architectures already proposed); move as soon as a
    neighbour beats the incumbent (*first improvement*, strictly better
    validation accuracy) and continue from there. When the whole neighbourhood
    has been handed out without an improvement the incumbent is a local
    optimum: it is recorded in ``local_optima`` and a new climb starts from the
    best of ``restart_init`` fresh random architectures.

    This is the authors' reference code (naszilla ``nas_algorithms.local_search``)
    with its defaults: ``num_init=10``, ``query_full_nbhd=False`` (first
    improvement), ``stop_at_minimum=True`` (restart at a local optimum), a
    shuffled neighbourhood, and a restart that again draws ``num_init`` random
    architectures (``restart_init=None`` means ``num_init``; ``restart_init=1``
    gives NASLib's port, which restarts from a single random architecture).
    ``query_full_neighborhood=True`` is the paper's other variant: evaluate the
    whole (unseen) neighbourhood, then move to its best member if it improves.

    Batches and asynchrony: ``ask(n)`` hands out the next ``n`` unevaluated
    neighbours of the incumbent (moving on to the next step or a restart
    inside the same call when the neighbourhood runs out). Decisions use only
    the results told so far; results that never arrive (failures) are simply
    not counted, and results of a previous incumbent's neighbours that arrive
    after the incumbent moved no longer move it. While a climb has no start
    yet because none of its random architectures has been told, ``ask`` hands
    out more random ones instead of blocking.

    ``climbs`` holds each climb's incumbents ``(arch, val_accuracy)`` in
    order (each one a neighbour of the previous, strictly better);
    ``origins`` says for every proposal whether it was ``("random", None)``
    or ``("neighbour", incumbent_hash)``.
    """

    name = "local"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        num_init: int = 10,
        query_full_neighborhood: bool = False,
        restart_init: int | None = None,
    ) -> None:
        restart_init = num_init if restart_init is None else restart_init
        if num_init < 1 or restart_init < 1:
            raise ValueError(
                f"LocalSearch needs num_init >= 1 and restart_init >= 1, got {num_init} and {restart_init}"
            )
        super().__init__(space, seed=seed)
        self.num_init = num_init
        self.query_full_neighborhood = query_full_neighborhood
        self.restart_init = restart_init
        #: the current point of the climb, (arch, val_accuracy); None while a climb is being started
        self.incumbent: tuple[Architecture, float] | None = None
        self.climbs: list[list[tuple[Architecture, float]]] = []
        self.local_optima: list[tuple[Architecture, float]] = []
        self.origins: list[tuple[str, str | None]] = []
        #: random starts of the climb being started: left to hand out, and their hashes
        self._round_left = num_init
        self._round: set[str] = set()
        #: best told result that may become the incumbent (the best random start so far, or,
        #: for the full-neighbourhood variant, the best improving neighbour so far)
        self._challenger: tuple[Architecture, float] | None = None
        #: the incumbent's neighbours not handed out yet (popped from the end), and the hashes
        #: of those handed out, whose results may move the incumbent
        self._queue: list[Architecture] = []
        self._neighbours: set[str] = set()
        self._incumbent_key: str | None = None

    # -- proposing -----------------------------------------------------------

    def ask(self, n: int = 1) -> list[Architecture]:
        out: list[Architecture] = []
        while len(out) < n:
            if self.incumbent is None:
                if self._round_left > 0 or self._challenger is None:
                    drawn = list(self.space.sample_distinct(self.rng, 1, self.seen).values())
                    if not drawn:
                        break  # the space is (nearly) exhausted
                    self._round_left = max(0, self._round_left - 1)
                    self._round.update(self.space.canonical_hashes(drawn))
                    self.origins.append(("random", None))
                    out.extend(self._mark(drawn))
                else:
                    self._adopt(self._challenger, new_climb=True)
                continue
            if self._queue:
                neighbour = self._queue.pop()
                key = self.space.canonical_hash(neighbour)
                if key not in self.seen:
                    self._neighbours.add(key)
                    self.origins.append(("neighbour", self._incumbent_key))
                    out.extend(self._mark([neighbour]))
                continue
            # every neighbour handed out
            if self._challenger is not None:
                self._adopt(self._challenger)
            else:
                self._restart()
        return out

    def _adopt(self, pair: tuple[Architecture, float], new_climb: bool = False) -> None:
        """Make ``pair`` the incumbent and queue its neighbours in random order."""
        self.incumbent = pair
        self._incumbent_key = self.space.canonical_hash(pair[0])
        self._challenger = None
        if new_climb:
            self.climbs.append([pair])
            self._round = set()
        else:
            self.climbs[-1].append(pair)
        neighbours = self.space.neighbors(pair[0])
        order = self.rng.permutation(len(neighbours))
        self._queue = [neighbours[int(i)] for i in order[::-1]]  # pop() yields them in `order`
        self._neighbours = set()

    def _restart(self) -> None:
        """The incumbent is a local optimum: start a new climb from fresh random architectures."""
        assert self.incumbent is not None
        self.local_optima.append(self.incumbent)
        self.incumbent = None
        self._incumbent_key = None
        self._queue = []
        self._neighbours = set()
        self._challenger = None
        self._round = set()
        self._round_left = self.restart_init

    # -- learning ------------------------------------------------------------

    def _observe(self, pairs: list[tuple[Architecture, EvalResult]]) -> None:
        keys = self.space.canonical_hashes([a for a, _ in pairs])
        self.seen.update(keys)
        for (arch, result), key in zip(pairs, keys):
            value = score(result)
            if self.incumbent is None:
                if key in self._round and (self._challenger is None or value > self._challenger[1]):
                    self._challenger = (arch, value)
            elif key in self._neighbours:
                bar = self.incumbent[1] if self._challenger is None else self._challenger[1]
                if value > bar:
                    if self.query_full_neighborhood:
                        self._challenger = (arch, value)
                    else:
                        self._adopt((arch, value))

    # -- resume --------------------------------------------------------------

