"""``check_space``: the :class:`~nasframe.core.SearchSpace` contract, rule by rule."""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace
from nasframe.testing._rules import require


def check_space(space: SearchSpace, *, n: int = 6, seed: int = 0, graphs: bool = True) -> None:
    """Check every rule of the search-space contract on ``n`` sampled architectures.

    Sampling, validation, the JSON round trip, canonical hashes, mutation,
    neighbourhoods, every encoding, the categorical view, distinct sampling
    and (``graphs=True``; it imports torch-geometric) the graph view. Raises
    ``AssertionError`` naming the first rule broken.
    """
    who = f"space {getattr(space, 'name', type(space).__name__)!r}"
    rng = np.random.default_rng(seed)
    archs = space.sample(rng, n)
    require(isinstance(archs, list) and len(archs) == n, who, "sample(rng, n) returns a list of n",
            f"got {type(archs).__name__} of {len(archs)}")
    require(all(isinstance(a, Architecture) for a in archs), who, "sample returns Architecture values")
    _check_values(space, archs, who)
    _check_hashes(space, archs, who)
    _check_moves(space, archs[:2], rng, who)
    _check_encodings(space, archs, who)
    _check_choices(space, archs, who)
    _check_sample_distinct(space, archs, rng, who)
    if graphs:
        _check_graphs(space, archs, who)


def _check_values(space: SearchSpace, archs: Sequence[Architecture], who: str) -> None:
    """validate() accepts its own architectures; the JSON form round-trips through text."""
    for arch in archs:
        require(space.validate(arch) == arch, who, "validate(arch) == arch for a valid arch", repr(arch))
        text = json.dumps(space.to_json(arch))
        back = space.from_json(json.loads(text))
        require(back == arch, who, "from_json(to_json(arch)) == arch", text)
        require(hash(back) == hash(arch), who, "equal architectures hash equal", text)


def _check_hashes(space: SearchSpace, archs: Sequence[Architecture], who: str) -> None:
    """Hashes are strings, repeatable, batched like one by one, and equal exactly for equal archs."""
    keys = [space.canonical_hash(a) for a in archs]
    require(all(isinstance(k, str) and k for k in keys), who, "canonical_hash is a non-empty str")
    require(keys == [space.canonical_hash(a) for a in archs], who, "canonical_hash is repeatable")
    require(list(space.canonical_hashes(archs)) == keys, who, "canonical_hashes(archs) == per-arch canonical_hash")
    copies = [space.from_json(json.loads(json.dumps(space.to_json(a)))) for a in archs]
    require([space.canonical_hash(c) for c in copies] == keys, who, "a JSON copy has the same canonical_hash")
    for i, a in enumerate(archs):
        for j in range(i + 1, len(archs)):
            require((a == archs[j]) == (keys[i] == keys[j]), who, "archs are equal exactly when their hashes are",
                    f"{a!r} vs {archs[j]!r}")


def _check_moves(space: SearchSpace, archs: Sequence[Architecture], rng: np.random.Generator, who: str) -> None:
    """mutate() always moves, to a valid arch; neighbors() are distinct, valid and exclude the arch."""
    for arch in archs:
        for _ in range(3):
            moved = space.mutate(arch, rng)
            require(moved != arch, who, "mutate(arch) differs from arch", repr(arch))
            require(space.validate(moved) == moved, who, "mutate returns a valid architecture", repr(moved))
        near = space.neighbors(arch)
        require(len(near) > 0, who, "neighbors(arch) is not empty", repr(arch))
        keys = space.canonical_hashes(near)
        require(len(set(keys)) == len(keys), who, "neighbors are distinct (deduplicated)", repr(arch))
        require(space.canonical_hash(arch) not in keys, who, "neighbors exclude the arch itself", repr(arch))
        require(all(space.validate(x) == x for x in near), who, "neighbors are valid architectures")


def _check_encodings(space: SearchSpace, archs: Sequence[Architecture], who: str) -> None:
    """Every encoding kind: a float32 matrix of one fixed-width row per arch, the first kind the default."""
    require(len(space.encodings) > 0, who, "encodings names at least one kind")
    for kind in space.encodings:
        x = space.encode(archs, kind)
        require(isinstance(x, np.ndarray) and x.ndim == 2, who, f"encode(archs, {kind!r}) is a 2-d array")
        require(x.shape[0] == len(archs) and x.shape[1] > 0, who, f"encode(archs, {kind!r}) has one row per arch",
                f"shape {x.shape}")
        require(x.dtype == np.float32, who, f"encode(archs, {kind!r}) is float32", str(x.dtype))
        require(np.array_equal(space.encode(archs[:1], kind)[0], x[0]), who,
                f"encode(archs, {kind!r}) rows do not depend on the batch")
    require(np.array_equal(space.encode(archs), space.encode(archs, space.encodings[0])), who,
            "encode(archs) uses encodings[0]")


def _check_choices(space: SearchSpace, archs: Sequence[Architecture], who: str) -> None:
    """The categorical view: named decisions of >= 2 options; from_choices(to_choices(a)) == a."""
    decisions = space.decisions()
    require(len(decisions) > 0 and all(isinstance(d, str) and k >= 2 for d, k in decisions), who,
            "decisions() are (name, options >= 2) pairs", repr(decisions[:3]))
    for arch in archs:
        choices = space.to_choices(arch)
        require(len(choices) == len(decisions), who, "to_choices gives one index per decision")
        require(all(0 <= c < k for c, (_, k) in zip(choices, decisions)), who, "to_choices indices are in range")
        require(space.from_choices(choices) == arch, who, "from_choices(to_choices(arch)) == arch", repr(arch))


def _check_sample_distinct(space: SearchSpace, archs: Sequence[Architecture], rng: np.random.Generator,
                           who: str) -> None:
    """sample_distinct: keyed by hash, distinct, never an excluded hash, at most n."""
    exclude = {space.canonical_hash(archs[0])}
    fresh = space.sample_distinct(rng, 5, exclude)
    require(len(fresh) <= 5, who, "sample_distinct(rng, n) returns at most n")
    require(not exclude & set(fresh), who, "sample_distinct never returns an excluded hash")
    require(list(fresh) == space.canonical_hashes(list(fresh.values())), who,
            "sample_distinct is keyed by canonical hash")


def _check_graphs(space: SearchSpace, archs: Sequence[Architecture], who: str) -> None:
    """to_graph: one graph per architecture, node features for every node."""
    batch = space.to_graph(archs)
    require(batch.num_graphs == len(archs), who, "to_graph(archs) holds one graph per arch",
            f"{batch.num_graphs} graphs for {len(archs)} archs")
    require(batch.x is not None and batch.x.shape[0] == batch.num_nodes, who, "to_graph gives features per node")
