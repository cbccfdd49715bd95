"""The branching space of BMTAS (Bruggemann et al., arXiv 2008.10292): where a multi-task network splits.

A branched multi-task network is a tree over a backbone of ``L`` layers
(blocks): at layer ``l`` the ``T`` tasks are grouped, and the tasks of one
group share that layer's block. A group's block feeds only the blocks of its
sub-groups at the next layer, so each layer's grouping must *refine* the
previous one: branches split, they never merge. The all-shared network has
one group at every layer; the all-separate one (one network per task) has
``T`` singleton groups at every layer.

An architecture is the tuple of groupings, one per layer. Each grouping is a
set partition of the task indices written in one canonical form (groups
sorted, tasks sorted within a group), so equal trees compare, hash and
serialise equally. Sampling is uniform over all valid trees (the number of
trees below each grouping is counted once, by dynamic programming), and
mutation moves one layer to another grouping that still fits between its
neighbours, so every move stays a valid tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasframe.core import Architecture, InvalidArchitecture, SearchSpace
from nasframe.core.dag import DAG

if TYPE_CHECKING:
    import torch

SPACE = "multitask-branching"
#: the default tasks of :class:`~nasframe.tasks.multitask.task.MultitaskBranching`
TASK_NAMES = ("left", "right", "seg", "edge")

Grouping = tuple[tuple[int, ...], ...]


def canonical_grouping(groups: Any, num_tasks: int, layer: int) -> Grouping:
    """``groups`` as a canonical set partition of ``range(num_tasks)``; an error naming ``layer`` otherwise."""
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
        raise InvalidArchitecture(SPACE, f"layer {layer}'s grouping is a list of task groups", repr(groups))
    try:
        canon = tuple(sorted(tuple(sorted(int(t) for t in g)) for g in groups))
    except (TypeError, ValueError):
        raise InvalidArchitecture(SPACE, f"layer {layer}'s groups are lists of task indices", repr(groups)) from None
    flat = [t for g in canon for t in g]
    if any(not g for g in canon) or sorted(flat) != list(range(num_tasks)):
        raise InvalidArchitecture(SPACE, f"layer {layer}'s grouping puts each of the tasks 0..{num_tasks - 1} "
                                         f"in exactly one non-empty group", repr(groups))
    return canon


def refines(fine: Grouping, coarse: Grouping) -> bool:
    """Whether every group of ``fine`` lies inside one group of ``coarse`` (a branch only splits)."""
    return all(any(set(g) <= set(c) for c in coarse) for g in fine)


@lru_cache(maxsize=None)
def set_partitions(num_tasks: int) -> tuple[Grouping, ...]:
    """Every set partition of ``range(num_tasks)`` in canonical form (Bell(num_tasks) of them), in a fixed order."""
    found: list[list[list[int]]] = [[]]
    for task in range(num_tasks):  # each task joins an existing group or opens a new one
        found = [p[:i] + [p[i] + [task]] + p[i + 1:] for p in found for i in range(len(p))] + [p + [[task]] for p in found]
    return tuple(sorted(canonical_grouping(p, num_tasks, 0) for p in found))


@dataclass(frozen=True, eq=False)
class Branching(Architecture):
    """One grouping of the tasks per layer, each refining the previous one (see the module docstring)."""

    space_name: ClassVar[str] = SPACE
    groupings: tuple[Grouping, ...]

    def __post_init__(self) -> None:
        layers = tuple(self.groupings)
        if not layers:
            raise InvalidArchitecture(SPACE, "at least one layer's grouping")
        try:
            num_tasks = sum(len(g) for g in layers[0])
        except TypeError:
            raise InvalidArchitecture(SPACE, "layer 0's grouping is a list of task groups", repr(layers[0])) from None
        canon = tuple(canonical_grouping(g, num_tasks, i) for i, g in enumerate(layers))
        for i in range(1, len(canon)):
            if not refines(canon[i], canon[i - 1]):
                raise InvalidArchitecture(SPACE, f"layer {i}'s grouping must refine layer {i - 1}'s "
                                                 f"(branches split, never merge)", f"{canon[i - 1]} -> {canon[i]}")
        object.__setattr__(self, "groupings", canon)

    @property
    def num_tasks(self) -> int:
        return sum(len(g) for g in self.groupings[0])

    def canonical_key(self) -> str:
        return "/".join("|".join(",".join(map(str, g)) for g in layer) for layer in self.groupings)

    def to_json(self) -> dict[str, Any]:
        return {"space": SPACE, "groupings": [[list(g) for g in layer] for layer in self.groupings]}

    def group_of(self, layer: int, task: int) -> tuple[int, ...]:
        """The group holding ``task`` at ``layer``."""
        return next(g for g in self.groupings[layer] if task in g)


class BranchingSpace(SearchSpace[Branching]):
    """Branched multi-task networks of ``layers`` blocks over ``tasks``; see the module docstring."""

    name = SPACE
    encodings = ("sharing", "onehot")

    def __init__(self, tasks: Sequence[str] = TASK_NAMES, layers: int = 4) -> None:
        tasks = tuple(tasks)
        if len(tasks) < 2 or len(set(tasks)) != len(tasks) or not all(isinstance(t, str) and t for t in tasks):
            raise ValueError(f"{SPACE} field 'tasks': two or more distinct task names, got {tasks!r}")
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ValueError(f"{SPACE} field 'layers': a positive integer, got {layers!r}")
        self.tasks, self.layers = tasks, layers
        self.partitions = set_partitions(len(tasks))
        self._index = {p: i for i, p in enumerate(self.partitions)}
        self._finer = [[j for j, q in enumerate(self.partitions) if refines(q, p)] for p in self.partitions]
        # trees[l][i]: how many valid groupings of layers l.. start with partition i at layer l
        trees = [np.ones(len(self.partitions), dtype=object)]
        for _ in range(layers - 1):
            trees.insert(0, np.array([sum(trees[0][j] for j in finer) for finer in self._finer], dtype=object))
        self._trees = trees
        self.node_types = ("input", "block", *(f"head_{t}" for t in tasks), "output")  # type: ignore[misc]
        self.input_type, self.output_type = 0, len(self.node_types) - 1  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"BranchingSpace(tasks={self.tasks}, layers={self.layers})"

    def config(self) -> dict[str, Any]:
        return {"tasks": list(self.tasks), "layers": self.layers}

    def size(self) -> int:
        return int(sum(self._trees[0]))

    def all_shared(self) -> Branching:
        """One group of every task at every layer: a single backbone with one head per task."""
        return Branching((tuple([tuple(range(len(self.tasks)))]),) * self.layers)

    def all_separate(self) -> Branching:
        """Each task alone at every layer: one network per task (the single-task baselines side by side)."""
        return Branching((tuple((t,) for t in range(len(self.tasks))),) * self.layers)

    # -- sampling and local moves ---------------------------------------

    def sample(self, rng: np.random.Generator, n: int) -> list[Branching]:
        """``n`` trees drawn uniformly among all valid ones (each layer drawn by its count of completions)."""
        out = []
        for _ in range(n):
            options, chosen = list(range(len(self.partitions))), []
            for layer in range(self.layers):
                weights = np.array([float(self._trees[layer][j]) for j in options])
                pick = options[int(rng.choice(len(options), p=weights / weights.sum()))]
                chosen.append(pick)
                options = self._finer[pick]
            out.append(self._from_indices(chosen))
        return out

    def _alternatives(self, indices: list[int], layer: int) -> list[int]:
        """Partitions that fit at ``layer`` between its neighbours' groupings, other than the current one."""
        above = self._finer[indices[layer - 1]] if layer > 0 else range(len(self.partitions))
        below = self.partitions[indices[layer + 1]] if layer + 1 < self.layers else None
        return [j for j in above if j != indices[layer] and (below is None or refines(below, self.partitions[j]))]

    def mutate(self, arch: Branching, rng: np.random.Generator) -> Branching:
        """One layer, drawn uniformly among those that can move, takes another grouping that keeps a valid tree."""
        indices = self.to_choices(arch)
        movable = [(layer, alt) for layer in range(self.layers) if (alt := self._alternatives(indices, layer))]
        layer, alternatives = movable[int(rng.integers(len(movable)))]
        indices[layer] = alternatives[int(rng.integers(len(alternatives)))]
        return self._from_indices(indices)

    def neighbors(self, arch: Branching) -> list[Branching]:
        """Every tree with one layer's grouping changed (distinct: a change at one layer is a distinct tree)."""
        indices = self.to_choices(arch)
        return [self._from_indices(indices[:layer] + [j] + indices[layer + 1:])
                for layer in range(self.layers) for j in self._alternatives(indices, layer)]

    # -- identity and conversion ----------------------------------------

    def _from_indices(self, indices: Sequence[int]) -> Branching:
        return Branching(tuple(self.partitions[i] for i in indices))

    def validate(self, spec: Any) -> Branching:
        """Accepts a :class:`Branching`, ``{"groupings": [...]}`` or a list of groupings (lists of task lists)."""
        if isinstance(spec, Mapping):
            if "groupings" not in spec or set(spec) - {"space", "groupings"}:
                raise InvalidArchitecture(SPACE, "a spec dict has the key 'groupings'", f"keys {sorted(spec)}")
            spec = spec["groupings"]
        if isinstance(spec, Branching):
            arch = spec
        elif isinstance(spec, (tuple, list)):
            arch = Branching(tuple(spec))
        else:
            raise InvalidArchitecture(SPACE, "unrecognised spec form", type(spec).__name__)
        if len(arch.groupings) != self.layers:
            raise InvalidArchitecture(SPACE, f"one grouping per layer ({self.layers})", f"got {len(arch.groupings)}")
        if arch.num_tasks != len(self.tasks):
            raise InvalidArchitecture(SPACE, f"groupings of the {len(self.tasks)} tasks {self.tasks}",
                                      f"got {arch.num_tasks} tasks")
        return arch

    # -- categorical view -------------------------------------------------

    def decisions(self) -> list[tuple[str, int]]:
        """``layer<l>``: which set partition of the tasks (an index into :attr:`partitions`)."""
        return [(f"layer{layer}", len(self.partitions)) for layer in range(self.layers)]

    def to_choices(self, arch: Branching) -> list[int]:
        return [self._index[g] for g in self.validate(arch).groupings]

    def from_choices(self, choices: Sequence[int]) -> Branching:
        return self._from_indices(self._check_choices(choices))  # a non-refining spelling raises, naming the layer

    # -- features ---------------------------------------------------------

    def encode(self, archs: Sequence[Branching], kind: str | None = None) -> np.ndarray:
        """``sharing``: per layer and task pair, 1 where the pair shares the block; ``onehot``: the partitions."""
        kind = self._check_encoding(kind)
        if kind == "onehot":
            out = np.zeros((len(archs), self.layers * len(self.partitions)), dtype=np.float32)
            for row, arch in enumerate(archs):
                for layer, index in enumerate(self.to_choices(arch)):
                    out[row, layer * len(self.partitions) + index] = 1.0
            return out
        pairs = list(combinations(range(len(self.tasks)), 2))
        return np.array([[float(arch.group_of(layer, a) == arch.group_of(layer, b))
                          for layer in range(self.layers) for a, b in pairs]
                         for arch in map(self.validate, archs)], dtype=np.float32).reshape(len(archs), -1)

    def dag(self, arch: Branching) -> DAG:
        """Input, one ``block`` node per group and layer, one ``head_<task>`` node per task, output."""
        arch = self.validate(arch)
        nodes, types, edges = {}, [self.input_type], []
        for layer, grouping in enumerate(arch.groupings):
            for group in grouping:
                nodes[layer, group] = len(types)
                types.append(1)
                parent = 0 if layer == 0 else nodes[layer - 1, arch.group_of(layer - 1, group[0])]
                edges.append((parent, nodes[layer, group]))
        heads = []
        for task in range(len(self.tasks)):
            heads.append(len(types))
            types.append(2 + task)
            edges.append((nodes[self.layers - 1, arch.group_of(self.layers - 1, task)], heads[-1]))
        types.append(self.output_type)
        edges += [(h, len(types) - 1) for h in heads]
        return DAG(tuple(types), tuple(edges))

    def build_model(self, arch: Branching, **config: Any) -> "torch.nn.Module":
        """The branched network of ``arch``: keywords of :class:`~nasframe.tasks.multitask.network.BranchedNet`
        (``heads``, ``channels``, ``depth``, ``in_channels``, ``out_side``)."""
        from nasframe.tasks.multitask.network import BranchedNet

        return BranchedNet(self.validate(arch).groupings, **config)


__all__ = ["TASK_NAMES", "Branching", "BranchingSpace", "canonical_grouping", "refines", "set_partitions"]
