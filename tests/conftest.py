"""Shared fixtures.

Real evaluation data lives outside the repository, in ``../shared/data``
(or wherever ``NASFRAME_SHARED_DATA`` points); tests that need it skip with a
reason when it is absent instead of failing or silently passing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: CI's portability rerun (``.ci/run``) sets these to change the float path of
#: the ``float_sensitive`` tests: a pinned intra-op thread count and oneDNN off
THREADS_VARIABLE = "NASFRAME_TEST_THREADS"
MKLDNN_VARIABLE = "NASFRAME_TEST_MKLDNN"

SHARED_DATA = Path(
    os.environ.get("NASFRAME_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def pytest_configure(config: pytest.Config) -> None:
    """Apply the float path that ``NASFRAME_TEST_THREADS``/``NASFRAME_TEST_MKLDNN`` ask for.

    The thread count is *pinned*: tests, fixtures and surrogates set one
    thread for speed, and the rerun must override them all to prove that
    the outcome does not hang on it, so later ``torch.set_num_threads`` calls
    keep the pinned value. Nothing changes when the variables are unset.
    """
    threads, mkldnn = os.environ.get(THREADS_VARIABLE), os.environ.get(MKLDNN_VARIABLE)
    if threads is None and mkldnn is None:
        return
    import torch

    if threads is not None:
        pinned, set_threads = int(threads), torch.set_num_threads
        set_threads(pinned)
        torch.set_num_threads = lambda _requested: set_threads(pinned)
    if mkldnn is not None:
        torch.backends.mkldnn.enabled = mkldnn != "0"


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say in the run's header which float path a portability rerun used."""
    if THREADS_VARIABLE not in os.environ and MKLDNN_VARIABLE not in os.environ:
        return None
    import torch

    return (f"float path: {torch.get_num_threads()} torch threads, oneDNN "
            f"{'on' if torch.backends.mkldnn.enabled else 'off'}, "
            f"ATen kernels {torch.backends.cpu.get_cpu_capability()}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real-data kit; skips the test when it is not present."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data kit absent: {SHARED_DATA} (set NASFRAME_SHARED_DATA)")
    return SHARED_DATA


def shared_file(relative: str) -> Path:
    """One file of the data kit, skipping the calling test when it is missing."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real data file absent: {path}")
    return path


@pytest.fixture(scope="session")
def nb101_index():
    """The full NB101 index, loaded from or built into ``$NASFRAME_CACHE`` once per session.

    CI points ``NASFRAME_CACHE`` at a fresh folder, so there the enumeration
    itself runs (and is checked) from scratch.
    """
    from search_spaces.nb101.enumeration import load_index

    return load_index()


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance for the whole session (2 CPUs, no dashboard), shut down at the end.

    Run the suite inside a loopback-only network namespace
    (``unshare --net sh -c 'ip link set lo up; exec python -m pytest ...'``),
    where Ray binds to 127.0.0.1. Yields the ``ray`` module; the instance's
    GCS address is ``ray.get_runtime_context().gcs_address`` (for drivers
    started in subprocesses).
    """
    import ray

    started = False
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = True
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def cora():
    """The exhaustive nas-bench-graph Cora table (26,206 architectures, exact optimum).

    It ships with the ``nas-bench-graph`` dependency, so it is always there.
    """
    import benchmarks

    return benchmarks.load("nbgraph-cora")


@pytest.fixture(scope="module")
def private_cache(tmp_path_factory):
    """A NASFRAME_CACHE of the test module's own: what it trains and caches (a base network, single-task
    baselines) stays there, trained once per module, apart from the machine's cache."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("NASFRAME_CACHE", str(folder))
        yield folder


@pytest.fixture
def one_thread():
    """Torch on one intra-op thread for the test (small CPU models run faster than on two)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)
