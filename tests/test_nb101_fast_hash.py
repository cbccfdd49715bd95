"""Vectorised NB101 hash: numpy MD5, agreement with the reference hash and the real keys."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_spaces.nb101 import NB101Cell
from search_spaces.nb101.enumeration import enumerate_cells
from search_spaces.nb101.fast_hash import batch_hash
from search_spaces.nb101.hash_messages import unique_rows
from search_spaces.nb101.md5 import hex_digests, md5_batch
from search_spaces.nb101.graph_util import official_hash
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def enumerated() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every NB101 cell (padded matrices, labels, sizes); 0.2 s, no hashing."""
    return enumerate_cells()


def _cells(enumerated, rows) -> tuple[list[np.ndarray], list[list[int]]]:
    matrices, labels, sizes = enumerated
    return (
        [matrices[i, : sizes[i], : sizes[i]] for i in rows],
        [labels[i, : sizes[i]].tolist() for i in rows],
    )


def test_md5_matches_hashlib_for_every_length_up_to_five_blocks():
    rng = np.random.default_rng(0)
    # lengths 55/56 and 119/120 are where the padding spills into another block
    groups = [rng.integers(0, 256, size=(int(rng.integers(0, 4)), n), dtype=np.uint8) for n in range(330)]
    for group, digests in zip(groups, md5_batch(groups)):
        assert digests.shape == (len(group), 16)
        for message, digest in zip(group, digests):
            assert digest.tobytes() == hashlib.md5(message.tobytes()).digest()


def test_md5_batches_larger_than_one_chunk_of_mixed_lengths():
    rng = np.random.default_rng(1)
    shapes = ((30_000, 200), (40_000, 10))  # chunks of 32,768 mix 4-block and 1-block messages
    groups = [rng.integers(0, 256, size=shape, dtype=np.uint8) for shape in shapes]
    for group, digests in zip(groups, md5_batch(groups)):
        assert [d.tobytes() for d in digests] == [hashlib.md5(m.tobytes()).digest() for m in group]


def test_hex_digests_are_hexdigest():
    rng = np.random.default_rng(2)
    messages = rng.integers(0, 256, size=(50, 40), dtype=np.uint8)
    (digests,) = md5_batch([messages])
    text = hex_digests(digests).view("S32").reshape(-1).astype(str).tolist()
    assert text == [hashlib.md5(m.tobytes()).hexdigest() for m in messages]


def test_batch_hash_matches_reference_on_cells_of_every_size(enumerated):
    rng = np.random.default_rng(3)
    sizes = enumerated[2]
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(sizes == n), size=min(80, int((sizes == n).sum())), replace=False)
         for n in range(2, 8)]
    )
    rng.shuffle(rows)  # sizes interleaved: the batch groups them internally
    matrices, labels = _cells(enumerated, rows)
    assert batch_hash(matrices, labels) == [official_hash(m, lab) for m, lab in zip(matrices, labels)]


def test_batch_hash_matches_reference_on_arbitrary_digraphs():
    # not NB101 cells: cycles, self-loops, isolated vertices, any labels
    rng = np.random.default_rng(4)
    matrices, labels = [], []
    for _ in range(300):
        n = int(rng.integers(1, 10))
        matrices.append((rng.random((n, n)) < rng.uniform(0.1, 0.6)).astype(np.int8))
        labels.append(rng.integers(-2, 3, size=n).tolist())
    assert batch_hash(matrices, labels) == [official_hash(m, lab) for m, lab in zip(matrices, labels)]


def test_batch_hash_input_forms_agree(enumerated):
    matrices, labels, sizes = enumerated
    rows = np.flatnonzero(sizes == 6)[:50]
    stacked = batch_hash(matrices[rows, :6, :6], labels[rows, :6])
    as_lists = batch_hash(
        [m.tolist() for m in matrices[rows, :6, :6]], [tuple(x) for x in labels[rows, :6].tolist()]
    )
    assert stacked == as_lists
    assert batch_hash([], []) == []


@pytest.mark.parametrize(
    ("matrices", "labels", "message"),
    [
        ([np.zeros((2, 2))], [], "1 matrices but 0 label lists"),
        ([np.zeros((2, 3))], [[-1, -2]], "square"),
        ([np.zeros((2, 2)), np.zeros((2, 3))], [[-1, -2]] * 2, "square"),
        ([3], [[-1]], "square"),
        ([np.zeros((0, 0))], [[]], "square"),
        ([np.zeros((2, 2))], [[-1]], "one label per vertex"),
        ([np.array([[0, 2], [0, 0]])], [[-1, -2]], "only 0 and 1"),
    ],
)
def test_batch_hash_rejects_malformed_cells(matrices, labels, message):
    with pytest.raises(ValueError, match=message):
        batch_hash(matrices, labels)


@pytest.mark.shared_data
def test_batch_hash_reproduces_every_real_key():
    data = json.loads(shared_file("nb101/nb101_1k_with_specs.json").read_text())
    cells = [NB101Cell.from_codes(a, o) for a, o in zip(data["adjacency"], data["operations"])]
    assert batch_hash([c.adjacency() for c in cells], [c.labels for c in cells]) == data["key"]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_hash_invariant_under_relabelling_middle_vertices(enumerated, seed):
    rng = np.random.default_rng(seed)
    matrices, labels = _cells(enumerated, rng.choice(len(enumerated[0]), size=12, replace=False))
    permuted_matrices, permuted_labels = [], []
    for matrix, label in zip(matrices, labels):
        n = len(label)
        perm = np.concatenate([[0], 1 + rng.permutation(n - 2), [n - 1]])
        # usually no longer upper triangular: still the same graph
        permuted_matrices.append(matrix[np.ix_(perm, perm)])
        permuted_labels.append([label[i] for i in perm])
    expected = batch_hash(matrices, labels)
    assert batch_hash(permuted_matrices, permuted_labels) == expected
    assert [official_hash(m, lab) for m, lab in zip(permuted_matrices, permuted_labels)] == expected


def test_unique_rows_stays_exact_when_packing_would_overflow():
    rng = np.random.default_rng(5)
    base = 2**40  # three columns no longer fit one int64 key
    rows = rng.integers(0, 3, size=(2000, 4)) * (base // 3)
    first, inverse = unique_rows(rows, base)
    expected = np.unique(rows, axis=0)
    assert len(first) == len(expected)
    assert (rows[first][inverse] == rows).all()
    assert (np.diff(first) > 0).all()
