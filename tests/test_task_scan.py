"""The ``scan`` task: SimCLR then SCAN in one generic training, on scikit-learn's digits (seconds each).

What is asserted: the pieces (losses, neighbour mining, Hungarian accuracy,
views) on hand-made inputs whose answer is known; one training switches
stage and mines neighbours that are other training images; a killed and
resumed training is the uninterrupted one; training never reads a label;
every bad option is refused naming it; each stage restarts the optimiser,
and self-labelling learns from confident images only.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import nasframe as nf
from nasframe.core.errors import InvalidSetting
from nasframe.tasks import Recipe, Trainer
from nasframe.tasks.scan.clustering import cluster_accuracy, cluster_scores, kmeans_clusters, mine_neighbours
from nasframe.tasks.scan.losses import nt_xent, scan_loss, self_label_loss
from nasframe.tasks.scan.model import CLUSTERING, PRETEXT, SELF_LABELLING
from nasframe.tasks.scan.task import ScanClustering
from nasframe.tasks.scan.views import simclr_view

#: a training of a few seconds: 1 pretext epoch, 1 or 2 SCAN epochs on 40% of digits' training split
RECIPE = Recipe(epochs=2, batch_size=64, channels=8, data_fraction=0.4, task_options={"neighbours": 5})
#: per-epoch values that are wall-clock measurements, not results
TIMINGS = ("epoch_seconds", "images_per_second")


#: small CPU models: one intra-op thread (conftest) for every test here
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def task():
    return ScanClustering("digits")


@pytest.fixture(scope="module")
def space():
    return nf.load_space("nb101")


@pytest.fixture(scope="module")
def arch(space):
    return space.sample(np.random.default_rng(0), 1)[0]


def _results(history):
    return [{k: v for k, v in h.items() if k not in TIMINGS} for h in history]


# -- the pieces ---------------------------------------------------------------------------------------------------


def test_nt_xent_prefers_matching_views():
    torch.manual_seed(0)
    z = torch.randn(32, 16)
    aligned = nt_xent(z, z + 0.01 * torch.randn_like(z), temperature=0.1)
    shuffled = nt_xent(z, z[torch.randperm(32)], temperature=0.1)
    # perfectly identified positives: the loss is near 0; positives at random: near log(2n - 1)
    assert aligned < 0.05
    assert shuffled > math.log(63) - 1.0


def test_scan_loss_of_confident_agreeing_balanced_clusters():
    logits = 50.0 * torch.eye(4).repeat(3, 1)  # 12 images, 3 per cluster, all confident
    loss = scan_loss(logits, logits, entropy_weight=2.0)
    assert loss.item() == pytest.approx(-2.0 * math.log(4), abs=1e-4)  # consistency 0, maximal entropy
    one_cluster = torch.zeros(12, 4)
    one_cluster[:, 0] = 50.0
    collapsed = scan_loss(one_cluster, one_cluster, entropy_weight=2.0)
    assert collapsed.item() == pytest.approx(0.0, abs=1e-4)  # everything in one cluster: no entropy reward
    disagreeing = scan_loss(logits, logits.roll(1, dims=1), entropy_weight=0.0)
    assert disagreeing.item() > 10  # an image and its neighbour in different clusters: -log(~0)


def test_self_labelling_trains_only_confident_images_on_their_cluster_balanced():
    weak = torch.tensor([[9.0, 0.0, 0.0], [9.0, 0.0, 0.0], [9.0, 0.0, 0.0], [0.0, 9.0, 0.0], [1.0, 1.0, 1.0]])
    strong = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    loss = self_label_loss(weak, strong, confidence=0.99)
    # the unsure fifth image is left out; cluster 0 (3 images) and cluster 1 (1 image) weigh 5/3 and 5
    weights, labels = torch.tensor([5 / 3, 5.0, 1.0]), torch.tensor([0, 0, 0, 1])
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(strong[:4], labels, weight=weights).item())
    loss.backward()
    assert strong.grad[4].abs().sum() == 0 and strong.grad[:4].abs().sum() > 0
    assert self_label_loss(weak, strong, confidence=0.9999999).item() == 0.0  # nobody that sure: nothing learnt


def test_neighbours_are_the_nearest_others_never_oneself():
    points = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [-1.0, 0.0]])
    found = mine_neighbours(points, 1)
    assert found[:, 0].tolist() == [1, 0, 3, 2, found[4, 0]]  # the duplicates find each other, not themselves
    assert (mine_neighbours(points, 3) != np.arange(5)[:, None]).all()
    with pytest.raises(InvalidSetting, match="neighbours"):
        mine_neighbours(points, 5)


def test_hungarian_accuracy_ignores_cluster_names():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 200)
    renamed = rng.permutation(5)[labels]
    assert cluster_accuracy(labels, renamed) == 1.0
    assert cluster_scores(labels, renamed)["nmi"] == pytest.approx(1.0)
    assert cluster_scores(labels, renamed)["ari"] == pytest.approx(1.0)
    assert cluster_accuracy(labels, np.zeros_like(labels)) == pytest.approx(np.bincount(labels).max() / 200)


def test_kmeans_separates_separated_blobs():
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 5
    train = np.concatenate([c + rng.normal(size=(30, 3)) * 0.1 for c in centres])
    val_labels = np.repeat(np.arange(3), 10)
    val = centres[val_labels] + rng.normal(size=(30, 3)) * 0.1
    assert cluster_accuracy(val_labels, kmeans_clusters(train, [val], 3, seed=0)[0]) == 1.0


def test_views_are_random_repeatable_and_shaped():
    x = torch.randn(8, 1, 12, 12)
    first = simclr_view(x, 3, torch.Generator().manual_seed(1))
    assert first.shape == x.shape and torch.isfinite(first).all()
    assert torch.equal(first, simclr_view(x, 3, torch.Generator().manual_seed(1)))
    assert not torch.allclose(first, simclr_view(x, 3, torch.Generator().manual_seed(2)))


# -- the task -----------------------------------------------------------------------------------------------------


def test_a_training_switches_stage_and_mines_other_training_images(task, space, arch):
    trainer = Trainer(task, RECIPE, device="cpu", seed=0, evaluate_test=True)
    model = trainer.build(space, arch)
    assert int(model.stage) == PRETEXT
    result = trainer.fit(space, arch)
    last = result.history[-1]
    for split in ("val", "test"):
        for prefix in ("", "kmeans_"):
            assert 0 <= last[f"{split}_{prefix}accuracy"] <= 1 and 0 <= last[f"{split}_{prefix}nmi"] <= 1
            assert -1 <= last[f"{split}_{prefix}ari"] <= 1
    assert set(result.objectives) == {"accuracy", "nmi", "ari", "flops", "params"}
    # the table a switch mines (here on an untrained model: the shape and the indices are what is checked)
    model = trainer.build(space, arch)
    task.before_epoch(model, 1, RECIPE)
    assert int(model.stage) == CLUSTERING
    subset = task.training_subset(RECIPE.data_fraction)
    table = model.neighbours.numpy()
    assert table.shape == (len(subset), 5)
    assert np.isin(table, subset).all() and (table != subset[:, None]).all()
    assert (model.pretext_clusters_val >= 0).all() and (model.pretext_clusters_test >= 0).all()


def test_mined_neighbours_share_the_digit_far_more_often_than_chance(task, space, arch, tmp_path):
    """The premise of SCAN's second stage, read from the checkpoint (which must hold the table), 3 seeds.

    Chance is about 10% (10 balanced digits), and a table misaligned with the
    training subset would be at chance; after this one pretext epoch on 480
    images the three seeds measured 0.31-0.38, hence the bar at 0.25.
    """
    recipe = RECIPE.replace(task_options={"neighbours": 5, "pretext_epochs": 1})
    labels, subset = task.images.train.y, task.training_subset(recipe.data_fraction)
    for seed in range(3):
        Trainer(task, recipe, device="cpu", seed=seed).fit(space, arch, checkpoint_dir=tmp_path / str(seed))
        state = torch.load(tmp_path / str(seed) / "trainer-state.pt", weights_only=False)["model"]
        assert int(state["stage"]) == CLUSTERING
        same = (labels[state["neighbours"].numpy()] == labels[subset][:, None]).mean()
        assert same > 0.25, f"seed {seed}: only {same:.2f} of the neighbours share the digit"


def test_a_resumed_training_equals_the_uninterrupted_one(task, space, arch, tmp_path):
    recipe = RECIPE.replace(epochs=4, task_options={"neighbours": 5, "pretext_epochs": 1, "selflabel_epochs": 1,
                                                     "confidence": 0.2})
    whole = Trainer(task, recipe, device="cpu", seed=0).fit(space, arch)

    def stop_after(epochs):
        def callback(metrics, folder):
            if metrics["epoch"] == epochs:
                raise KeyboardInterrupt
        return callback

    # the self-labelling stage trained something (its confidence is low enough for these few epochs)
    assert whole.history[-1]["train_loss"] > 0
    # killed at the switch (neighbours not yet mined), in the SCAN stage, before self-labelling
    for epochs in (1, 2, 3):
        with pytest.raises(KeyboardInterrupt):
            Trainer(task, recipe, device="cpu", seed=0).fit(space, arch, checkpoint_dir=tmp_path,
                                                            on_epoch=stop_after(epochs))
    resumed = Trainer(task, recipe, device="cpu", seed=0).fit(space, arch, checkpoint_dir=tmp_path)
    assert _results(resumed.history) == _results(whole.history)


def test_each_stage_restarts_the_optimiser_and_self_labelling_sees_unaugmented_anchors(task, space, arch):
    recipe = RECIPE.replace(epochs=5, task_options={"neighbours": 5, "pretext_epochs": 2, "selflabel_epochs": 1})
    assert task.restart_epochs(space, arch, recipe) == (2, 4)
    assert task.restart_epochs(space, arch, RECIPE.replace(epochs=1)) == ()  # SCAN from the start: one stage
    model = Trainer(task, recipe, device="cpu").build(space, arch)
    stages = []
    for epoch in range(5):
        task.before_epoch(model, epoch, recipe)
        stages.append(int(model.stage))
    assert stages == [PRETEXT, PRETEXT, CLUSTERING, CLUSTERING, SELF_LABELLING]
    subset = task.training_subset(recipe.data_fraction)
    first, second, rows = next(task.train_batches(recipe, torch.Generator().manual_seed(0), subset))
    assert torch.equal(first, task.images.prepare(task.images.train.x[rows.numpy()], recipe))  # the weak view
    assert not torch.allclose(first, second)  # the strong view of the same images


def test_training_never_reads_a_label(task, space, arch):
    shuffled = ScanClustering("digits")
    rng = np.random.default_rng(0)
    shuffled.images.train = replace(shuffled.images.train, y=rng.permutation(shuffled.images.train.y))
    first = Trainer(task, RECIPE, device="cpu", seed=0).fit(space, arch).history
    second = Trainer(shuffled, RECIPE, device="cpu", seed=0).fit(space, arch).history
    assert [h["train_loss"] for h in first] == [h["train_loss"] for h in second]
    assert [h["val_accuracy"] for h in first] == [h["val_accuracy"] for h in second]  # val labels untouched


def test_trains_under_a_cheap_bpe_recipe(task, space, arch):
    recipe = Recipe(epochs=1, batch_size=32, channels=4, data_fraction=0.2, image_size=6, precision="16", cutout=2)
    task.check_trainable(space, recipe)  # epochs=1: pretext_epochs=-1 means no pretext, SCAN from the start
    result = Trainer(task, recipe, device="cpu", seed=0).fit(space, arch)
    assert all(math.isfinite(v) for v in result.objectives.values())


@pytest.mark.parametrize("options, field", [
    ({"clusters": 1}, "clusters"),
    ({"neighbours": 10_000}, "neighbours"),
    ({"neighbours": 0}, "neighbours"),
    ({"pretext_epochs": 2}, "pretext_epochs"),
    ({"pretext_epochs": -2}, "pretext_epochs"),
    ({"temperature": 0.0}, "temperature"),
    ({"entropy_weight": -1.0}, "entropy_weight"),
    ({"feature_dim": 1}, "feature_dim"),
    ({"selflabel_epochs": 1, "pretext_epochs": 1}, "selflabel_epochs"),  # 2 epochs: none left for SCAN
    ({"selflabel_epochs": -1}, "selflabel_epochs"),
    ({"confidence": 1.0}, "confidence"),
    ({"confidence": float("nan")}, "confidence"),
])
def test_bad_options_are_refused_naming_them(task, space, arch, options, field):
    recipe = RECIPE.replace(task_options=options)
    with pytest.raises(InvalidSetting, match=field):
        task.check_trainable(space, recipe)
    with pytest.raises(InvalidSetting, match=field):  # a direct Trainer (no check_trainable) refuses it too
        Trainer(task, recipe, device="cpu").build(space, arch)


def test_bad_recipes_are_refused_naming_the_field(task, space):
    with pytest.raises(InvalidSetting, match="batch_size"):
        task.check_trainable(space, RECIPE.replace(batch_size=1))
    with pytest.raises(InvalidSetting, match="augment"):
        task.check_trainable(space, RECIPE.replace(augment=False))
    with pytest.raises(InvalidSetting, match="cluster"):  # misspelt: unknown to the task
        task.check_options(RECIPE.replace(task_options={"cluster": 3}))
