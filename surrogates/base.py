"""The surrogate contract: scikit-learn style fit/predict over architectures.

Every surrogate is a bagged ensemble of one model family, as NAS-Bench-301
recommends: ``members`` models each fitted on a bootstrap resample (member 0
sees the full training set when ``members == 1``). The spread of the members is
the uncertainty that ``predict`` returns and that surrogate benchmarks draw
noise from. A family plugs in through four small methods: ``_features``,
``_fit_member``, ``_predict_member`` and the save/load pair.

A saved surrogate is a folder: ``card.json`` (the model card: family, space,
hyper-parameters, data (file name and sha256), counts, split, held-out
metrics, library versions) and one portable file per member in the family's own format
(XGBoost/LightGBM JSON or text, torch state dicts).
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
from abc import ABC, abstractmethod
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from nasframe.core import Architecture, SearchSpace
from nasframe.core.files import atomic_dir
from nasframe.core.registry import SURROGATES, load_space
from surrogates.dimensions import Choice, Dimension, outside, suggest

CARD = "card.json"
_VERSIONED = ("nasframe", "numpy", "xgboost", "lightgbm", "scikit-learn", "torch", "torch-geometric")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on (for the model card)."""
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


class Surrogate(ABC):
    """A bagged ensemble of one model family predicting validation accuracy.

    Parameters
    ----------
    space:
        The search space whose architectures are featurised.
    members:
        Ensemble size (NB301 uses 10). One member means no bagging.
    seed:
        Seeds the bootstrap and each member's own randomness.
    params:
        Family hyper-parameters, stored in the model card.
    """

    family: ClassVar[str]
    #: hyper-parameters used when the caller gives none; subclasses override
    default_params: ClassVar[dict[str, Any]] = {}
    #: permitted values of hyper-parameters, checked at construction
    valid: ClassVar[dict[str, Dimension]] = {}
    #: the family's Optuna search space (the encoding is added per space)
    hpo_space: ClassVar[dict[str, Dimension]] = {}
    #: members read ``space.encode(archs, params["encoding"])`` (else they read graphs)
    uses_encoding: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, *, members: int = 10, seed: int = 0, **params: Any) -> None:
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        unknown = set(params) - set(self.default_params)
        if unknown:
            raise ValueError(
                f"unknown {self.family} hyper-parameters {sorted(unknown)}; "
                f"known: {sorted(self.default_params)}"
            )
        self.space = space
        self.members = members
        self.seed = seed
        self.params = {**self.default_params, **params}
        if self.uses_encoding:  # the card records the encoding actually used, never None
            self.params["encoding"] = space._check_encoding(self.params.get("encoding"))
        bad = outside(self.valid, self.params)
        if bad:
            raise ValueError(
                f"invalid {self.family} hyper-parameters {bad}; permitted: "
                + ", ".join(f"{k}: {self.valid[k]}" for k in sorted(bad))
            )
        self.card: dict[str, Any] = {}
        self._models: list[Any] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space.name!r}, members={self.members}, params={self.params})"

    @classmethod
    def search_space(cls, space: SearchSpace) -> dict[str, Dimension]:
        """The Optuna search space of this family on ``space``."""
        dims = dict(cls.hpo_space)
        if cls.uses_encoding and len(space.encodings) > 1:
            dims["encoding"] = Choice(tuple(space.encodings))
        return dims

    @classmethod
    def suggest_params(cls, trial: Any, space: SearchSpace) -> dict[str, Any]:
        return suggest(trial, cls.search_space(space))

    def _encoded(self, archs: Sequence[Architecture]) -> np.ndarray:
        """The space's encoding of ``archs`` as a contiguous float32 matrix."""
        return np.ascontiguousarray(self.space.encode(archs, self.params["encoding"]), dtype=np.float32)

    # -- plug-in points -----------------------------------------------------

    @abstractmethod
    def _features(self, archs: Sequence[Architecture]) -> Any:
        """Inputs for the members, computed once per fit/predict call."""

    @abstractmethod
    def _fit_member(self, features: Any, y: np.ndarray, index: np.ndarray, seed: int) -> Any:
        """Fit one member on rows ``index`` of ``features``; return the model."""

    @abstractmethod
    def _predict_member(self, model: Any, features: Any) -> np.ndarray:
        """Predictions of one member for every row of ``features``."""

    @abstractmethod
    def _save_member(self, model: Any, path: Path) -> str:
        """Write one member under ``path`` (no extension); return the file name."""

    @abstractmethod
    def _load_member(self, path: Path) -> Any:
        """Read one member written by :meth:`_save_member`."""

    # -- public API ----------------------------------------------------------

    def fit(self, archs: Sequence[Architecture], y: Sequence[float]) -> "Surrogate":
        y = np.asarray(y, dtype=np.float64)
        if len(archs) != len(y):
            raise ValueError(f"got {len(archs)} architectures but {len(y)} targets")
        if len(y) < 2 or not np.all(np.isfinite(y)):
            raise ValueError("targets must be at least two finite numbers")
        features = self._features(archs)
        rng = np.random.default_rng(self.seed)
        self._models = []
        for member in range(self.members):
            index = (
                np.arange(len(y)) if self.members == 1 else rng.integers(0, len(y), size=len(y))
            )
            self._models.append(self._fit_member(features, y, index, self.seed + member))
        self.card.update(n_train=len(y), fitted=_dt.datetime.now(_dt.timezone.utc).isoformat())
        return self

    def feature_key(self) -> tuple[Any, ...]:
        """Surrogates with equal keys compute equal features from the same architectures.

        It lets several models answering one query (an ensemble's families, a
        benchmark's accuracy and runtime models) featurise the batch once.
        """
        return (type(self)._features, self.params.get("encoding"))

    def predict_members(
        self, archs: Sequence[Architecture], cache: dict[tuple[Any, ...], Any] | None = None
    ) -> np.ndarray:
        """One row of predictions per member: shape ``(members, len(archs))``.

        ``cache`` (one dict per ``archs``) shares features with other
        surrogates asked about the same architectures (see :meth:`feature_key`).
        """
        if not self._models:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        if len(archs) == 0:
            return np.zeros((len(self._models), 0))
        if cache is None:
            features = self._features(archs)
        else:
            key = self.feature_key()
            if key not in cache:
                cache[key] = self._features(archs)
            features = cache[key]
        return np.stack([self._predict_member(m, features) for m in self._models])

    def predict(
        self, archs: Sequence[Architecture], cache: dict[tuple[Any, ...], Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and standard deviation of the members, per architecture."""
        preds = self.predict_members(archs, cache)
        return preds.mean(axis=0), preds.std(axis=0)

    def transferred(self, space: SearchSpace) -> "Surrogate":
        """This fitted surrogate, reading architectures of ``space``: another configuration of its space.

        A graph network learns functions of nodes, edges and their
        neighbourhoods, not of positions, so it can score graphs larger than
        any it was trained on (ENAS with 12 layers from 6-layer data; DESIGN
        section 6's extrapolation). A fixed-length encoding cannot be read at
        another size, so encoding families refuse. The members are shared,
        not copied; the surrogate itself is unchanged.
        """
        if space.name != self.space.name:
            raise ValueError(f"a {self.space.name} surrogate cannot read {space.name} architectures")
        if self.uses_encoding:
            raise ValueError(
                f"{self.family!r} reads a fixed-length encoding of {self.space!r}; only graph families "
                "(gin, gcn, vsgae-mlp) read architectures of another size"
            )
        view = copy.copy(self)
        view.space = space
        return view

    def save(self, path: str | Path) -> Path:
        """Write the folder atomically: a half-written model never replaces a good one."""
        if not self._models:
            raise RuntimeError("cannot save an unfitted surrogate")
        with atomic_dir(path) as tmp:
            files = [self._save_member(m, tmp / f"member{i}") for i, m in enumerate(self._models)]
            card = {
                **self.card,
                "family": self.family,
                "space": self.space.name,
                "space_config": self.space.config(),
                "members": self.members,
                "seed": self.seed,
                "params": self.params,
                "files": files,
                "versions": library_versions(),
            }
            (tmp / CARD).write_text(json.dumps(card, indent=2, sort_keys=True))
        self.card = card
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, space: SearchSpace | None = None) -> "Surrogate":
        """Load a folder written by :meth:`save`; on the base class, of any family."""
        path = Path(path)
        card = read_card(path)
        if cls is Surrogate:
            return SURROGATES.factory(card["family"]).load(path, space)
        if space is None:
            space = load_space(card["space"], **card.get("space_config", {}))
        model = cls(space, members=card["members"], seed=card["seed"], **card["params"])
        missing = [f for f in card["files"] if not (path / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{path} lacks member files {missing}")
        model._models = [model._load_member(path / f) for f in card["files"]]
        model.card = card
        return model


def read_card(path: Path) -> dict[str, Any]:
    """The model card of a saved surrogate, with a clear error when it is missing or bad."""
    card_file = path / CARD
    if not card_file.is_file():
        raise FileNotFoundError(f"{path} is not a saved surrogate: {CARD} is missing")
    try:
        card = json.loads(card_file.read_text())
        card["family"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{card_file} is not a valid model card: {exc!r}") from None
    return card
