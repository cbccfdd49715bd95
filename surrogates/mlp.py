"""Feed-forward network surrogate: BANANAS' neural predictor on the space encoding.

A member is a plain multi-layer perceptron on ``space.encode(archs,
encoding)``: ``layers`` hidden ``Linear`` layers of ``width`` units with ReLU,
then one linear output. Weights start Glorot-uniform with zero biases (the
Keras defaults the original TensorFlow predictor had). Training is Adam
(betas 0.9 and 0.99, as in BANANAS) at a constant ``lr`` over ``epochs`` of
shuffled mini-batches of ``batch_size`` rows, minimising the mean absolute
error (``loss="mae"``, BANANAS' choice) or the squared error (``"mse"``),
plus ``regularization`` times the L1 norm of the output weights (the
predictor's optional ``kernel_regularizer``; 0 in BANANAS' standard setting).

Targets are standardised with the member's training mean and deviation
(stored as buffers in the state dict, so a saved member predicts in target
units): the original predictor fitted validation error in percent, whose
scale the MAE and the learning rate were tuned for; standardising makes the
same settings work for accuracy fractions, percentages or any other target.

Defaults are BANANAS' ``standard`` meta neural network (White et al., AAAI
2021; ``naszilla/params.py``): 10 layers of width 20, MAE, Adam lr 0.01,
batch 32, 150 epochs; the searcher ensembles 5 of them. NASLib's later
``MLPPredictor`` (20 layers, lr 0.001, 500 epochs, L1 0.2) is reachable
through the parameters.

As for the GNNs, every draw a member makes (initial weights, batch order)
comes from its seed inside a forked torch RNG, so the global RNG is left
alone and a seed reproduces a fit exactly; ``threads`` (default 1) sets
torch's intra-op threads during fit and predict and is restored afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nasframe.core import Architecture
from surrogates.base import Surrogate
from surrogates.dimensions import Choice, Dimension, Float, Int
from surrogates.threads import torch_threads

LOSSES = ("mae", "mse")


class FeedForward(nn.Module):
    """``layers`` x (Linear + ReLU) and a linear output; one number per row."""

    def __init__(self, in_features: int, layers: int, width: int) -> None:
        super().__init__()
        units = [in_features] + [width] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(units[:-1], units[1:]))
        self.out = nn.Linear(units[-1], 1)
        for linear in (*self.hidden, self.out):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
        # target standardisation of the member (prediction = raw * scale + shift)
        self.register_buffer("y_shift", torch.zeros(()))
        self.register_buffer("y_scale", torch.ones(()))

    @property
    def in_features(self) -> int:
        return self.hidden[0].in_features if len(self.hidden) else self.out.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear in self.hidden:
            x = F.relu(linear(x))
        return self.out(x).view(-1)


def _adam(model: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with BANANAS' betas; the fused CPU kernel where this torch has it (on these
    tiny networks the per-tensor loop's Python overhead dominates a step; see docs/PERFORMANCE.md)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.99), fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch: no fused CPU Adam
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.99), foreach=True)


class MLPSurrogate(Surrogate):
    """A bagged ensemble of :class:`FeedForward` members (BANANAS' neural predictor)."""

    family = "mlp"
    default_params: ClassVar[dict[str, Any]] = {
        "encoding": None,
        "layers": 10,
        "width": 20,
        "epochs": 150,
        "batch_size": 32,
        "lr": 0.01,
        "loss": "mae",
        "regularization": 0.0,
        "threads": 1,
        "predict_batch_size": 65536,
    }
    valid: ClassVar[dict[str, Dimension]] = {
        "layers": Int(0, 256),
        "width": Int(1, 65536),
        "epochs": Int(1, 100_000),
        "batch_size": Int(1, 1_000_000),
        "lr": Float(1e-12, 10.0),
        "loss": Choice(LOSSES),
        "regularization": Float(0.0, 1e6),
        "threads": Int(1, 1024),
        "predict_batch_size": Int(1, 100_000_000),
    }
    uses_encoding = True
    #: Optuna dimensions (the encoding joins them where the space has several)
    hpo_space: ClassVar[dict[str, Dimension]] = {
        "layers": Int(2, 20),
        "width": Int(8, 128, log=True),
        "batch_size": Int(8, 128, log=True),
        "lr": Float(1e-4, 0.05, log=True),
        "loss": Choice(LOSSES),
    }

    def _features(self, archs: Sequence[Architecture]) -> torch.Tensor:
        return torch.from_numpy(self._encoded(archs))

    def _fit_member(self, features: torch.Tensor, y: np.ndarray, index: np.ndarray, seed: int) -> FeedForward:
        p = self.params
        rng = np.random.default_rng(seed)
        targets = y[index]
        shift = float(targets.mean())
        scale = float(targets.std()) if targets.std() > 0 else 1.0
        x_train = features[torch.from_numpy(index)]
        y_train = torch.as_tensor((targets - shift) / scale, dtype=torch.float32)
        loss_fn = F.l1_loss if p["loss"] == "mae" else F.mse_loss
        with torch_threads(p["threads"]), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = FeedForward(features.shape[1], p["layers"], p["width"])
            model.y_shift.fill_(shift)
            model.y_scale.fill_(scale)
            optimiser = _adam(model, p["lr"])
            model.train()
            history = []
            n = len(index)
            for _ in range(p["epochs"]):
                order = torch.from_numpy(rng.permutation(n))
                total = 0.0
                for start in range(0, n, p["batch_size"]):
                    rows = order[start : start + p["batch_size"]]
                    loss = loss_fn(model(x_train[rows]), y_train[rows])
                    if p["regularization"]:
                        loss = loss + p["regularization"] * model.out.weight.abs().sum()
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    total += float(loss.detach()) * len(rows)
                history.append(total / n)
        model.eval()
        # mean training loss per epoch (standardised units), in memory only
        model.history = history
        return model

    def _predict_member(self, model: FeedForward, features: torch.Tensor) -> np.ndarray:
        step = self.params["predict_batch_size"]
        out = []
        with torch_threads(self.params["threads"]), torch.inference_mode():
            for start in range(0, len(features), step):
                out.append(model(features[start : start + step]) * model.y_scale + model.y_shift)
        return torch.cat(out).double().numpy() if out else np.zeros(0)

    def _save_member(self, model: FeedForward, path: Path) -> str:
        file = path.with_suffix(".pt")
        torch.save({"in_features": model.in_features, "state_dict": model.state_dict()}, file)
        return file.name

    def _load_member(self, path: Path) -> FeedForward:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model = FeedForward(int(saved["in_features"]), self.params["layers"], self.params["width"])
            model.load_state_dict(saved["state_dict"])
        except Exception as exc:  # torch raises many kinds for a damaged or foreign file
            raise ValueError(f"{path} is not a readable {self.family} member: {exc}") from exc
        model.eval()
        return model


__all__ = ["MLPSurrogate", "FeedForward"]
