"""NAS-Bench-101 loaders: TFRecord framing, the official record layout, JSON tables.

The TFRecord tests write their own files (from 20 real cells of the data kit
when it is present, and always from 20 synthetic ones), so they never need
the data. The JSON tests read the real tables and skip when they are absent.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.base import METRICS, ResultSet
from benchmarks.loaders import (
    NB101_EPOCHS,
    NB101FormatError,
    TFRecordError,
    load_nb101_json,
    load_nb101_tfrecord,
    masked_crc32c,
    read_records,
    write_nb101_tfrecord,
    write_records,
)
from benchmarks.loaders.tfrecord import crc32c, encode_record
from search_spaces.nb101 import NB101Cell
from search_spaces.nb101.enumeration import NB101Index, build_index
from search_spaces.nb101.fast_hash import batch_hash
from search_spaces.nb101.space import NB101Space
from tests.conftest import shared_file

SPECS_FILE = "nb101/nb101_1k_with_specs.json"
PART_A_FILE = "nb101/nb101_by_hash_part_a.json"


# -- an independent CRC-32C and protobuf wire reader, to check the modules against ---------


def _crc32c_bitwise(data: bytes) -> int:
    """CRC-32C the slow textbook way: reflected polynomial 0x82F63B78."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _wire_fields(data: bytes) -> list[tuple[int, int, object]]:
    """``(field number, wire type, value)`` of a protobuf message, read by hand."""
    fields, pos = [], 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            (value,) = struct.unpack_from("<d", data, pos)
            pos += 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.append((number, wire, value))
    return fields


def _tag(number: int, wire: int) -> bytes:
    return bytes([number << 3 | wire])


def _double(number: int, value: float) -> bytes:
    return _tag(number, 1) + struct.pack("<d", value)


def _hand_encoded_metrics(evaluations: list[dict[int, float]], params: int, total_time: float) -> bytes:
    """ModelMetrics bytes as model_metrics.proto defines them: evaluations are
    {field number: double}; params is an int32 varint (field 2)."""
    out = b""
    for evaluation in evaluations:
        body = b"".join(_double(n, v) for n, v in sorted(evaluation.items()))
        out += _tag(1, 2) + bytes([len(body)]) + body
    varint = b""
    while True:
        low, params = params & 0x7F, params >> 7
        varint += bytes([low | (0x80 if params else 0)])
        if not params:
            break
    return out + _tag(2, 0) + varint + _double(3, total_time)


# -- TFRecord framing ------------------------------------------------------------------------


def test_crc32c_matches_the_textbook_algorithm():
    assert crc32c(b"123456789") == _crc32c_bitwise(b"123456789") == 0xE3069283
    rng = np.random.default_rng(0)
    for size in (0, 1, 8, 100, 1000):
        blob = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        assert masked_crc32c(blob) == _mask(_crc32c_bitwise(blob))


def _framed(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _mask(_crc32c_bitwise(length))) + data + struct.pack(
        "<I", _mask(_crc32c_bitwise(data))
    )


RECORDS = [b"", b"x", bytes(range(256)) * 3, json.dumps(["a", 1]).encode()]


def test_round_trip_and_exact_layout(tmp_path):
    path = tmp_path / "r.tfrecord"
    assert write_records(path, iter(RECORDS)) == len(RECORDS)
    assert path.read_bytes() == b"".join(_framed(r) for r in RECORDS)
    assert list(read_records(path)) == RECORDS
    assert list(read_records(path, verify=False)) == RECORDS
    assert encode_record(b"abc") == _framed(b"abc")
    assert write_records(path, []) == 0
    assert path.read_bytes() == b"" and list(read_records(path)) == []


def _offsets(records: list[bytes]) -> list[int]:
    return np.cumsum([0] + [len(r) + 16 for r in records]).tolist()


