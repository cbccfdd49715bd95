"""The ``nasframe`` command line.

Sub-commands import their heavy dependencies inside the command body so that
``nasframe --help`` answers instantly.
"""

from __future__ import annotations

import json
import sys

import click

from nasframe.core import registry


@click.group()
@click.version_option(package_name="nasframe")
def main() -> None:
    """Neural-architecture search and benchmarking."""


@main.command("spaces")
def list_spaces() -> None:
    """List the installed search spaces and their sizes."""
    for name in registry.spaces.names():
        space = registry.load_space(name)
        size = space.size()
        click.echo(f"{name:8s} {type(space).__name__:14s} size={size if size else 'unknown'}")


@main.group()
def space() -> None:
    """Work with one search space."""


def _space(name: str):
    try:
        return registry.load_space(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="SPACE") from None


def _parse_arch(space_obj, text: str):
    from nasframe.core import InvalidArchitecture

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--arch") from None
    try:
        return space_obj.from_json(data) if isinstance(data, dict) else space_obj.validate(data)
    except InvalidArchitecture as exc:
        raise click.BadParameter(str(exc), param_hint="--arch") from None


@space.command("sample")
@click.argument("name")
@click.option("-n", "count", default=5, show_default=True, help="How many architectures.")
@click.option("--seed", default=0, show_default=True)
def space_sample(name: str, count: int, seed: int) -> None:
    """Print N random architectures of space NAME, one JSON object per line."""
    import numpy as np

    space_obj = _space(name)
    for arch in space_obj.sample(np.random.default_rng(seed), count):
        record = {"hash": space_obj.canonical_hash(arch), "arch": arch.to_json()}
        click.echo(json.dumps(record))


@space.command("hash")
@click.argument("name")
@click.option("--arch", "arch_text", required=True, help="Architecture as JSON.")
def space_hash(name: str, arch_text: str) -> None:
    """Validate an architecture and print its canonical hash."""
    space_obj = _space(name)
    click.echo(space_obj.canonical_hash(_parse_arch(space_obj, arch_text)))


if __name__ == "__main__":
    sys.exit(main())
