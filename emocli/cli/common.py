"""Shared CLI plumbing: consoles, error mapping, the Rich progress hook, quiet library logs.

Nothing here imports torch or model code; command modules import the core inside their function.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from emocli.errors import EmocliError

out = Console(soft_wrap=True)  # results (transcripts, tables) go to stdout
err = Console(stderr=True, soft_wrap=True)  # progress and errors go to stderr

P = ParamSpec("P")
R = TypeVar("R")


def _sigterm_to_interrupt(signum: int, frame: object) -> None:
    # kill (SIGTERM) unwinds like Ctrl-C, so that temporary outputs are removed on the way out.
    raise KeyboardInterrupt


def quiet_libraries() -> None:
    """Silence third-party chatter (warnings, INFO logs) that would bury our one-line messages."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # transformers reads this when imported: no "Loading weights" bars in our output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in (
        "faster_whisper",
        "transformers",
        "sentence_transformers",
        "huggingface_hub",
        "pyannote",
        "ctranslate2",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn ``EmocliError`` into one red line + its exit code; Ctrl-C/SIGTERM into exit 130.

    Unexpected exceptions also print one line; ``EMOCLI_DEBUG=1`` shows the traceback instead.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        quiet_libraries()
        previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        try:
            return func(*args, **kwargs)
        except EmocliError as e:
            err.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, highlight=False)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err.print("[yellow]Interrupted; no partial output was left behind.[/]")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:
            if os.environ.get("EMOCLI_DEBUG"):
                raise
            err.print(
                f"[bold red]internal error:[/] {type(e).__name__}: {escape(str(e))} "
                "(set EMOCLI_DEBUG=1 for the traceback and please report it)",
                highlight=False,
            )
            raise typer.Exit(1) from None
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


class RichProgressHook:
    """A progress hook (see ``emocli.hooks``) drawing one Rich bar per step, with ETA.

    Use as a context manager. ``hook(step, completed=x, total=y)`` creates the step's bar on first
    sight and updates it; a step seen without totals shows a spinner.
    """

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console or err,
            transient=False,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __call__(
        self,
        step: str,
        *,
        completed: float | None = None,
        total: float | None = None,
        detail: str | None = None,
    ) -> None:
        if not self.enabled:
            return
        task = self._tasks.get(step)
        if task is None:
            task = self._tasks[step] = self._progress.add_task(step, total=total)
        kwargs: dict[str, Any] = {}
        if detail is not None:
            kwargs["description"] = f"{escape(step)} [dim]{escape(detail)}[/]"
        if total is not None:
            kwargs["total"] = total
        if completed is not None:
            kwargs["completed"] = completed
        self._progress.update(task, **kwargs)

    def __enter__(self) -> RichProgressHook:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            # Finish every bar so the final display reads 100%.
            for task_id in self._tasks.values():
                t = self._progress.tasks[task_id]
                self._progress.update(task_id, total=t.total or 1, completed=t.total or 1)
        self._progress.stop()


def is_interactive() -> bool:
    return sys.stderr.isatty()
