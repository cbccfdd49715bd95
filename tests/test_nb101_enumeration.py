"""NB101 enumeration and its on-disk index: counts, real keys, atomic and checked files."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest

from search_spaces.nb101 import NB101Cell
from search_spaces.nb101 import enumeration
from search_spaces.nb101.enumeration import (
    INDEX_FILE,
    NUM_CELLS,
    CorruptIndexError,
    NB101Index,
    build_index,
    enumerate_cells,
    load_index,
    read_index,
    write_index,
)
from search_spaces.nb101.fast_hash import batch_hash
from search_spaces.nb101.graph_util import official_hash, prune
from tests.conftest import shared_file

#: cells per vertex count; n <= 5 is checked against brute force below, the
#: total is the published NAS-Bench-101 count
CELLS_PER_SIZE = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}


@pytest.fixture(scope="module")
def small_index() -> NB101Index:
    """All 91 cells of at most 4 vertices."""
    return build_index(max_vertices=4)


def test_cells_per_vertex_count():
    _, _, sizes = enumerate_cells()
    assert dict(zip(*(a.tolist() for a in np.unique(sizes, return_counts=True)))) == CELLS_PER_SIZE
    assert sum(CELLS_PER_SIZE.values()) == NUM_CELLS


def _brute_force_hashes(max_vertices: int) -> set[str]:
    """Hashes of every spec with up to ``max_vertices`` vertices, the slow obvious way:
    every upper-triangular matrix, pruned, times every op labelling of what is left."""
    specs: dict[tuple[bytes, tuple[int, ...]], np.ndarray] = {}
    for n in range(2, max_vertices + 1):
        upper = np.triu_indices(n, k=1)
        for bits in itertools.product((0, 1), repeat=len(upper[0])):
            matrix = np.zeros((n, n), dtype=np.int8)
            matrix[upper] = bits
            pruned = prune(matrix, list(range(n)))
            if pruned is None or pruned[0].sum() > 9:
                continue
            kept = pruned[0]
            for ops in itertools.product(range(3), repeat=len(kept) - 2):
                labels = (-1, *ops, -2)
                specs[(kept.tobytes() + bytes([len(kept)]), labels)] = kept
    matrices = list(specs.values())
    return set(batch_hash(matrices, [labels for _, labels in specs]))


def test_small_enumeration_matches_brute_force():
    matrices, labels, sizes = enumerate_cells(max_vertices=5)
    assert len(matrices) == sum(CELLS_PER_SIZE[n] for n in range(2, 6))
    hashes = {official_hash(m[:n, :n], lab[:n].tolist()) for m, lab, n in zip(matrices, labels, sizes)}
    assert len(hashes) == len(matrices)  # one spec per class, no two alike
    assert hashes == _brute_force_hashes(5)


def test_index_api(small_index):
    index = small_index
    assert len(index) == 91 and repr(index) == "NB101Index(91 cells)"
    assert (index.hashes[1:] > index.hashes[:-1]).all()
    assert index.matrices.shape == (91, 7, 7) and index.labels.shape == (91, 7)
    key = str(index.hashes[40])
    assert key in index and "0" * 32 not in index and 7 not in index
    assert index.index_of(key) == 40
    cell = index.lookup(key)
    n = int(index.num_vertices[40])
    assert cell.num_vertices == n and cell.num_edges == index.num_edges[40]
    assert official_hash(cell.adjacency(), cell.labels) == key
    assert (index.labels[40, n:] == -3).all() and not index.matrices[40, n:].any()
    assert [c.canonical_key() for c in index.cells(np.array([3, 40]))] == [index.hashes[3], key]
    assert index.cells([3]) == [index.cell(3)]
    with pytest.raises(KeyError, match="f" * 32):
        index.lookup("f" * 32)


def test_write_read_round_trip(small_index, tmp_path):
    path = tmp_path / "sub" / INDEX_FILE
    write_index(small_index, path)
    back = read_index(path)
    for name in ("hashes", "matrices", "labels", "num_vertices"):
        assert np.array_equal(getattr(back, name), getattr(small_index, name))


def test_interrupted_write_keeps_the_previous_file(small_index, tmp_path, monkeypatch):
    path = tmp_path / INDEX_FILE
    write_index(small_index, path)
    before = path.read_bytes()

    def killed_midway(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        write_index(small_index, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [INDEX_FILE]  # no temporary file left


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_file_raises_naming_it(small_index, tmp_path, damage):
    path = tmp_path / INDEX_FILE
    write_index(small_index, path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF  # caught by the zip member's CRC
    else:
        data = bytearray(b"not an index at all")
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptIndexError, match=re.escape(str(path))):
        read_index(path)
    with pytest.raises(CorruptIndexError, match=re.escape(str(path))):
        load_index(path)


def test_load_index_refuses_an_incomplete_index(small_index, tmp_path):
    path = tmp_path / INDEX_FILE
    write_index(small_index, path)
    with pytest.raises(CorruptIndexError, match="holds 91 cells"):
        load_index(path)


# -- the whole space -------------------------------------------------------------------


@pytest.mark.slow
def test_full_enumeration_is_every_cell_once(nb101_index):
    index = nb101_index
    assert len(index) == NUM_CELLS
    assert (index.hashes[1:] > index.hashes[:-1]).all()  # sorted, so no two cells share a hash
    sizes, counts = np.unique(index.num_vertices, return_counts=True)
    assert dict(zip(sizes.tolist(), counts.tolist())) == CELLS_PER_SIZE
    assert index.num_edges.max() == 9
    rows = np.random.default_rng(0).choice(len(index), size=1500, replace=False)
    for row in rows:
        n = int(index.num_vertices[row])
        spec = index.matrices[row, :n, :n], index.labels[row, :n].tolist()
        assert official_hash(*spec) == index.hashes[row]
        assert not np.tril(spec[0]).any() and prune(*spec)[0].shape == spec[0].shape


@pytest.mark.slow
@pytest.mark.shared_data
def test_every_published_key_is_in_the_index(nb101_index):
    keys = json.loads(shared_file("nb101/nb101_by_hash_part_a.json").read_text())["key"]
    assert len(keys) == 10_501
    rows = [nb101_index.index_of(k) for k in keys]  # KeyError if any is missing
    for row in np.random.default_rng(1).choice(rows, size=300, replace=False):
        cell = nb101_index.cell(row)
        assert official_hash(cell.adjacency(), cell.labels) == nb101_index.hashes[row]
    specs = json.loads(shared_file("nb101/nb101_1k_with_specs.json").read_text())
    for key, adjacency, operations in zip(specs["key"], specs["adjacency"], specs["operations"]):
        assert nb101_index.lookup(key) == NB101Cell.from_codes(adjacency, operations)


@pytest.mark.slow
def test_rebuild_replaces_a_corrupt_file(nb101_index, tmp_path, monkeypatch):
    path = tmp_path / INDEX_FILE
    path.write_bytes(b"garbage")
    with pytest.raises(CorruptIndexError):
        load_index(path)
    # the build itself is tested above; here only the replacement of the file matters
    monkeypatch.setattr(enumeration, "build_index", lambda **_: nb101_index)
    rebuilt = load_index(path, rebuild=True)
    assert np.array_equal(rebuilt.hashes, nb101_index.hashes)
    assert load_index(path) is rebuilt  # reused while the file is unchanged
