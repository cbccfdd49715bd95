"""`nasframe embed train` / `embed evaluate`: tiny models, checkpoints and resume, the model card."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from nasframe.cli import main
from surrogates.embeddings import EmbeddingSplit, load_model, save_model

TINY = ["--hidden", "16", "--latent", "8", "--batch-size", "32", "--lr", "3e-3", "--holdout", "10"]


def test_train_resume_and_evaluate(tmp_path, one_thread):
    out, checkpoint = tmp_path / "model", tmp_path / "checkpoint"
    args = ["embed", "train", "--space", "nb101", "--archs", "60", *TINY, "--checkpoint", str(checkpoint),
            "--out", str(out), "--seed", "3", "--threads", "1"]
    first = CliRunner().invoke(main, [*args, "--epochs", "2"])
    assert first.exit_code == 0, first.output
    assert "60 architectures to train on, 10 held out" in first.output
    assert "epoch 1/2  loss" in first.output and "epoch 2/2" in first.output and "resuming" not in first.output
    card = json.loads((out / "card.json").read_text())
    assert card["kind"] == "vsgae" and card["epochs"] == 2 and card["hyperparameters"]["latent"] == 8
    assert json.loads(card["data_source"])["archs"] == 60
    assert set(card["metrics"]) == {"heldout_teacher_forced_accuracy", "heldout_greedy_reconstruction"}

    resumed = CliRunner().invoke(main, [*args, "--epochs", "3"])  # continues from the checkpoint
    assert resumed.exit_code == 0, resumed.output
    assert "resuming from" in resumed.output and "epoch 3/3" in resumed.output and "epoch 1/3" not in resumed.output
    assert load_model(out).card["epochs"] == 3

    evaluated = CliRunner().invoke(main, ["embed", "evaluate", str(out), "--encodings", "2", "--decodings", "2",
                                          "--samples", "100", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert report["heldout"] == 10 and report["samples"] == 100 and report["epochs"] == 3
    expected = _metrics_by_hand(load_model(out), encodings=2, decodings=2, samples=100)
    for key, value in expected.items():
        assert abs(report[key] - value) < 1e-12, (key, report[key], value)
    text = CliRunner().invoke(main, ["embed", "evaluate", str(out), "--encodings", "1", "--decodings", "1",
                                     "--samples", "20", "--heldout", "4"])
    assert text.exit_code == 0, text.output
    assert "reconstruction accuracy (4 held out, 1 encodings x 1 decodings)" in text.output
    assert "prior samples (20): validity" in text.output
    assert "prior samples, 10 stochastic decodings each (the papers' protocol): validity" in text.output


def _metrics_by_hand(model, *, encodings: int, decodings: int, samples: int, seed: int = 0) -> dict[str, float]:
    """What `embed evaluate` should report, counted here from the model's encode/decode/sample primitives."""
    import torch

    space = model.space
    heldout, trained = EmbeddingSplit.from_json(model.card["data_source"]).heldout_and_trained(space)
    targets, trained = space.canonical_hashes(heldout), set(trained)

    def hits(decoded, per_graph):
        keys = [None if d is None else space.canonical_hash(d) for d in decoded]
        return sum(k == targets[i // per_graph] for i, k in enumerate(keys)) / len(keys)

    mean, logvar = model.encode_distribution(heldout)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    noise = torch.randn((encodings, *mean.shape), generator=generator)
    z = [mean[g] + noise[e, g] * torch.exp(0.5 * logvar[g]) for g in range(len(heldout)) for e in range(encodings)
         for _ in range(decodings)]
    drawn = model.decode(torch.stack(z), stochastic=True, seed=seed + 1)
    prior = model.sample_prior(samples, seed=seed)
    valid = [space.canonical_hash(a) for a in prior if a is not None]
    # the papers' protocol: the same prior points, each decoded 10 times with sampling
    sampled = model.decode(model.prior_points(samples, seed=seed).repeat_interleave(10, dim=0), stochastic=True,
                           seed=seed + 1)
    sampled_valid = [space.canonical_hash(a) for a in sampled if a is not None]
    return {
        "stochastic_validity": len(sampled_valid) / (10 * samples),
        "stochastic_uniqueness": len(set(sampled_valid)) / len(sampled_valid),
        "stochastic_novelty": sum(k not in trained for k in sampled_valid) / len(sampled_valid),
        "reconstruction_accuracy": hits(drawn, encodings * decodings),
        "greedy_reconstruction": hits(model.decode(model.encode(heldout)), 1),
        "validity": len(valid) / samples,
        "uniqueness": len(set(valid)) / len(valid),
        "novelty": sum(k not in trained for k in valid) / len(valid),
    }


def test_svge_on_enas_and_bad_options(tmp_path, one_thread):
    runner = CliRunner()
    done = runner.invoke(main, ["embed", "train", "--space", "enas", "--model", "svge", "--archs", "20", *TINY,
                                "--epochs", "1", "--out", str(tmp_path / "svge")])
    assert done.exit_code == 0, done.output
    assert load_model(tmp_path / "svge").kind == "svge"
    neither = runner.invoke(main, ["embed", "train", "--out", str(tmp_path / "x")])
    assert neither.exit_code != 0 and "exactly one of --archs N and --all" in neither.output
    enas_all = runner.invoke(main, ["embed", "train", "--space", "enas", "--all", "--out", str(tmp_path / "x")])
    assert enas_all.exit_code != 0 and "reads the NB101 enumeration" in enas_all.output


def test_uniform_cells_from_the_index(tmp_path, nb101_index, one_thread):
    out = tmp_path / "u"
    done = CliRunner().invoke(main, ["embed", "train", "--archs", "40", "--uniform", *TINY, "--epochs", "1",
                                     "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "40 architectures to train on, 10 held out" in done.output
    split = EmbeddingSplit.from_json(load_model(out).card["data_source"])
    assert split == EmbeddingSplit("nb101", archs=40, holdout=10, seed=0, uniform=True)
    train_rows, heldout_rows = split.rows(len(nb101_index))
    assert len(train_rows) == 40 and not set(train_rows) & set(heldout_rows)
    assert json.loads(load_model(out).card["data_source"])["uniform"] is True
    evaluated = CliRunner().invoke(main, ["embed", "evaluate", str(out), "--encodings", "1", "--decodings", "1",
                                          "--samples", "20", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["heldout"] == 10


def test_evaluate_knows_the_split_of_a_model_trained_on_all_cells(tmp_path, nb101_index, one_thread):
    """A model recorded as trained on every NB101 cell: its prior samples are (nearly) never novel."""
    train_rows, heldout_rows = EmbeddingSplit("nb101", archs=None, holdout=5, seed=0).rows(len(nb101_index))
    assert len(train_rows) + len(heldout_rows) == len(nb101_index) and not set(train_rows) & set(heldout_rows)
    from surrogates.embeddings import VSGAE
    from search_spaces.nb101.space import NB101Space

    recipe = {"recipe": "nasframe.embed.train/1", "space": "nb101", "archs": "all", "holdout": 5, "seed": 0}
    save_model(VSGAE(NB101Space(), hidden=8, latent=4), tmp_path / "m", data_source=json.dumps(recipe))
    result = CliRunner().invoke(main, ["embed", "evaluate", str(tmp_path / "m"), "--encodings", "1",
                                       "--decodings", "1", "--samples", "50", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["heldout"] == 5
    if report["validity"] > 0:  # every valid cell but the 5 held out was "trained on"
        assert report["novelty"] <= 5 / (50 * report["validity"])
    assert np.isfinite(report["reconstruction_accuracy"])


def test_svge_with_labels_trains_its_predictor(tmp_path, one_thread):
    from tests.conftest import shared_file

    labels = shared_file("nb101/nb101_1k_with_specs.json")  # skips when ../shared/data is absent
    out = tmp_path / "svge"
    args = ["embed", "train", "--model", "svge", "--archs", "30", *TINY, "--epochs", "1", "--out", str(out),
            "--labels", str(labels), "--labels-format", "nb101-json"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "labels: 1,000 of the training architectures have a validation accuracy" in done.output
    model = load_model(out)
    assert model.card["metrics"]["labelled_architectures"] == 1000
    assert json.loads(model.card["data_source"])["labels_format"] == "nb101-json"
    assert 0.5 < float(model.y_shift) < 1.0  # the predictor is scaled to the accuracies it learnt
    predicted = model.predict(model.space.sample(np.random.default_rng(0), 5))
    assert predicted.shape == (5,) and np.isfinite(predicted).all()
    evaluated = CliRunner().invoke(main, ["embed", "evaluate", str(out), "--encodings", "1", "--decodings", "1",
                                          "--samples", "20", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    base = ["embed", "train", "--archs", "30", *TINY, "--epochs", "1", "--out", str(tmp_path / "x")]
    for extra, message in (
        (["--model", "vsgae", "--labels", str(labels), "--labels-format", "nb101-json"], "only SVGe has a predictor"),
        (["--model", "svge", "--space", "enas", "--labels", str(labels), "--labels-format", "nb101-json"],
         "holds nb101 results, not enas"),
        (["--model", "svge", "--labels", str(labels)], "--labels and --labels-format go together"),
    ):
        refused = CliRunner().invoke(main, [*base, *extra])
        assert refused.exit_code != 0 and message in refused.output, refused.output