@pytest.mark.parametrize(
    "region, where, problem",
    [
        ("length", 0, "length checksum"),
        ("length", 7, "length checksum"),
        ("length crc", 9, "length checksum"),
        ("data", 12 + 5, "data checksum"),
        ("data crc", -2, "data checksum"),
    ],
)
def test_corruption_names_the_record(tmp_path, region, where, problem):
    records = [bytes([i]) * (20 + i) for i in range(6)]
    path = tmp_path / "r.tfrecord"
    write_records(path, records)
    offsets = _offsets(records)
    bad = 3
    raw = bytearray(path.read_bytes())
    position = offsets[bad] + where if where >= 0 else offsets[bad + 1] + where
    raw[position] ^= 0x10
    path.write_bytes(bytes(raw))
    seen = []
    with pytest.raises(TFRecordError, match=problem) as info:
        for record in read_records(path):
            seen.append(record)
    error = info.value
    assert seen == records[:bad]  # everything before the bad record was delivered
    assert (error.record, error.offset, error.path) == (bad, offsets[bad], str(path))
    assert f"record {bad} at byte offset {offsets[bad]}" in str(error) and str(path) in str(error)
    if region == "data":
        unchecked = list(read_records(path, verify=False))  # no checksums: the flip goes through
        assert unchecked[bad] != records[bad] and unchecked[:bad] == records[:bad]


def test_unverified_read_still_catches_a_length_that_overruns_the_file(tmp_path):
    records = [b"a" * 10] * 4
    path = tmp_path / "r.tfrecord"
    write_records(path, records)
    raw = bytearray(path.read_bytes())
    raw[_offsets(records)[2] + 6] = 0x7F  # a length of ~2**54 bytes
    path.write_bytes(bytes(raw))
    with pytest.raises(TFRecordError, match=r"record 2 .*truncated record"):
        list(read_records(path, verify=False))


@pytest.mark.parametrize("cut", [5, 12 + 3, 12 + 30, 12 + 30 + 2])
def test_truncated_file(tmp_path, cut):
    records = [b"r" * 30] * 5
    path = tmp_path / "r.tfrecord"
    write_records(path, records)
    start = _offsets(records)[4]
    path.write_bytes(path.read_bytes()[: start + cut])
    with pytest.raises(TFRecordError, match=rf"record 4 at byte offset {start}: truncated"):
        list(read_records(path))


def test_write_is_atomic(tmp_path):
    path = tmp_path / "r.tfrecord"
    write_records(path, [b"old"])

    def failing():
        yield b"new"
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        write_records(path, failing())
    with pytest.raises(TypeError, match="record 1 is str"):
        write_records(path, [b"ok", "not bytes"])
    assert list(read_records(path)) == [b"old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.tfrecord"]  # no temporary left


# -- the official NAS-Bench-101 TFRecord layout -----------------------------------------------


def _real_archs() -> list[dict]:
    data = json.loads(shared_file(SPECS_FILE).read_text())
    rows = range(0, 1000, 50)  # 20 records spread over the file
    return [
        {
            "cell": NB101Cell.from_codes(data["adjacency"][i], data["operations"][i]),
            "key": data["key"][i],
            "val": {e: data[f"{e}_final_validation_accuracy"][i] for e in NB101_EPOCHS},
            "time": data["final_training_time"][i],
            "params": data["trainable_parameters"][i],
        }
        for i in rows
    ]


def _synthetic_archs() -> list[dict]:
    rng = np.random.default_rng(7)
    cells = list({c.canonical_key(): c for c in NB101Space().sample(rng, 60)}.values())[:20]
    assert len(cells) == 20
    return [
        {
            "cell": cell,
            "key": cell.canonical_key(),
            "val": dict(zip(NB101_EPOCHS, np.sort(rng.uniform(0.1, 0.94, size=4)).tolist())),
            "time": float(rng.uniform(500, 5000)),
            "params": int(rng.integers(200_000, 50_000_000)),
        }
        for cell in cells
    ]


def _runs(archs: list[dict]) -> tuple[list[dict], pd.DataFrame]:
    """3 repeats of every arch at every budget, as writer rows and as the expected table.

    Rows go budget by budget, repeat by repeat, arch by arch, so the runs of
    one (hash, epochs) pair are not adjacent in the file. Each run has the
    official three evaluations; the halfway one differs from the final one,
    so reading the wrong entry shows.
    """
    rows, expected = [], []
    for epochs in NB101_EPOCHS:
        for repeat in range(3):
            for arch in archs:
                val = min(1.0, arch["val"][epochs] + 0.003 * (repeat - 1) + 0.004)
                test = val - 0.01 * (repeat + 1)
                time = arch["time"] * epochs / 108 + repeat
                evaluations = [
                    {"current_epoch": 0.0, "training_time": 0.0, "train_accuracy": 0.1,
                     "validation_accuracy": 0.1, "test_accuracy": 0.1},
                    {"current_epoch": epochs / 2, "training_time": time / 2, "train_accuracy": val / 2,
                     "validation_accuracy": val / 2, "test_accuracy": test / 2},
                    {"current_epoch": float(epochs), "training_time": time, "train_accuracy": 0.99,
                     "validation_accuracy": val, "test_accuracy": test,
                     "checkpoint_path": f"/models/{arch['key']}/repeat_{repeat}/model.ckpt-{epochs}"},
                ]
                rows.append({"cell": arch["cell"], "epochs": epochs, "evaluations": evaluations,
                             "params": arch["params"], "total_time": time * 1.1})
                expected.append({"hash": arch["key"], "epochs": epochs, "repeat": repeat,
                                 "val_accuracy": val, "test_accuracy": test, "train_time": time,
                                 "params": float(arch["params"])})
    return rows, pd.DataFrame(expected)


