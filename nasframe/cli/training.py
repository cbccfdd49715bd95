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
@click.option("--space", "space_name", default="nb101", show_default=True)
@click.option("--arch", "arch_text", default=None, help="Architecture JSON (default: a random one, --seed).")
@click.option("--recipe", "recipe_items", multiple=True, metavar="FIELD=VALUE", help="Recipe fields, repeatable.")
@click.option("--checkpoint", default=None, type=click.Path(file_okay=False),
              help="Checkpoint folder: written every epoch, resumed from when it exists.")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=None, type=int, help="Torch threads (default: torch's).")
def train(task_name, data, space_name, arch_text, recipe_items, checkpoint, seed, threads) -> None:
    """Train one architecture on a task and print its per-epoch metrics."""
    import torch

    from nasframe.tasks import Trainer

    if threads:
        torch.set_num_threads(threads)
    space_obj = inputs.space(space_name)
    recipe = inputs.recipe(recipe_items)
    arch = (inputs.architecture(space_obj, arch_text) if arch_text
            else space_obj.sample(np.random.default_rng(seed), 1)[0])
    task = inputs.task(task_name, data)
    inputs.trainable(space_obj, recipe, task)
    if checkpoint is not None:
        check_writable_folder(checkpoint, "--checkpoint")
    click.echo(f"{task}\narchitecture {space_obj.canonical_hash(arch)}\n{recipe}")

    def show(metrics, _folder):
        click.echo(f"epoch {metrics['epoch']}: val_accuracy {metrics['val_accuracy']:.4f}  "
                   f"train_loss {metrics['train_loss']:.4f}  {metrics['images_per_second']:.0f} img/s  "
                   f"{metrics['epoch_seconds']:.1f} s")

    result = Trainer(task, recipe, seed=seed, evaluate_test=True).fit(
        space_obj, arch, checkpoint_dir=checkpoint, on_epoch=show)
    click.echo(json.dumps({"val_accuracy": result.val_accuracy, "test_accuracy": result.test_accuracy,
                           "params": result.params, "seconds": round(result.seconds, 2)}))
