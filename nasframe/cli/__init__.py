"""The ``nasframe`` command line: one module per command group, each command a thin wrapper over the API.

Commands import their heavy dependencies inside the command body, so that
``nasframe --help`` answers instantly. :mod:`~nasframe.cli.inputs` turns
command-line text into library objects with click's errors.
"""

from __future__ import annotations

import click

from nasframe.cli import benchmark, bpe, compare, embed, search, spaces, training


@click.group()
@click.version_option(package_name="nasframe")
def main() -> None:
    """Neural-architecture search and benchmarking."""


for _command in (spaces.list_spaces, spaces.space, benchmark.benchmark, search.search, compare.compare, bpe.bpe,
                 training.list_tasks, training.train, embed.embed):
    main.add_command(_command)

__all__ = ["main"]
