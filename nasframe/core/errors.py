"""The error family for problems with what a user gave: input, files, settings.

Everything that is the user's to fix (an invalid architecture, an unknown
name, a malformed or truncated file, a recipe out of range, an output folder
that cannot be written) raises a subclass of :class:`UserError`, with a
message that names what is wrong and where. The command line prints such a
message on one line and exits with status 2; anything else is a bug and
keeps its traceback. Subclasses also derive from the built-in exception a
caller would expect (``ValueError``, ``KeyError``...), so existing
``except ValueError`` code keeps working.

The members defined elsewhere, next to the code that raises them:
``InvalidArchitecture`` (:mod:`nasframe.core.architecture`), the loaders'
format errors (``NB101FormatError``, ``TFRecordError``, ``ResultFormatError``,
``NASLibFormatError``, ``NBGraphFormatError``, ``DVAEFormatError``,
``CorruptIndexError``), ``UnknownArchitecture`` (:mod:`benchmarks.base`),
``RecipeError``, ``DatasetError``, ``CheckpointMismatch``
(:mod:`nasframe.tasks`) and ``BPEFormatError`` (:mod:`nasframe.estimation`).
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, not with nasframe: the message says what to fix."""


class UnknownName(UserError, KeyError):
    """A name no registry (space, searcher, benchmark...) or table knows; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would show repr() of the message, quotes and all
        return str(self.args[0]) if self.args else ""


class InvalidSetting(UserError, ValueError):
    """A setting (a size, a count, a budget, a flag combination) outside what the code can do."""


class NotWritable(UserError, OSError):
    """An output file or folder that cannot be created or written."""


class SettingsMismatch(UserError, ValueError):
    """A results folder reused with other settings than those it recorded (its results would mix)."""


__all__ = ["InvalidSetting", "NotWritable", "SettingsMismatch", "UnknownName", "UserError"]
