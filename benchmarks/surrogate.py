"""Surrogate benchmarks: NAS-Bench-301's answer for spaces too large to tabulate.

One ensemble predicts validation accuracy; ``noise=True`` draws each answer
from a normal distribution with the ensemble's mean and member spread, which
is how NB301 simulates the run-to-run noise of real training. Where the
card records a cap (the shipped nb101: the 0.99 quantile of the spread over
its training cells, :mod:`benchmarks.noise`), the spread is capped there, so
the noise does not grow off the data's distribution. Separate models
(fitted the same way) may predict the other metrics; they answer with their
mean, because their noise is not what a searcher sees.

A saved benchmark is a folder: ``benchmark.json`` (name, space, fidelity,
data source, split, held-out metrics per model) and one saved surrogate per
metric (``val_accuracy/``, ``train_time/``, ...), each with its model card.

A metric that the space determines exactly (NB101's parameter count, from
its network builder) is no model's guess: ``exact`` names, per metric, the
function that computes it for a batch of architectures, as a
``"module:function"`` string that the manifest records.

A card with ``"answer_table": true`` (the shipped nb101, whose space is
finite) answers from a table of its models' answers for every cell
(:mod:`benchmarks.answers`), and loads the models only when something asks
for them.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks import answers
from benchmarks.base import METRICS, Benchmark, QueryResult
from benchmarks.noise import cap_std, noise_std
from nasframe.core import Architecture, SearchSpace
from nasframe.core.files import atomic_dir
from nasframe.core.errors import UserError
from nasframe.core.registry import load_space, resolve
from surrogates.base import Surrogate, library_versions

MANIFEST = "benchmark.json"


class ManifestError(UserError, ValueError):
    """A saved benchmark's ``benchmark.json`` cannot be read; the message names the file."""


def _exact_function(metric: str, target: str) -> Callable[[list[Architecture]], np.ndarray]:
    """The function an ``exact`` entry names, imported now so that a bad name fails at load."""
    try:
        return resolve(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"exact {metric!r}: cannot import {target!r} ({exc})") from None


