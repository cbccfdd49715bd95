"""``nasframe embed train|evaluate``: graph embeddings (VS-GAE, SVGe), trained and measured.

Which architectures a model trains on and which it keeps out is a
:class:`surrogates.embeddings.EmbeddingSplit`, recorded in the model card by
``embed train`` so that ``embed evaluate`` finds the held-out ones again.
"""

from __future__ import annotations

import json
import time

import click
import numpy as np

from nasframe.cli import inputs
from nasframe.core.files import check_writable_folder
from nasframe.core.errors import InvalidSetting


@click.group()
def embed() -> None:
    """Graph embeddings (VS-GAE, SVGe): train a model and measure it."""


def _labelled(space_obj, path: str, data_format: str, heldout):
    """:func:`surrogates.embeddings.split.labelled` of the result file ``path``, with ``--labels`` errors."""
    from benchmarks import load_results
    from surrogates.embeddings.split import labelled

    try:
        results = load_results(path, data_format)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"--labels {path}: {exc}") from None
    try:
        return labelled(space_obj, results, heldout)
    except ValueError as exc:
        raise click.BadParameter(f"{path} {exc}", param_hint="--labels") from None


def _epoch_line(epochs: int, started: list[float], deadline: float | None = None):
    """A ``train`` callback printing one progress line per epoch; stops after ``deadline`` (perf_counter)."""

    def callback(epoch: int, stats: dict[str, float]) -> bool:
        now = time.perf_counter()
        seconds, started[0] = now - started[0], now
        extra = f"  mse {stats['mse']:.4f}" if "mse" in stats else ""
        click.echo(
            f"epoch {epoch}/{epochs}  loss {stats['loss']:.4f}  recon {stats['reconstruction']:.4f}  "
            f"kl {stats['kl']:.2f}  teacher-forced acc {stats['accuracy']:.3f}{extra}  {seconds:.1f}s"
        )
        if deadline is not None and now >= deadline and epoch < epochs:
            click.echo(f"time limit reached after epoch {epoch}: saving (resume with the same --checkpoint)")
            return False
        return True

    return callback


@embed.command("train")
@click.option("--space", "space_name", type=click.Choice(["nb101", "enas"]), default="nb101", show_default=True)
@click.option("--model", "kind", type=click.Choice(["vsgae", "svge"]), default="vsgae", show_default=True,
              help="SVGe trains as a VAE unless --labels gives its joint predictor targets.")
@click.option("--archs", "count", type=click.IntRange(min=1), default=None, help="Train on N distinct random architectures.")
@click.option("--all", "use_all", is_flag=True, help="Train on every NB101 cell (the enumeration index).")
@click.option("--uniform", is_flag=True,
              help="NB101: draw the --archs cells uniformly from the enumeration index (the space's sampler, "
                   "NB101's random_spec, favours small cells and repeats them: 3,000 draws hold ~1,200 distinct).")
@click.option("--holdout", type=click.IntRange(min=1), default=100, show_default=True,
              help="Architectures kept out of training for `embed evaluate`.")
