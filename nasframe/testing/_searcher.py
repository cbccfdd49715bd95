"""``check_searcher``: the ask/tell :class:`~nasframe.core.Searcher` contract, rule by rule."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any, Callable

from nasframe.core import Architecture, EvalResult, SearchSpace, Searcher
from nasframe.core.registry import SEARCHERS
from nasframe.testing._rules import require


def pseudo_accuracy(space: SearchSpace, arch: Architecture) -> float:
    """A deterministic stand-in for an evaluation, in [0.5, 0.95), from the canonical hash.

    md5, not ``hash()``: str hashes are salted per process, and the checks
    compare runs that must see the same results.
    """
    digest = hashlib.md5(space.canonical_hash(arch).encode()).hexdigest()
    return 0.5 + 0.45 * int(digest[:8], 16) / 16**8


def check_searcher(
    searcher: Any,
    space: SearchSpace,
    *,
    seed: int = 0,
    rounds: int = 4,
    batch: int = 3,
    score: Callable[[SearchSpace, Architecture], float] = pseudo_accuracy,
    **options: Any,
) -> None:
    """Check the ask/tell contract of ``searcher`` (a registered name or a factory) on ``space``.

    ``rounds`` asks of ``batch`` architectures each, told ``score(space,
    arch)``: every ask returns at most ``n`` valid, new architectures of the
    space (none asked or told before), the same seed gives the same
    trajectory, and a searcher restored from a pickled ``state_dict`` at half
    time continues exactly as the original. ``options`` go to the factory.
    Raises ``AssertionError`` naming the first rule broken.
    """
    factory = SEARCHERS.factory(searcher) if isinstance(searcher, str) else searcher
    who = f"searcher {searcher if isinstance(searcher, str) else getattr(searcher, '__name__', searcher)!r}"

    def build(run_seed: int) -> Searcher:
        return factory(space=space, seed=run_seed, **options)

    first = _trajectory(build(seed), space, rounds, batch, score, who)
    require(_trajectory(build(seed), space, rounds, batch, score, who) == first, who,
            "the same seed gives the same trajectory")
    _check_resume(build, seed, space, rounds, batch, score, who)


def _trajectory(searcher: Searcher, space: SearchSpace, rounds: int, batch: int,
                score: Callable[[SearchSpace, Architecture], float], who: str, told: set[str] | None = None) -> list:
    """The hashes asked in each round; checks each ask on the way."""
    told = set() if told is None else told
    asked_hashes = []
    for _ in range(rounds):
        archs = searcher.ask(batch)
        require(isinstance(archs, list) and len(archs) <= batch, who, "ask(n) returns a list of at most n",
                f"got {len(archs)} for n={batch}")
        require(len(archs) > 0, who, "ask(n) returns something while the space is not exhausted")
        require(all(space.validate(a) == a for a in archs), who, "ask returns valid architectures of the space")
        keys = space.canonical_hashes(archs)
        require(len(set(keys)) == len(keys), who, "one ask never proposes an architecture twice")
        require(not told & set(keys), who, "ask never re-proposes an architecture already told",
                str(sorted(told & set(keys))[:3]))
        # a parameter count too, as the shipped benchmarks answer, so multi-objective searchers are checked
        searcher.tell(archs, [EvalResult(val_accuracy=score(space, a), params=int(hashlib.sha1(k.encode()).hexdigest()[:6], 16) + 1)
                              for a, k in zip(archs, keys)])
        told.update(keys)
        asked_hashes.append(keys)
    return asked_hashes


def _check_resume(build: Callable[[int], Searcher], seed: int, space: SearchSpace, rounds: int, batch: int,
                  score: Callable[[SearchSpace, Architecture], float], who: str) -> None:
    """Half the rounds, state_dict through pickle into a searcher of another seed, the rest on both."""
    original = build(seed)
    told: set[str] = set()
    half = max(rounds // 2, 1)
    _trajectory(original, space, half, batch, score, who, told)
    state = original.state_dict()
    try:
        state = pickle.loads(pickle.dumps(state))
    except Exception as exc:  # noqa: BLE001 - any failure to pickle is the broken rule
        raise AssertionError(f"{who} breaks 'state_dict() is picklable': {type(exc).__name__}: {exc}") from exc
    restored = build(seed + 1)
    restored.load_state_dict(state)
    rest = rounds - half
    went_on = _trajectory(original, space, rest, batch, score, who, set(told))
    require(_trajectory(restored, space, rest, batch, score, who, set(told)) == went_on, who,
            "a searcher restored from state_dict() continues exactly as the original")
