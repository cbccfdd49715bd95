"""multitask-branching: the canvases, the branching space, Δm, the cached baselines and a short real training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nasframe.core.errors import InvalidSetting, UserError
from nasframe.core.architecture import InvalidArchitecture
from nasframe.tasks import Recipe, Trainer
from nasframe.tasks.multitask import baselines as baselines_module
from nasframe.tasks.multitask.data import compose, edges_of
from nasframe.tasks.multitask.metrics import delta_m, fscore, mean_iou
from nasframe.tasks.multitask.space import BranchingSpace, refines, set_partitions
from nasframe.tasks.multitask.task import MultitaskBranching
from nasframe.testing import check_space

#: no gradient clipping: clipping by the norm over all parameters couples the branches of a network
RECIPE = Recipe(epochs=1, batch_size=64, channels=4, lr=0.003, optimizer="adam", weight_decay=0.0, grad_clip=None)


#: small CPU models: one intra-op thread (conftest) for every test here
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def task(private_cache):
    return MultitaskBranching("digits", train_canvases=300, val_canvases=100, test_canvases=100)


# -- the space ---------------------------------------------------------------------------------------------------


def test_the_space_conforms_and_counts_its_trees():
    space = BranchingSpace()
    check_space(space)
    assert len(set_partitions(4)) == 15  # Bell(4)
    # every tree, enumerated by brute force over all layer-by-layer groupings, is counted once
    parts = set_partitions(3)
    brute = sum(refines(b, a) and refines(c, b) for a in parts for b in parts for c in parts)
    assert BranchingSpace(("a", "b", "c"), layers=3).size() == brute


def test_sampling_is_uniform_over_trees():
    space = BranchingSpace(("a", "b", "c"), layers=2)  # small: every tree is seen many times
    draws = [a.canonical_key() for a in space.sample(np.random.default_rng(0), 4000)]
    _, counts = np.unique(draws, return_counts=True)
    assert len(counts) == space.size()
    expected = 4000 / space.size()
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # within 5 sigma of uniform


def test_equal_trees_are_one_canonical_form():
    space = BranchingSpace()
    a = space.validate([[[3, 2], [1, 0]], [[2], [3], [0, 1]], [[1], [0], [3], [2]], [[0], [1], [2], [3]]])
    b = space.validate([[[0, 1], [2, 3]], [[0, 1], [2], [3]], [[0], [1], [2], [3]], [[3], [2], [1], [0]]])
    assert a == b and hash(a) == hash(b) and space.canonical_hash(a) == space.canonical_hash(b)
    assert space.from_json(json.loads(json.dumps(space.to_json(a)))) == a


def test_a_branching_that_merges_is_refused_naming_the_layer():
    space = BranchingSpace()
    with pytest.raises(InvalidArchitecture, match="layer 2's grouping must refine layer 1's"):
        space.validate([[[0, 1, 2, 3]], [[0, 1], [2, 3]], [[0, 2], [1, 3]], [[0], [1], [2], [3]]])
    with pytest.raises(InvalidArchitecture, match="layer 1's grouping puts each of the tasks"):
        space.validate([[[0, 1, 2, 3]], [[0, 1], [2]], [[0], [1], [2], [3]], [[0], [1], [2], [3]]])
    with pytest.raises(InvalidArchitecture, match="layer 1's grouping must refine layer 0's"):
        separate, shared = (space.partitions.index(a.groupings[0]) for a in (space.all_separate(), space.all_shared()))
        space.from_choices([separate, shared, shared, shared])


def test_moves_keep_trees_valid():
    space = BranchingSpace()
    rng = np.random.default_rng(1)
    for arch in space.sample(rng, 30):
        for near in space.neighbors(arch):
            assert all(refines(near.groupings[i], near.groupings[i - 1]) for i in range(1, space.layers))
        assert space.mutate(arch, rng) in space.neighbors(arch)


# -- data and metrics --------------------------------------------------------------------------------------------


def test_canvases_are_deterministic_and_labels_consistent(task):
    again = MultitaskBranching("digits", train_canvases=300, val_canvases=100, test_canvases=100)
    for split in ("train", "val", "test"):
        one, two = task.splits[split], again.splits[split]
        assert np.array_equal(one.x, two.x) and np.array_equal(one.seg, two.seg)
    train = task.splits["train"]
    half = task.side // 2
    # the segmentation names each object's class, on its own half of the canvas
    for i in range(20):
        left, right = set(np.unique(train.seg[i, :, :half])) - {0}, set(np.unique(train.seg[i, :, half:])) - {0}
        assert left <= {1 + train.left[i]} and right <= {1 + train.right[i]}
    assert train.edge.sum() > 0 and np.all(train.seg[train.edge == 1] > 0)  # edges lie on objects


def test_edges_are_the_inner_boundary():
    seg = np.zeros((1, 7, 7), dtype=np.int64)
    seg[0, 1:6, 1:6] = 3
    edge = edges_of(seg)[0]
    assert edge.sum() == 16 and edge[3, 3] == 0 and edge[1, 1] == 1  # a 5x5 square's ring


def test_compose_refuses_objects_too_large():
    with pytest.raises(ValueError, match="do not fit"):
        compose(np.zeros((2, 20, 20), np.float32), np.zeros(2, np.int64), 3, 32, np.random.default_rng(0))


def test_delta_m_follows_the_survey():
    single = {"a": 0.8, "b": 0.5}
    assert delta_m(single, single) == 0.0
    assert delta_m({"a": 0.88, "b": 0.45}, single) == pytest.approx(100 * (0.1 - 0.1) / 2)
    assert delta_m({"a": 0.88, "b": 0.5}, single) == pytest.approx(5.0)
    # lower-is-better metrics count a drop as a gain
    assert delta_m({"a": 0.8, "b": 0.4}, single, lower_is_better=frozenset({"b"})) == pytest.approx(10.0)
    with pytest.raises(KeyError, match="same tasks"):
        delta_m({"a": 1.0}, single)


def test_miou_and_fscore():
    assert mean_iou(np.array([[5, 0], [0, 3]])) == 1.0
    assert mean_iou(np.array([[2, 2], [0, 0]])) == pytest.approx(0.25)  # class 1 predicted, never true: IoU 0
    assert fscore(np.array([3, 4, 3, 6])) == pytest.approx(2 * 0.75 * 0.5 / 1.25)
    assert fscore(np.zeros(4)) == 0.0


# -- the task ----------------------------------------------------------------------------------------------------


def test_bad_settings_name_the_field(task):
    with pytest.raises(InvalidSetting, match="'tasks'"):
        MultitaskBranching("digits", tasks=("left",))
    with pytest.raises(InvalidSetting, match="'dataset'"):
        MultitaskBranching("cifar10")
    with pytest.raises(InvalidSetting, match="'side'"):
        MultitaskBranching("digits", side=20)
    space = task.search_space()
    with pytest.raises(InvalidSetting, match="edge_pos_weight"):
        task.check_trainable(space, RECIPE.replace(task_options={"edge_pos_weight": -1.0}))
    with pytest.raises(InvalidSetting, match="image_size"):
        task.check_trainable(space, RECIPE.replace(image_size=4))
    with pytest.raises(InvalidSetting, match="--space"):
        task.check_trainable(BranchingSpace(("left", "right")), RECIPE)


def test_costs_grow_with_branching(task):
    space = task.search_space()
    shared, separate = space.all_shared(), space.all_separate()
    costs = {a: task.network_costs(task.network(a.groupings, task.tasks, RECIPE), RECIPE)["madds"]
             for a in (shared, separate)}
    split_late = space.validate([shared.groupings[0]] * 3 + [separate.groupings[0]])
    late = task.network_costs(task.network(split_late.groupings, task.tasks, RECIPE), RECIPE)["madds"]
    assert costs[shared] < late < costs[separate]


def test_all_separate_matches_its_baselines(task, private_cache):
    """All-separate trained jointly is the baselines side by side: Δm near 0 over seeds; the cache is reused."""
    space = task.search_space()
    values = [Trainer(task, RECIPE, seed=seed).fit(space, space.all_separate()).objectives["delta_m"]
              for seed in (0, 1, 2)]
    assert all(np.isfinite(values))
    # one seed is the baselines' own: the same networks, data order and steps; the others differ by their noise
    assert abs(values[0]) < 1e-6
    files = {p.name for p in (private_cache / "multitask").iterdir()}
    weights = {name for name in files if name.endswith(".pt")}
    assert weights and files == weights | {name[:-3] + ".json" for name in weights}  # each with its record, no temp


def test_cached_baselines_are_read_not_retrained(task, monkeypatch):
    task.baselines(RECIPE)

    def refuse(*args, **kwargs):
        raise AssertionError("the cached baselines were trained again")

    monkeypatch.setattr(baselines_module, "train_baselines", refuse)
    fresh = MultitaskBranching("digits", train_canvases=300, val_canvases=100, test_canvases=100)
    assert fresh.baselines(RECIPE) == task.baselines(RECIPE)


def test_a_corrupt_baseline_is_refused(task, private_cache, monkeypatch):
    task.baselines(RECIPE)
    weights = next((private_cache / "multitask").glob("*.pt"))
    saved = weights.read_bytes()
    try:
        weights.write_bytes(saved[:-10])
        fresh = MultitaskBranching("digits", train_canvases=300, val_canvases=100, test_canvases=100)
        with pytest.raises(UserError, match="sha256"):
            fresh.baselines(RECIPE)
    finally:
        weights.write_bytes(saved)


def test_a_killed_baseline_training_leaves_nothing(task, tmp_path, monkeypatch):
    monkeypatch.setenv("NASFRAME_CACHE", str(tmp_path))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(baselines_module, "train_baselines", killed)
    with pytest.raises(KeyboardInterrupt):
        baselines_module.load_baselines(task, RECIPE.replace(epochs=2))
    assert not any(tmp_path.rglob("*.pt")) and not any(tmp_path.rglob("*.json"))


def test_baselines_do_not_change_the_branched_networks_initialisation(task):
    space = task.search_space()
    recipe = RECIPE.replace(lr=0.002)  # a recipe without cached baselines: they train inside build
    torch.manual_seed(0)
    first = Trainer(task, recipe).build(space, space.all_shared())
    torch.manual_seed(0)
    second = Trainer(task, recipe).build(space, space.all_shared())  # now cached
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_sixteen_bit_and_resized_training(task):
    space = task.search_space()
    recipe = RECIPE.replace(precision="16", image_size=24, cutout=4, data_fraction=0.5)
    result = Trainer(task, recipe, seed=0).fit(space, space.sample(np.random.default_rng(3), 1)[0])
    assert np.isfinite(result.objectives["delta_m"]) and result.costs["madds"] > 0


def test_baselines_that_learned_nothing_are_warned_about(task, monkeypatch):
    import nasframe.tasks.multitask.task as task_module

    empty = {"left_accuracy": 0.5, "right_accuracy": 0.5, "seg_miou": 0.2, "edge_fscore": 0.0}
    monkeypatch.setattr(task_module, "load_baselines", lambda *a, **k: {"val": empty, "test": empty})
    with pytest.warns(RuntimeWarning, match="edge_fscore"):
        task.baselines(RECIPE.replace(lr=0.0123))
