"""REINFORCE: a policy over the categorical view, trained by policy gradient on validation accuracy.

The policy draws one option per decision of :meth:`~nasframe.core.SearchSpace.decisions`
and is trained with Williams' REINFORCE: after each result, the log-probability
of the spelling that produced it moves by ``lr * (reward - baseline)``, where
the reward is ``val_accuracy`` and the baseline an exponential moving average
of the rewards (updated first, then the advantage taken, with the bias
correction ``numerator / denominator`` so the first steps are not pulled to 0).

Two controllers:

* ``hidden=0`` (default): independent categorical logits per decision, zero
  initialised (uniform), plain gradient ascent. This is NAS-Bench-101's
  REINFORCE baseline (Ying et al. 2019; the code in automl/nas_benchmarks'
  ``run_reinforce.py``): one logit vector per ConfigSpace variable, one
  sample per step, EMA baseline with momentum 0.9, learning rate 0.1, no
  entropy term, invalid samples redrawn without an update. Those are the
  defaults here. numpy only. Plain gradient steps scale with the reward
  spread, so where rewards differ by little (nbgraph-cora) lr 0.1 barely
  moves the policy and a far larger one is needed (docs/SEARCHERS.md).
* ``hidden > 0``: an ENAS-style LSTM controller (Pham et al. 2018) in torch.
  One LSTM cell of ``hidden`` units runs over the decisions in order; step
  ``t`` reads the embedding of the previous choice (a learnt start vector at
  ``t = 0``) and a per-decision linear head gives the logits, so later
  decisions condition on earlier ones. Parameters start uniform in
  [-0.1, 0.1] and train with Adam; the default learning rate is then ENAS's
  0.001 (its CIFAR-10 scripts; ENAS also used an entropy weight 1e-4 and a
  baseline decay 0.99 over thousands of steps, which ``entropy`` and
  ``baseline_decay`` set).

Sampling, invalid spellings and duplicates: a spelling that ``from_choices``
rejects is redrawn and never rewarded (as in the NB101 baseline). A spelling of
an architecture whose result is already known is a free policy step with that
known reward (what re-querying a tabular benchmark would give, without
spending budget) and the draw is repeated with the updated policy; one still
being evaluated is redrawn. At most ``max_draws`` draws per wanted
architecture; the rest of the batch then comes from the space's own sampler
(unseen architectures). Those fallback architectures, and any told without
being asked, are not on-policy samples: their results update nothing
directly, but they count as known rewards when the policy draws them later.
"""

from __future__ import annotations

import pickle
from typing import Any, Sequence

import numpy as np

from nasframe.core import Architecture, EvalResult, InvalidArchitecture, SearchSpace, Searcher
from surrogates.threads import torch_threads

#: draws taken from the policy at once (vectorised); a policy step discards the rest
_BLOCK = 32
#: space-sampler draws per wanted architecture in the fallback
_FALLBACK_DRAWS = 50
#: NAS-Bench-101 baseline's learning rate (independent logits) and ENAS's (LSTM, Adam)
DEFAULT_LR = {"logits": 0.1, "lstm": 0.001}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _build_lstm(sizes: Sequence[int], hidden: int, rng: np.random.Generator) -> Any:
    """The LSTM controller as a ``ModuleDict`` of stock torch modules (so it pickles)."""
    import torch
    from torch import nn

    controller = nn.ModuleDict(
        {
            "cell": nn.LSTMCell(hidden, hidden),
            "embed": nn.ModuleList(nn.Embedding(k, hidden) for k in sizes[:-1]),
            "heads": nn.ModuleList(nn.Linear(hidden, k) for k in sizes),
        }
    )
    controller.register_parameter("start", nn.Parameter(torch.zeros(1, hidden)))
    with torch.no_grad():
        for parameter in controller.parameters():
            values = rng.uniform(-0.1, 0.1, size=tuple(parameter.shape))
            parameter.copy_(torch.as_tensor(values, dtype=parameter.dtype))
    return controller


