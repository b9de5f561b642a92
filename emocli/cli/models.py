"""``emocli models``: list every model emocli can use; ``emocli models install NAME --from PATH_OR_URL``.

Listing looks at files only (``emocli.model_catalog``): no model loads, nothing downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emocli.cli.app import app
from emocli.cli.common import err, handle_errors, out

models_app = typer.Typer(
    help="List the models emocli uses (bundled, in the cache, missing) or install one by hand.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models_app, name="models")


def _human(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return "-"  # pragma: no cover


@models_app.callback(invoke_without_command=True)
@handle_errors
def models_command(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the list as JSON instead of a table.")
    ] = False,
) -> None:
    """List every model emocli can use: stage, status (bundled / in cache / missing / download at
    first use), size, licence and where it comes from."""
    if ctx.invoked_subcommand is not None:
        return
    from emocli.model_catalog import MISSING, as_record, list_models
    from emocli.models_registry import cache_dir

    rows = list_models()
    if as_json:
        import json

        typer.echo(json.dumps([as_record(e, p) for e, p in rows], indent=1))
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("stage", max_width=16)
    table.add_column("model (from)", ratio=1, min_width=24)  # takes the width left
    table.add_column("status", no_wrap=True)
    table.add_column("size", no_wrap=True, justify="right")
    table.add_column("licence", max_width=16)
    styles = {
        MISSING: "red",
        "invalid": "red",
        "bundled": "green",
        "in cache": "green",
        "local file": "green",
    }
    for entry, presence in rows:
        status = f"[{styles.get(presence.status, 'yellow')}]{escape(presence.status)}[/]"
        where = entry.source + (f"; {presence.note}" if presence.note else "")
        model = f"{escape(entry.name)}\n[dim]{escape(where)}[/]"
        table.add_row(escape(entry.stage), model, status, _human(presence.size_bytes), escape(entry.licence))
    out.print(table)
    out.print(f"Cache: {cache_dir()}", highlight=False)


@models_app.command("install")
@handle_errors
def install_command(
    name: Annotated[str, typer.Argument(help="The model to install: asd (Light-ASD).", show_default=False)],
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="A local file (e.g. finetuning_TalkSet.model) or an http(s) URL (needs internet).",
            show_default=False,
        ),
    ],
) -> None:
    """Copy or download a model file into the cache, checked by SHA-256 (a wrong file is refused)."""
    from emocli.model_catalog import CATALOG, install_model

    path: Path = install_model(name, source)
    entry = CATALOG[name.strip().lower()]
    err.print(
        f"Installed {entry.name}: {_human(path.stat().st_size)}, checksum verified, in {path}",
        highlight=False,
    )
