"""``nasframe spaces`` and ``nasframe space sample|hash|enumerate``: the search spaces."""

from __future__ import annotations

import json

import click
import numpy as np

from nasframe.cli import inputs
from nasframe.core.registry import SPACES, load_space


@click.command("spaces")
def list_spaces() -> None:
    """List the installed search spaces and their sizes."""
    for name in SPACES.names():
        space_obj = load_space(name)
        size = space_obj.size()
        click.echo(f"{name:8s} {type(space_obj).__name__:14s} size={size if size else 'unknown'}")


@click.group()
def space() -> None:
    """Work with one search space."""


@space.command("sample")
@click.argument("name")
@click.option("-n", "count", type=click.IntRange(min=1), default=5, show_default=True, help="How many architectures.")
@click.option("--seed", default=0, show_default=True)
def space_sample(name: str, count: int, seed: int) -> None:
    """Print N random architectures of space NAME, one JSON object per line.

    Each line (``{"hash": ..., "arch": ...}``) is accepted back by
    ``nasframe benchmark query --archs``.
    """
    space_obj = inputs.space(name)
    for arch in space_obj.sample(np.random.default_rng(seed), count):
        record = {"hash": space_obj.canonical_hash(arch), "arch": arch.to_json()}
        click.echo(json.dumps(record))


@space.command("hash")
@click.argument("name")
@click.option("--arch", "arch_text", required=True, help="Architecture as JSON.")
def space_hash(name: str, arch_text: str) -> None:
    """Validate an architecture and print its canonical hash."""
    space_obj = inputs.space(name)
    click.echo(space_obj.canonical_hash(inputs.architecture(space_obj, arch_text)))


@space.command("enumerate")
@click.argument("name")
@click.option("--path", type=click.Path(dir_okay=False), default=None,
              help="Index file (default: $NASFRAME_CACHE/nb101_index.npz).")
@click.option("--rebuild", is_flag=True, help="Rebuild even if a valid index exists.")
def space_enumerate(name: str, path: str | None, rebuild: bool) -> None:
    """Enumerate every architecture of space NAME into the on-disk index.

    Only spaces small enough to list have an index (NB101: 423,624 cells).
    Later commands (uniform sampling, hash -> spec recovery) reuse it.
    """
    import time

    if name != "nb101":
        raise click.BadParameter(f"space {name!r} has no enumeration index (only nb101)", param_hint="NAME")
    from search_spaces.nb101.enumeration import CorruptIndexError, default_index_path, load_index

    start = time.perf_counter()
    try:
        index = load_index(path, rebuild=rebuild)
    except CorruptIndexError as exc:  # this command builds the index: a broken one is replaced, not a dead end
        click.echo(f"{exc}: rebuilding it", err=True)
        index = load_index(path, rebuild=True)
    sizes, counts = np.unique(index.num_vertices, return_counts=True)
    click.echo(f"{len(index):,} unique cells in {time.perf_counter() - start:.1f} s -> {path or default_index_path()}")
    for n, c in zip(sizes.tolist(), counts.tolist()):
        click.echo(f"  {n} vertices: {c:>8,}")
