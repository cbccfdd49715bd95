"""``nasframe tasks`` and ``nasframe train``: the training tasks, and one architecture trained on one."""

from __future__ import annotations

import json

import click
import numpy as np

from nasframe.cli import inputs
from nasframe.core.files import check_writable_folder


@click.command("tasks")
def list_tasks() -> None:
    """List the registered training tasks."""
    from nasframe.tasks import task_names

    for name in task_names():
        click.echo(name)


@click.command("train")
@click.option("--task", "task_name", default="fashion-mnist", show_default=True, help="A registered task.")
@click.option("--data", default=None, help="Dataset folder (Fashion-MNIST IDX files, cifar-10-batches-py).")
@click.option("--task-option", "task_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the task's constructor (e.g. dataset=digits), repeatable.")
@click.option("--space", "space_name", default=None, help="A registered space (default: the task's own).")
@click.option("--arch", "arch_text", default=None, help="Architecture JSON (default: a random one, --seed).")
@click.option("--recipe", "recipe_items", multiple=True, metavar="FIELD=VALUE", help="Recipe fields, repeatable.")
@click.option("--checkpoint", default=None, type=click.Path(file_okay=False),
              help="Checkpoint folder: written every epoch, resumed from when it exists.")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=None, type=int, help="Torch threads (default: torch's).")
@click.option("--address", default=None,
              help="Train as one task of this Ray cluster (on a GPU when it has one; the epochs print at the end). "
                   "--checkpoint must then be storage the cluster's nodes see.")
def train(task_name, data, task_options, space_name, arch_text, recipe_items, checkpoint, seed, threads, address) -> None:
    """Train one architecture on a task; print its per-epoch metrics, then its objectives as JSON."""
    import torch

    from nasframe.tasks import Trainer

    if threads:
        torch.set_num_threads(threads)
    task = inputs.task(task_name, data, task_options)
    space_obj = inputs.space(space_name) if space_name else task.search_space()
    recipe = inputs.recipe(recipe_items, task)
    arch = (inputs.architecture(space_obj, arch_text) if arch_text
            else space_obj.sample(np.random.default_rng(seed), 1)[0])
    task.check_trainable(space_obj, recipe)
    task.check_arch(space_obj, arch)
    if checkpoint is not None:
        check_writable_folder(checkpoint, "--checkpoint")
    click.echo(f"{task}\narchitecture {space_obj.canonical_hash(arch)}\n{recipe}")
    shown = [f"val_{o.name}" for o in task.metrics]

    def show(metrics, _folder):
        values = "  ".join(f"{key} {metrics[key]:.4f}" for key in shown)
        click.echo(f"epoch {metrics['epoch']}: {values}  train_loss {metrics['train_loss']:.4f}  "
                   f"{metrics['images_per_second']:.0f} img/s  {metrics['epoch_seconds']:.1f} s")

    if address is None:
        result = Trainer(task, recipe, seed=seed, evaluate_test=True).fit(
            space_obj, arch, checkpoint_dir=checkpoint, on_epoch=show)
    else:
        result = _train_on_ray(address, task, recipe, seed, space_obj, arch, checkpoint)
        for metrics in result.history:
            show(metrics, None)
    click.echo(json.dumps({"val_accuracy": result.val_accuracy, "test_accuracy": result.test_accuracy,
                           "objectives": result.objectives, "params": result.params,
                           "seconds": round(result.seconds, 2)}))


def _fit(task, recipe, seed: int, space_obj, arch_json, checkpoint: str | None, threads: int):
    """One training, in a Ray worker."""
    import torch

    from nasframe.tasks import Trainer

    torch.set_num_threads(threads)
    return Trainer(task, recipe, seed=seed, evaluate_test=True).fit(
        space_obj, space_obj.from_json(arch_json), checkpoint_dir=checkpoint)


def _train_on_ray(address: str, task, recipe, seed: int, space_obj, arch, checkpoint: str | None):
    """The training as one Ray task of the cluster at ``address``: one GPU if the cluster has any, else
    one CPU; retried (from its checkpoint, when given) if its worker dies."""
    import os

    import ray

    from nasframe.ray_session import ray_session
    from nasframe.training import default_resources

    folder = os.path.abspath(checkpoint) if checkpoint is not None else None
    with ray_session(address):
        resources = default_resources()
        remote = ray.remote(_fit).options(num_cpus=resources["cpu"], num_gpus=resources.get("gpu", 0), max_retries=2)
        return ray.get(remote.remote(task, recipe, seed, space_obj, arch.to_json(), folder, int(resources["cpu"])))


def search_on_task(task_name, data, task_options, space_name, searcher_name, budget, seed, batch_size, out_dir,
                   address, storage, objectives_text, weights_text, recipe_items, asha) -> None:
    """``nasframe search --task``: real trainings as Ray Tune trials; the Pareto front with several objectives."""
    from pathlib import Path

    from nasframe.core.task import parse_objectives
    from nasframe.ray_session import ray_session
    from nasframe.task_search import plot_front, search_task

    inputs.searcher(searcher_name)
    task = inputs.task(task_name, data, task_options)
    space_obj = inputs.space(space_name) if space_name else task.search_space()
    objectives = parse_objectives(objectives_text, task) if objectives_text else task.objectives[:1]
    weights = inputs.numbers(weights_text, "--weights") if weights_text else None
    recipe = inputs.recipe(recipe_items, task)
    out = check_writable_folder(out_dir or f"results/search-{task_name}-{searcher_name}-{seed}", "--out")
    out.mkdir(parents=True, exist_ok=True)
    from nasframe.storage import TUNE_DIR, resolve, tune_storage

    storage_path = tune_storage(resolve(storage)) if storage else str((out / TUNE_DIR).resolve())
    scheduler = None
    if asha:
        from ray.tune.schedulers import ASHAScheduler

        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=recipe.epochs, grace_period=1,
                                  reduction_factor=2)
    with ray_session(address):
        result = search_task(task, searcher_name, budget, space=space_obj, objectives=objectives, weights=weights,
                             recipe=recipe, seed=seed, batch_size=batch_size, storage_path=storage_path,
                             scheduler=scheduler)
    frame = result.history.to_frame()
    frame.to_csv(out / "history.csv", index=False)
    result.front.to_csv(out / "pareto.csv", index=False)
    summary = {"task": task.name, "task_options": list(task_options), "space": space_obj.name,
               "searcher": searcher_name, "seed": seed, "budget": budget, "objectives": [str(o) for o in objectives], "recipe": recipe.to_dict(),
               **result.history.summary(), "front_size": len(result.front), "reference": result.reference.tolist(),
               "hypervolume": result.hypervolume.tolist()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if len(objectives) > 1 and len(result.front):
        plot_front(result, f"{searcher_name} on {task.name}", str(out / "pareto.png"))
    columns = ["step", "hash"] + [f"objective.{o.name}" for o in objectives]
    click.echo(f"{len(frame)} trained on {task.name} ({Path(out)}); Pareto front on "
               f"{', '.join(map(str, objectives))}:")
    click.echo(result.front[columns].to_string(index=False))
    if result.history.error:
        click.echo(f"the searcher stopped early: {result.history.error.splitlines()[0]}", err=True)
