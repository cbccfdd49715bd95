"""An ensemble across model families (e.g. XGBoost + GIN), as NB301 compares them.

Each family is itself a bagged ensemble; this one pools their members, so the
mean weighs every member equally and the spread includes the disagreement
between families, the largest source of model uncertainty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace
from nasframe.core.files import atomic_dir
from surrogates.base import CARD, Surrogate, read_card


class FamilyEnsemble(Surrogate):
    """Pools the members of several surrogates of the same space.

    Build it from unfitted surrogates (``fit`` fits each) or fitted ones.
    """

    family = "ensemble"

    def __init__(self, parts: Sequence[Surrogate]) -> None:
        if not parts:
            raise ValueError("a family ensemble needs at least one surrogate")
        spaces = {p.space.name for p in parts}
        if len(spaces) != 1:
            raise ValueError(f"all parts must share one space, got {sorted(spaces)}")
        super().__init__(parts[0].space, members=sum(p.members for p in parts), seed=parts[0].seed)
        self.parts = list(parts)
        self.params = {"parts": [p.family for p in parts]}
        self._models = [None] if all(p._models for p in parts) else []

    # the per-member plug-ins are the parts' business
    def _features(self, archs: Sequence[Architecture]) -> Any:
        return archs

    def _fit_member(self, features: Any, y: np.ndarray, index: np.ndarray, seed: int) -> Any:
        raise TypeError("FamilyEnsemble fits whole parts, not members")

    def _predict_member(self, model: Any, features: Any) -> np.ndarray:
        raise TypeError("FamilyEnsemble predicts through its parts")

    def _save_member(self, model: Any, path: Path) -> str:
        raise TypeError("FamilyEnsemble saves whole parts")

    def _load_member(self, path: Path) -> Any:
        raise TypeError("FamilyEnsemble loads whole parts")

    def fit(self, archs: Sequence[Architecture], y: Sequence[float]) -> "FamilyEnsemble":
        for part in self.parts:
            part.fit(archs, y)
        self._models = [None]
        self.card.update(n_train=len(y))
        return self

    def predict_members(
        self, archs: Sequence[Architecture], cache: dict[tuple[Any, ...], Any] | None = None
    ) -> np.ndarray:
        if not self._models:
            raise RuntimeError("FamilyEnsemble is not fitted; call fit() or load() first")
        cache = {} if cache is None else cache  # parts with one encoding featurise once
        return np.concatenate([part.predict_members(archs, cache) for part in self.parts])

    def save(self, path: str | Path) -> Path:
        if not self._models:
            raise RuntimeError("cannot save an unfitted surrogate")
        names = [f"{i}-{part.family}" for i, part in enumerate(self.parts)]
        card = {**self.card, "family": self.family, "space": self.space.name,
                "space_config": self.space.config(), "parts": names}
        with atomic_dir(path) as tmp:
            for name, part in zip(names, self.parts):
                part.save(tmp / name)
            (tmp / CARD).write_text(json.dumps(card, indent=2, sort_keys=True))
        self.card = card
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, space: SearchSpace | None = None) -> "FamilyEnsemble":
        path = Path(path)
        card = read_card(path)
        model = cls([Surrogate.load(path / name, space) for name in card["parts"]])
        model.card = card
        return model

