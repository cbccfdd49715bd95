"""DARTS torch network: layout, auxiliary head, drop-path, training, parameter counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from search_spaces.darts import DARTSSpace, from_naslib_compact, parse_genotype_string
from search_spaces.darts.model import DARTSNetwork, FactorizedReduce, build_darts_model
from tests.conftest import shared_file

TINY = dict(init_channels=8, layers=5)
DARTS_V2 = parse_genotype_string(
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def _batch(size: int = 4, resolution: int = 32, channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(size, channels, resolution, resolution, generator=generator)
    return x, torch.arange(size) % 10


def test_layout_follows_darts():
    model = build_darts_model(DARTS_V2)  # NB301 size: 32 channels, 8 cells
    assert [cell.reduction for cell in model.cells] == [False, False, True, False, False, True, False, False]
    assert model.stem[0].out_channels == 96
    assert model.classifier.in_features == 4 * 32 * 4
    # c_{k-2} of the cell after a reduction is halved by FactorizedReduce
    assert isinstance(model.cells[3].preprocess0, FactorizedReduce)
    assert not isinstance(model.cells[2].preprocess0, FactorizedReduce)
    with pytest.raises(ValueError, match="layers must be at least 3"):
        build_darts_model(DARTS_V2, layers=2)


def test_tiny_forward_with_and_without_auxiliary_head():
    x, _ = _batch()
    torch.manual_seed(0)
    plain = build_darts_model(DARTS_V2, **TINY)
    assert plain(x).shape == (4, 10)
    model = DARTSSpace().build_model(DARTS_V2, **TINY, num_classes=7, auxiliary=True)
    logits, aux = model.train()(x)
    assert logits.shape == aux.shape == (4, 7)
    assert model.eval()(x).shape == (4, 7)  # the auxiliary head only runs in training


def test_other_resolutions_and_input_channels():
    # 30 -> 15 -> 8: the odd 15x15 maps go through FactorizedReduce
    x, _ = _batch(resolution=30, channels=1)
    model = build_darts_model(DARTS_V2, **TINY, in_channels=1, auxiliary=True).train()
    logits, aux = model(x)
    assert logits.shape == aux.shape == (4, 10)


def test_drop_path_is_stochastic_in_training_only():
    x, _ = _batch()
    torch.manual_seed(0)
    model = build_darts_model(DARTS_V2, **TINY, drop_path_prob=0.5).train()
    assert not torch.allclose(model(x), model(x))
    assert torch.allclose(model(x, drop_path_prob=0.0), model(x, drop_path_prob=0.0))
    model.eval()
    assert torch.allclose(model(x), model(x))


def test_training_steps_lower_the_loss():
    x, y = _batch(8)
    torch.manual_seed(0)
    model = build_darts_model(DARTS_V2, **TINY, auxiliary=True, drop_path_prob=0.1).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(6):
        logits, aux = model(x)
        loss = nn.functional.cross_entropy(logits, y) + 0.4 * nn.functional.cross_entropy(aux, y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def _naslib_parameter_count(genotype) -> int:
    """Parameters at NB301 size without the BN affines of cell ops (NASLib builds them affine=False)."""
    with torch.device("meta"):
        model = build_darts_model(genotype)
    total = sum(p.numel() for p in model.parameters())
    op_affines = sum(
        p.numel()
        for cell in model.cells
        for module in cell.ops.modules()
        if isinstance(module, nn.BatchNorm2d)
        for p in module.parameters()
    )
    return total - op_affines


def test_parameter_counts_match_naslib_records():
    """The file's params pin NASLib's op order and input numbering, and our layers."""
    data = json.loads(shared_file("darts/naslib_zc_nasbench301.json").read_text())["cifar10"]
    keys = list(data)
    for i in np.linspace(0, len(keys) - 1, 40).astype(int):
        record = data[keys[i]]
        assert _naslib_parameter_count(from_naslib_compact(keys[i])) == round(record["params"]["score"] * 1e6)


def test_darts_v2_at_paper_size_has_the_published_parameter_count():
    """DARTS's train.py logs "param size = 3.349342MB" (auxiliary head excluded) for DARTS_V2."""
    with torch.device("meta"):
        model = build_darts_model(DARTS_V2, init_channels=36, layers=20, auxiliary=True)
    assert sum(p.numel() for n, p in model.named_parameters() if "auxiliary" not in n) == 3_349_342


def test_model_keeps_its_genotype():
    model = build_darts_model(DARTS_V2, **TINY)
    assert isinstance(model, DARTSNetwork) and model.genotype == DARTS_V2