def _lstm_steps(controller: Any, choices: Any | None, uniforms: np.ndarray | None, m: int) -> tuple:
    """Run the controller over all decisions for ``m`` sequences.

    With ``uniforms`` (shape ``(m, D)``) it samples by inverse CDF and returns
    the choices; with ``choices`` (a ``(m, D)`` long tensor) it scores them and
    returns the summed log-probabilities and entropies (with gradients).
    """
    import torch

    heads = controller["heads"]
    hidden = controller.start.shape[1]
    h = torch.zeros(m, hidden)
    c = torch.zeros(m, hidden)
    x = controller.start.expand(m, hidden)
    taken = []
    log_prob = torch.zeros(m)
    entropy = torch.zeros(m)
    for t, head in enumerate(heads):
        h, c = controller["cell"](x, (h, c))
        logits = head(h)
        if uniforms is not None:
            cdf = torch.cumsum(torch.softmax(logits, dim=1), dim=1)
            u = torch.as_tensor(uniforms[:, t], dtype=cdf.dtype).unsqueeze(1)
            index = torch.clamp((cdf <= u).sum(dim=1), max=logits.shape[1] - 1)
        else:
            index = choices[:, t]
            log_p = torch.log_softmax(logits, dim=1)
            log_prob = log_prob + log_p.gather(1, index.unsqueeze(1)).squeeze(1)
            entropy = entropy - (log_p.exp() * log_p).sum(dim=1)
        taken.append(index)
        if t < len(heads) - 1:
            x = controller["embed"][t](index)
    if uniforms is not None:
        return (torch.stack(taken, dim=1).numpy(),)
    return log_prob, entropy


