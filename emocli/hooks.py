"""Progress reporting through hooks: the core calls ``hook(step, completed=, total=)``.

The library never prints. The CLI passes a Rich progress hook; tests pass a recorder.
"""

from __future__ import annotations

from typing import Protocol


class ProgressHook(Protocol):
    def __call__(
        self,
        step: str,
        *,
        completed: float | None = None,
        total: float | None = None,
        detail: str | None = None,
    ) -> None:
        """Report progress of ``step``. ``completed``/``total`` share a unit (seconds, frames, items);
        ``detail`` is a short live note shown beside the step (e.g. failures and throughput)."""


def null_hook(
    step: str, *, completed: float | None = None, total: float | None = None, detail: str | None = None
) -> None:
    """A hook that ignores everything (the default for library callers)."""
