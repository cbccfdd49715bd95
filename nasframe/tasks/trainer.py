"""Train one architecture of any space on any task under a recipe, with checkpoints and resume.

The trainer knows no task: the model, the loss of a batch, the evaluation and
the costs come from the :class:`~nasframe.core.task.Task` (image
classification is one such task).

The loop is deliberately the plain PyTorch one (forward, loss, backward,
clip, step) with nothing per step that a hand-written loop would not do: no
host synchronisation (the loss is summed on the device), no hooks. Its
throughput is measured against a bare loop on the same model in
``scripts/perf/bench_trainer.py``.

Precision ``"16"`` is float16 autocast with gradient scaling on CUDA and
bfloat16 autocast on CPU (CPU kernels have no float16 path worth using).

A checkpoint is written atomically after every epoch (model, optimiser,
schedule, scaler, random generators, metrics so far); ``fit`` on the same
folder resumes after the last finished epoch, so a killed training loses at
most one epoch. A checkpoint of a different architecture or recipe is
refused, not silently continued.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import UserError
from nasframe.core.files import atomic_file
from nasframe.core.task import Task
from nasframe.tasks.recipe import Recipe

CHECKPOINT_FILE = "trainer-state.pt"
#: called after every epoch with the epoch's metrics and the folder holding its checkpoint (or None)
EpochCallback = Callable[[dict[str, Any], "Path | None"], None]


class CheckpointMismatch(UserError, RuntimeError):
    """A checkpoint folder holds the training of another architecture, recipe or seed, or an unreadable file."""


@dataclass
class TrainResult:
    """The outcome of one training: final metrics, cost and the per-epoch history.

    ``val_accuracy`` is the task's primary metric on the validation split
    (the accuracy, for classification), negated when that metric is
    minimised, so larger is always better for a searcher; ``test_accuracy``
    likewise on the test split. ``objectives`` holds every objective of the
    task in its own units and sign; ``costs`` the costs of the built network.
    """

    val_accuracy: float
    test_accuracy: float | None
    train_loss: float
    epochs: int
    #: wall seconds spent training and evaluating, summed over epochs (resumed epochs included)
    seconds: float
    params: int
    history: list[dict[str, Any]] = field(default_factory=list)
    objectives: dict[str, float] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Trainer:
    """Trains architectures on ``task`` under ``recipe``.

    ``evaluate_test`` adds the test accuracy after the last epoch (kept out of
    the per-epoch metrics a search sees). ``model_options`` are extra
    ``build_model`` keywords for the space.
    """

    def __init__(
        self,
        task: Task,
        recipe: Recipe | None = None,
        *,
        device: str | torch.device | None = None,
        seed: int = 0,
        evaluate_test: bool = False,
        model_options: dict[str, Any] | None = None,
    ) -> None:
        if not task.objectives or task.primary.cost:
            raise UserError(f"task {task.name!r}: the first objective must be a trained metric, "
                            f"got {task.objectives[:1]}")
        self.task = task
        self.recipe = recipe or Recipe()
        task.check_options(self.recipe)
        self.device = torch.device(device) if device is not None else default_device()
        self.seed = seed
        self.evaluate_test = evaluate_test
        self.model_options = dict(model_options or {})

    def build(self, space: SearchSpace, arch: Architecture) -> torch.nn.Module:
        self.task.check_arch(space, arch)
        return self.task.build_model(space, arch, self.recipe, self.model_options).to(self.device)

    def fingerprint(self, space: SearchSpace, arch: Architecture) -> str:
        """What a checkpoint must match to be resumed: space, architecture, recipe, seed, task and its data."""
        text = json.dumps([space.name, arch.to_json(), self.recipe.to_dict(), self.seed, self.task.fingerprint(),
                           self.model_options], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        r = self.recipe
        groups = self.task.param_groups(model, r)
        params = model.parameters() if groups is None else self._param_groups(model, groups)
        if r.optimizer == "sgd":
            return torch.optim.SGD(params, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay,
                                   nesterov=r.momentum > 0)
        cls = torch.optim.Adam if r.optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=r.lr, weight_decay=r.weight_decay)

    def _param_groups(self, model: torch.nn.Module, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The task's groups (``Task.param_groups``) for the optimiser: ``lr_scale`` times the recipe's rate;
        refused unless they hold every trainable parameter of ``model``, each once, and nothing else."""
        built, seen = [], []
        for group in groups:
            rest = {k: v for k, v in group.items() if k not in ("params", "lr_scale")}
            scale = float(group.get("lr_scale", 1.0))
            if not (math.isfinite(scale) and scale > 0):
                raise UserError(f"task {self.task.name!r}: parameter group lr_scale must be > 0, got {scale}")
            built.append({"params": list(group["params"]), "lr": self.recipe.lr * scale, **rest})
            seen += [id(p) for p in built[-1]["params"]]
        owned = {id(p) for p in model.parameters()}
        trainable = {id(p) for p in model.parameters() if p.requires_grad}
        if len(set(seen)) != len(seen) or not trainable <= set(seen) <= owned:
            raise UserError(f"task {self.task.name!r}: its parameter groups hold {len(seen)} parameters "
                            f"({len(set(seen))} distinct), the model has {len(trainable)} trainable ones; "
                            f"each must be in exactly one group")
        return built

    def _autocast(self):
        if self.recipe.precision == "32":
            return torch.autocast(self.device.type, enabled=False)
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        """The task's metrics of ``model`` on ``split``, keyed ``<split>_<metric>``, under the recipe's precision."""
        with self._autocast():
            metrics = self.task.evaluate(model, split, self.recipe, self.device)
        return {f"{split}_{name}": float(value) for name, value in metrics.items()}

    def fit(
        self,
        space: SearchSpace,
        arch: Architecture,
        *,
        checkpoint_dir: str | Path | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> TrainResult:
        """Train ``arch`` for the recipe's epochs (resuming from ``checkpoint_dir`` if it holds a
        checkpoint of this training) and return its metrics."""
        torch.manual_seed(self.seed)
        run = self._start(space, arch)
        folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if folder is not None and (folder / CHECKPOINT_FILE).is_file():
            run.restore(folder / CHECKPOINT_FILE)
        for epoch in range(run.epoch, self.recipe.epochs):
            metrics = self._epoch(run, epoch)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                run.save(folder / CHECKPOINT_FILE)
            if on_epoch is not None:
                on_epoch(metrics, folder)

        return self._result(run)

    def _result(self, run: "_Run") -> TrainResult:
        history = run.history
        last = history[-1] if history else {}
        primary = self.task.primary
        test = last.get(f"test_{primary.name}")
        objectives = self.task.objective_values(last, run.costs) if last else {}
        return TrainResult(
            val_accuracy=primary.sign * float(last.get(f"val_{primary.name}", float("nan"))),
            test_accuracy=None if test is None else primary.sign * float(test),
            train_loss=float(last.get("train_loss", float("nan"))),
            epochs=len(history),
            seconds=sum(h["epoch_seconds"] for h in history),
            params=run.params,
            history=history,
            objectives=objectives,
            costs=dict(run.costs),
        )

    def _start(self, space: SearchSpace, arch: Architecture) -> "_Run":
        """A fresh training of ``arch``: model, optimiser, schedule, scaler and data generator."""
        r = self.recipe
        model = self.build(space, arch)
        optimizer = self._optimizer(model)
        restarts = tuple(sorted(set(self.task.restart_epochs(space, arch, r))))
        if any(not 0 < e < r.epochs for e in restarts):
            raise UserError(f"task {self.task.name!r}: restart epochs {restarts} must lie in 1..{r.epochs - 1}")
        if r.schedule != "cosine":
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        elif restarts:  # one cosine per cycle (the single-cycle path below is kept as it was, bit for bit)
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, CyclicCosine((0, *restarts), r.epochs))
        else:
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=r.epochs)
        return _Run(
            fingerprint=self.fingerprint(space, arch),
            model=model,
            optimizer=optimizer,
            schedule=schedule,
            scaler=torch.amp.GradScaler(self.device.type, enabled=r.precision == "16" and self.device.type == "cuda"),
            generator=torch.Generator().manual_seed(self.seed),
            subset=self.task.training_subset(r.data_fraction),
            params=sum(p.numel() for p in model.parameters() if p.requires_grad),
            costs=self.task.costs(model, space, arch, r),
            restarts=restarts,
        )

    def _epoch(self, run: "_Run", epoch: int) -> dict[str, Any]:
        """One pass over the training data, then validation; appends and returns the epoch's metrics."""
        r = self.recipe
        began = time.perf_counter()
        self.task.before_epoch(run.model, epoch, r)
        if epoch in run.restarts:  # a new cycle starts as a fresh optimiser would (the schedule restarts itself)
            run.optimizer.state.clear()
        run.model.train()
        loss_sum = torch.zeros((), device=self.device)
        seen = 0
        for batch in self.task.train_batches(r, run.generator, run.subset, device=self.device):
            run.optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                loss = self.task.loss(run.model, batch)
            run.scaler.scale(loss).backward()
            if r.grad_clip is not None:
                run.scaler.unscale_(run.optimizer)
                torch.nn.utils.clip_grad_norm_(run.model.parameters(), r.grad_clip)
            run.scaler.step(run.optimizer)
            run.scaler.update()
            loss_sum += loss.detach() * len(batch[0])
            seen += len(batch[0])
        run.schedule.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the clock must see the queued kernels finish
        train_seconds = time.perf_counter() - began
        validation = self.evaluate(run.model, "val")
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"training diverged in epoch {epoch + 1}: loss {train_loss}")
        metrics = {
            "epoch": epoch + 1,
            **validation,
            "train_loss": train_loss,
            "images_per_second": seen / train_seconds,
            "epoch_seconds": time.perf_counter() - began,
            "lr": run.optimizer.param_groups[0]["lr"],
            "params": run.params,
            **{name: value for name, value in run.costs.items() if name != "params"},
        }
        primary = self.task.primary
        #: what Ray Tune and the searchers maximise: the primary metric, negated when it is minimised
        metrics["objective"] = primary.sign * metrics[f"val_{primary.name}"]
        if self.evaluate_test and epoch + 1 == r.epochs:
            metrics.update(self.evaluate(run.model, "test"))
        run.history.append(metrics)
        run.epoch = epoch + 1
        return metrics


