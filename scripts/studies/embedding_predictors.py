"""Performance predictors from graph embeddings next to the tree and GIN surrogates, on one split.

    python scripts/studies/embedding_predictors.py --space nb101 --train 1000 --seeds 3 \\
        --pretrained models/vsgae-nb101 --svge models/svge-nb101 --out runs/predictors-nb101.json
    python scripts/studies/embedding_predictors.py --space enas --pretrained models/vsgae-enas \\
        --out runs/predictors-enas.json

The issue's two settings (docs/EMBEDDINGS.md):

* ``nb101``: ``--train`` architectures drawn (per seed) from the cells of
  ``nb101_by_hash_part_a.json`` (108-epoch validation accuracy, repeats
  averaged); every other cell of the file is the test set. With
  ``--train-from nb101_1k_with_specs.json`` the training cells are that
  file's instead, the test set the cells of ``part_a`` it does not hold, so
  an SVGe trained with those labels (``--svge MODEL --svge-epochs 0``) is
  compared on the same split.
* ``enas``: D-VAE's own split of ``enas6_dvae_weight_sharing.txt`` (the
  first 1,000 lines dropped, 90/10 with ``random.Random(0)``: 17,118 / 1,902
  records, repeated architectures kept as D-VAE keeps them).

Every family is fitted on exactly the same rows: ``xgb`` and ``gin`` (the
surrogates of docs/SURROGATES.md), ``vsgae-mlp`` from scratch, ``vsgae-mlp``
whose encoders start from a trained VS-GAE (``--pretrained``), and, with
``--svge``, a trained SVGe whose joint predictor is fine-tuned with its VAE
on the labelled rows (DESIGN section 6; ``--svge-epochs``). Ensembles have
``--members`` members. Results are written as JSON lines, one per family and
seed, as they finish, so a killed run keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
#: families trained by boosting rounds, not epochs
TREES = ("xgb", "lgb", "rf")


def nb101_labelled(data: Path) -> tuple[Any, list, np.ndarray]:
    """``(space, cells, y)``: the cells of ``nb101_by_hash_part_a.json``, 108-epoch validation accuracy."""
    from benchmarks.loaders.nb101_json import load_nb101_json

    results = load_nb101_json(data / "nb101" / "nb101_by_hash_part_a.json")
    frame = results.at(108)
    return results.space, [results.archs[h] for h in frame["hash"]], frame["val_accuracy"].to_numpy(float)


Split = tuple[Any, list, np.ndarray, list, np.ndarray]  # (space, train archs, train y, test archs, test y)


def nb101_split(labelled: tuple[Any, list, np.ndarray], train: int, seed: int) -> Split:
    """``train`` random cells of :func:`nb101_labelled`'s to train on, the rest for testing."""
    space, archs, y = labelled
    rows = np.random.default_rng(seed).permutation(len(archs))
    fit, test = rows[:train], rows[train:]
    return space, [archs[i] for i in fit], y[fit], [archs[i] for i in test], y[test]


def record(path: Path, row: dict[str, Any]) -> None:
    """Print ``row`` and append it to the JSON-lines file ``path`` (a killed study keeps what it measured)."""
    print(json.dumps(row), flush=True)
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


def nb101_file_split(path: Path, labelled: tuple[Any, list, np.ndarray]) -> Split:
    """Train on the cells of an NB101 JSON file, test on those of :func:`nb101_labelled`'s it does not hold."""
    from benchmarks.loaders.nb101_json import load_nb101_json

    results = load_nb101_json(path)
    frame = results.at()
    space, archs, y = labelled
    known = set(frame["hash"])
    test = [i for i, h in enumerate(space.canonical_hashes(archs)) if h not in known]
    return (space, [results.archs[h] for h in frame["hash"]], frame["val_accuracy"].to_numpy(float),
            [archs[i] for i in test], y[test])


def enas_split(data: Path) -> Split:
    """D-VAE's 90/10 split of the ENAS weight-sharing file."""
    from search_spaces.enas.io import dvae_split, read_dvae_file
    from search_spaces.enas.space import ENASSpace

    records = read_dvae_file(data / "enas" / "enas6_dvae_weight_sharing.txt")
    space = ENASSpace(num_layers=records[0].arch.num_layers)
    train, test = dvae_split(records)
    return (space, [r.arch for r in train], np.array([r.accuracy for r in train]),
            [r.arch for r in test], np.array([r.accuracy for r in test]))


