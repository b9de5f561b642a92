"""``emocli batch``: label a folder of clips, one row per clip (or per utterance), resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emocli.cli.app import app
from emocli.cli.common import RichProgressHook, err, handle_errors, is_interactive, out
from emocli.cli.options import (
    AsrModelOpt,
    DeviceOpt,
    LanguageOpt,
    ModalitiesOpt,
    ModelOpt,
    QuietOpt,
    parse_modalities,
    speech_options,
)
from emocli.device import Device


@app.command("batch")
@handle_errors
def batch_command(
    folder: Annotated[Path, typer.Argument(help="Folder of video or audio clips.", show_default=False)],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Results file: .csv or .jsonl.", show_default=False)
    ],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Also look in sub-folders.")] = False,
    glob: Annotated[
        str | None, typer.Option("--glob", help="Only files matching this pattern, e.g. '*.mp4'.")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Parallel workers (each loads the models once).")
    ] = 1,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip clips already in OUTPUT (after a crash or a kill).")
    ] = False,
    per_utterance: Annotated[
        bool, typer.Option("--per-utterance", help="One row per utterance instead of one per clip.")
    ] = False,
    annotate_dir: Annotated[
        Path | None, typer.Option("--annotate-dir", help="Also write annotated videos into this folder.")
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Also write OUTPUT.html, an index page of the clips (with --annotate-dir: each clip's "
            "OUT.json and OUT.html page beside its video, linked from the index).",
        ),
    ] = False,
    speakers: Annotated[
        str,
        typer.Option(
            "--speakers",
            help="Who is the same speaker across clips, for reading each voice against that "
            "speaker's own (as the model was trained): auto (voices compared across the folder; "
            "clips of one voice are read together, different or uncertain voices apart) or clip "
            "(every clip alone; one pass, rows written as clips finish).",
        ),
    ] = "auto",
    speaker_pattern: Annotated[
        str | None,
        typer.Option(
            "--speaker-pattern",
            help="Regular expression on each clip's path under FOLDER whose first group names the "
            "clip's speaker, e.g. '(\\d+)\\.\\w+$' (RAVDESS actor) or '^([^/]+)/' (one folder per "
            "person). Matching clips are grouped by it; the others as --speakers says.",
        ),
    ] = None,
    model: ModelOpt = None,
    modalities: ModalitiesOpt = "text,audio,visual",
    asr_model: AsrModelOpt = "base",
    language: LanguageOpt = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="local (processes on this machine) or ray (pip install 'emocli[ray]')."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Ray cluster to join (e.g. auto or ray://head:10001). Default: start one here.",
        ),
    ] = None,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
) -> None:
    """Label every clip of a folder with its emotion; a failing clip gets an error row."""
    from emocli.batch import BatchOptions, run_batch
    from emocli.clip_labeler import AnnotatorLabelerFactory
    from emocli.device import resolve_device
    from emocli.errors import EmocliError, InputError, OutputError
    from emocli.pipeline import AnnotateOptions

    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder.", "Give the folder that holds the clips.")
    if output.suffix.lower() not in (".csv", ".jsonl"):
        raise OutputError(f"Unsupported results file {output.name}.", "Use a .csv or .jsonl file name.")
    if engine not in ("local", "ray"):
        raise EmocliError(f"Unknown engine {engine!r}.", "Choose local or ray.")
    from emocli.batch_speakers import SpeakerGrouping

    grouping = SpeakerGrouping(speakers, speaker_pattern)  # a bad mode or pattern: one line, exit 2
    from emocli.fileio import check_output_path

    output = check_output_path(output)
    if annotate_dir is not None:
        annotate_dir.mkdir(parents=True, exist_ok=True)
    mods = parse_modalities(modalities)
    options = AnnotateOptions(
        modalities=mods,
        model_dir=model,
        speech=speech_options(asr_model, language, "embedded", None, 1, 8, None),
        device=resolve_device(device),
    )
    factory = AnnotatorLabelerFactory(
        options, per_utterance, annotate_dir.resolve() if annotate_dir else None, report=report
    )
    batch_options = BatchOptions(
        recursive=recursive, glob=glob, jobs=jobs, resume=resume, per_utterance=per_utterance,
        engine=engine, ray_address=ray_address, speakers=grouping,
    )  # fmt: skip
    with RichProgressHook(enabled=not quiet and is_interactive()) as hook:
        summary = run_batch(folder, output, factory, batch_options, hook)
    if report:
        from emocli.output.report_index import write_index

        index = write_index(output, output.with_suffix(".html"), annotate_dir)
    if quiet:
        return
    from rich.table import Table

    table = Table(title="Batch summary", box=None, header_style="bold", pad_edge=False)
    table.add_column("emotion")
    table.add_column("clips" if not per_utterance else "utterances", justify="right")
    for emotion, n in summary.emotions.most_common():
        table.add_row(emotion, str(n))
    out.print(table)
    done = summary.ok + summary.failed
    err.print(
        f"{summary.total} clips: {summary.ok} ok, {summary.failed} failed, {summary.skipped} already done. "
        f"{done} labelled in {summary.seconds:.1f}s ({summary.clips_per_minute:.1f} clips/min). "
        f"Wrote {output}{f' and {index}' if report else ''}",
        highlight=False,
    )
    for f, reason in summary.failures[:10]:
        err.print(f"  [red]failed[/] {f}: {reason}", highlight=False)
    if len(summary.failures) > 10:
        err.print(f"  ... and {len(summary.failures) - 10} more (see the error column)", highlight=False)
