"""The Task protocol, objectives, and the multi-objective arithmetic (Pareto fronts, hypervolume, scalarisation)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nasframe.core.errors import InvalidSetting
from nasframe.core.task import Objective, parse_objectives, signed
from nasframe.pareto import Scalarisation, hypervolume, hypervolume_curve, pareto_mask, reference_point
from nasframe.tasks import ImageClassification, Recipe, load_task
from nasframe.testing import check_task


def test_parse_objectives_keeps_order_and_names_what_is_wrong():
    task = load_task("digits")
    chosen = parse_objectives("flops:min, accuracy", task)
    assert [str(o) for o in chosen] == ["flops:min", "accuracy:max"]
    with pytest.raises(InvalidSetting, match="no objective 'latency'"):
        parse_objectives("accuracy:max,latency:min", task)
    with pytest.raises(InvalidSetting, match="'flops' is minimised"):
        parse_objectives("flops:max", task)
    with pytest.raises(InvalidSetting, match="named twice"):
        parse_objectives("accuracy,accuracy", task)
    with pytest.raises(InvalidSetting, match="direction"):
        Objective("accuracy", "up")


def test_signed_vector_maximises_every_component():
    objectives = (Objective("accuracy"), Objective("flops", "min", cost=True))
    assert signed({"accuracy": 0.9, "flops": 5.0}, objectives).tolist() == [0.9, -5.0]


def test_pareto_mask_matches_pairwise_dominance():
    rng = np.random.default_rng(0)
    points = rng.integers(0, 6, size=(40, 2)).astype(float)  # ties and duplicates on purpose
    mask = pareto_mask(points)
    for i, p in enumerate(points):
        dominated = any(np.all(q >= p) and np.any(q > p) for q in points)
        assert mask[i] == (not dominated)


def _grid_volume(points: np.ndarray, reference: np.ndarray, step: float = 1.0) -> float:
    """Volume dominated by integer points, by counting unit cells (an independent check of the sweep)."""
    top = points.max(axis=0)
    axes = [np.arange(r, t, step) + step / 2 for r, t in zip(reference, top)]
    count = 0
    for cell in itertools.product(*axes):
        count += bool(np.any(np.all(points >= np.array(cell), axis=1)))
    return count * step ** len(reference)


@pytest.mark.parametrize("dims", [2, 3])
def test_hypervolume_equals_counted_cells(dims):
    rng = np.random.default_rng(dims)
    for _ in range(5):
        points = rng.integers(1, 7, size=(8, dims)).astype(float)
        reference = np.zeros(dims)
        assert hypervolume(points, reference) == pytest.approx(_grid_volume(points, reference))


def test_hypervolume_curve_is_monotone_and_ignores_points_below_the_reference():
    points = np.array([[0.5, -3.0], [0.7, -4.0], [0.2, -1.0], [0.6, -3.5], [-1.0, 0.0]])
    reference = np.array([0.0, -5.0])
    curve = hypervolume_curve(points, reference)
    assert np.all(np.diff(curve) >= 0)
    assert curve[-1] == pytest.approx(hypervolume(points[:4], reference))
    assert hypervolume(points[4:], reference) == 0.0
    assert reference_point([points[:2], points[2:4]]).tolist() == [0.2, -4.0]


def test_scalarisation_trades_metric_points_for_decades_of_cost():
    objectives = (Objective("accuracy"), Objective("flops", "min", cost=True))
    score = Scalarisation.default(objectives)
    small, big = {"accuracy": 0.90, "flops": 1e6}, {"accuracy": 0.94, "flops": 1e7}
    # 4 points of accuracy for 10x the FLOPs: worth it under a weight of 0.05 per decade? no, 0.04 < 0.05
    assert score(small) > score(big)
    assert Scalarisation.default(objectives, [1.0, 0.01])(big) > Scalarisation.default(objectives, [1.0, 0.01])(small)
    with pytest.raises(InvalidSetting, match="2 objectives"):
        Scalarisation.default(objectives, [1.0])


@pytest.mark.float_sensitive
def test_image_classification_passes_check_task(one_thread):
    check_task(load_task("digits"), recipe=Recipe(epochs=1, batch_size=64, channels=8, data_fraction=0.2))


class Forgetful(ImageClassification):
    """A task whose costs leave out one of its declared objectives (module level: check_task pickles it)."""

    def costs(self, model, space, arch, recipe):
        return {"flops": 1.0}  # no "params"


def test_check_task_names_a_task_that_forgets_an_objective():
    with pytest.raises(AssertionError, match="every cost objective"):
        check_task(Forgetful("digits"), recipe=Recipe(epochs=1, batch_size=64, channels=8, data_fraction=0.1))
