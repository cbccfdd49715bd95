"""``nasframe submit``: a nasframe command as a job of a Ray cluster, through the Ray Jobs API.

The job runs ``python -m nasframe.cli COMMAND ARGS...`` on the cluster's head
node, as a Ray job: it outlives the submitting shell (a laptop may close), its
logs stay on the cluster (``ray job logs``), and its Ray work spreads over
every node. The job joins its own cluster (Ray sets ``RAY_ADDRESS`` for it).

What the job runs with is a Ray ``runtime_env``: ``--working-dir`` uploads a
folder (this checkout, for code that the cluster's installation lacks),
``--env`` sets variables (``NASFRAME_PLUGINS``, credentials of an object
store), ``--pip`` installs packages into a virtualenv per job.

Outputs must live where they outlast the job: the job's working directory is
a temporary copy on the head node, so relative output paths (``--out``,
``--storage``, ``--checkpoint``) are refused here; give an absolute path on
storage the cluster shares (NFS) or a URI (``--storage s3://...``).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any, Sequence

import click

from nasframe.core.errors import InvalidSetting

#: the commands that can run as a job (each takes --address or runs its Ray work on the job's cluster)
SUBMITTABLE = ("search", "compare", "train", "bpe")
#: options whose value is a place the job writes to: refused when relative
OUTPUT_OPTIONS = ("--out", "--storage", "--checkpoint")
#: seconds between two looks at a running job
POLL_SECONDS = 1.0
#: how long a submission waits for the head's job agent (it registers seconds after `ray start` returns)
AGENT_WAIT_SECONDS = 60.0


def job_command(args: Sequence[str]) -> str:
    """The job's entrypoint for ``nasframe ARGS...``; refuses a command that cannot run as a job and relative
    output paths (the job's working directory is a temporary copy on the head node)."""
    if not args or args[0] not in SUBMITTABLE:
        raise InvalidSetting(f"submit: COMMAND must be one of {', '.join(SUBMITTABLE)}, got "
                             f"{args[0] if args else 'nothing'!r} (e.g. nasframe submit -- compare --out /nfs/x)")
    if args[0] == "bpe" and (len(args) < 2 or args[1] not in ("search", "apply")):
        raise InvalidSetting("submit: `bpe` runs as a job as `bpe search` or `bpe apply`")
    for index, arg in enumerate(args):
        option, equals, value = arg.partition("=")
        if option not in OUTPUT_OPTIONS:
            continue
        if not equals:
            value = args[index + 1] if index + 1 < len(args) else ""
        if value and "://" not in value and not Path(value).is_absolute():
            raise InvalidSetting(f"submit: {option} {value!r} is relative, so it would land in the job's temporary "
                                 "working directory on the head node; give an absolute path on storage every node "
                                 "sees (NFS) or a URI such as s3://bucket/prefix")
    return "python -m nasframe.cli " + " ".join(shlex.quote(a) for a in args)


def runtime_env(working_dir: str | None, env_items: Sequence[str], pip: Sequence[str]) -> dict[str, Any]:
    """The job's Ray ``runtime_env`` from the command line's ``--working-dir``, ``--env KEY=VALUE`` and ``--pip``."""
    env: dict[str, Any] = {}
    if working_dir:
        folder = Path(working_dir)
        if not folder.is_dir():
            raise InvalidSetting(f"--working-dir {working_dir!r} is not a folder")
        # Ray leaves out what .gitignore names (virtualenvs, results); its upload limit is a few hundred MB
        env["working_dir"] = str(folder.resolve())
        env["excludes"] = [".git"]
    variables = {}
    for item in env_items:
        key, equals, value = item.partition("=")
        if not (equals and key.strip()):
            raise InvalidSetting(f"--env {item!r} is not KEY=VALUE")
        variables[key.strip()] = value
    if variables:
        env["env_vars"] = variables
    if pip:
        env["pip"] = list(pip)
    return env


def _client(address: str | None) -> Any:
    """A Jobs API client of the cluster at ``address`` (Ray's own lookup when ``None``), or one clear error."""
    import os

    from ray.job_submission import JobSubmissionClient

    from nasframe.ray_session import RayConnectionError

    if address:  # Ray lets RAY_ADDRESS override the address it is given; the one typed here wins
        os.environ["RAY_API_SERVER_ADDRESS"] = address
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RayConnectionError(
            f"could not reach the Ray Jobs API at {address or 'RAY_ADDRESS / the local cluster'}: {said}; give "
            "--address http://HEAD:8265 (the dashboard port; the head needs `pip install nasframe[cluster]`), and "
            "for a cluster with token authentication set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN") from None


@click.command("submit", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--address", default=None,
              help="The cluster's Jobs API, http://HEAD:8265 (default: RAY_API_SERVER_ADDRESS, else RAY_ADDRESS, "
                   "else the cluster `ray start` recorded on this machine).")
@click.option("--working-dir", default=None, type=click.Path(file_okay=False),
              help="Upload this folder as the job's working directory (e.g. this checkout; default: the cluster's "
                   "installed nasframe).")
@click.option("--env", "env_items", multiple=True, metavar="KEY=VALUE", help="An environment variable of the job.")
@click.option("--pip", "pip", multiple=True, metavar="REQUIREMENT",
              help="A package the job needs, installed for it by Ray (repeatable; the nodes need an index).")
@click.option("--submission-id", default=None, help="The job's id (default: Ray picks one).")
@click.option("--no-wait", is_flag=True, help="Print the job's id and return at once instead of following it.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
def submit(address, working_dir, env_items, pip, submission_id, no_wait, args) -> None:
    """Run `nasframe COMMAND ARGS...` (search, compare, train, bpe search|apply) as a job of a Ray cluster.

    Example: nasframe submit --address http://head:8265 -- compare --benchmark nb101 --out /nfs/cmp
    """
    entrypoint = job_command(list(args))
    env = runtime_env(working_dir, env_items, pip)
    client = _client(address)
    job_id = _submit_job(client, entrypoint=entrypoint, runtime_env=env or None, submission_id=submission_id)
    click.echo(f"submitted job {job_id}: {entrypoint}", err=True)
    if no_wait:
        click.echo(job_id)
        return
    try:
        status = _follow(client, job_id)
    except KeyboardInterrupt:
        click.echo(f"\nstopped following; job {job_id} goes on (`ray job logs {job_id}`, `ray job stop {job_id}`)",
                   err=True)
        raise SystemExit(130) from None
    if status != "SUCCEEDED":
        said = (client.get_job_info(job_id).message or "").split(", last available logs")[0].strip()
        raise click.ClickException(f"job {job_id} {status.lower()}: {said or 'see its log above'} (its log is above; "
                                   f"`ray job logs {job_id}` shows it again)")
    click.echo(f"job {job_id} succeeded", err=True)


def _submit_job(client: Any, **job: Any) -> str:
    """``client.submit_job(**job)``, retried while the head answers that no job agent is up yet.

    A cluster that was just started takes a few seconds more to register the
    agent that runs jobs, and Ray answers HTTP 500 "No available agent to
    submit job" meanwhile; no job was created, so submitting again is safe.
    """
    deadline = time.monotonic() + AGENT_WAIT_SECONDS
    while True:
        try:
            return client.submit_job(**job)
        except RuntimeError as exc:
            if "No available agent" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(POLL_SECONDS)


def _follow(client: Any, job_id: str) -> str:
    """Print the job's log as it grows until the job ends; its final status."""
    shown = 0
    while True:
        status = str(client.get_job_status(job_id).value)
        logs = client.get_job_logs(job_id)
        if len(logs) > shown:
            click.echo(logs[shown:], nl=False)
            shown = len(logs)
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            return status
        time.sleep(POLL_SECONDS)


__all__ = ["SUBMITTABLE", "job_command", "runtime_env", "submit"]