class CyclicCosine:
    """The cosine schedule's factor, restarted at every cycle start: ``(1 + cos(pi t / T)) / 2`` with ``t``
    the epochs since the cycle began and ``T`` its length (a callable object, so LambdaLR checkpoints it)."""

    def __init__(self, starts: tuple[int, ...], epochs: int) -> None:
        self.starts, self.epochs = tuple(starts), int(epochs)

    def __call__(self, epoch: int) -> float:
        start = max(s for s in self.starts if s <= epoch)
        end = min([s for s in self.starts if s > start] + [self.epochs])
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch - start, end - start) / (end - start)))


@dataclass
class _Run:
    """Everything a training carries from epoch to epoch: what a checkpoint holds."""

    fingerprint: str
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Any
    scaler: torch.amp.GradScaler
    generator: torch.Generator
    subset: Any
    params: int
    #: the task's costs of the built network (FLOPs, parameters...), measured once before training
    costs: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    #: epochs finished
    epoch: int = 0
    #: epochs at which the optimiser's state is cleared (``Task.restart_epochs``)
    restarts: tuple[int, ...] = ()

    def restore(self, path: Path) -> None:
        """Continue from the checkpoint at ``path``; refuse one of another training."""
        # loaded on the CPU: the generator states must stay CPU tensors; load_state_dict moves the rest
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except (EOFError, RuntimeError, pickle.UnpicklingError) as exc:  # 0-byte, truncated or not a checkpoint
            raise CheckpointMismatch(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc}); "
                                     f"delete it to train from the start") from exc
        if not isinstance(state, dict):
            raise CheckpointMismatch(f"{path} is not a checkpoint of nasframe's trainer")
        if state.get("fingerprint") != self.fingerprint:
            raise CheckpointMismatch(
                f"{path} is the checkpoint of another training "
                f"(fingerprint {state.get('fingerprint')!r}, this one {self.fingerprint!r})"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.history, self.epoch = state["history"], int(state["epoch"])

    def save(self, path: Path) -> None:
        """Write the checkpoint atomically: a kill mid-write leaves the previous epoch's intact."""
        with atomic_file(path) as handle:
            torch.save({"fingerprint": self.fingerprint, "model": self.model.state_dict(),
                        "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                        "scaler": self.scaler.state_dict(), "generator": self.generator.get_state(),
                        "torch_rng": torch.get_rng_state(), "history": self.history, "epoch": self.epoch},
                       handle)