@click.option("--epochs", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--lr", type=float, default=1e-4, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=250, show_default=True, help="Node state size.")
@click.option("--latent", type=click.IntRange(min=1), default=56, show_default=True)
@click.option("--beta", type=float, default=0.005, show_default=True, help="Weight of the KL term.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch threads (CPU).")
@click.option("--checkpoint", "checkpoint_dir", type=click.Path(file_okay=False), default=None,
              help="Checkpoint every epoch here; an existing checkpoint is resumed.")
@click.option("--time-limit", type=click.FloatRange(min=0), default=None,
              help="Stop after the epoch that ends past this many seconds of training, and save (wall-time limits).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to save the model to.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--labels", "labels_path", type=click.Path(exists=True), default=None,
              help="SVGe: real results whose validation accuracies train the joint predictor (their architectures "
                   "join the training set; the others stay unlabelled).")
@click.option("--labels-format", type=click.Choice(["nb101-json", "nb101-tfrecord", "nb301", "dvae", "naslib-darts"]),
              default=None, help="Format of --labels.")
def embed_train(space_name, kind, count, use_all, uniform, holdout, epochs, batch_size, lr, hidden, latent, beta, device,
                threads, checkpoint_dir, time_limit, out_dir, seed, labels_path, labels_format) -> None:
    """Train a VS-GAE or SVGe on architectures of a space and save it with a model card."""
    from pathlib import Path

    from surrogates.embeddings import EmbeddingSplit, greedy_reconstruction, save_model, train
    from surrogates.embeddings.split import with_targets
    from surrogates.embeddings.train import CHECKPOINT, MODEL_KINDS

    if (count is None) == (not use_all):
        raise click.UsageError("give exactly one of --archs N and --all")
    if (labels_path is None) != (labels_format is None):
        raise click.UsageError("--labels and --labels-format go together")
    if labels_path is not None and kind != "svge":
        raise click.BadParameter("only SVGe has a predictor to train on labels; use --model svge", param_hint="--labels")
    space_obj = inputs.space(space_name)
    check_writable_folder(out_dir, "--out")  # before training, not after
    if checkpoint_dir is not None:
        check_writable_folder(checkpoint_dir, "--checkpoint")
    try:
        split = EmbeddingSplit(space_name, None if use_all else count, holdout, seed, uniform,
                               labels=None if labels_path is None else str(Path(labels_path).resolve()),
                               labels_format=labels_format)
    except ValueError:
        flag = "--all" if use_all else "--uniform"
        raise click.BadParameter(f"{flag} reads the NB101 enumeration; give --archs N for other spaces",
                                 param_hint=flag) from None
    try:
        archs, heldout = split.draw(space_obj)
    except ValueError as exc:  # more architectures asked than the space or index holds; a corrupt index
        raise InvalidSetting(str(exc)) from None
    y = None
    if labels_path is not None:
        archs, y = with_targets(space_obj, archs, *_labelled(space_obj, labels_path, labels_format, heldout))
        click.echo(f"labels: {int(np.isfinite(y).sum()):,} of the training architectures have a validation accuracy "
                   f"({labels_path})")
    model = MODEL_KINDS[kind](space_obj, hidden=hidden, latent=latent, beta=beta, seed=seed, device=device)
    click.echo(f"{kind} on {space_name}: {len(archs):,} architectures to train on, {len(heldout)} held out; "
               f"hidden {hidden}, latent {latent}, {sum(p.numel() for p in model.parameters()):,} parameters, {device}")
    if checkpoint_dir is not None and (Path(checkpoint_dir) / CHECKPOINT).is_file():
        click.echo(f"resuming from {Path(checkpoint_dir) / CHECKPOINT}")
    started = [time.perf_counter()]
    deadline = None if time_limit is None else started[0] + time_limit
    result = train(model, archs, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, checkpoint=checkpoint_dir,
                   callback=_epoch_line(epochs, started, deadline), threads=threads)
    metrics = {
        **({} if y is None else {"labelled_architectures": int(np.isfinite(y).sum())}),
        "heldout_teacher_forced_accuracy": model.teacher_forced_accuracy(heldout),
        "heldout_greedy_reconstruction": greedy_reconstruction(model, heldout),
    }
    save_model(model, out_dir, result=result, metrics=metrics, data_source=split.to_json())
    click.echo(f"held out: teacher-forced accuracy {metrics['heldout_teacher_forced_accuracy']:.3f}, "
               f"greedy reconstruction {metrics['heldout_greedy_reconstruction']:.3f}")
    click.echo(f"saved {out_dir} ({result.epochs} epochs)")


@embed.command("evaluate")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--heldout", "max_heldout", type=click.IntRange(min=1), default=100, show_default=True,
              help="At most this many held-out architectures to reconstruct.")
@click.option("--encodings", type=click.IntRange(min=1), default=10, show_default=True, help="Posterior draws per architecture.")
@click.option("--decodings", type=click.IntRange(min=1), default=10, show_default=True, help="Stochastic decodings per draw.")
@click.option("--samples", type=click.IntRange(min=1), default=1000, show_default=True, help="Prior samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def embed_evaluate(model_dir, max_heldout, encodings, decodings, samples, seed, device, as_json) -> None:
    """Reconstruction accuracy on held-out architectures and validity/uniqueness/novelty of prior samples.

    The held-out architectures are those `embed train` kept out (recorded in
    the model card). For a model trained otherwise, fresh random architectures
    stand in and novelty is not measured (the training data is unknown).
    """
    from surrogates.embeddings import EmbeddingSplit, embedding_report, load_model

    model = load_model(model_dir, device=device)
    split = EmbeddingSplit.from_json(model.card.get("data_source"))
    if split is not None:
        heldout_kind = "held out"
        heldout, train_hashes = split.heldout_and_trained(model.space)
        if split.labels:  # the labelled architectures were trained on too
            labelled, _ = _labelled(model.space, split.labels, split.labels_format, heldout)
            train_hashes = train_hashes + model.space.canonical_hashes(labelled)
    else:
        heldout = list(model.space.sample_distinct(np.random.default_rng(seed), max_heldout).values())
        heldout_kind, train_hashes = "random, maybe seen in training", None
    heldout = heldout[:max_heldout]
    report = embedding_report(model, heldout, train_hashes, samples=samples, encodings=encodings,
                              decodings=decodings, seed=seed)
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    click.echo(f"{report['model']} on {report['space']}, {report['epochs']} epochs ({model_dir})")
    click.echo(f"reconstruction accuracy ({len(heldout)} {heldout_kind}, {encodings} encodings x {decodings} "
               f"decodings): {report['reconstruction_accuracy']:.4f}")
    click.echo(f"greedy reconstruction (latent mean, argmax decoding): {report['greedy_reconstruction']:.4f}")
    novelty = "n/a" if report["novelty"] is None else f"{report['novelty']:.4f}"
    click.echo(f"prior samples ({samples}): validity {report['validity']:.4f}, "
               f"uniqueness {report['uniqueness']:.4f}, novelty {novelty}")
    novelty = "n/a" if report["stochastic_novelty"] is None else f"{report['stochastic_novelty']:.4f}"
    click.echo(f"prior samples, {report['prior_decodes']} stochastic decodings each (the papers' protocol): "
               f"validity {report['stochastic_validity']:.4f}, uniqueness {report['stochastic_uniqueness']:.4f}, "
               f"novelty {novelty}")
