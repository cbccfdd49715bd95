"""The D-VAE ENAS loader and the NASLib DARTS loader as result sets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.loaders.dvae import load_dvae
from benchmarks.loaders.naslib import NASLibFormatError, load_naslib_darts
from search_spaces.enas.io import DVAEFormatError
from tests.conftest import shared_file


@pytest.mark.shared_data
def test_dvae_file_after_burn_in():
    path = shared_file("enas/enas6_dvae_weight_sharing.txt")
    results = load_dvae(path)
    assert len(results.table) == 19_020 and results.fidelities == [-1]
    assert results.space.num_layers == 6 and results.notes["burn_in"] == 1000
    duplicated = results.table[results.table["repeat"] > 0]
    assert len(results) == 19_020 - len(duplicated)
    assert results.table["val_accuracy"].between(0, 1).all()
    assert len(load_dvae(path, burn_in=0).table) == 20_020


def test_dvae_errors_name_file_and_line(tmp_path):
    good = "[[0], [1, 1], [2, 0, 1]], 0.71\n"
    path = tmp_path / "f.txt"
    path.write_text(good * 3 + "[[0], [1, 1]], oops\n")
    with pytest.raises(DVAEFormatError, match=r"f.txt, line 4"):
        load_dvae(path, burn_in=0)
    path.write_text(good + "[[0], [1, 1], [2, 0, 1]], 1.71\n")
    with pytest.raises(ValueError, match=r"line 2: accuracy 1.71 is not a fraction"):
        load_dvae(path, burn_in=0)
    with pytest.raises(ValueError, match="burn_in must be in"):
        load_dvae(path, burn_in=5)


@pytest.mark.shared_data
def test_naslib_darts_file():
    results = load_naslib_darts(shared_file("darts/naslib_zc_nasbench301.json"))
    assert len(results) == 725 and len(results.table) == 725
    assert results.table["val_accuracy"].between(0.85, 0.96).all()
    assert (results.table["params"] > 1e5).all() and results.table["train_time"].isna().all()
    assert "surrogate predictions" in results.notes["labels"]


def test_naslib_errors_name_the_record(tmp_path):
    key = "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], [(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]"
    record = {"val_accuracy": 93.3, "params": {"score": 0.9, "time": 0.1}}
    path = tmp_path / "zc.json"
    path.write_text(json.dumps({"cifar10": {key: record}}))
    assert np.isclose(load_naslib_darts(path).table["val_accuracy"][0], 0.933)
    with pytest.raises(NASLibFormatError, match="no dataset 'cifar100'"):
        load_naslib_darts(path, dataset="cifar100")
    path.write_text(json.dumps({"cifar10": {key: {"params": {"score": 1}}}}))
    with pytest.raises(NASLibFormatError, match=r"record 0 .*missing or bad field 'val_accuracy'"):
        load_naslib_darts(path)
    path.write_text(json.dumps({"cifar10": {key.replace("(3, 6)", "(3, 9)"): record}}))
    with pytest.raises(NASLibFormatError, match="record 0"):
        load_naslib_darts(path)
    path.write_text('{"cifar10": {')
    with pytest.raises(NASLibFormatError, match="not a readable JSON file"):
        load_naslib_darts(path)
