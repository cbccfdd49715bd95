"""ENAS macro network: layout, ops, reductions, skip merges, shapes, gradients, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import nasframe as nf
from search_spaces.enas import ENASArch, ENASSpace
from search_spaces.enas.model import (
    ENASNetwork,
    FactorizedReduce,
    build_enas_model,
    operation,
    reduction_layers,
)

TINY = dict(channels=4)
#: six layers, no skips, every op once
PLAIN = ENASArch((0, 1, 2, 3, 4, 5), tuple((0,) * i for i in range(6)))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These networks are tiny: one intra-op thread is several times faster than two
    on a shared 2-core machine (no thread spinning); the previous setting is restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _arch(seed: int, num_layers: int = 6) -> ENASArch:
    return ENASSpace(num_layers).sample(np.random.default_rng(seed), 1)[0]


def _with_bit(arch: ENASArch, layer: int, bit: int) -> ENASArch:
    skips = [list(row) for row in arch.skips]
    skips[layer][bit] = 1
    return ENASArch(arch.ops, skips)


def _parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _images(size: int = 2, resolution: int = 16, channels: int = 3) -> torch.Tensor:
    return torch.randn(size, channels, resolution, resolution, generator=torch.Generator().manual_seed(0))


def test_reductions_follow_enas_pool_layers():
    assert reduction_layers(6) == (1, 3)
    assert reduction_layers(12) == (3, 7)
    assert reduction_layers(24) == (7, 15)  # ENAS's final 24-layer network
    assert reduction_layers(3) == reduction_layers(5) == (0, 1)
    assert reduction_layers(1) == reduction_layers(2) == ()


@pytest.mark.parametrize("num_layers, sizes", [(6, [16, 16, 8, 8, 4, 4]), (12, [16] * 4 + [8] * 4 + [4] * 4)])
def test_layer_resolutions_and_channels(num_layers, sizes):
    model = build_enas_model(_arch(0, num_layers), **TINY).eval()
    seen = []
    for layer in model.layers:
        layer.register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape[1:])))
    model(_images())
    channels = [4 * 2 ** sum(i > r for r in model.reduction_layers) for i in range(num_layers)]
    assert seen == [(c, s, s) for c, s in zip(channels, sizes)]
    assert model.out_channels == model.classifier.in_features == 16


@pytest.mark.parametrize("num_layers", [6, 12])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_forward_backward_shapes(num_layers, in_channels):
    arch = _arch(num_layers, num_layers)
    model = ENASSpace(num_layers).build_model(arch, **TINY, in_channels=in_channels, num_classes=7)
    logits = model.train()(_images(channels=in_channels))
    assert logits.shape == (2, 7)
    logits.sum().backward()
    # only outputs that are read are reduced: no parameter is left without a gradient
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_short_networks_and_odd_resolutions(num_layers):
    model = build_enas_model(_arch(1, num_layers), **TINY).eval()
    assert model(_images(resolution=15)).shape == (2, 10)
    assert len(model.reductions) == len(reduction_layers(num_layers))


def _kernels(module: nn.Module) -> list[tuple[int, int]]:
    return [m.kernel_size for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_operations_are_enas_layers():
    c = 4
    conv3, sep3, conv5, sep5, avg, maxp = (operation(op, c) for op in range(6))
    assert _kernels(conv3) == [(1, 1), (3, 3)] and _kernels(conv5) == [(1, 1), (5, 5)]
    assert _kernels(sep3) == [(1, 1), (3, 3), (1, 1)] and _kernels(sep5) == [(1, 1), (5, 5), (1, 1)]
    assert [m.groups for m in sep5.modules() if isinstance(m, nn.Conv2d)] == [1, c, 1]
    assert isinstance(conv3[0], nn.ReLU) and isinstance(conv3[-1], nn.BatchNorm2d)  # ReLU-conv-BN
    assert isinstance(avg, nn.AvgPool2d) and not avg.count_include_pad and isinstance(maxp, nn.MaxPool2d)
    assert _parameters(avg) == _parameters(maxp) == 0
    assert _parameters(sep3) < _parameters(conv3) < _parameters(conv5)
    x = torch.randn(1, c, 9, 9)
    assert all(op(x).shape == x.shape for op in (conv3, sep3, conv5, sep5, avg, maxp))


def test_factorized_reduce_halves_and_sees_both_phases():
    reduce = FactorizedReduce(3, 8).eval()
    assert reduce(torch.randn(2, 3, 15, 15)).shape == (2, 8, 8, 8)
    x = torch.zeros(1, 3, 8, 8)
    x[..., 1::2, 1::2] = 1.0  # invisible to a plain stride-2 conv
    out = reduce.path2(nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:])
    assert out.abs().sum() > 0 and reduce.path1(x).abs().sum() == 0


def test_concat_skips_widen_the_merge_conv():
    base = build_enas_model(PLAIN, **TINY)
    # layer 3 reading layer 1 (node 2): same resolution, one more 8-channel input to its 1x1 conv
    wider = build_enas_model(_with_bit(PLAIN, 3, 2), **TINY)
    assert _parameters(wider) - _parameters(base) == 8 * 8
    assert wider.layers[3].sources == (2,) and base.layers[3].sources == ()
    # layer 5 reading the stem (node 0): the stem output must be reduced twice to get there
    far = build_enas_model(_with_bit(PLAIN, 5, 0), **TINY)
    assert set(far.reductions["1"]) == {"0", "2"} and set(far.reductions["3"]) == {"0", "4"}
    assert set(base.reductions["1"]) == {"2"} and set(base.reductions["3"]) == {"4"}
    extra = 16 * 16 + (4 * 4 + 4 * 4 + 2 * 8) + (8 * 8 + 8 * 8 + 2 * 16)  # 1x1 conv input + two reductions
    assert _parameters(far) - _parameters(base) == extra


def test_sum_skips_change_the_computation_not_the_weights():
    base = build_enas_model(PLAIN, **TINY, skip_merge="sum").eval()
    skipped = build_enas_model(_with_bit(PLAIN, 3, 2), **TINY, skip_merge="sum").eval()
    assert _parameters(skipped) == _parameters(base)
    skipped.load_state_dict(base.state_dict())
    x = _images()
    assert not torch.allclose(base(x), skipped(x))
    assert isinstance(base.layers[3].merge, nn.BatchNorm2d) and base.layers[0].merge is None


@pytest.mark.float_sensitive
def test_training_reduces_the_loss():
    torch.manual_seed(0)
    model = build_enas_model(_with_bit(_arch(3), 4, 0), channels=8, dropout=0.0).train()
    x, y = _images(size=8), torch.arange(8) % 10
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(12):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # final / first loss, seeds 0-4 x 1 and 2 threads x AVX-512 and baseline ATen kernels: 0.035-0.065
    assert losses[-1] < 0.5 * losses[0]
    assert all(np.isfinite(losses))


def test_eval_is_deterministic_and_dropout_only_trains():
    model = build_enas_model(_arch(4), **TINY, dropout=0.5)
    x = _images()
    model.eval()
    assert torch.equal(model(x), model(x))
    assert model.dropout.p == 0.5


def test_defaults_and_config_errors():
    model = ENASSpace().build_model(PLAIN)
    assert model.stem[0].out_channels == 36 and model.out_channels == 144 and model.dropout.p == 0.1
    assert model.classifier.bias is None and model.skip_merge == "concat"
    for bad, message in (
        (dict(channels=0), "channels must be an integer >= 1"),
        (dict(in_channels=2.0), "in_channels must be an integer >= 1"),
        (dict(num_classes=True), "num_classes must be an integer >= 1"),
        (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
        (dict(skip_merge="max"), "skip_merge must be one of"),
    ):
        with pytest.raises(ValueError, match=message):
            ENASNetwork(PLAIN, **bad)
    with pytest.raises(nf.InvalidArchitecture, match="this space has 12 layers"):
        ENASSpace(12).build_model(PLAIN)
    assert isinstance(ENASSpace().build_model(PLAIN.to_dvae(), **TINY), ENASNetwork)