class REINFORCE(Searcher):
    """Policy-gradient search over the categorical view (see the module docstring).

    ``lr`` defaults to 0.1 for independent logits (NB101's baseline) and
    0.001 for the LSTM (``hidden > 0``, ENAS); ``entropy`` weights an entropy
    bonus (0 as in NB101); ``baseline_decay`` is the EMA momentum of the
    reward baseline (0.9 as in NB101). ``rewards`` lists the reward of every
    policy step in order (free steps on known architectures included).
    """

    name = "reinforce"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        lr: float | None = None,
        entropy: float = 0.0,
        baseline_decay: float = 0.9,
        hidden: int = 0,
        max_draws: int = 100,
    ) -> None:
        super().__init__(space, seed=seed)
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
            raise ValueError(f"hidden must be an integer >= 0, got {hidden!r}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
        if lr is not None and lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if entropy < 0:
            raise ValueError(f"entropy must be >= 0, got {entropy}")
        if max_draws < 1:
            raise ValueError(f"max_draws must be >= 1, got {max_draws}")
        self.hidden = hidden
        self.controller_kind = "lstm" if hidden else "logits"
        self.lr = DEFAULT_LR[self.controller_kind] if lr is None else float(lr)
        self.entropy = float(entropy)
        self.baseline_decay = float(baseline_decay)
        self.max_draws = max_draws
        self._decisions = space.decisions()
        self._sizes = [k for _, k in self._decisions]
        if hidden:
            import torch

            self._lstm = _build_lstm(self._sizes, hidden, self.rng)
            self._adam = torch.optim.Adam(self._lstm.parameters(), lr=self.lr)
        else:
            self._logits = [np.zeros(k) for k in self._sizes]
        self._ema = [0.0, 0.0]  # numerator, denominator of the bias-corrected EMA
        #: spellings of the architectures asked and not told yet, by canonical hash
        self._pending: dict[str, list[int]] = {}
        #: first told reward of every architecture, by canonical hash
        self._known: dict[str, float] = {}
        self.rewards: list[float] = []
        self.invalid_draws = 0

    def __repr__(self) -> str:
        return (
            f"REINFORCE(space={self.space.name!r}, seed={self.seed}, lr={self.lr}, "
            f"hidden={self.hidden}, entropy={self.entropy}, baseline_decay={self.baseline_decay})"
        )

    # -- the policy ---------------------------------------------------------

    @property
    def baseline(self) -> float | None:
        """The current reward baseline (``None`` before the first step)."""
        return self._ema[0] / self._ema[1] if self._ema[1] else None

    def probabilities(self) -> list[np.ndarray]:
        """Per decision, the probability of each option: the marginals of the policy.

        Exact for independent logits; for the LSTM, estimated from 1,000
        draws of a generator seeded with the searcher's seed (the searcher's
        own random stream is not touched).
        """
        if not self.hidden:
            return [_softmax(z) for z in self._logits]
        draws = self._draw(1000, np.random.default_rng(self.seed))
        return [np.bincount(draws[:, j], minlength=k) / len(draws) for j, k in enumerate(self._sizes)]

    def _draw(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """``m`` spellings from the current policy, shape ``(m, D)``."""
        uniforms = rng.random((m, len(self._sizes)))
        if self.hidden:
            import torch

            with torch.no_grad(), torch_threads(1):
                return _lstm_steps(self._lstm, None, uniforms, m)[0].astype(np.int64)
        out = np.empty((m, len(self._sizes)), dtype=np.int64)
        for j, z in enumerate(self._logits):
            cdf = np.cumsum(_softmax(z))
            out[:, j] = np.minimum(np.searchsorted(cdf, uniforms[:, j], side="right"), len(z) - 1)
        return out

    def _step(self, choices: Sequence[int], reward: float) -> None:
        """One REINFORCE update towards (``reward > baseline``) or away from ``choices``."""
        m = self.baseline_decay
        self._ema = [m * self._ema[0] + (1 - m) * reward, m * self._ema[1] + (1 - m)]
        advantage = reward - self._ema[0] / self._ema[1]
        self.rewards.append(reward)
        if self.hidden:
            import torch

            taken = torch.as_tensor([list(choices)], dtype=torch.long)
            with torch_threads(1):
                log_prob, entropy = _lstm_steps(self._lstm, taken, None, 1)
                loss = -(advantage * log_prob.sum() + self.entropy * entropy.sum())
                self._adam.zero_grad()
                loss.backward()
                self._adam.step()
            return
        for z, choice in zip(self._logits, choices):
            p = _softmax(z)
            gradient = -advantage * p
            gradient[choice] += advantage
            if self.entropy:
                log_p = np.log(np.maximum(p, 1e-300))
                gradient += self.entropy * -p * (log_p + (-(p * log_p).sum()))
            z += self.lr * gradient

    # -- ask / tell -----------------------------------------------------------

    def ask(self, n: int = 1) -> list[Architecture]:
        fresh: dict[str, Architecture] = {}
        draws, limit = 0, self.max_draws * n
        while len(fresh) < n and draws < limit:
            for row in self._draw(min(_BLOCK, limit - draws), self.rng):
                draws += 1
                choices = row.tolist()
                try:
                    arch = self.space.from_choices(choices)
                except InvalidArchitecture:
                    self.invalid_draws += 1
                    continue
                key = self.space.canonical_hash(arch)
                if key in self._known:
                    self._step(choices, self._known[key])
                    break  # the policy moved: draw again from the new one
                if key in self.seen or key in fresh:
                    continue
                fresh[key] = arch
                self._pending[key] = choices
                if len(fresh) == n:
                    break
        if len(fresh) < n:
            fresh.update(self._fallback(n - len(fresh), fresh))
        return self._mark(list(fresh.values()))

    def _fallback(self, n: int, taken: dict[str, Architecture]) -> dict[str, Architecture]:
        return self.space.sample_distinct(self.rng, n, self.seen | set(taken), max_draws=_FALLBACK_DRAWS)

    def _observe(self, pairs: list[tuple[Architecture, EvalResult]]) -> None:
        for arch, result in pairs:
            key = self.space.canonical_hash(arch)
            reward = float(result.val_accuracy)
            self._known.setdefault(key, reward)
            choices = self._pending.pop(key, None)
            if choices is not None:
                self._step(choices, reward)
            else:
                self.seen.add(key)

    # -- resume -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot independent of this searcher (the controller and Adam state pickle)."""
        state = {k: v for k, v in self.__dict__.items() if k != "space"}
        return pickle.loads(pickle.dumps(state))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(pickle.loads(pickle.dumps(dict(state))))


__all__ = ["DEFAULT_LR", "REINFORCE"]
