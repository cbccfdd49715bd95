"""``nasframe bpe importance|search|apply``: budgeted performance estimation."""

from __future__ import annotations

import json

import click
import numpy as np

from nasframe.cli import inputs
from nasframe.core.files import check_writable_folder
from nasframe.core.errors import InvalidSetting


@click.group()
def bpe() -> None:
    """Budgeted performance estimation."""


@bpe.command("importance")
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The BPE trials spreadsheet (Search_Hyperparameters_Results.xlsx).")
@click.option("--seeds", type=click.IntRange(min=1), default=10, show_default=True, help="Random forests averaged.")
def bpe_importance(data_path: str, seeds: int) -> None:
    """Random-forest importance of the 8 BPE hyper-parameters for correlation and for cost."""
    from nasframe.estimation import hyperparameter_importance, load_bpe_trials

    trials = load_bpe_trials(data_path)
    click.echo(f"{len(trials.config)} trials x {trials.accuracies.shape[1]} architectures; Spearman recomputed "
               f"(max deviation from the sheet {(trials.spearman - trials.reported_correlation).abs().max():.4f})")
    for title, target in (("Spearman correlation with full training", trials.spearman),
                          ("cost (GPU hours)", trials.gpu_hours)):
        click.echo(f"fitting {seeds} random forests for {title} ...", err=True)
        click.echo(f"\nimportance for {title}:")
        click.echo(hyperparameter_importance(trials.config, target, seeds=seeds).to_markdown(floatfmt=".3f"))


@bpe.command("search")
@click.option("--task", "task_name", default="fashion-mnist", show_default=True, help="A registered task.")
@click.option("--data", default=None, help="Dataset folder, for tasks read from the user's files.")
@click.option("--space", "space_name", default=None, help="A registered space (default: the task's own).")
@click.option("--archs", "num_archs", type=click.IntRange(min=3), default=24, show_default=True,
              help="Architectures in the reference ranking (3 or more: fewer rank nothing).")
@click.option("--full", "full_items", multiple=True, metavar="FIELD=VALUE",
              help="The full recipe's fields (repeatable); the rest are Recipe's defaults.")
@click.option("--budget", type=click.FloatRange(min=0, max=1, min_open=True), default=0.1, show_default=True,
              help="Largest cost ratio BPE / full, in (0, 1].")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--per-round", type=click.IntRange(min=1), default=5, show_default=True,
              help="BPE configurations trained per round.")
@click.option("--exploit", type=click.IntRange(min=0), default=3, show_default=True,
              help="BPEs the forest predicts best within the budget, trained after the rounds.")
@click.option("--confirm", type=click.IntRange(min=0), default=3, show_default=True,
              help="Best BPEs within the budget trained again with other seeds before one is chosen.")
@click.option("--replicates", type=click.IntRange(min=1), default=3, show_default=True,
              help="Seeds per confirmed BPE (the first included).")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Study folder: every training result is kept there, a re-run resumes.")
