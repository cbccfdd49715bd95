"""Compression methods without training: network surgery, HRank's ranks, frequent directions, lottery masks,
the two spaces and the bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasframe.core import InvalidArchitecture
from nasframe.core.errors import UserError
from nasframe.tasks.compression.baselines import l1_scores, random_scores
from nasframe.tasks.compression.filtersketch import (
    frequent_directions,
    prune_filtersketch,
    sketch_block,
)
from nasframe.tasks.compression.hrank import (
    average_ranks,
    batch_ranks,
    feature_map_ranks,
    rank_premise,
)
from nasframe.tasks.compression.lottery import (
    apply_masks,
    effective_weights,
    find_ticket,
    magnitude_masks,
    sparsity_of,
)
from nasframe.tasks.compression.lottery_space import (
    SparsitySchedule,
    SparsityScheduleSpace,
)
from nasframe.tasks.compression.resnet import ResNet, ResNetConfig
from nasframe.tasks.compression.space import PruneRatios, PruneRatioSpace
from nasframe.tasks.compression.surgery import (
    PruneError,
    kept_filters,
    prune_by_scores,
    top_filters,
)
from nasframe.tasks.costs import count_flops
from nasframe.testing import check_space

CONFIG = ResNetConfig(widths=(8, 16, 16), blocks=2, in_channels=1, num_classes=10)
SIDE = 12


def dense_net(seed: int = 0) -> ResNet:
    """A dense net with random weights *and* random BatchNorm statistics (so surgery errors show), in eval mode."""
    torch.manual_seed(seed)
    net = ResNet(CONFIG)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def images(n: int = 6, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(seed))


# -- surgery --------------------------------------------------------------------------------------------------


def test_a_zero_ratio_prune_computes_the_identical_function():
    dense = dense_net()
    pruned = prune_by_scores(dense, l1_scores(dense), kept_filters(CONFIG, [0.0] * CONFIG.num_blocks)).eval()
    assert pruned.inner == CONFIG.dense_inner()
    x = images()
    assert torch.equal(pruned(x), dense(x))
    sketched = prune_filtersketch(dense, kept_filters(CONFIG, [0.0] * CONFIG.num_blocks)).eval()
    assert torch.equal(sketched(x), dense(x))


def test_removing_filters_that_output_nothing_keeps_the_function():
    """Filters whose BatchNorm zeroes them contribute nothing: pruning exactly those must not change the output."""
    dense = dense_net()
    dead = []
    with torch.no_grad():
        for block in dense.blocks:
            idx = torch.arange(0, block.conv1.out_channels, 2)  # every other filter is dead and tiny
            block.conv1.weight[idx] *= 1e-3
            block.bn1.weight[idx] = 0.0
            block.bn1.bias[idx] = 0.0
            dead.append(idx)
    kept = kept_filters(CONFIG, [0.5] * CONFIG.num_blocks)
    pruned = prune_by_scores(dense, l1_scores(dense), kept).eval()
    x = images()
    torch.testing.assert_close(pruned(x), dense(x), rtol=1e-5, atol=1e-5)
    # and the surgery kept exactly the live filters, with their weights, BN channels and conv2 inputs
    for block, new, idx in zip(dense.blocks, pruned.blocks, dead):
        live = torch.tensor([i for i in range(block.conv1.out_channels) if i not in set(idx.tolist())])
        assert torch.equal(new.conv1.weight, block.conv1.weight[live])
        assert torch.equal(new.bn1.running_var, block.bn1.running_var[live])
        assert torch.equal(new.conv2.weight, block.conv2.weight[:, live])


def test_a_random_selection_leaves_the_function_changed_so_the_test_above_can_fail():
    dense = dense_net()
    pruned = prune_by_scores(dense, random_scores(dense, torch.Generator().manual_seed(3)),
                             kept_filters(CONFIG, [0.5] * CONFIG.num_blocks)).eval()
    x = images()
    assert not torch.allclose(pruned(x), dense(x), atol=1e-3)


def test_pruned_flops_fall_by_the_removed_convolutions_exactly():
    dense = dense_net()
    ratios = [0.5, 0.25, 0.0, 0.5, 0.75, 0.5]
    kept = kept_filters(CONFIG, ratios)
    assert kept == [4, 6, 16, 8, 4, 8]
    pruned = prune_by_scores(dense, l1_scores(dense), kept)
    x = torch.zeros(1, 1, SIDE, SIDE)
    removed = 0
    side = SIDE
    for block, count in zip(dense.blocks, kept):
        side = side // block.stride if block.stride > 1 else side
        gone = block.conv1.out_channels - count
        # conv1 loses gone filters of in_width*9 MACs, conv2 loses gone inputs of out_width*9 MACs, per pixel
        removed += 2 * side * side * 9 * gone * (block.conv1.in_channels + block.conv2.out_channels)
        # BatchNorm and ReLU of the removed maps are not counted by torch's counter
    assert count_flops(dense, x) - count_flops(pruned, x) == removed
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in dense.parameters())


def test_top_filters_breaks_ties_by_position():
    assert top_filters(torch.tensor([1.0, 3.0, 3.0, 0.5, 3.0]), 2).tolist() == [1, 2]


# -- HRank ------------------------------------------------------------------------------------------------------


def test_feature_map_rank_of_known_matrices():
    gen = torch.Generator().manual_seed(0)
    maps = torch.zeros(2, 3, 9, 9)
    for b in range(2):
        for c, rank in enumerate((1, 4, 9)):
            u, v = torch.randn(9, rank, generator=gen), torch.randn(rank, 9, generator=gen)
            maps[b, c] = u @ v
    assert feature_map_ranks(maps).tolist() == [[1.0, 4.0, 9.0], [1.0, 4.0, 9.0]]


def test_hrank_scores_are_average_ranks_and_keep_the_highest():
    dense = dense_net()
    x = images(8)
    per_batch = batch_ranks(dense, x)
    assert [len(r) for r in per_batch] == list(CONFIG.dense_inner())
    assert all(float(r.max()) <= SIDE and float(r.min()) >= 0 for r in per_batch)
    both = average_ranks(dense, [x[:4], x[4:]])
    for whole, avg in zip(per_batch, both):
        torch.testing.assert_close(whole, avg)  # a mean over images, whatever the batching
    pruned = prune_by_scores(dense, both, kept_filters(CONFIG, [0.5] * CONFIG.num_blocks))
    for block, new, score in zip(dense.blocks, pruned.blocks, both):
        chosen = top_filters(score, new.conv1.out_channels).sort().values
        assert torch.equal(new.conv1.weight, block.conv1.weight[chosen])
    with pytest.raises(UserError, match="at least one batch"):
        average_ranks(dense, [])


def test_rank_premise_of_one_batch_repeated_is_perfect():
    dense = dense_net()
    result = rank_premise(dense, [images(4)] * 3)
    assert result["spearman_min"] == pytest.approx(1.0) and result["batches"] == 3
    assert result["filters"] == sum(CONFIG.dense_inner())


# -- frequent directions (FilterSketch) ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("size", [3, 8, 15])
def test_frequent_directions_error_bound(seed, size):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(40, 18, generator=gen, dtype=torch.float64) * torch.linspace(0.2, 3, 18, dtype=torch.float64)
    b = frequent_directions(a, size).double()
    assert b.shape == (size, 18)
    gap = a.T @ a - b.T @ b
    eig = torch.linalg.eigvalsh(gap)
    bound = float((a ** 2).sum()) / size
    assert float(eig.min()) >= -1e-4 * bound  # B^T B never exceeds A^T A
    assert float(eig.max()) <= bound * (1 + 1e-5)


def test_frequent_directions_of_few_rows_is_the_matrix_and_a_sketch_is_no_selection():
    a = torch.randn(5, 7)
    assert torch.equal(frequent_directions(a, 5), a)
    b = frequent_directions(torch.randn(30, 7), 4)
    assert b.shape == (4, 7)
    with pytest.raises(UserError, match="sketch size"):
        frequent_directions(a, 0)


def test_sketched_block_shapes():
    dense = dense_net()
    block = dense.blocks[3]
    filters = sketch_block(block, 5)
    assert filters.conv1.shape == (5, block.conv1.in_channels, 3, 3)
    assert filters.conv2.shape == (block.conv2.out_channels, 5, 3, 3)
    assert filters.bn1 is None
    pruned = prune_filtersketch(dense, kept_filters(CONFIG, [0.5] * CONFIG.num_blocks))
    assert pruned(images(2)).shape == (2, 10)


# -- lottery ----------------------------------------------------------------------------------------------------


def test_global_and_layer_magnitude_masks():
    weights = {"a": torch.tensor([[0.1, -5.0], [0.3, 2.0]]), "b": torch.tensor([0.2, -0.05, 4.0, 1.0])}
    masks = magnitude_masks(weights, 0.5, "global")
    assert masks["a"].tolist() == [[0.0, 1.0], [0.0, 1.0]] and masks["b"].tolist() == [0.0, 0.0, 1.0, 1.0]
    weights["b"] = weights["b"] * 10  # globally, a's two small weights now go with b's smallest two
    masks = magnitude_masks(weights, 0.25, "global")
    assert masks["a"].tolist() == [[0.0, 1.0], [0.0, 1.0]] and masks["b"].tolist() == [1.0, 1.0, 1.0, 1.0]
    per_layer = magnitude_masks(weights, 0.25, "layer")  # per layer, one of a's and one of b's
    assert per_layer["a"].tolist() == [[0.0, 1.0], [1.0, 1.0]] and per_layer["b"].tolist() == [1.0, 0.0, 1.0, 1.0]
    # a weight removed earlier stays removed, even if it is large
    again = magnitude_masks(weights, 0.5, "global", previous={"a": torch.tensor([[1.0, 0.0], [1.0, 1.0]])})
    assert again["a"][0, 1] == 0 and sum(int(m.sum()) for m in again.values()) == 4
    with pytest.raises(PruneError, match="sparsity"):
        magnitude_masks(weights, 1.0, "global")


def test_ticket_is_rewound_masked_and_stays_sparse_through_training():
    trained, rewind = dense_net(0).state_dict(), dense_net(1).state_dict()
    calls = []

    def train(model):
        calls.append(sparsity_of(model))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        model(images(4)).sum().backward()
        opt.step()

    ticket = find_ticket(lambda: ResNet(CONFIG), trained, rewind, [0.5, 0.75], "global", train)
    assert len(calls) == 1 and calls[0] == pytest.approx(0.5, abs=1e-3)
    assert sparsity_of(ticket) == pytest.approx(0.75, abs=1e-3)
    weights = effective_weights(ticket)
    rewound = ResNet(CONFIG)
    rewound.load_state_dict(rewind)
    for name, w in effective_weights(rewound).items():
        alive = weights[name] != 0
        assert torch.equal(weights[name][alive], w[alive])  # survivors hold the rewind values
    train(ticket)  # pruned weights stay zero under an optimiser step (the mask multiplies them)
    assert sparsity_of(ticket) == pytest.approx(0.75, abs=1e-3)
    one_shot = find_ticket(lambda: ResNet(CONFIG), trained, rewind, [0.75], "global", train)
    masks = magnitude_masks(effective_weights(dense_net(0)), 0.75, "global")
    for name, w in effective_weights(one_shot).items():
        assert torch.equal((w != 0).float(), masks[name] * (rewound.state_dict()[name + ".weight"] != 0).float())


def test_masks_of_unknown_layers_are_refused():
    with pytest.raises(PruneError, match="nowhere"):
        apply_masks(ResNet(CONFIG), {"nowhere": torch.ones(1)})


# -- spaces and bad inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("space", [PruneRatioSpace(), PruneRatioSpace(blocks=2, granularity="block"),
                                   SparsityScheduleSpace()], ids=repr)
def test_spaces_pass_the_conformance_kit(space):
    check_space(space)


def test_bad_prune_inputs_name_the_field():
    space = PruneRatioSpace(blocks=2)
    with pytest.raises(InvalidArchitecture, match=r"\[0, 1\)"):
        space.validate((0.1, 1.0, 0.2))
    with pytest.raises(InvalidArchitecture, match=r"ratio 0 must be a number in \[0, 1\)"):
        PruneRatios((-0.1, 0.0, 0.0))
    with pytest.raises(InvalidArchitecture, match="3 ratios"):
        space.validate((0.1, 0.2))
    with pytest.raises(InvalidArchitecture, match="grid"):
        space.validate((0.1, 0.25, 0.2))
    with pytest.raises(PruneError, match="one per block"):
        kept_filters(CONFIG, [0.1] * 3)
    with pytest.raises(PruneError, match="stage1.block0"):
        kept_filters(CONFIG, [0.5, 0.5, 1.5, 0.5, 0.5, 0.5])
    with pytest.raises(PruneError, match=r"stage0.block1 leaves none of its 8 filters"):
        kept_filters(CONFIG, [0.5, 0.9, 0.5, 0.5, 0.5, 0.5])
    with pytest.raises(UserError, match="'inner' of stage0.block0"):
        ResNet(CONFIG, [0, 8, 16, 16, 16, 16])
    with pytest.raises(UserError, match="widths"):
        ResNetConfig(widths=(8, 16))
    with pytest.raises(InvalidArchitecture, match="sparsity"):
        SparsityScheduleSpace().validate({"sparsity": 0.85})


def test_schedule_round_sparsities_reach_the_target():
    rounds = SparsitySchedule(0.8, rounds=3).round_sparsities()
    assert rounds[-1] == pytest.approx(0.8) and rounds == sorted(rounds)
    assert (1 - rounds[0]) ** 3 == pytest.approx(0.2)


def test_space_views_agree():
    space = PruneRatioSpace()
    arch = space.validate((0.0, 0.5, 0.8))
    assert space.block_ratios(arch) == [0.0] * 3 + [0.5] * 3 + [0.8] * 3
    np.testing.assert_array_equal(space.encode([arch], "ratios"), np.float32([[0.0, 0.5, 0.8]]))
    assert space.encode([arch], "onehot").sum() == 3
    assert space.size() == 9 ** 3
