"""``check_task``: the :class:`~nasframe.core.task.Task` contract, rule by rule, with one short real training."""

from __future__ import annotations

import json
import math
import pickle
import tempfile
from typing import Any

import numpy as np

from nasframe.core import SearchSpace
from nasframe.core.task import Task
from nasframe.testing._rules import require


def check_task(task: Task, *, recipe: Any = None, space: SearchSpace | None = None, seed: int = 0) -> None:
    """Check the task contract by training one sampled architecture for one epoch of ``recipe``.

    ``recipe`` should be small (default: one epoch on 2% of the training
    data); ``space`` defaults to the task's own. Checked: the objectives are
    well formed, the task pickles (Ray ships it to workers) and fingerprints
    as JSON, the trainer reports every objective as a finite number, costs
    are positive, evaluation is repeatable, and a finished training resumes
    from its checkpoint without training again. Raises ``AssertionError``
    naming the first rule broken.
    """
    from nasframe.tasks import Recipe, Trainer

    who = f"task {task.name!r}"
    _check_objectives(task, who)
    space = space if space is not None else task.search_space()
    require(isinstance(space, SearchSpace), who, "search_space() returns a SearchSpace", type(space).__name__)
    copy = pickle.loads(pickle.dumps(task))
    require(json.dumps(copy.fingerprint(), sort_keys=True) == json.dumps(task.fingerprint(), sort_keys=True), who,
            "a pickled task has the same fingerprint (Ray ships tasks to workers)")
    recipe = recipe if recipe is not None else Recipe(epochs=1, batch_size=32, data_fraction=0.02)
    defaults = recipe.replace(task_options={**task.recipe_options, **recipe.task_options})
    task.check_options(defaults)  # a recipe with every option at its default is accepted (and is JSON)
    require(Recipe.from_dict(json.loads(json.dumps(defaults.to_dict()))) == defaults, who,
            "recipe options survive a JSON round trip (Tune configs and checkpoints carry them)")
    arch = space.sample(np.random.default_rng(seed), 1)[0]
    task.check_trainable(space, recipe)
    task.check_arch(space, arch)
    trainer = Trainer(task, recipe, device="cpu", seed=seed, evaluate_test=True)
    model = trainer.build(space, arch)
    costs = task.costs(model, space, arch, recipe)
    wanted = {o.name for o in task.objectives if o.cost}
    require(set(costs) >= wanted, who, "costs() reports every cost objective", f"missing {sorted(wanted - set(costs))}")
    first, second = trainer.evaluate(model, "val"), trainer.evaluate(model, "val")
    require(first == second, who, "evaluate() is repeatable on the same model", f"{first} vs {second}")
    wanted = {f"val_{o.name}" for o in task.metrics}
    require(set(first) >= wanted, who, "evaluate() reports every metric objective",
            f"missing {sorted(wanted - set(first))}")
    with tempfile.TemporaryDirectory(prefix="nasframe-check-task-") as folder:
        result = trainer.fit(space, arch, checkpoint_dir=folder)
        require(set(result.objectives) == {o.name for o in task.objectives}, who,
                "a training reports every objective", f"got {sorted(result.objectives)}")
        require(all(math.isfinite(v) for v in result.objectives.values()), who, "objective values are finite",
                str(result.objectives))
        require(all(result.costs[o.name] > 0 for o in task.objectives if o.cost), who, "costs are positive",
                str(result.costs))
        require(result.test_accuracy is not None, who, "evaluate(model, 'test') reports the primary metric")
        again = Trainer(task, recipe, device="cpu", seed=seed, evaluate_test=True).fit(space, arch,
                                                                                         checkpoint_dir=folder)
        require(again.history == result.history, who, "a finished training resumes from its checkpoint unchanged")


def _check_objectives(task: Task, who: str) -> None:
    names = [o.name for o in task.objectives]
    require(len(names) > 0, who, "declares at least one objective")
    require(len(set(names)) == len(names), who, "objective names are unique", str(names))
    require(not task.objectives[0].cost, who, "the first objective is a trained metric, not a cost", names[0])
