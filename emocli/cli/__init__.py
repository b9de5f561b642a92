"""The ``emocli`` command line. Importing this module must stay cheap: no torch, no models."""

from __future__ import annotations

import importlib
import importlib.util

import typer

from emocli import __version__
from emocli.cli.app import app

# One module per job; each registers its command(s) on ``app`` when imported.
COMMAND_MODULES = ("transcribe", "annotate", "batch", "train", "faces", "models", "report")
for _name in COMMAND_MODULES:
    if importlib.util.find_spec(f"emocli.cli.{_name}") is not None:
        importlib.import_module(f"emocli.cli.{_name}")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"emocli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Recognise emotions in videos of people talking."""


def main() -> None:
    app()
