"""Command-line text to library objects, with the errors click shows for bad input.

Every command reads its space, architecture, benchmark, task and recipe
arguments through these, so a bad value reads the same in every command
(``Invalid value for 'SPACE': ...``) and exits with click's usage code.
"""

from __future__ import annotations

import json
from typing import Any

import click

from nasframe.core import Architecture, SearchSpace
from nasframe.core.registry import load_space


def space(name: str) -> SearchSpace:
    """The registered space ``name``."""
    try:
        return load_space(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="SPACE") from None


def architecture(space_obj: SearchSpace, text: str) -> Architecture:
    """An architecture of ``space_obj`` from JSON: its ``to_json`` object, or the raw form ``validate`` takes."""
    from nasframe.core import InvalidArchitecture

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--arch") from None
    try:
        return space_obj.from_json(data) if isinstance(data, dict) else space_obj.validate(data)
    except InvalidArchitecture as exc:
        raise click.BadParameter(str(exc), param_hint="--arch") from None


def benchmark(name: str) -> Any:
    """A benchmark by registered name or saved folder."""
    import benchmarks

    try:
        return benchmarks.load(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


def task(name: str, data: str | None) -> Any:
    """A registered training task, reading its data from ``data`` where given."""
    from nasframe.tasks import DatasetError, load_task

    try:
        return load_task(name, **({"path": data} if data else {}))
    except (DatasetError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None


def recipe(items: tuple[str, ...], **defaults: Any) -> Any:
    """A training recipe from ``FIELD=VALUE`` items over ``defaults`` (the rest: the recipe's defaults)."""
    from nasframe.tasks import Recipe, RecipeError, parse_overrides

    try:
        return Recipe.from_dict({**defaults, **parse_overrides(list(items))})
    except RecipeError as exc:
        raise click.ClickException(str(exc)) from None