@pytest.fixture(params=["synthetic", "real"])
def archs(request) -> list[dict]:
    return _synthetic_archs() if request.param == "synthetic" else _real_archs()


@pytest.fixture
def written(archs, tmp_path) -> tuple[Path, list[dict], pd.DataFrame]:
    rows, expected = _runs(archs)
    path = tmp_path / "nasbench_full.tfrecord"
    assert write_nb101_tfrecord(path, rows) == len(rows) == 240
    return path, rows, expected


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    keys = ["hash", "epochs", "repeat"]
    frame = table[[*keys, *METRICS]].sort_values(keys).reset_index(drop=True)
    frame["hash"] = frame["hash"].astype(object)
    return frame


def test_official_layout_round_trip(archs, written):
    path, _, expected = written
    result = load_nb101_tfrecord(path)
    assert isinstance(result, ResultSet) and len(result) == 20
    assert result.fidelities == list(NB101_EPOCHS) and result.notes["records"] == 240
    assert sorted(result.table["repeat"].unique()) == [0, 1, 2]
    pd.testing.assert_frame_equal(_sorted(result.table), _sorted(expected))  # doubles round-trip exactly
    for arch in archs:
        assert result.archs[arch["key"]] == arch["cell"]
    mean = result.at(108).set_index("hash")
    arch = archs[0]
    assert mean.loc[arch["key"], "val_accuracy"] == pytest.approx(min(1.0, arch["val"][108] + 0.004))


def test_records_have_the_official_fields_and_wire_format(archs, written):
    path, rows, _ = written
    payloads = [json.loads(r) for r in read_records(path)]
    first = payloads[0]
    assert len(first) == 5
    module_hash, epochs, raw_adjacency, raw_operations, raw_metrics = first
    cell = rows[0]["cell"]
    assert module_hash == archs[0]["key"] and epochs == 4
    assert raw_adjacency == "".join(str(x) for r in cell.matrix for x in r)
    assert raw_operations.split(",") == list(cell.ops) and raw_operations.startswith("input,")
    fields = _wire_fields(base64.b64decode(raw_metrics))
    assert [(n, w) for n, w, _ in fields] == [(1, 2), (1, 2), (1, 2), (2, 0), (3, 1)]
    assert fields[3][2] == archs[0]["params"]  # int32 varint, as model_metrics.proto says
    final = {n: v for n, _, v in _wire_fields(fields[2][2])}
    assert final[1] == 4.0 and final[4] == rows[0]["evaluations"][-1]["validation_accuracy"]
    assert final[6].decode().endswith("model.ckpt-4")


def test_reads_metrics_encoded_by_hand(tmp_path):
    cell = NB101Space().sample(np.random.default_rng(3), 1)[0]
    metrics = _hand_encoded_metrics(
        [{1: 0.0, 2: 0.0, 4: 0.1, 5: 0.1}, {1: 54.0, 2: 900.0, 4: 0.8, 5: 0.79},
         {1: 108.0, 2: 1800.5, 3: 1.0, 4: 0.93, 5: 0.925}],
        params=8_555_530, total_time=1900.0,
    )
    raw_adjacency = "".join(str(x) for r in cell.matrix for x in r)
    payload = [cell.canonical_key(), 108, raw_adjacency, ",".join(cell.ops), base64.b64encode(metrics).decode()]
    path = tmp_path / "one.tfrecord"
    write_records(path, [json.dumps(payload).encode()])
    row = load_nb101_tfrecord(path).table.iloc[0]
    assert (row["epochs"], row["repeat"]) == (108, 0)
    assert (row["val_accuracy"], row["test_accuracy"]) == (0.93, 0.925)
    assert (row["train_time"], row["params"]) == (1800.5, 8_555_530)


