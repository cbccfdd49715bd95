"""Readers (and writers) of official benchmark data formats, each returning a
:class:`~benchmarks.base.ResultSet`.

* :mod:`benchmarks.loaders.tfrecord`: TFRecord framing without TensorFlow.
* :mod:`benchmarks.loaders.nb101_tfrecord`: NAS-Bench-101's official TFRecord files.
* :mod:`benchmarks.loaders.nb101_json`: JSON tables of NAS-Bench-101 results.
* :mod:`benchmarks.loaders.nb101`: what the two NB101 formats share.
* :mod:`benchmarks.loaders.nb301`: NAS-Bench-301's directory (or tarball) of
  result JSONs, also in Accel-NASBench's variant of that layout.
* :mod:`benchmarks.loaders.dvae`: the D-VAE ENAS text file.
* :mod:`benchmarks.loaders.naslib`: NASLib's DARTS benchmark file.
* :mod:`benchmarks.loaders.nbgraph`: the nas-bench-graph tables of its PyPI package.

The names below are imported on first use, so importing one loader module
(``benchmarks.loaders.<format>``) does not pull in every other format's
dependencies (protobuf and google-crc32c for NB101).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "NB101_EPOCHS": "nb101",
    "NB101FormatError": "nb101",
    "load_nb101_json": "nb101_json",
    "load_nb101_tfrecord": "nb101_tfrecord",
    "model_metrics_types": "nb101_tfrecord",
    "write_nb101_tfrecord": "nb101_tfrecord",
    "TFRecordError": "tfrecord",
    "masked_crc32c": "tfrecord",
    "read_records": "tfrecord",
    "write_records": "tfrecord",
    "load_nbgraph": "nbgraph",
    "NBGraphFormatError": "nbgraph",
    "load_result_jsons": "nb301",
    "ResultFormatError": "nb301",
    "ParsedResult": "nb301",
    "parse_nb301": "nb301",
    "parse_accel": "nb301",
    "detect_layout": "nb301",
    "load_dvae": "dvae",
    "load_naslib_darts": "naslib",
    "NASLibFormatError": "naslib",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
