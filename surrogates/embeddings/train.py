"""Training graph VAEs: epochs with checkpoints, resume, and saved models with a model card.

The papers train for ~300 epochs, long enough that a run must survive being
killed. :func:`train` therefore writes a checkpoint after every epoch (model,
optimiser, both random generators, history), atomically, so a kill leaves the
previous epoch's checkpoint intact; called again with the same checkpoint it
continues from the last finished epoch, and the continued run is identical to
an uninterrupted one (same seed, same batches, same noise, same updates). A
checkpoint records a fingerprint of the model's hyper-parameters, the
training settings and the data; resuming with different ones is refused with
an error instead of silently mixing two runs.

All randomness of a run (batch order, reparameterisation noise) comes from
generators seeded by ``seed``, never from the global RNGs.

A trained model is saved as a folder: ``card.json`` (kind, space, hyper-
parameters, epochs, training settings, metrics, library versions) and
``model.pt`` (the ``state_dict``, loaded with ``weights_only=True``).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from nasframe.core import Architecture, SearchSpace
from nasframe.core.files import atomic_dir, atomic_file
from nasframe.core.registry import load_space
from surrogates.embeddings.svge import SVGE
from surrogates.embeddings.vsgae import VSGAE, GraphVAE
from surrogates.base import library_versions
from surrogates.threads import torch_threads

CHECKPOINT = "checkpoint.pt"
CARD = "card.json"
WEIGHTS = "model.pt"
FORMAT = "surrogates.embeddings/1"
#: model kinds by the name their cards record
MODEL_KINDS: dict[str, type[GraphVAE]] = {"vsgae": VSGAE, "svge": SVGE}

#: ``callback(epoch, stats)``, called after each epoch's checkpoint; returning ``False`` stops
Callback = Callable[[int, dict[str, float]], "bool | None"]


@dataclass
class TrainResult:
    """What a :func:`train` call did.

    ``epochs`` counts all finished epochs (including those of a resumed
    checkpoint), ``resumed_from`` the epochs already done when it started,
    ``history`` one dict of epoch means per finished epoch.
    """

    epochs: int
    resumed_from: int
    history: list[dict[str, float]]
    settings: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False


def _fingerprint(model: GraphVAE, settings: dict[str, Any], hashes: Sequence[str], y: np.ndarray | None) -> str:
    digest = hashlib.sha256()
    head = {
        "kind": model.kind,
        "space": model.space.name,
        "space_config": model.space.config(),
        "hyperparameters": model.hyperparameters(),
        "settings": settings,
    }
    digest.update(json.dumps(head, sort_keys=True).encode())
    digest.update("\n".join(hashes).encode())
    if y is not None:
        digest.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def train(
    model: GraphVAE,
    archs: Sequence[Any],
    y: Sequence[float] | np.ndarray | None = None,
    *,
    epochs: int = 300,
    batch_size: int = 128,
    lr: float = 1e-4,
    weight_decay: float = 0.0,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    callback: Callback | None = None,
    threads: int | None = 1,
) -> TrainResult:
    """Train ``model`` on ``archs`` (with targets ``y``: SVGe's joint loss) with Adam.

    Parameters
    ----------
    epochs:
        Total epochs; with a checkpoint of ``k`` finished epochs, ``epochs - k`` more run.
    batch_size, lr, weight_decay:
        Adam in mini-batches (the papers: batch 128, lr 1e-4).
    seed:
        Seeds the batch order and the reparameterisation noise.
    checkpoint:
        A folder; ``checkpoint.pt`` in it is written after every epoch and
        resumed from when present (refused if it belongs to another run).
    callback:
        ``callback(epoch, stats)`` after each epoch (1-based), after the
        checkpoint is written; returning ``False`` stops training.
    threads:
        torch intra-op threads while training (``None`` leaves the setting alone).
    """
    if epochs < 0 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    if len(archs) == 0:
        raise ValueError("no architectures to train on")
    archs = [a if isinstance(a, Architecture) else model.space.validate(a) for a in archs]
    targets = None if y is None else _targets(model, len(archs), y)
    settings = {"batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "seed": seed}
    device = model.device
    graphs = model.graphs(archs)
    fingerprint = _fingerprint(model, settings, model.space.canonical_hashes(list(archs)), targets)
    y_tensor = None if targets is None else torch.as_tensor(targets, dtype=torch.float32, device=device)

    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    history: list[dict[str, float]] = []
    start = 0
    path = None if checkpoint is None else Path(checkpoint) / CHECKPOINT
    if path is not None and path.is_file():
        start, history = _resume(path, fingerprint, model, optimiser, rng, generator)
    elif isinstance(model, SVGE) and targets is not None:
        model.set_target_scale(targets)

    stopped = False
    with torch_threads(threads) if threads is not None else contextlib.nullcontext():
        for epoch in range(start, epochs):
            stats = _epoch(model, graphs, y_tensor, optimiser, rng.permutation(len(graphs)), batch_size, generator)
            history.append({"epoch": epoch + 1, **stats})
            if path is not None:
                _save_checkpoint(path, fingerprint, epoch + 1, history, model, optimiser, rng, generator)
            if callback is not None and callback(epoch + 1, stats) is False:
                stopped = True
                break
    model.eval()
    return TrainResult(len(history), start, history, settings, stopped)


def _targets(model: GraphVAE, count: int, y: Sequence[float] | np.ndarray) -> np.ndarray:
    """``y`` as float64 targets of ``count`` architectures; only SVGe has a predictor to learn them."""
    if not isinstance(model, SVGE):
        raise ValueError(f"{type(model).__name__} has no predictor; train it without targets")
    targets = np.asarray(y, dtype=np.float64)
    if targets.shape != (count,):
        raise ValueError(f"got {count} architectures but targets of shape {targets.shape}")
    if not np.isfinite(targets).any():
        raise ValueError("targets are all NaN; pass y=None to train the VAE alone")
    return targets


def _epoch(model: GraphVAE, graphs: Any, y: torch.Tensor | None, optimiser: torch.optim.Optimizer,
           order: np.ndarray, batch_size: int, generator: torch.Generator) -> dict[str, float]:
    """One pass over the graphs in ``order``, in mini-batches; the epoch means of the loss parts."""
    model.train()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for rows in _batches(order, batch_size):
        batch_y = None if y is None else y[torch.as_tensor(rows, device=model.device)]
        parts = model.loss(graphs.select(rows), batch_y, generator=generator)
        optimiser.zero_grad(set_to_none=True)
        parts["loss"].backward()
        optimiser.step()
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(rows)
            counts[key] = counts.get(key, 0) + len(rows)
    return {key: sums[key] / counts[key] for key in sums}


def _save_checkpoint(
    path: Path,
    fingerprint: str,
    epoch: int,
    history: list[dict[str, float]],
    model: GraphVAE,
    optimiser: torch.optim.Optimizer,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> None:
    state = {
        "fingerprint": fingerprint,
        "epoch": epoch,
        "history": json.dumps(history),
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": generator.get_state(),
    }
    with atomic_file(path) as handle:
        torch.save(state, handle)


def _resume(
    path: Path,
    fingerprint: str,
    model: GraphVAE,
    optimiser: torch.optim.Optimizer,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> tuple[int, list[dict[str, float]]]:
    try:
        state = torch.load(path, map_location=model.device, weights_only=True)
        saved_fingerprint, epoch = state["fingerprint"], int(state["epoch"])
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise ValueError(f"checkpoint {path} is unreadable: {exc}") from exc
    if saved_fingerprint != fingerprint:
        raise ValueError(
            f"checkpoint {path} belongs to another run (model, space, training settings or data differ); "
            "use another checkpoint folder or delete it"
        )
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    rng.bit_generator.state = json.loads(state["numpy_rng"])
    torch_rng = state["torch_rng"].cpu()
    if torch_rng.numel() == generator.get_state().numel():
        generator.set_state(torch_rng)
    else:
        # A CPU and a CUDA generator keep different states, so a run moved
        # between them cannot continue the same noise stream. Seeding from a
        # copy of the restored batch-order generator keeps the continuation a
        # pure function of the checkpoint without shifting the batch order.
        warnings.warn(
            f"checkpoint {path} was written on another kind of device; the reparameterisation noise is reseeded "
            f"at epoch {epoch}, so the continued run is not bit-identical to an uninterrupted one",
            stacklevel=3,
        )
        generator.manual_seed(int(copy.deepcopy(rng).integers(2**62)))
    return epoch, json.loads(state["history"])


# -- saved models ------------------------------------------------------------------


def save_model(
    model: GraphVAE,
    path: str | Path,
    *,
    result: TrainResult | None = None,
    metrics: dict[str, float] | None = None,
    data_source: str | None = None,
) -> Path:
    """Write ``model`` as a folder (``card.json`` + ``model.pt``), atomically.

    The card records what is needed to rebuild and to judge the model: kind,
    space and its configuration, hyper-parameters, epochs and training
    settings (from ``result``), ``metrics``, the data source and the library
    versions.
    """
    card: dict[str, Any] = {
        "format": FORMAT,
        "kind": model.kind,
        "space": model.space.name,
        "space_config": model.space.config(),
        "hyperparameters": model.hyperparameters(),
        "epochs": None if result is None else result.epochs,
        "training": {} if result is None else result.settings,
        "final_epoch": None if result is None or not result.history else result.history[-1],
        "metrics": dict(metrics or {}),
        "data_source": data_source,
        "library_versions": library_versions(),
        "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(),
    }
    with atomic_dir(path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp / WEIGHTS)
        (tmp / CARD).write_text(json.dumps(card, indent=2, sort_keys=True))
    return Path(path)


def read_card(path: str | Path) -> dict[str, Any]:
    """The model card of a saved graph embedding; clear errors when missing or malformed."""
    card_file = Path(path) / CARD
    if not card_file.is_file():
        raise FileNotFoundError(f"{path} is not a saved graph embedding: {CARD} is missing")
    try:
        card = json.loads(card_file.read_text())
        kind, space, params = card["kind"], card["space"], card["hyperparameters"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{card_file} is not a valid model card: {exc!r}") from None
    if card.get("format") != FORMAT:
        raise ValueError(f"{card_file}: unknown format {card.get('format')!r}, expected {FORMAT!r}")
    if kind not in MODEL_KINDS:
        raise ValueError(f"{card_file}: unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")
    if not isinstance(space, str) or not isinstance(params, dict):
        raise ValueError(f"{card_file}: 'space' must be a name and 'hyperparameters' a mapping")
    return card


def load_model(
    path: str | Path, space: SearchSpace | None = None, device: torch.device | str = "cpu"
) -> GraphVAE:
    """Rebuild a model written by :func:`save_model` (in eval mode, ``model.card`` set)."""
    path = Path(path)
    card = read_card(path)
    if space is None:
        space = load_space(card["space"], **card.get("space_config", {}))
    model = MODEL_KINDS[card["kind"]](space, device=device, **card["hyperparameters"])
    weights = path / WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{path} lacks its weights file {WEIGHTS}")
    try:
        model.load_state_dict(torch.load(weights, map_location=model.device, weights_only=True))
    except Exception as exc:  # torch raises many kinds for a damaged or foreign file
        raise ValueError(f"{weights} is not a readable {card['kind']} state dict: {exc}") from exc
    model.card = card
    model.eval()
    return model


__all__ = [
    "MODEL_KINDS",
    "TrainResult",
    "load_model",
    "read_card",
    "save_model",
    "train",
]