def test_unset_optional_fields_read_as_nan(tmp_path):
    cell = NB101Space().sample(np.random.default_rng(4), 1)[0]
    path = tmp_path / "f.tfrecord"
    write_nb101_tfrecord(path, [{"cell": cell, "epochs": 12, "val_accuracy": 0.5},
                                {"cell": cell, "epochs": 12, "val_accuracy": 0.6, "test_accuracy": np.nan,
                                 "train_time": 30.0, "params": 1000}])
    table = load_nb101_tfrecord(path).table
    assert table["repeat"].tolist() == [0, 1] and table["val_accuracy"].tolist() == [0.5, 0.6]
    assert table["test_accuracy"].isna().all()
    assert np.isnan(table["train_time"][0]) and table["train_time"][1] == 30.0
    assert np.isnan(table["params"][0]) and table["params"][1] == 1000


def test_wrong_hash_is_refused_unless_trusted(written, tmp_path):
    _, rows, _ = written
    bad = 37
    wrong = "0123456789abcdef0123456789abcdef"
    rows = [dict(r, hash=wrong) if i == bad else r for i, r in enumerate(rows)]
    path = tmp_path / "wrong.tfrecord"
    write_nb101_tfrecord(path, rows)
    with pytest.raises(NB101FormatError, match=rf"{re.escape(str(path))}: record {bad}: stored hash {wrong} but its spec hashes to"):
        load_nb101_tfrecord(path)
    trusted = load_nb101_tfrecord(path, verify_hash=False)
    assert wrong in trusted.archs and len(trusted) == 21


def test_corrupt_and_truncated_nb101_files(written):
    path, rows, _ = written
    raw = path.read_bytes()
    offsets = [0]
    for record in read_records(path):
        offsets.append(offsets[-1] + len(record) + 16)
    corrupt = bytearray(raw)
    corrupt[offsets[7] + 12 + 40] ^= 0x01
    path.write_bytes(bytes(corrupt))
    with pytest.raises(TFRecordError, match=rf"{re.escape(str(path))}: record 7 at byte offset {offsets[7]}: data checksum"):
        load_nb101_tfrecord(path)
    path.write_bytes(raw[: offsets[200] + 100])
    with pytest.raises(TFRecordError, match=r"record 200 .*truncated"):
        load_nb101_tfrecord(path)


def _good_payload(cell: NB101Cell) -> list:
    metrics = _hand_encoded_metrics([{1: 108.0, 2: 1000.0, 4: 0.9, 5: 0.89}], 1000, 1100.0)
    raw_adjacency = "".join(str(x) for r in cell.matrix for x in r)
    return [cell.canonical_key(), 108, raw_adjacency, ",".join(cell.ops), base64.b64encode(metrics).decode()]


def _with(payload: list, index: int, value) -> bytes:
    payload = list(payload)
    payload[index] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (lambda p: b'["abc", 108', "Expecting"),
        (lambda p: json.dumps({"hash": p[0]}).encode(), "not the JSON list"),
        (lambda p: json.dumps(p[:4]).encode(), "not the JSON list"),
        (lambda p: _with(p, 0, "nothex"), "not a 32-digit hex MD5"),
        (lambda p: _with(p, 1, "108"), "epochs '108' is not a positive integer"),
        (lambda p: _with(p, 4, "%%%not base64"), "base64|Non-base64|Incorrect padding"),
        (lambda p: _with(p, 4, base64.b64encode(b"\x0a\x50\x01").decode()), "(?i:pars|decod|truncat)"),
        (lambda p: _with(p, 4, base64.b64encode(_hand_encoded_metrics([], 1, 1.0)).decode()),
         "no evaluation_data"),
        (lambda p: _with(p, 4, base64.b64encode(_hand_encoded_metrics([{4: 1.5}], 1, 1.0)).decode()),
         r"validation_accuracy 1.5 is not a fraction"),
        (lambda p: _with(p, 4, base64.b64encode(_hand_encoded_metrics([{5: 0.5}], 1, 1.0)).decode()),
         "no validation_accuracy"),
        (lambda p: _with(p, 2, "0102"), "characters other than 0 and 1"),
        (lambda p: _with(p, 2, "010"), "not a flattened square matrix"),
        (lambda p: _with(p, 2, "0" * len(p[2])), "bad spec: .*disconnected"),
        (lambda p: _with(p, 3, p[3].replace("output", "conv5x5")), "bad spec: .*first op must be 'input'"),
    ],
)
def test_bad_records_name_file_and_record(tmp_path, make_bad, message):
    cells = NB101Space().sample(np.random.default_rng(5), 2)
    good = _good_payload(cells[0])
    path = tmp_path / "bad.tfrecord"
    write_records(path, [json.dumps(good).encode(), make_bad(_good_payload(cells[1])), json.dumps(good).encode()])
    with pytest.raises(NB101FormatError, match=rf"{re.escape(str(path))}: record 1: (.|\n)*({message})"):
        load_nb101_tfrecord(path)


