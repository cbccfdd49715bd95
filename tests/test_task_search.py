"""Multi-objective search: the Pareto evolution, objective columns in histories, and a real search on a task."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import nasframe as nf
from nasframe.cli import main
from nasframe.core import EvalResult
from nasframe.core.errors import InvalidSetting
from nasframe.core.task import Objective
from nasframe.pareto import hypervolume, pareto_mask, reference_point
from nasframe.runner import History, run_search
from nasframe.searchers import make
from nasframe.task_search import make_task_searcher, summarise

ACC_PARAMS = ["accuracy:max", "params:min"]


def _points(history: History) -> np.ndarray:
    return np.array([[row["val_accuracy"], -row["params"]] for row in history.rows])


def test_pareto_evolution_beats_random_in_hypervolume_on_nb101():
    """Accuracy against (exact) parameters on the shipped nb101, 100 queries. Measured over seeds 0-5:
    mo-evolution's hypervolume was above random's on every paired seed (mean +1.3%); the test asks for
    the mean over 4 seeds and at least 3 paired wins, far from one lucky seed."""
    bench = nf.load_benchmark("nb101")
    runs = {}
    for name in ("random", "mo-evolution"):
        for seed in range(4):
            options = {"objectives": ACC_PARAMS} if name == "mo-evolution" else {}
            runs[name, seed] = _points(run_search(make(name, bench.space, seed=seed, **options), bench, 100,
                                                  seed=seed))
    reference = reference_point(list(runs.values()))
    volume = {key: hypervolume(points, reference) for key, points in runs.items()}
    wins = sum(volume["mo-evolution", s] > volume["random", s] for s in range(4))
    assert wins >= 3, volume
    assert np.mean([volume["mo-evolution", s] for s in range(4)]) > np.mean([volume["random", s] for s in range(4)])


def test_pareto_evolution_tournament_prefers_the_front_then_the_less_crowded():
    bench = nf.load_benchmark("nb101")
    searcher = make("mo-evolution", bench.space, seed=0, objectives=ACC_PARAMS, num_init=5)
    archs = searcher.ask(5)
    values = [(0.90, 100.0), (0.92, 300.0), (0.91, 200.0), (0.80, 400.0), (0.905, 150.0)]
    searcher.tell(archs, [EvalResult(val_accuracy=a, params=int(p)) for a, p in values])
    members = list(searcher.population)
    # (0.80, 400) is dominated; the two ends of the front have infinite crowding distance
    assert searcher._winner(members, [3, 2]) == 2
    assert searcher._winner(members, [2, 0]) == 0
    assert searcher._winner(members, [4, 1]) == 1
    assert searcher._winner(members, [2, 4]) in (2, 4)


def test_objectives_reach_only_multi_objective_searchers():
    space = nf.load_space("nb101")
    two = (Objective("accuracy"), Objective("flops", "min", cost=True))
    assert [str(o) for o in make_task_searcher("mo-evolution", space, two).objectives] == [
        "accuracy:max", "flops:min"]
    assert not hasattr(make_task_searcher("evolution", space, two), "objectives")
    with pytest.raises(InvalidSetting, match="no option 'population'"):
        make_task_searcher("evolution", space, two, options={"population": 3})


def test_summarise_keeps_failed_rows_out_of_the_front():
    from nasframe.runner import _row

    space = nf.load_space("nb101")
    archs = space.sample(np.random.default_rng(0), 4)
    results = [EvalResult(val_accuracy=v, objectives={"accuracy": v, "flops": f})
               for v, f in ((0.9, 10.0), (0.8, 20.0), (0.95, 30.0))]
    history = History(rows=[_row(i, i, space.canonical_hash(a), a, r, None)
                            for i, (a, r) in enumerate(zip(archs, results))])
    history.rows.append(_row(3, 3, space.canonical_hash(archs[3]), archs[3], None, "boom"))
    result = summarise(history, (Objective("accuracy"), Objective("flops", "min", cost=True)))
    assert sorted(result.front["objective.accuracy"]) == [0.9, 0.95]
    assert len(result.hypervolume) == 3 and np.all(np.diff(result.hypervolume) >= 0)
    assert result.reference.tolist() == [0.8, -30.0]
    back = History.from_frame(history.to_frame())  # what a store reads back keeps the objectives
    assert back.rows[0]["objective.flops"] == 10.0


@pytest.mark.slow
def test_cli_search_on_a_task_writes_the_front(ray_session, tmp_path):
    out = tmp_path / "run"
    done = CliRunner().invoke(main, [
        "search", "--task", "digits", "--searcher", "mo-evolution", "--budget", "4", "--batch-size", "2",
        "--objectives", "accuracy:max,flops:min", "--recipe", "epochs=1", "--recipe", "channels=8",
        "--recipe", "data_fraction=0.2", "--out", str(out)])
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluated"] == 4 and summary["failed"] == 0
    assert summary["objectives"] == ["accuracy:max", "flops:min"]
    history = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert {"objective.accuracy", "objective.flops", "objective.params"} <= set(history)
    assert (out / "pareto.png").stat().st_size > 0 and 1 <= summary["front_size"] <= 4
    assert summary["hypervolume"] == sorted(summary["hypervolume"])


#: the tasks of the seed papers beyond compression (issue 13), each searched through the generic CLI path
PART_TWO = ("metric", "knowledge-evolution", "spectral-upconv", "multitask-branching", "scan")


def _cli_settings(name: str) -> list[str]:
    """The conformance kit's small settings of ``name`` as ``--task-option`` and ``--recipe`` arguments."""
    from dataclasses import fields

    from nasframe.tasks import Recipe
    from tests.test_conformance import TASK_SETTINGS

    options, recipe = TASK_SETTINGS[name]
    args = [arg for key, value in options.items()
            for arg in ("--task-option", f"{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}")]
    default = Recipe()
    for field in fields(Recipe):
        value = getattr(recipe, field.name)
        if field.name == "task_options":
            args += [arg for key, v in value.items() for arg in ("--recipe", f"{key}={v}")]
        elif value != getattr(default, field.name):
            args += ["--recipe", f"{field.name}={value}"]
    return args


