"""``check_surrogate``: the fit/predict/save/load :class:`~nasframe.core.Surrogate` contract."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nasframe.core import SearchSpace, Surrogate
from nasframe.core.registry import SURROGATES
from nasframe.testing._rules import require
from nasframe.testing._searcher import pseudo_accuracy


def check_surrogate(family: Any, space: SearchSpace, *, n: int = 24, seed: int = 0, **params: Any) -> None:
    """Check a surrogate family (a registered name or a factory ``f(space, **params)``) on ``space``.

    Fits ``n`` distinct sampled architectures on a deterministic target, then:
    ``fit`` returns the model, ``predict`` gives a mean and a non-negative
    std of one finite value per architecture, and a saved and reloaded model
    predicts the same. ``params`` go to the factory (keep them small:
    ``members=2``, few epochs). Raises ``AssertionError`` naming the rule broken.
    """
    factory = SURROGATES.factory(family) if isinstance(family, str) else family
    who = f"surrogate {family if isinstance(family, str) else getattr(family, '__name__', family)!r}"
    rng = np.random.default_rng(seed)
    archs = list(space.sample_distinct(rng, n).values())
    candidates = space.sample(rng, 8)
    y = np.array([pseudo_accuracy(space, a) for a in archs])
    model = factory(space, **params)
    require(isinstance(model, Surrogate), who, "provides fit, predict and save (the core Surrogate protocol)")
    require(model.fit(archs, y) is model, who, "fit(archs, y) returns the model itself")
    mean, std = model.predict(candidates)
    for label, values in (("mean", mean), ("std", std)):
        require(np.shape(values) == (len(candidates),), who, f"predict gives one {label} per architecture",
                f"shape {np.shape(values)} for {len(candidates)}")
        require(np.all(np.isfinite(values)), who, f"predict gives a finite {label}")
    require(np.all(np.asarray(std) >= 0), who, "predict gives std >= 0")
    with tempfile.TemporaryDirectory(prefix="nasframe-check-") as scratch:
        folder = Path(scratch) / "model"
        model.save(folder)
        loaded = type(model).load(folder, space)
        again_mean, again_std = loaded.predict(candidates)
    require(np.allclose(again_mean, mean, rtol=1e-5, atol=1e-7) and np.allclose(again_std, std, rtol=1e-5, atol=1e-7),
            who, "a saved and reloaded model predicts the same", f"max mean change {np.max(np.abs(again_mean - mean))}")