class SurrogateBenchmark(Benchmark):
    """Answers from fitted surrogates, one per metric (``val_accuracy`` required).

    ``epochs`` is the single fidelity the models were fitted at; ``card``
    holds what the manifest says about data, split and held-out quality.
    ``exact`` maps a metric to the ``"module:function"`` computing it exactly
    (``function(archs) -> array``), in place of a model.
    """

    def __init__(
        self,
        name: str,
        space: SearchSpace,
        models: Mapping[str, Surrogate],
        epochs: int,
        card: dict[str, Any] | None = None,
        exact: Mapping[str, str] | None = None,
    ) -> None:
        if "val_accuracy" not in models:
            raise ValueError("a surrogate benchmark needs a 'val_accuracy' model")
        exact = dict(exact or {})
        unknown = (set(models) | set(exact)) - set(METRICS)
        if unknown:
            raise ValueError(f"models for unknown metrics {sorted(unknown)}; metrics are {METRICS}")
        if set(models) & set(exact) or "val_accuracy" in exact:
            raise ValueError(f"a metric is either modelled or exact, not both: {sorted(set(models) & set(exact))}")
        self.name = name
        self.space = space
        self.models = models if isinstance(models, _LazyModels) else dict(models)
        self.exact = exact
        self._exact_functions = {metric: _exact_function(metric, target) for metric, target in exact.items()}
        self.fidelities = (epochs,)
        self.card = dict(card or {})
        #: where the answer table comes from (set by :meth:`load` when the card has one and tables are on)
        self.folder: Path | None = None
        self.table_key: str | None = None

    def _table(self) -> answers.AnswerTable | None:
        if self.folder is None or self.table_key is None:
            return None
        try:
            return answers.load_table(self.name, self.folder, self.table_key,
                                      ("val_accuracy", "val_accuracy_std", *self.models.keys()))
        except OSError as exc:  # no writable cache: answer from the models (slower to start, same numbers)
            warnings.warn(f"benchmark {self.name!r}: no answer table ({exc}); answering from the models",
                          stacklevel=3)
            self.folder = self.table_key = None
            return None

    def __repr__(self) -> str:
        members = {k: f"{type(m).__name__}x{m.members}" for k, m in self.models.items()}
        exact = f", exact={sorted(self.exact)}" if self.exact else ""
        return f"SurrogateBenchmark({self.name!r}, space={self.space.name!r}, models={members}{exact})"

    def _query(
        self, archs: list[Architecture], epochs: int, noise: bool, rng: np.random.Generator
    ) -> QueryResult:
        n = len(archs)
        table = self._table()
        if table is not None:
            rows = table.rows(self.space.canonical_hashes(archs))
            val = table.columns["val_accuracy"][rows]
            if noise:
                val = val + cap_std(table.columns["val_accuracy_std"][rows], self.card.get("noise")) * (
                    rng.standard_normal(n))
            predicted = {metric: table.columns[metric][rows] for metric in self.models if metric != "val_accuracy"}
        else:
            cache: dict = {}  # models with the same inputs featurise the batch once
            members = self.models["val_accuracy"].predict_members(archs, cache)
            val = members.mean(axis=0)
            if noise:
                # the member spread, capped where the card says (benchmarks.noise)
                val = val + noise_std(members, self.card.get("noise")) * rng.standard_normal(n)
            predicted = {metric: model.predict(archs, cache)[0] for metric, model in self.models.items()
                         if metric != "val_accuracy"}
        columns = {"val_accuracy": np.clip(val, 0.0, 1.0)}
        for metric in METRICS[1:]:
            if metric in self.exact:
                columns[metric] = np.asarray(self._exact_functions[metric](archs), dtype=float)
            else:
                columns[metric] = predicted.get(metric, np.full(n, np.nan))
        if "test_accuracy" in self.models:
            columns["test_accuracy"] = np.clip(columns["test_accuracy"], 0.0, 1.0)
        columns["train_time"] = np.maximum(columns["train_time"], 0.0)
        columns["params"] = np.round(np.maximum(columns["params"], 0.0))
        return QueryResult(**columns, epochs=epochs)

    def optimum(self) -> tuple[Architecture, float] | None:
        """The recorded best predicted mean (see :func:`benchmarks.build.record_optimum`); with an answer
        table, the table's best (the recorded cell, whose tabulated answer may differ by float rounding)."""
        record = self.card.get("optimum")
        table = self._table()
        if record and table is not None:
            values = table.columns["val_accuracy"]
            best = int(np.argmax(values))
            arch = self.space.from_json(record["arch"])
            if values[table.rows([self.space.canonical_hash(arch)])[0]] != values[best]:
                arch = answers.architecture_of(self.space, table.keys[best].hex())
            return arch, float(values[best])
        if not record:
            return None
        return self.space.from_json(record["arch"]), float(record["val_accuracy"])

    def save(self, path: str | Path) -> Path:
        """Write the folder atomically (a crash leaves the previous one intact)."""
        with atomic_dir(path) as tmp:
            for metric, model in self.models.items():
                model.save(tmp / metric)
            manifest = {
                **self.card,
                "name": self.name,
                "space": self.space.name,
                "space_config": self.space.config(),
                "epochs": self.fidelities[0],
                "models": sorted(self.models),
                "exact": dict(sorted(self.exact.items())),
                "versions": library_versions(),
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        self.card = manifest
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "SurrogateBenchmark":
        path = Path(path)
        manifest_file = path / MANIFEST
        if not manifest_file.is_file():
            raise FileNotFoundError(f"{path} is not a saved surrogate benchmark: {MANIFEST} is missing")
        try:
            manifest = json.loads(manifest_file.read_text())
            space = load_space(manifest["space"], **manifest.get("space_config", {}))
            metrics, epochs, name = manifest["models"], int(manifest["epochs"]), manifest["name"]
            exact = {str(k): str(v) for k, v in manifest.get("exact", {}).items()}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f"{manifest_file} is not a valid benchmark manifest: {exc}") from None
        tabulated = bool(manifest.get("answer_table")) and answers.tables_enabled()
        models: Mapping[str, Surrogate] = (_LazyModels(path, space, metrics) if tabulated else
                                           {metric: Surrogate.load(path / metric, space) for metric in metrics})
        try:
            benchmark = cls(name, space, models, epochs, manifest, exact=exact)
        except ValueError as exc:
            raise ManifestError(f"{manifest_file}: {exc}") from None
        if tabulated:
            benchmark.folder, benchmark.table_key = path, answers.models_key(path, metrics)
        return benchmark


class _LazyModels(Mapping):
    """A benchmark's saved models, each loaded on first use: a benchmark answering from its table
    never loads torch, torch-geometric or XGBoost."""

    def __init__(self, folder: Path, space: SearchSpace, metrics: list[str]) -> None:
        self.folder, self.space, self.metrics = folder, space, list(metrics)
        self._loaded: dict[str, Surrogate] = {}

    def __getitem__(self, metric: str) -> Surrogate:
        if metric not in self.metrics:
            raise KeyError(metric)
        if metric not in self._loaded:
            self._loaded[metric] = Surrogate.load(self.folder / metric, self.space)
        return self._loaded[metric]

    def __contains__(self, metric: object) -> bool:  # Mapping's default would load the model
        return metric in self.metrics

    def __iter__(self) -> Iterator[str]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)
