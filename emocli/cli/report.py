"""``emocli report``: rebuild the HTML page from a result, without loading any model.

A ``.json`` result (annotate or transcribe) gives the clip's page and its timeline picture; a batch
results file (``.csv`` / ``.jsonl``) gives the index page of its clips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emocli.cli.app import app
from emocli.cli.common import err, handle_errors
from emocli.cli.options import QuietOpt


@app.command("report")
@handle_errors
def report_command(
    result: Annotated[
        Path,
        typer.Argument(
            help="A result: OUT.json from annotate or transcribe, or a batch results .csv / .jsonl.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Page to write (default: RESULT with .html).", show_default=False
        ),
    ] = None,
    annotate_dir: Annotated[
        Path | None,
        typer.Option(
            "--annotate-dir",
            help="Batch results only: the --annotate-dir of that batch, to link each clip's page.",
            show_default=False,
        ),
    ] = None,
    no_picture: Annotated[
        bool, typer.Option("--no-picture", help="Do not write OUT.timeline.png beside the page.")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Write the self-contained HTML report (and OUT.timeline.png) from a result file."""
    from emocli.errors import InputError, OutputError
    from emocli.fileio import check_output_path
    from emocli.output.report import read_result, write_report
    from emocli.output.report_index import write_index

    if not result.is_file():
        raise InputError(
            f"No result file at {result}.", "Give the .json that annotate wrote, or a batch .csv."
        )
    kind = result.suffix.lower()
    if kind not in (".json", ".csv", ".jsonl"):
        raise InputError(
            f"{result.name} is not a result file.", "Give a .json result, or a batch results .csv / .jsonl."
        )
    out = check_output_path(output if output is not None else result.with_suffix(".html"), [result])
    if out.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"The report is a web page, not {out.name}.", "Use -o NAME.html.")
    if kind == ".json":
        written = write_report(read_result(result), out, picture=not no_picture)
    else:
        written = [write_index(result, out, annotate_dir)]
    if not quiet:
        err.print(f"Wrote {', '.join(str(p) for p in written)}", highlight=False)