def fine_tuned_svge(path: str, epochs: int, lr: float, batch_size: int, seed: int) -> Callable:
    """A fit function: load the trained SVGe, train VAE + predictor jointly on the labelled rows.

    ``epochs=0`` uses the predictor as saved: an SVGe trained with labels
    already (``nasframe embed train --model svge --labels``), on the same
    labelled rows (``--train-from``).
    """
    from surrogates.embeddings import load_model, train

    def fit_predict(archs: list, y: np.ndarray, test: list) -> np.ndarray:
        model = load_model(path)
        if epochs > 0:
            train(model, archs, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
        return model.predict(test)

    return fit_predict


def family(name: str, space: Any, members: int, seed: int, **params: Any) -> Callable:
    """A fit function for a surrogate family: fit on the rows, predict the ensemble mean."""
    from surrogates import make_surrogate

    def fit_predict(archs: list, y: np.ndarray, test: list) -> np.ndarray:
        model = make_surrogate(name, space, members=members, seed=seed, **params).fit(archs, y)
        return model.predict(test)[0]

    return fit_predict


def main() -> None:
    from surrogates.metrics import regression_report

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--space", choices=["nb101", "enas"], required=True)
    parser.add_argument("--train", type=int, default=1000, help="nb101: labelled training cells per seed.")
    parser.add_argument("--train-from", type=Path,
                        help="nb101: train on this NB101 JSON file instead (every seed), test on the rest of part_a.")
    parser.add_argument("--seeds", type=int, default=1, help="Splits (nb101) / model seeds (enas).")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="Training epochs of the GNN families (default: theirs).")
    parser.add_argument("--families", default="xgb,gin,vsgae-mlp", help="Comma-separated surrogate families.")
    parser.add_argument("--pretrained", help="A saved VS-GAE of the space: adds vsgae-mlp started from it.")
    parser.add_argument("--svge", help="A saved SVGe of the space: adds its fine-tuned joint predictor.")
    parser.add_argument("--svge-epochs", type=int, default=20, help="0: the SVGe's predictor as saved.")
    parser.add_argument("--svge-lr", type=float, default=1e-4)
    parser.add_argument("--data", type=Path, default=SHARED, help="The shared data folder.")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, appended.")
    args = parser.parse_args()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    # the files are read once; only the random split depends on the seed
    if args.space == "enas":
        fixed = enas_split(args.data)
    elif args.train_from:
        fixed = nb101_file_split(args.train_from, nb101_labelled(args.data))
    else:
        fixed, labelled = None, nb101_labelled(args.data)
    for seed in range(args.seeds):
        split = fixed if fixed is not None else nb101_split(labelled, args.train, seed)
        space, archs, y, test, y_test = split
        epochs = {} if args.epochs is None else {"epochs": args.epochs}
        contenders = {name: family(name, space, args.members, seed, **({} if name in TREES else epochs))
                      for name in args.families.split(",")}
        if args.pretrained:
            contenders["vsgae-mlp (pretrained VS-GAE)"] = family(
                "vsgae-mlp", space, args.members, seed, pretrained=args.pretrained, hidden=250, readout=250, **epochs
            )
        if args.svge:
            label = "svge (joint predictor" + (", fine-tuned)" if args.svge_epochs else ", as trained)")
            contenders[label] = fine_tuned_svge(
                args.svge, args.svge_epochs, args.svge_lr, 32, seed
            )
        for name, fit_predict in contenders.items():
            started = time.perf_counter()
            predicted = fit_predict(archs, y, test)
            report = regression_report(y_test, predicted)
            row = {"space": args.space, "model": name, "seed": seed, "train": len(archs), "test": len(test),
                   "rmse": float(np.sqrt(report["mse"])), **report,
                   "seconds": round(time.perf_counter() - started, 1)}
            record(args.out, row)


if __name__ == "__main__":
    main()
