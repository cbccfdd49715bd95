"""The benchmark contract: batched, seeded answers to "what would this score?".

A benchmark answers for many architectures at once and returns columns
(:class:`QueryResult`), not one object per architecture: searchers and
surrogate fitting consume arrays, and building one Python record per
architecture would cost more than the query itself. :class:`ResultSet` is the common currency of the loaders: real
results of one space in long form, which tabular benchmarks index and
surrogate benchmarks are fitted on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import UnknownName
from nasframe.core.results import EvalResult, Fidelity

if TYPE_CHECKING:  # pandas costs ~0.4 s to import; a surrogate query never needs it
    import pandas as pd

#: the metric columns every result table and query answer has (NaN where unknown)
METRICS = ("val_accuracy", "test_accuracy", "train_time", "params")


class UnknownArchitecture(UnknownName):
    """A tabular benchmark was asked about an architecture it has no result for."""


@dataclass
class ResultSet:
    """Real evaluation results of one space, as every loader returns them.

    ``table`` has one row per (architecture, fidelity, repeat) with columns
    ``hash`` (canonical hash), ``epochs`` (the fidelity; -1 where the source
    has a single unnamed budget), ``repeat`` and :data:`METRICS`. Accuracies
    are fractions in [0, 1], ``train_time`` is seconds, ``params`` a count.
    ``archs`` maps every hash of the table to its architecture.
    """

    space: SearchSpace
    archs: dict[str, Architecture]
    table: pd.DataFrame
    source: str
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in ("hash", "epochs", "repeat", *METRICS) if c not in self.table]
        if missing:
            raise ValueError(f"result table from {self.source} lacks columns {missing}")
        unknown = set(self.table["hash"]) - set(self.archs)
        if unknown:
            raise ValueError(
                f"result table from {self.source} has {len(unknown)} hashes without an "
                f"architecture, e.g. {sorted(unknown)[0]}"
            )

    def __len__(self) -> int:
        return len(self.archs)

    @property
    def fidelities(self) -> list[int]:
        return sorted(int(e) for e in self.table["epochs"].unique())

    def at(self, epochs: int | None = None) -> pd.DataFrame:
        """Rows at one fidelity (the largest by default), repeats averaged, one per hash.

        The averaged frame keeps the architecture order of first appearance, so
        splits made on it are reproducible.
        """
        epochs = max(self.fidelities) if epochs is None else epochs
        rows = self.table[self.table["epochs"] == epochs]
        if rows.empty:
            raise ValueError(f"{self.source} has no results at {epochs} epochs; has {self.fidelities}")
        return rows.groupby("hash", sort=False)[list(METRICS)].mean().reset_index()

    def arrays(self, epochs: int | None = None) -> tuple[list[Architecture], np.ndarray]:
        """Architectures and their mean validation accuracy at one fidelity: fit inputs."""
        frame = self.at(epochs)
        return [self.archs[h] for h in frame["hash"]], frame["val_accuracy"].to_numpy(float)


@dataclass
class QueryResult:
    """Columns answering one batched query; row ``i`` is ``archs[i]``."""

    val_accuracy: np.ndarray
    test_accuracy: np.ndarray
    train_time: np.ndarray
    params: np.ndarray
    epochs: int

    def __len__(self) -> int:
        return len(self.val_accuracy)

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        frame = pd.DataFrame({m: getattr(self, m) for m in METRICS})
        frame["epochs"] = self.epochs
        return frame

    def to_results(self) -> list[EvalResult]:
        """One :class:`EvalResult` per row; ``cost`` is the simulated training time."""
        fidelity = Fidelity(epochs=self.epochs)

        def opt(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        return [
            EvalResult(
                val_accuracy=float(v),
                test_accuracy=opt(t),
                train_time=opt(s),
                params=None if np.isnan(p) else int(p),
                fidelity=fidelity,
                cost=0.0 if np.isnan(s) else float(s),
            )
            for v, t, s, p in zip(self.val_accuracy, self.test_accuracy, self.train_time, self.params)
        ]


class _SeededRng:
    """``np.random.default_rng(seed)``, made on the first draw.

    Creating a generator costs ~10 us, more than a whole one-architecture
    tabular lookup; most queries (``noise=False``, or one run per
    architecture) never draw, so they never pay for it. Draws are those of
    the generator itself, so seeded answers are unchanged.
    """

    __slots__ = ("_seed", "_rng")

    def __init__(self, seed: int | None) -> None:
        self._seed = seed
        self._rng: np.random.Generator | None = None

    def __getattr__(self, name: str) -> Any:
        if self._rng is None:
            self._rng = np.random.default_rng(self._seed)
        return getattr(self._rng, name)


class Benchmark(ABC):
    """Base class of tabular and surrogate benchmarks.

    Plug-in point: :meth:`_query`, which receives validated architectures and
    a resolved fidelity. ``query`` is what users call; ``evaluate`` makes every
    benchmark an :class:`~nasframe.core.protocols.Evaluator` for searchers
    (noisy, like a real training run would be).
    """

    name: str
    space: SearchSpace
    #: the epochs at which the benchmark can answer, ascending
    fidelities: tuple[int, ...]

    def query(
        self,
        archs: Sequence[Any],
        fidelity: int | Fidelity | None = None,
        *,
        noise: bool = False,
        seed: int | None = None,
    ) -> QueryResult:
        """Scores of ``archs`` (architectures or anything ``space.validate`` takes).

        ``fidelity`` is epochs (an int or a :class:`Fidelity`), the largest by
        default. ``noise=True`` draws one plausible training run per
        architecture; the same ``seed`` gives the same draws.
        """
        epochs = self._resolve(fidelity)
        valid = [a if isinstance(a, Architecture) else self.space.validate(a) for a in archs]
        return self._query(valid, epochs, noise, _SeededRng(seed))  # type: ignore[arg-type]

    def evaluate(
        self, archs: Sequence[Architecture], fidelity: Fidelity | None = None, seed: int | None = None
    ) -> list[EvalResult]:
        return self.query(archs, fidelity, noise=True, seed=seed).to_results()

    def optimum(self) -> tuple[Architecture, float] | None:
        """The best mean validation accuracy the benchmark can answer, for regret.

        ``None`` where it is not known; subclasses say how theirs is found.
        """
        return None

    def _resolve(self, fidelity: int | Fidelity | None) -> int:
        if fidelity is None:
            return self.fidelities[-1]
        epochs = fidelity.epochs if isinstance(fidelity, Fidelity) else fidelity
        if epochs not in self.fidelities:
            raise ValueError(
                f"benchmark {self.name!r} has no fidelity {epochs}; available epochs: "
                f"{', '.join(map(str, self.fidelities))}"
            )
        return int(epochs)  # type: ignore[arg-type]

    @abstractmethod
    def _query(
        self, archs: list[Architecture], epochs: int, noise: bool, rng: np.random.Generator
    ) -> QueryResult:
        """Answer for validated ``archs`` at ``epochs``."""
