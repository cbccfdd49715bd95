"""Which architectures a graph embedding is trained on and which it keeps out, as a value saved with the model.

Reconstruction only means something on graphs the model never met, and the
model may be evaluated long after it was trained, in another process. So
the split is a pure function of a few fields (space, counts, seed, ...):
:class:`EmbeddingSplit` draws it, and the same fields, saved in the model
card's ``data_source`` (:meth:`EmbeddingSplit.to_json`), draw the same
held-out architectures again at evaluation time.

    split = EmbeddingSplit("nb101", archs=3000, holdout=100, seed=0, uniform=True)
    train, heldout = split.draw(space)
    save_model(model, "models/m", data_source=split.to_json())
    EmbeddingSplit.from_json(load_model("models/m").card["data_source"]) == split   # True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace

#: what a model card's ``data_source`` starts with when it records an :class:`EmbeddingSplit`
RECIPE = "nasframe.embed.train/1"


@dataclass(frozen=True)
class EmbeddingSplit:
    """A seeded, disjoint split of distinct architectures of one space into training and held-out ones.

    ``archs`` training architectures (``None``: every NB101 cell of the
    enumeration index) after ``holdout`` held-out ones. They come from the
    space's own sampler, except where the NB101 enumeration is read:
    ``archs=None``, or ``uniform`` (draws uniform over distinct cells; NB101's
    sampler favours small cells and repeats them). ``labels`` and
    ``labels_format`` record a result file whose labelled architectures
    joined the training set (SVGe's predictor targets).
    """

    space: str
    archs: int | None
    holdout: int
    seed: int = 0
    uniform: bool = False
    labels: str | None = None
    labels_format: str | None = None

    def __post_init__(self) -> None:
        if self.archs is None and self.uniform:  # every cell is uniform already
            object.__setattr__(self, "uniform", False)
        if self.reads_index and self.space != "nb101":
            raise ValueError(f"reads the NB101 enumeration, which space {self.space!r} does not have")

    @property
    def reads_index(self) -> bool:
        """Whether the architectures come from the NB101 enumeration index (not the space's sampler)."""
        return self.archs is None or self.uniform

    # -- drawing --------------------------------------------------------------------------------------

    def rows(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(training rows, held-out rows)`` of an enumeration of ``size`` architectures (a seeded permutation)."""
        rows = np.random.default_rng(self.seed).permutation(size)
        end = size if self.archs is None else self.holdout + self.archs
        return rows[self.holdout:end], rows[:self.holdout]

    def draw(self, space: SearchSpace) -> tuple[list[Architecture], list[Architecture]]:
        """``(training, held-out)`` architectures of ``space``.

        Raises ``ValueError`` when the space has too few distinct
        architectures to hold more than ``holdout`` out.
        """
        if self.reads_index:
            index, train_rows, heldout_rows = self._index_rows()
            return index.cells(train_rows), index.cells(heldout_rows)
        drawn = list(space.sample_distinct(np.random.default_rng(self.seed), self.archs + self.holdout).values())
        if len(drawn) <= self.holdout:
            raise ValueError(f"only {len(drawn)} distinct architectures could be drawn; need more than {self.holdout}")
        return drawn[self.holdout:], drawn[:self.holdout]

    def heldout_and_trained(self, space: SearchSpace) -> tuple[list[Architecture], list[str]]:
        """``(held-out architectures, hashes of the training ones)``: what judging a trained model needs.

        From the index, the training hashes are read straight from it
        (building every NB101 cell would take far longer).
        """
        if self.reads_index:
            index, train_rows, heldout_rows = self._index_rows()
            return index.cells(heldout_rows), index.hashes[train_rows].tolist()
        train, heldout = self.draw(space)
        return heldout, space.canonical_hashes(train)

    def _index_rows(self) -> tuple[Any, np.ndarray, np.ndarray]:
        from search_spaces.nb101.enumeration import load_index

        index = load_index()
        return (index, *self.rows(len(index)))

    # -- the record in a model card -------------------------------------------------------------------

    def to_json(self) -> str:
        """The split as a model card's ``data_source`` (``archs`` is ``"all"`` for every cell)."""
        record: dict[str, Any] = {"recipe": RECIPE, **asdict(self), "archs": "all" if self.archs is None else self.archs}
        for key in ("labels", "labels_format"):
            if record[key] is None:
                del record[key]
        return json.dumps(record, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "EmbeddingSplit | None":
        """The split a model card's ``data_source`` records, or ``None`` when it records none."""
        try:
            record = json.loads(text or "")
        except json.JSONDecodeError:
            return None
        if not isinstance(record, dict) or record.get("recipe") != RECIPE:
            return None
        archs = record["archs"]
        return cls(record["space"], None if archs == "all" else int(archs), int(record["holdout"]), int(record["seed"]),
                   bool(record.get("uniform", False)), record.get("labels"), record.get("labels_format"))


# -- labelled architectures (SVGe's predictor targets) --------------------------------------------------


def labelled(
    space: SearchSpace, results: Any, heldout: Sequence[Architecture]
) -> tuple[list[Architecture], dict[str, float]]:
    """``(labelled architectures not held out, {hash: validation accuracy})`` of a result set.

    ``results`` is a ``benchmarks.ResultSet`` of ``space``. The held-out
    architectures stay unseen: labelled ones among them are not trained on,
    so reconstruction is still measured on graphs the model never met.
    """
    if results.space.name != space.name:
        raise ValueError(f"holds {results.space.name} results, not {space.name}")
    frame = results.at()
    accuracy = dict(zip(frame["hash"], frame["val_accuracy"].astype(float)))
    excluded = set(space.canonical_hashes(heldout))
    return [space.validate(results.archs[h]) for h in frame["hash"] if h not in excluded], accuracy


def with_targets(space: SearchSpace, archs: Sequence[Architecture], extra: Sequence[Architecture],
                 accuracy: dict[str, float]) -> tuple[list[Architecture], np.ndarray]:
    """``archs`` joined by the ``extra`` ones not among them, and their targets (NaN where unlabelled)."""
    known = set(space.canonical_hashes(archs))
    joined = list(archs) + [a for a, h in zip(extra, space.canonical_hashes(extra)) if h not in known]
    return joined, np.array([accuracy.get(h, np.nan) for h in space.canonical_hashes(joined)])


__all__ = ["RECIPE", "EmbeddingSplit", "labelled", "with_targets"]