@pytest.mark.slow
@pytest.mark.parametrize("name", PART_TWO)
def test_cli_searches_every_part_two_task_as_tune_trials(ray_session, tmp_path, name):
    out = tmp_path / "run"
    done = CliRunner().invoke(main, ["search", "--task", name, "--searcher", "random", "--budget", "2",
                                     "--batch-size", "2", *_cli_settings(name), "--out", str(out)])
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluated"] == 2 and summary["failed"] == 0 and summary["task"] == name
    assert any(p.name == "tune" for p in out.iterdir())  # the trials ran (and checkpointed) under Ray Tune


def test_cli_names_a_task_option_the_task_does_not_take():
    done = CliRunner().invoke(main, ["train", "--task", "scan", "--task-option", "colour=blue"])
    assert done.exit_code == 2 and "--task-option" in done.output and "colour" in done.output


def test_cli_refuses_task_options_without_a_task():
    done = CliRunner().invoke(main, ["search", "--objectives", "accuracy:max"])
    assert done.exit_code == 2 and "--objectives needs --task" in done.output


def test_optuna_nsga2_searches_a_tasks_objectives():
    space = nf.load_space("nb101")
    two = (Objective("accuracy"), Objective("flops", "min", cost=True))
    searcher = make_task_searcher("optuna", space, two, options={"sampler": "nsga2",
                                                                   "sampler_options": {"population_size": 4}})
    assert searcher.directions == ["maximize", "minimize"]
    rng = np.random.default_rng(0)
    for _ in range(3):
        archs = searcher.ask(4)
        values = rng.uniform(size=(len(archs), 2))
        searcher.tell(archs, [EvalResult(val_accuracy=a, objectives={"accuracy": a, "flops": f})
                              for a, f in values])
    told = np.array([[r.objectives["accuracy"], -r.objectives["flops"]] for _, r in searcher.history])
    on_front = {space.canonical_hash(a) for a, _ in searcher.pareto_front()}
    expected = {space.canonical_hash(a) for (a, _), keep in zip(searcher.history, pareto_mask(told)) if keep}
    assert on_front == expected and {tuple(t.values) for t in searcher.study.best_trials} == {
        (r.objectives["accuracy"], r.objectives["flops"]) for a, r in searcher.history
        if space.canonical_hash(a) in on_front}