@click.option("--address", default=None, help="Ray cluster address (default: a local Ray on every core).")
def bpe_search(task_name, data, space_name, num_archs, full_items, budget, rounds, per_round, exploit, confirm,
               replicates, seed, out_dir, address) -> None:
    """Minimum Importance Pruning: a reference ranking at the full recipe, then a cheap recipe that agrees."""
    import time

    from nasframe.core.files import atomic_file
    from nasframe.estimation import BPEEvaluator, image_bpe_space, minimum_importance_pruning
    from nasframe.ray_session import ray_session

    began = time.perf_counter()
    # every check before the reference set trains at the full recipe (minutes to hours)
    task = inputs.task(task_name, data)
    space_obj = inputs.space(space_name) if space_name else task.search_space()
    full = inputs.recipe(full_items, task)
    task.check_trainable(space_obj, full)
    if task.image_side is None:
        raise InvalidSetting(f"--task {task_name}: BPE searches image recipes, and this task has no images")
    space_bpe = image_bpe_space(full, full.image_size or task.image_side)
    task.check_trainable(space_obj, space_bpe.dearest())
    out = check_writable_folder(out_dir, "--out")
    archs = space_obj.sample(np.random.default_rng(seed), num_archs)
    with ray_session(address):
        evaluator = BPEEvaluator(task, space_obj, archs, full, out / "trainings", seed=seed)
        click.echo(evaluator.describe_reference())
        result = minimum_importance_pruning(space_bpe, evaluator, budget=budget, rounds=rounds,
                                            per_round=per_round, seed=seed, exploit=exploit, confirm=confirm,
                                            replicates=replicates, on_round=lambda r: click.echo(r.describe()))
    click.echo("\nall evaluated BPEs:")
    click.echo(result.evaluations_table())
    wall = time.perf_counter() - began
    try:
        click.echo(result.describe_best(wall))
        report = result.report(evaluator.reference(), wall, task=task_name, data=data, space=space_name, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with atomic_file(out / "report.json", "w") as handle:
        json.dump(report, handle, indent=1)
    click.echo(f"report: {out / 'report.json'}")


@bpe.command("apply")
@click.option("--out", "out_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="A study folder of `nasframe bpe search` (its report.json).")
@click.option("--searcher", "searcher_name", default="evolution", show_default=True)
@click.option("--trials", type=click.IntRange(min=1), default=16, show_default=True,
              help="Tune trials (architectures) at the BPE.")
@click.option("--top-k", type=click.IntRange(min=1), default=3, show_default=True,
              help="Architectures retrained at the full recipe.")
@click.option("--seed", default=0, show_default=True)
@click.option("--address", default=None, help="Ray cluster address (default: a local Ray on every core).")
@click.option("--storage", default=None,
              help="Where Tune keeps the trials' checkpoints: a folder or a URI (s3://...) every node of a cluster "
                   "sees, so a trial that lost its node resumes on another (default: <out>/tune).")
def bpe_apply(out_dir, searcher_name, trials, top_k, seed, address, storage) -> None:
    """Search with the study's BPE (Ray Tune, ASHA), retrain the top-k at the full recipe."""
    from pathlib import Path

    from nasframe.core.files import atomic_file
    from nasframe.ray_session import ray_session
    from nasframe.searchers import make
    from nasframe.storage import TUNE_DIR, resolve
    from nasframe.storage import tune_storage as tune_folder
    from nasframe.tasks import Recipe
    from nasframe.training import search_then_retrain

    inputs.searcher(searcher_name)
    out = Path(out_dir)
    if not (out / "report.json").is_file():
        raise InvalidSetting(f"{out / 'report.json'} missing: run `nasframe bpe search --out {out}` first")
    report = json.loads((out / "report.json").read_text())
    task = inputs.task(report["task"], report["data"])
    # no space in the report: the study searched the task's own space
    space_obj = inputs.space(report["space"]) if report.get("space") else task.search_space()
    searcher = make(searcher_name, space_obj, seed=seed)
    tune_storage = tune_folder(resolve(storage)) if storage else str((out / TUNE_DIR).resolve())
    with ray_session(address):
        result = search_then_retrain(searcher, task, Recipe.from_dict(report["bpe"]),
                                     Recipe.from_dict(report["full"]), num_samples=trials, top_k=top_k,
                                     storage_path=tune_storage, seed=report["seed"])
    median = report["reference_median_test_accuracy"]
    click.echo(f"{len(result.trials)} trials with the BPE; top {top_k} retrained at the full recipe:")
    click.echo(result.retrained.drop(columns="arch").to_markdown(index=False, floatfmt=".4f"))
    best = result.best
    click.echo(f"best: full-budget test accuracy {best['test_accuracy']:.4f} vs median of the "
               f"reference's random architectures {median:.4f} "
               f"({'beats' if best['test_accuracy'] > median else 'does not beat'} it)")
    with atomic_file(out / f"apply-{searcher_name}-{seed}.json", "w") as handle:
        json.dump({"searcher": searcher_name, "seed": seed, "trials": json.loads(result.trials.to_json(orient="records")),
                   "retrained": json.loads(result.retrained.to_json(orient="records")),
                   "reference_median_test_accuracy": median}, handle, indent=1)
