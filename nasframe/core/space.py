"""The search-space contract.

A space knows how to sample, perturb, check, identify and featurise its
architectures, and how to turn one into a trainable ``torch.nn.Module``.
Searchers only ever talk to a space through this interface, which is what lets
one searcher run on every space.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Container, Generic, Sequence, TypeVar

import numpy as np

from nasframe.core.architecture import Architecture, InvalidArchitecture
from nasframe.core.dag import DAG, dags_to_batch

if TYPE_CHECKING:  # heavy imports only for type checkers
    import torch
    from torch_geometric.data import Batch

A = TypeVar("A", bound=Architecture)


class SearchSpace(ABC, Generic[A]):
    """Base class of all search spaces.

    Plug-in points for a new space: ``sample``, ``mutate``, ``neighbors``,
    ``validate``, ``encode``, ``build_model``, the JSON pair, the categorical
    view (``decisions``, ``to_choices``, ``from_choices``) and the graph view
    (``node_types``, ``dag``). Optional: ``from_dag`` (with ``input_type``,
    ``output_type``, ``max_dag_nodes``) where the graph view can be read back,
    and ``network_options`` where a training recipe's generic knobs mean
    something for the space's networks.

    The categorical view spells every architecture as a fixed-length list of
    integer choices, one per named decision, which is what generic optimisers
    (Optuna's samplers, a REINFORCE controller) search over. Every valid
    architecture has at least one spelling and ``from_choices(to_choices(a))
    == a``; a spelling may be invalid (``from_choices`` then raises
    :class:`InvalidArchitecture` naming the rule), and several spellings may
    give the same architecture (isomorphic cells).

    The graph view describes an architecture as a labelled :class:`DAG`, the
    one thing graph models (GNN surrogates, graph autoencoders) know of a
    space, so they need no space-specific code: ``dag`` is the view,
    ``to_graph`` batches it for torch-geometric, and ``from_dag`` inverts it
    for graph decoders, whose output then turns back into architectures.
    """

    name: ClassVar[str]
    #: encoding kinds accepted by :meth:`encode`, the first is the default
    encodings: ClassVar[tuple[str, ...]]
    #: names of the graph view's node types; a :class:`DAG`'s ``node_types`` index into it
    node_types: ClassVar[tuple[str, ...]]
    #: the type of every DAG's first (input) and last (output) node, where all of
    #: the space's DAGs share them: a graph decoder starts and stops generating on them
    input_type: ClassVar[int | None] = None
    output_type: ClassVar[int | None] = None

    @abstractmethod
    def sample(self, rng: np.random.Generator, n: int) -> list[A]:
        """``n`` architectures drawn from the space's sampling distribution."""

    @abstractmethod
    def mutate(self, arch: A, rng: np.random.Generator) -> A:
        """A random valid architecture one edit away, never equal to ``arch``."""

    @abstractmethod
    def neighbors(self, arch: A) -> list[A]:
        """Every distinct valid architecture one edit away (deduplicated)."""

    @abstractmethod
    def validate(self, spec: Any) -> A:
        """Return ``spec`` as an architecture of this space.

        Accepts an instance or any native form the space documents; raises
        :class:`InvalidArchitecture` naming the violated rule otherwise.
        """

    @abstractmethod
    def encode(self, archs: Sequence[A], kind: str | None = None) -> np.ndarray:
        """Fixed-length float32 feature matrix, one row per architecture."""

    @abstractmethod
    def build_model(self, arch: A, **config: Any) -> "torch.nn.Module":
        """A trainable network for ``arch``; ``config`` sets channels, depth, classes."""

    def from_json(self, data: dict[str, Any]) -> A:
        """Inverse of ``Architecture.to_json``; validates.

        Default: refuse another space's JSON, then :meth:`validate` the dict
        (``"space"`` key included). A space whose JSON needs its own key checks
        overrides this and calls :meth:`_refuse_other_json` first.
        """
        self._refuse_other_json(data)
        return self.validate(dict(data))

    def _refuse_other_json(self, data: dict[str, Any]) -> None:
        """:class:`InvalidArchitecture` when ``data`` names a space other than this one (none: this one)."""
        if data.get("space", self.name) != self.name:
            raise InvalidArchitecture(self.name, "JSON belongs to another space", str(data.get("space")))

    # -- categorical view -------------------------------------------------

    @abstractmethod
    def decisions(self) -> list[tuple[str, int]]:
        """Named categorical decisions and their number of options, in spelling order.

        Fixed for a space instance; every decision has at least two options.
        """

    @abstractmethod
    def to_choices(self, arch: A) -> list[int]:
        """One spelling of ``arch``: an option index per decision of :meth:`decisions`."""

    @abstractmethod
    def from_choices(self, choices: Sequence[int]) -> A:
        """The architecture a spelling describes.

        Raises ``ValueError`` for a wrong length or an index out of range and
        :class:`InvalidArchitecture` (naming the rule) for a combination of
        choices the space does not allow.
        """

    def _check_choices(self, choices: Sequence[int]) -> list[int]:
        """``choices`` as plain ints, checked against :meth:`decisions` (``ValueError`` otherwise)."""
        decisions = self.decisions()
        if isinstance(choices, np.ndarray):
            choices = choices.tolist()
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
            raise ValueError(
                f"{self.name} choices are a sequence of {len(decisions)} integers, got {type(choices).__name__}"
            )
        if len(choices) != len(decisions):
            raise ValueError(f"{self.name} takes {len(decisions)} choices, got {len(choices)}")
        checked = []
        for value, (name, options) in zip(choices, decisions):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{self.name} choice {name!r} must be an integer, got {value!r}")
            if not 0 <= value < options:
                raise ValueError(f"{self.name} choice {name!r} must be in 0..{options - 1}, got {value}")
            checked.append(int(value))
        return checked

    def _one_decision_mutation(self, arch: A, rng: np.random.Generator) -> A:
        """One decision, drawn uniformly, moved to another of its options, drawn uniformly: the mutation
        of the spaces :meth:`_one_decision_changes` serves."""
        choices = self.to_choices(arch)
        position = int(rng.integers(len(choices)))
        others = [i for i in range(self.decisions()[position][1]) if i != choices[position]]
        choices[position] = others[int(rng.integers(len(others)))]
        return self.from_choices(choices)

    def _one_decision_changes(self, arch: A) -> list[A]:
        """Every architecture one categorical decision away from ``arch``, decision by decision.

        The neighbourhood of spaces where each choice vector spells its own
        architecture (grids of options); spaces with several spellings per
        architecture must deduplicate, so this is a helper, not the default.
        """
        choices = self.to_choices(arch)
        return [self.from_choices(choices[:p] + [o] + choices[p + 1:])
                for p, (_, size) in enumerate(self.decisions()) for o in range(size) if o != choices[p]]

    # -- graph view -------------------------------------------------------

    @abstractmethod
    def dag(self, arch: A) -> DAG:
        """``arch`` as node types (indices into :attr:`node_types`) and edges, node ids topologically ordered."""

    def to_graph(self, archs: Sequence[A]) -> "Batch":
        """A torch-geometric batch with one graph per architecture (one-hot node types in ``x``)."""
        return dags_to_batch([self.dag(a) for a in archs], len(self.node_types))

    def from_dag(self, dag: DAG) -> A:
        """The architecture whose :meth:`dag` is ``dag``, for spaces whose graph view can be read back.

        Raises :class:`InvalidArchitecture` (naming the rule) when ``dag`` is
        no architecture of the space: a graph decoder may write anything, so
        that is an outcome to count, not a bug.
        """
        raise NotImplementedError(f"space {self.name!r} cannot read architectures back from DAGs (no from_dag)")

    def max_dag_nodes(self) -> int:
        """Node count of the space's largest DAG, a graph decoder's step limit (with :meth:`from_dag`)."""
        raise NotImplementedError(f"space {self.name!r} cannot read architectures back from DAGs (no from_dag)")

    # -- networks ---------------------------------------------------------

    def network_options(self, *, channels: int, layers: int, in_channels: int, num_classes: int) -> dict[str, Any]:
        """:meth:`build_model` keywords for a training recipe's generic width and depth.

        ``channels`` and ``layers`` are what every recipe sets; each space says
        what they mean for its networks (stem width, cells per stack, ...), so
        trainers need not know any space. Raises ``ValueError`` naming the
        field a space cannot honour; a space without a translation raises
        ``NotImplementedError``, and is then trained with its own
        ``build_model`` keywords only.
        """
        raise NotImplementedError(f"space {self.name!r} has no translation of a recipe's channels and layers")

    # -- identity and bookkeeping -----------------------------------------

    def to_json(self, arch: A) -> dict[str, Any]:
        return arch.to_json()

    def canonical_hash(self, arch: A) -> str:
        """The identity used to deduplicate and to look results up."""
        return arch.canonical_key()

    def canonical_hashes(self, archs: Sequence[A]) -> list[str]:
        """Batched :meth:`canonical_hash`; spaces override it when vectorisable."""
        return [self.canonical_hash(a) for a in archs]

    def sample_distinct(
        self, rng: np.random.Generator, n: int, exclude: Container[str] = (), max_draws: int = 50
    ) -> dict[str, A]:
        """Up to ``n`` samples, distinct from each other and from the hashes in ``exclude``, by hash.

        Searchers use it so that no budget is spent on an architecture twice.
        Sampling is redrawn for what was lost to duplicates, at most
        ``max_draws`` times: fewer than ``n`` come back only when the space is
        (nearly) exhausted, instead of looping for ever on a tiny space.
        """
        fresh: dict[str, A] = {}
        for _ in range(max_draws):
            if len(fresh) >= n:
                break
            batch = self.sample(rng, n - len(fresh))
            for key, arch in zip(self.canonical_hashes(batch), batch):
                if key not in exclude and key not in fresh:
                    fresh[key] = arch
        return fresh

    def config(self) -> dict[str, Any]:
        """Constructor arguments that recreate this space (stored in model cards)."""
        return {}

    def size(self) -> int | None:
        """Number of distinct architectures, or ``None`` where it is not known exactly."""
        return None

    def _check_encoding(self, kind: str | None) -> str:
        kind = kind or self.encodings[0]
        if kind not in self.encodings:
            raise ValueError(
                f"unknown encoding {kind!r} for space {self.name!r}; "
                f"choose one of {', '.join(self.encodings)}"
            )
        return kind


__all__ = ["DAG", "SearchSpace", "InvalidArchitecture", "Architecture"]
