"""The Typer application object; command modules register themselves on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="emocli",
    help="Recognise emotions in videos of people talking: transcribe, diarize, and label each utterance "
    "from its words, voice and face.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
