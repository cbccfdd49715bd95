"""Command-line text to library objects, checked before any command does its work.

Every command reads its space, searcher, architecture, benchmark, task and
recipe arguments and checks its output folder through these, so a bad value
reads the same in every command (``Invalid value for 'SPACE': ...``) and is
refused before minutes of loading, fitting or training. Errors are click's
usage errors or :class:`~nasframe.core.errors.UserError`; the boundary in
:mod:`nasframe.cli` prints either on one line and exits with status 2.
"""

from __future__ import annotations

import json
from typing import Any

import click

from nasframe.core import Architecture, SearchSpace
from nasframe.core.errors import UnknownName
from nasframe.core.registry import SEARCHERS, load_space


def space(name: str) -> SearchSpace:
    """The registered space ``name``."""
    try:
        return load_space(name)
    except UnknownName as exc:
        raise click.BadParameter(str(exc), param_hint="SPACE") from None


def searcher(name: str, option: str = "--searcher") -> str:
    """``name`` if a searcher is registered under it (checked before any work)."""
    try:
        SEARCHERS.factory(name)
    except UnknownName as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    return name


def architecture(space_obj: SearchSpace, text: str) -> Architecture:
    """An architecture of ``space_obj`` from JSON: its ``to_json`` object, the raw form ``validate`` takes,
    or a line of ``nasframe space sample`` (``{"hash": ..., "arch": ...}``), so that output pipes back in."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--arch") from None
    if isinstance(data, dict) and "arch" in data:
        data = data["arch"]
    try:
        return space_obj.from_json(data) if isinstance(data, dict) else space_obj.validate(data)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        # InvalidArchitecture names the broken rule; malformed JSON (a ragged matrix, a missing
        # key) fails inside the validator with a Python error that still says what is wrong
        reason = str(exc) if not isinstance(exc, KeyError) else f"missing {exc}"
        raise click.BadParameter(f"not a {space_obj.name} architecture: {reason}", param_hint="--arch") from None


def benchmark(name: str, option: str = "NAME") -> Any:
    """A benchmark by registered name or saved folder: the one resolver every command uses."""
    import benchmarks

    try:
        return benchmarks.load(name)
    except (UnknownName, FileNotFoundError) as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def task(name: str, data: str | None, options: tuple[str, ...] = ()) -> Any:
    """A registered training task, reading its data from ``data`` where given, built with ``KEY=VALUE``
    ``options`` (``--task-option dataset=digits``; a value is read as JSON where it parses, else as text)."""
    from nasframe.tasks import load_task

    built: dict[str, Any] = {"path": data} if data else {}
    for item in options:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--task-option")
        try:
            built[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            built[key.strip()] = text
    try:
        return load_task(name, **built)
    except TypeError as exc:  # an option the task's constructor does not take
        raise click.BadParameter(f"task {name!r} does not take these options: {exc}",
                                 param_hint="--task-option") from None


def recipe(items: tuple[str, ...], task: Any = None, **defaults: Any) -> Any:
    """A training recipe from ``FIELD=VALUE`` items over ``defaults`` (the rest: the recipe's defaults);
    ``task``'s own options (``Task.recipe_options``) are accepted too."""
    from nasframe.tasks import Recipe, parse_overrides

    options = getattr(task, "recipe_options", None)
    recipe = Recipe.from_dict({**defaults, **parse_overrides(list(items), options)})
    if task is not None:
        task.check_options(recipe)
    return recipe




def numbers(text: str, option: str) -> list[float]:
    """Comma-separated numbers (``"1,0.05"``), or a usage error naming ``option``."""
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}", param_hint=option) from None
