"""The one exception family of emocli.

The core raises these; only the CLI turns them into a one-line message and an exit code.
Every message names the problem and, where one exists, the fix.
"""

from __future__ import annotations


class EmocliError(Exception):
    """Base class: a problem the user can act on. ``str(err)`` is the whole user-facing line."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} {hint}")


class InputError(EmocliError):
    """The input file is missing, unreadable, empty, corrupt or lacks what the job needs."""

    exit_code = 2


class NoSpeechError(InputError):
    """The input holds no speech (silence, music, or no words recognised)."""


class OutputError(EmocliError):
    """The output path cannot be written (missing folder, permissions, equals the input)."""

    exit_code = 3


class ModelUnavailableError(EmocliError):
    """A model or its weights cannot be had here (offline, not installed, gated, corrupt)."""

    exit_code = 4


class DependencyMissingError(EmocliError):
    """An optional package (an extra) is needed for the chosen backend."""

    exit_code = 4


class DataError(EmocliError):
    """A training or evaluation data set is missing, empty or malformed."""

    exit_code = 5
