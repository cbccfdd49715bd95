"""Joining or starting Ray for one block of work, and leaving it as found.

Every driver that fans work out (experiments, trainings, the BPE study)
connects here, by one rule:

1. Ray already initialised in this process: use it, and leave it running.
2. A cluster named, first of: the ``address`` argument (``--address``), the
   ``RAY_ADDRESS`` environment variable, the address file that ``ray start``
   writes on this machine (``ray_current_cluster`` in Ray's temporary folder:
   ``$RAY_TMPDIR/ray``, else ``$TMPDIR/ray``, else ``/tmp/ray``): join it,
   without resource arguments (a cluster has its own). Someone who ran
   ``ray start`` wants their work on that cluster, and it is what a plain
   ``ray.init()`` does; ``auto`` keeps Ray's own meaning (that, or any Ray
   running here).
3. Nothing named, or the address ``local``: start a private instance here
   (``num_cpus``, default every core, no dashboard), asking Ray for
   ``address="local"`` so that it never goes looking for a cluster itself.

Ray Client addresses (``ray://host:10001``) are refused with a pointer to
``nasframe submit`` (the Jobs API) and to ``--address HOST:6379`` from a node
of the cluster: Ray Client's server crashed in gRPC on the first connection
here (Ray 2.60, docs/CLUSTER.md), so it is neither declared nor advertised.

Only what the block started is shut down at its end. A connection that fails
(a cluster that is gone, token authentication without the token) raises
:class:`RayConnectionError`, one line naming the address, where it came from
and what to set.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path
from typing import Any, Iterator

from nasframe.core.errors import UserError

#: the address that asks for a private Ray instance on this machine
LOCAL = "local"
#: how :func:`cluster_address` names the address file as a source
_FROM_FILE = "the address file"


class RayConnectionError(UserError, ConnectionError):
    """Ray could not be joined or started; the message says which cluster, found where, and what to set."""


def address_file() -> Path:
    """Where ``ray start`` records its cluster's address on this machine (Ray's own rule for the folder)."""
    if "RAY_TMPDIR" in os.environ:
        temp = os.environ["RAY_TMPDIR"]
    elif sys.platform.startswith("linux") and "TMPDIR" in os.environ:
        temp = os.environ["TMPDIR"]
    else:
        temp = "/tmp"
    return Path(temp) / "ray" / "ray_current_cluster"


def cluster_address(address: str | None = None) -> tuple[str | None, str]:
    """The cluster to join (``None``: start a private instance) and where its address came from."""
    if address:
        return (None if address == LOCAL else address), "--address"
    named = os.environ.get("RAY_ADDRESS", "").strip()
    if named:
        return (None if named == LOCAL else named), "RAY_ADDRESS"
    file = address_file()
    try:
        recorded = file.read_text().strip()
    except OSError:
        recorded = ""
    if recorded:
        return recorded, f"{_FROM_FILE} {file}, written by `ray start`"
    return None, "no cluster named"


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, **init: Any) -> Iterator[None]:
    """Ray for the block, by the module's rule: the running instance, the cluster named by ``address``,
    ``RAY_ADDRESS`` or ``ray start``'s address file, else a private instance on ``num_cpus`` cores
    (default every core, no dashboard). ``init`` adds ``ray.init`` keywords (e.g. a ``runtime_env``).
    Shuts down only what it started."""
    import ray

    if ray.is_initialized():
        yield
        return
    target, source = cluster_address(address)
    if target is not None and target.startswith("ray://"):
        raise RayConnectionError(
            f"Ray Client addresses are not supported ({target}, from {source}): submit the command as a Ray job "
            "with `nasframe submit --address http://HEAD:8265 -- COMMAND ...`, or run it on a node of the cluster "
            "with --address HEAD:6379 (docs/CLUSTER.md)")
    _check_reachable(target, source)
    try:
        if target is None:
            ray.init(address=LOCAL, num_cpus=num_cpus or os.cpu_count(), **{"include_dashboard": False, **init})
        else:
            # Ray takes the token of ~/.ray/auth_token only for a cluster it finds itself ("auto" finds
            # the same file), never for an address it is given
            ray.init(address="auto" if source.startswith(_FROM_FILE) else target, **init)
    except Exception as exc:  # noqa: BLE001 - Ray raises many types; each becomes one message
        ray.shutdown()  # whatever part of the connection was made
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if target is None:
            raise RayConnectionError(f"could not start a local Ray instance: {said}") from exc
        # something listens there (checked above) but Ray's handshake failed: Ray's own message does
        # not say why, and token authentication without the token is the usual reason
        raise RayConnectionError(
            f"could not join the Ray cluster at {target} (from {source}): {said}; if the cluster uses token "
            "authentication, set RAY_AUTH_MODE=token and its token in RAY_AUTH_TOKEN (or in a file named by "
            f"RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token); a cluster of another Ray version than {ray.__version__} "
            "refuses too") from exc
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(target: str | None, source: str, timeout: float = 3.0) -> None:
    """Refuse at once a cluster address nothing listens on (e.g. a stale address file).

    Ray itself retries a dead address for minutes before it gives up; one TCP
    connection tells within seconds. Addresses that are not ``host:port``
    (``auto``) are left to Ray.
    """
    host, colon, port = (target or "").rpartition("://")[2].rpartition(":")
    if not (colon and host and port.isdigit()):
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        if source.startswith(_FROM_FILE):
            hint = ("is that cluster still running? Start it again, remove the stale file, or pass --address "
                    "local (RAY_ADDRESS=local) for a private Ray on this machine")
        else:
            hint = "check that the cluster runs there, or pass --address local for a private Ray on this machine"
        raise RayConnectionError(f"could not join the Ray cluster at {target} (from {source}): nothing answers "
                                 f"there ({exc.strerror or exc}); {hint}") from None


__all__ = ["LOCAL", "RayConnectionError", "address_file", "cluster_address", "ray_session"]