def test_writer_rows_need_their_fields(tmp_path):
    cell = NB101Space().sample(np.random.default_rng(6), 1)[0]
    path = tmp_path / "w.tfrecord"
    with pytest.raises(NB101FormatError, match="row 1: missing field 'val_accuracy'"):
        write_nb101_tfrecord(path, [{"cell": cell, "epochs": 4, "val_accuracy": 0.3}, {"cell": cell, "epochs": 4}])
    with pytest.raises(NB101FormatError, match="row 0: epochs 0 is not a positive integer"):
        write_nb101_tfrecord(path, [{"cell": cell, "epochs": 0, "val_accuracy": 0.3}])
    with pytest.raises(NB101FormatError, match="row 0: invalid nb101 architecture"):
        write_nb101_tfrecord(path, [{"cell": ([[0, 0], [0, 0]], ["input", "output"]), "epochs": 4,
                                     "val_accuracy": 0.3}])
    assert not path.exists()


def test_a_result_set_exports_and_reads_back(written, tmp_path):
    path, _, _ = written
    first = load_nb101_tfrecord(path)
    again = tmp_path / "export.tfrecord"
    assert write_nb101_tfrecord(again, first) == 240
    second = load_nb101_tfrecord(again)
    pd.testing.assert_frame_equal(_sorted(second.table), _sorted(first.table))
    assert second.archs == first.archs


# -- the JSON tables ----------------------------------------------------------------------------


def _check_json_result(result: ResultSet, data: dict, count: int) -> None:
    keys = data["key"]
    assert len(result) == count and list(result.archs) == keys
    assert result.fidelities == list(NB101_EPOCHS)
    table = result.table
    assert len(table) == 4 * count and (table["repeat"] == 0).all()
    assert table["val_accuracy"].between(0, 1).all() and table["test_accuracy"].isna().all()
    for epochs in NB101_EPOCHS:
        rows = table[table["epochs"] == epochs]
        assert rows["hash"].tolist() == keys
        assert np.array_equal(rows["val_accuracy"].to_numpy(), data[f"{epochs}_final_validation_accuracy"])
        assert np.array_equal(rows["params"].to_numpy(), data["trainable_parameters"])
        if epochs == 108:
            assert np.array_equal(rows["train_time"].to_numpy(), data["final_training_time"])
        else:
            assert rows["train_time"].isna().all()
    cells = list(result.archs.values())
    # recomputed from the matrices, not read from a cache the loader may have filled
    assert batch_hash([c.adjacency() for c in cells], [c.labels for c in cells]) == keys


@pytest.mark.shared_data
def test_real_table_with_specs():
    path = shared_file(SPECS_FILE)
    data = json.loads(path.read_text())
    result = load_nb101_json(path)
    _check_json_result(result, data, 1_000)
    assert result.notes["specs"] == "file" and result.source == str(path)
    i = 123
    assert result.archs[data["key"][i]] == NB101Cell.from_codes(data["adjacency"][i], data["operations"][i])


@pytest.mark.slow
@pytest.mark.shared_data
def test_real_table_by_hash_gets_specs_from_the_index(request):
    path = shared_file(PART_A_FILE)
    specs = json.loads(shared_file(SPECS_FILE).read_text())
    # conftest's session fixture (load_index(): built once into $NASFRAME_CACHE, then reused),
    # requested only once the data is known to be there
    index = request.getfixturevalue("nb101_index")
    data = json.loads(path.read_text())
    result = load_nb101_json(path, index=index)
    _check_json_result(result, data, 10_501)
    assert result.notes["specs"] == "enumeration index"
    common = set(specs["key"]) & set(data["key"])
    assert len(common) > 100
    for key, adjacency, operations in zip(specs["key"], specs["adjacency"], specs["operations"]):
        if key in common:
            assert result.archs[key] == NB101Cell.from_codes(adjacency, operations)


