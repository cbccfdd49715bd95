"""Accel-NASBench's MnasNet space and the NB301-style result-JSON loader."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.loaders.nb301 import (
    ParsedResult,
    ResultFormatError,
    detect_layout,
    load_result_jsons,
    read_members,
)
from nasframe.core import InvalidArchitecture
from search_spaces.darts import DARTSSpace, to_nb301_config
from search_spaces.mnas import (
    EFFICIENTNET_B0,
    MnasArch,
    MnasSpace,
    count_parameters,
    from_accel_config,
    to_accel_config,
)
from tests.conftest import shared_file

SPACE = MnasSpace()
ACCEL = "nb301_format/accel_nasbench_jsons.tar.gz"
seeds = st.integers(0, 2**32 - 1)



# -- the space -----------------------------------------------------------------


def test_size_counts_every_choice():
    assert SPACE.size() == 36**6 * 48 == 104_485_552_128


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_sample_mutate_neighbors_and_json(seed):
    rng = np.random.default_rng(seed)
    arch = SPACE.sample(rng, 1)[0]
    assert SPACE.validate(arch) is arch
    assert SPACE.from_json(json.loads(json.dumps(arch.to_json()))) == arch
    assert from_accel_config(to_accel_config(arch)) == arch
    assert SPACE.validate(to_accel_config(arch)) == arch
    assert SPACE.validate([list(b) for b in arch.blocks]) == arch
    neighbors = SPACE.neighbors(arch)
    assert len(neighbors) == len({n.canonical_key() for n in neighbors}) == 43
    ordinal = SPACE.encode([arch, *neighbors], "ordinal")
    assert np.all((ordinal[1:] != ordinal[0]).sum(axis=1) == 1)
    child = SPACE.mutate(arch, rng)
    assert child != arch and child in neighbors
    assert SPACE.sample(np.random.default_rng(seed), 4) == SPACE.sample(np.random.default_rng(seed), 4)


def test_sampling_is_uniform_per_choice():
    archs = SPACE.sample(np.random.default_rng(0), 6000)
    ordinal = SPACE.encode(archs, "ordinal").reshape(-1, 7, 4)
    for e in (1, 4, 6):
        assert abs((ordinal[:, :, 0] == e).mean() - 1 / 3) < 0.02
    assert abs((ordinal[:, 5, 2] == 4).mean() - 1 / 4) < 0.03
    assert (ordinal[:, [0, 1, 2, 3, 4, 6], 2] <= 3).all()
    assert abs(ordinal[:, :, 3].mean() - 0.5) < 0.02


@pytest.mark.parametrize(
    ("blocks", "rule"),
    [
        ([(6, 3, 1, False)] * 6, "7 blocks"),
        ([(2, 3, 1, False)] * 7, "expansion ratio"),
        ([(6, 7, 1, False)] * 7, "kernel size"),
        ([(6, 3, 4, False)] * 7, "block 0 has 1..3 layers"),
        ([(6, 3, 0, False)] * 7, "block 0 has 1..3 layers"),
        ([(6, 3, 1, 1)] * 7, "boolean"),
        ([(6, 3, 1)] * 7, r"\(expansion, kernel, layers, se\)"),
        ([{"e": 6, "k": 3, "l": 1}] * 7, "keys e, k, l, se"),
    ],
)
def test_invalid_architectures_name_the_rule(blocks, rule):
    with pytest.raises(InvalidArchitecture, match=rule):
        MnasArch(tuple(blocks))


def test_block_five_allows_four_layers_and_config_errors():
    blocks = [(6, 3, 1, False)] * 7
    blocks[5] = (6, 3, 4, True)
    assert MnasArch(tuple(blocks)).num_layers == 10
    config = to_accel_config(EFFICIENTNET_B0)
    assert config["block5_l"] == 4
    assert from_accel_config({**config, "block3_se": "True"}) == EFFICIENTNET_B0
    with pytest.raises(InvalidArchitecture, match="missing Accel-NASBench configuration key.*block2_k"):
        from_accel_config({k: v for k, v in config.items() if k != "block2_k"})
    with pytest.raises(InvalidArchitecture, match="unknown Accel-NASBench configuration key"):
        from_accel_config({**config, "block7_e": 1})
    with pytest.raises(InvalidArchitecture, match="another space"):
        SPACE.from_json({"space": "darts", "blocks": []})


def test_encodings_and_graph():
    archs = SPACE.sample(np.random.default_rng(5), 30)
    onehot = SPACE.encode(archs)
    assert onehot.shape == (30, 71) and onehot.dtype == np.float32
    assert np.all(onehot.sum(axis=1) == 28)
    assert SPACE.encode([EFFICIENTNET_B0], "ordinal")[0, :8].tolist() == [1, 3, 1, 1, 6, 3, 2, 1]
    batch = SPACE.to_graph(archs)
    assert batch.num_graphs == 30 and batch.x.shape[1] == len(SPACE.node_types) == 14
    assert batch.x.shape[0] == sum(a.num_layers + 2 for a in archs)
    dag = SPACE.dag(EFFICIENTNET_B0)
    assert len(dag.node_types) == 16 + 2 and dag.node_types[0] == 0 and dag.node_types[-1] == 13
    assert SPACE.node_types[dag.node_types[1]] == "mbconv1_k3_se"


def test_model_forward_and_parameter_count(one_thread):
    torch = one_thread
    model = SPACE.build_model(EFFICIENTNET_B0)
    assert isinstance(model, torch.nn.Module)
    # torchvision's efficientnet_b0 has 5,288,548 parameters: same skeleton, same choices
    assert sum(p.numel() for p in model.parameters()) == count_parameters(EFFICIENTNET_B0) == 5_288_548
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)
    arch = SPACE.sample(np.random.default_rng(1), 1)[0]
    small = SPACE.build_model(arch, num_classes=10, activation="relu")
    assert sum(p.numel() for p in small.parameters()) == count_parameters(arch, num_classes=10)
    small.train()
    out = small(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10)
    out.sum().backward()
    with pytest.raises(ValueError, match="activation"):
        SPACE.build_model(arch, activation="gelu")


# -- Accel-NASBench real data -------------------------------------------------------


def test_accel_nasbench_tarball_loads():
    path = shared_file(ACCEL)
    results = load_result_jsons(path)
    table = results.table
    assert isinstance(results.space, MnasSpace) and results.notes["layout"] == "accel"
    assert len(table) == 5_138 and len(results) == 5_125
    assert (table["repeat"] > 0).sum() == 13 and table["repeat"].max() == 1
    assert table["file"].iloc[:3].tolist() == [f"anb_dataset_jsons/result_{i}.json" for i in range(3)]
    assert table["val_accuracy"].between(0.42, 0.68).all()
    assert (table["val_top5"] > table["val_accuracy"]).all()
    assert table["test_accuracy"].isna().all() and (table["epochs"] == -1).all()
    assert table["train_time"].between(1_000, 32_000).all()
    expected = [count_parameters(results.archs[h]) for h in table["hash"]]
    assert table["params"].astype(int).tolist() == expected  # model_info.params x 1e6, all 5,138
    assert table["macs"].between(8e7, 8e8).all()
    assert {"throughput_a100", "throughput_tpuv3", "latency_zcu102"} <= set(table.columns)
    assert (table["throughput_a100"] > 0).all()
    # block 5 with four layers is in the data
    assert any(a.blocks[5].layers == 4 for a in results.archs.values())
    first = json.loads(dict(read_members(path, "result_0.json"))["anb_dataset_jsons/result_0.json"])
    row = table.iloc[0]
    assert row["hash"] == from_accel_config(first["architecture"]).canonical_key()
    assert row["val_accuracy"] == pytest.approx(first["metrics"]["val_top1"] / 100)
    archs, accuracy = results.arrays()
    assert len(archs) == len(accuracy) == 5_125


# -- NB301 layout, synthetic --------------------------------------------------------

_TRAINING = {
    "ImageAugmentation:augment": "True",
    "ImageAugmentation:cutout": "True",
    "NetworkSelectorDatasetInfo:network": "darts",
    "NetworkSelectorDatasetInfo:darts:init_channels": 32,
    "NetworkSelectorDatasetInfo:darts:layers": 8,
    "NetworkSelectorDatasetInfo:darts:auxiliary": "True",
    "OptimizerSelector:sgd:learning_rate": 0.025,
    "SimpleLearningrateSchedulerSelector:cosine_annealing:T_max": 100,
}


def _nb301_record(genotype, val: float, test: float, budget: int = 100) -> dict:
    return {
        "final_metric_score": -val,
        "optimized_hyperparamater_config": {**_TRAINING, **to_nb301_config(genotype)},
        "budget": budget,
        "info": [
            {
                "train_accuracy": 88.5,
                "val_accuracy": val,
                "epochs": budget,
                "model_parameters": 1_234_567,
            }
        ],
        "test_accuracy": test,
        "runtime": 3600.5,
    }


@pytest.fixture
def nb301_dir(tmp_path: Path):
    genotypes = DARTSSpace().sample(np.random.default_rng(0), 4)
    records = {f"run_0/results_{i}.json": _nb301_record(g, 90.0 + i, 89.0 + i) for i, g in enumerate(genotypes)}
    # the same architecture again, trained once more (a repeat), and at another budget
    records["run_1/results_10.json"] = _nb301_record(genotypes[1], 93.5, 93.0)
    records["run_1/results_2.json"] = _nb301_record(genotypes[2], 80.0, 79.0, budget=50)
    for name, record in records.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(record))
    (tmp_path / "run_0" / "._results_0.json").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (tmp_path / "notes.txt").write_text("not a result")
    return tmp_path, genotypes


def _tar(directory: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(target, "w:gz") as archive:
        for file in sorted(directory.rglob("*")):
            if file.is_file():
                archive.add(file, arcname=f"./{file.relative_to(directory).as_posix()}")
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return target


def test_nb301_directory_loads_into_the_darts_space(nb301_dir):
    root, genotypes = nb301_dir
    results = load_result_jsons(root)
    table = results.table
    assert isinstance(results.space, DARTSSpace) and results.notes["layout"] == "nb301"
    assert table["file"].tolist() == [
        "run_0/results_0.json", "run_0/results_1.json", "run_0/results_2.json", "run_0/results_3.json",
        "run_1/results_2.json", "run_1/results_10.json",
    ]
    assert table["hash"].tolist() == [genotypes[i].canonical_key() for i in (0, 1, 2, 3, 2, 1)]
    assert table["repeat"].tolist() == [0, 0, 0, 0, 0, 1]
    assert table["epochs"].tolist() == [100, 100, 100, 100, 50, 100]
    assert table["val_accuracy"].tolist() == pytest.approx([0.90, 0.91, 0.92, 0.93, 0.80, 0.935])
    assert table["test_accuracy"].iloc[0] == pytest.approx(0.89)
    assert (table["train_time"] == 3600.5).all() and (table["params"] == 1_234_567).all()
    assert table["train_accuracy"].iloc[0] == pytest.approx(0.885)
    assert len(results) == 4 and results.fidelities == [50, 100]
    means = results.at(100).set_index("hash")["val_accuracy"]
    assert means[genotypes[1].canonical_key()] == pytest.approx(0.9225)
    assert load_result_jsons(root, layout="nb301").table.equals(table)


def test_tar_archive_matches_the_directory(nb301_dir, tmp_path_factory):
    root, _ = nb301_dir
    archive = _tar(root, tmp_path_factory.mktemp("tar") / "results.tar.gz")
    from_tar = load_result_jsons(archive)
    assert from_tar.table.equals(load_result_jsons(root).table)
    assert from_tar.source == str(archive)


def test_corrupt_member_is_named(nb301_dir, tmp_path_factory):
    root, _ = nb301_dir
    broken = {"run_2/results_7.json": b'{"info": [{"val_'}
    archive = _tar(root, tmp_path_factory.mktemp("bad") / "bad.tar.gz", broken)
    with pytest.raises(ResultFormatError, match=r"bad\.tar\.gz: member run_2/results_7\.json: malformed JSON"):
        load_result_jsons(archive)


def test_truncated_archive_is_reported(nb301_dir, tmp_path_factory):
    root, _ = nb301_dir
    archive = _tar(root, tmp_path_factory.mktemp("cut") / "cut.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(ResultFormatError, match=r"cut\.tar\.gz: truncated or corrupt archive"):
        load_result_jsons(archive)
    not_tar = archive.with_name("plain.json")
    not_tar.write_text("{}")
    with pytest.raises(ResultFormatError, match="neither a directory nor a readable tar archive"):
        load_result_jsons(not_tar)
    with pytest.raises(FileNotFoundError):
        load_result_jsons(archive.with_name("missing"))


def test_bad_records_name_member_and_field(tmp_path):
    record = _nb301_record(DARTSSpace().sample(np.random.default_rng(1), 1)[0], 91.0, 90.0)
    del record["info"][0]["val_accuracy"]
    (tmp_path / "results_0.json").write_text(json.dumps(record))
    with pytest.raises(ResultFormatError, match=r"member results_0\.json: missing field 'val_accuracy'"):
        load_result_jsons(tmp_path)
    record["info"][0]["val_accuracy"] = 0.91 * 1000
    (tmp_path / "results_0.json").write_text(json.dumps(record))
    with pytest.raises(ResultFormatError, match="not a percentage"):
        load_result_jsons(tmp_path)
    record["info"][0]["val_accuracy"] = 91.0
    record["optimized_hyperparamater_config"]["NetworkSelectorDatasetInfo:darts:edge_normal_0"] = "conv_9x9"
    (tmp_path / "results_0.json").write_text(json.dumps(record))
    invalid = r"results_0\.json: invalid darts architecture: unknown operation"
    with pytest.raises(ResultFormatError, match=invalid):
        load_result_jsons(tmp_path)
    (tmp_path / "results_0.json").write_text(json.dumps({"accuracy": 0.9}))
    with pytest.raises(ResultFormatError, match="unknown result layout"):
        load_result_jsons(tmp_path)
    with pytest.raises(ValueError, match="unknown layout"):
        load_result_jsons(tmp_path, layout="nb201")


def test_mixed_layouts_are_refused(tmp_path):
    genotype = DARTSSpace().sample(np.random.default_rng(2), 1)[0]
    (tmp_path / "a.json").write_text(json.dumps(_nb301_record(genotype, 90.0, 89.0)))
    accel = {
        "architecture": to_accel_config(EFFICIENTNET_B0),
        "metrics": {"val_top1": 60.0, "val_top5": 80.0, "train_time": 100.0},
        "model_info": {"macs": 400.0, "params": 5.288548},
    }
    (tmp_path / "b.json").write_text(json.dumps(accel))
    assert detect_layout(accel) == "accel"
    with pytest.raises(ResultFormatError, match=r"member b\.json: layout accel differs from the nb301 layout"):
        load_result_jsons(tmp_path)
    (tmp_path / "a.json").unlink()
    results = load_result_jsons(tmp_path)
    assert results.table["params"].iloc[0] == count_parameters(EFFICIENTNET_B0)
    accel["architecture"]["block0_e"] = 2
    (tmp_path / "b.json").write_text(json.dumps(accel))
    with pytest.raises(ResultFormatError, match=r"b\.json: invalid mnas architecture: expansion ratio"):
        load_result_jsons(tmp_path)


def test_custom_parser(tmp_path):
    for i in range(3):
        record = {"cfg": to_accel_config(EFFICIENTNET_B0), "acc": 0.5 + i / 10}
        (tmp_path / f"r{i}.json").write_text(json.dumps(record))

    def parse(record):
        return ParsedResult(arch=record["cfg"], val_accuracy=record["acc"], epochs=7)

    results = load_result_jsons(tmp_path, SPACE, parse=parse)
    assert results.table["repeat"].tolist() == [0, 1, 2] and len(results) == 1
    assert results.fidelities == [7]
    with pytest.raises(ValueError, match="space="):
        load_result_jsons(tmp_path, parse=parse)
