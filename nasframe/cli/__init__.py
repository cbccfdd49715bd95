"""The ``nasframe`` command line: one module per command group, each command a thin wrapper over the API.

Commands import their heavy dependencies inside the command body, so that
``nasframe --help`` answers instantly. :mod:`~nasframe.cli.inputs` turns
command-line text into library objects and checks outputs before any work.

One error boundary (:class:`ErrorBoundary`) decides what a failure looks
like: a :class:`~nasframe.core.errors.UserError` or a click usage error
prints one line ``error: <message>`` on stderr and exits with status 2 (what
was given must change); a :class:`click.ClickException` raised for a failed
run prints the same way with its own status (1); anything else is a bug and
keeps its traceback. ``nasframe --debug ...`` shows the traceback of user
errors too.
"""

from __future__ import annotations

import errno
import sys
from typing import Any, NoReturn

import click

from nasframe.cli import benchmark, bpe, compare, embed, search, spaces, submit, training
from nasframe.core.errors import UserError

#: exit status of a user error (click's own for usage errors)
USER_ERROR = 2
#: OS errors that are the user's to fix wherever they surface: an unwritable or full output
_USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def _fail(message: str, status: int) -> NoReturn:
    """Print ``error: <message>`` as one line on stderr and exit with ``status``."""
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(status)


class ErrorBoundary(click.Group):
    """The top-level group: runs a command and turns user errors into one line and exit status 2."""

    debug = False

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Click's ``main`` with the boundary around it; ``standalone_mode=False`` lets every error through."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        ErrorBoundary.debug = False
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.Abort as abort:
            self._abort(abort)
        except Exception as exc:  # noqa: BLE001 - sorted below into user errors and bugs
            self._handle(exc)
        sys.exit(result if isinstance(result, int) else 0)

    def _handle(self, exc: Exception) -> NoReturn:
        """One line for what the user can fix (unless ``--debug``); the traceback for a bug."""
        user = (isinstance(exc, (UserError, click.ClickException))
                or (isinstance(exc, OSError) and exc.errno in _USER_ERRNOS))
        if not user or ErrorBoundary.debug:
            raise exc
        if isinstance(exc, click.ClickException):
            _fail(exc.format_message(), exc.exit_code)
        _fail(str(exc), USER_ERROR)

    @staticmethod
    def _abort(abort: click.Abort) -> NoReturn:
        """Ctrl-C stops quietly; click also turns an ``EOFError`` into ``Abort``, which hid bugs as "Aborted!"."""
        cause = abort.__cause__
        if isinstance(cause, EOFError):
            raise cause
        click.echo("Aborted!", err=True)
        sys.exit(1)


def _set_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--debug``: user errors show their traceback as bugs do."""
    ErrorBoundary.debug = ErrorBoundary.debug or value


@click.group(cls=ErrorBoundary)
@click.version_option(package_name="nasframe")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
              help="Show the Python traceback of user errors too (bugs always show one).")
def main() -> None:
    """Neural-architecture search and benchmarking."""


for _command in (spaces.list_spaces, spaces.space, benchmark.benchmark, search.search, search.list_searchers,
                 compare.compare, bpe.bpe, training.list_tasks, training.train, embed.embed, submit.submit):
    main.add_command(_command)

__all__ = ["ErrorBoundary", "main"]