@pytest.mark.shared_data
def test_truncated_real_json_names_the_file(tmp_path):
    path = tmp_path / "cut.json"
    path.write_bytes(shared_file(SPECS_FILE).read_bytes()[:50_000])
    with pytest.raises(NB101FormatError, match=rf"{re.escape(str(path))}: not valid JSON, truncated or corrupt"):
        load_nb101_json(path)


@pytest.fixture(scope="module")
def small_index() -> NB101Index:
    """All 91 cells of at most 4 vertices: keys and specs for small made-up tables."""
    return build_index(max_vertices=4)


def _table_records(index: NB101Index, rows: range, specs: bool) -> list[dict]:
    records = []
    for i in rows:
        record = {"key": str(index.hashes[i])}
        if specs:
            record["adjacency"] = index.matrices[i].tolist()
            record["operations"] = index.labels[i].tolist()
        for epochs, acc in zip(NB101_EPOCHS, (0.3, 0.6, 0.8, 0.9)):
            record[f"{epochs}_final_validation_accuracy"] = acc + i / 1000
        record["final_training_time"] = 1000.0 + i
        record["trainable_parameters"] = 100_000 + i
        records.append(record)
    return records


def _as_columns(records: list[dict]) -> dict[str, list]:
    return {k: [r[k] for r in records] for k in records[0]}


@pytest.mark.parametrize("layout", ["records", "columns"])
@pytest.mark.parametrize("specs", [True, False])
def test_small_tables_both_layouts(tmp_path, small_index, layout, specs):
    records = _table_records(small_index, range(0, 91, 3), specs)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(records if layout == "records" else _as_columns(records)))
    result = load_nb101_json(path, index=small_index)
    assert result.notes["layout"] == layout and result.notes["specs"] == ("file" if specs else "enumeration index")
    _check_json_result(result, _as_columns(records), len(records))


def _expect(tmp_path, data, message, index=None):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    with pytest.raises(NB101FormatError, match=rf"{re.escape(str(path))}: {message}"):
        load_nb101_json(path, index=index)


def test_table_errors_name_file_record_and_field(tmp_path, small_index):
    records = _table_records(small_index, range(10), specs=True)

    def edited(i, field, value=None, delete=False):
        copy = [dict(r) for r in records]
        if delete:
            del copy[i][field]
        else:
            copy[i][field] = value
        return copy

    _expect(tmp_path, edited(2, "36_final_validation_accuracy", delete=True),
            "record 2: field '36_final_validation_accuracy' is missing")
    _expect(tmp_path, edited(4, "final_training_time", None), "record 4: field 'final_training_time' is missing")
    _expect(tmp_path, edited(5, "108_final_validation_accuracy", 1.2),
            r"record 5: field '108_final_validation_accuracy' is 1.2, not a fraction in \[0, 1\]")
    _expect(tmp_path, edited(6, "4_final_validation_accuracy", "0.5"),
            "record 6: field '4_final_validation_accuracy' is '0.5', not a number")
    _expect(tmp_path, edited(7, "trainable_parameters", 10.5), "record 7: field 'trainable_parameters'")
    _expect(tmp_path, edited(8, "key", "xyz"), "record 8: field 'key' is 'xyz'")
    _expect(tmp_path, edited(3, "key", records[4]["key"]), f"record 3: stored hash {records[4]['key']} but its spec")
    _expect(tmp_path, edited(1, "operations", [-1, 7, -2, -3, -3, -3, -3]), "record 1: bad spec")
    _expect(tmp_path, records + ["oops"], "record 10 is a str")
    _expect(tmp_path, "just a string", "top level is a str")
    _expect(tmp_path, [{k: v for k, v in r.items() if "validation" not in k} for r in records],
            "no '<epochs>_final_validation_accuracy' field")
    _expect(tmp_path, edited(0, "50_final_validation_accuracy", 0.5), "field '50_final_validation_accuracy'")

    columns = _as_columns(records)
    _expect(tmp_path, {k: v for k, v in columns.items() if k != "trainable_parameters"},
            "field 'trainable_parameters' is missing")
    _expect(tmp_path, dict(columns, final_training_time=columns["final_training_time"][:-1]),
            "columns differ in length")
    _expect(tmp_path, dict(columns, key="abc"), "field 'key' is a str")

    unknown = "f" * 32
    no_specs = [{k: v for k, v in r.items() if k not in ("adjacency", "operations")} for r in records]
    no_specs[6]["key"] = unknown
    _expect(tmp_path, no_specs, f"record 6: key {unknown} is the hash of no NAS-Bench-101 cell",
            index=small_index)
