"""``emocli annotate``: the main job. Transcribe, diarize, find the speaker's face, recognise each
utterance's emotion, and write an annotated copy of the video plus machine-readable results.

Heavy imports happen inside the command, so ``emocli --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from emocli.cli.app import app
from emocli.cli.common import RichProgressHook, err, handle_errors, is_interactive, out
from emocli.cli.options import (
    AsrModelOpt,
    DeviceOpt,
    DiarizerOpt,
    HfTokenOpt,
    LanguageOpt,
    MaxSpeakersOpt,
    MinSpeakersOpt,
    ModalitiesOpt,
    ModelOpt,
    NumSpeakersOpt,
    QuietOpt,
    parse_modalities,
    speech_options,
)
from emocli.device import Device

if TYPE_CHECKING:
    from emocli.results import Result

VIDEO_OUT_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")


def print_summary(result: Result) -> None:
    """Speakers, their speaking time and the share of that time per emotion."""
    from rich.table import Table

    from emocli import EMOTIONS

    table = Table(title="Emotion share of speaking time", header_style="bold", box=None, pad_edge=False)
    table.add_column("speaker", style="cyan", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("utts", justify="right")
    for e in EMOTIONS:
        table.add_column(e, justify="right")
    for spk in result.speakers:
        utts = [u for u in result.utterances if u.speaker == spk and u.emotion]
        total = sum(u.duration for u in utts)
        if not utts:
            continue
        shares = {e: sum(u.duration for u in utts if u.emotion == e) / max(total, 1e-9) for e in EMOTIONS}
        top = max(shares, key=lambda k: shares[k])
        cells = [
            (f"[bold]{shares[e]:.0%}[/]" if e == top else f"{shares[e]:.0%}") if shares[e] else "·"
            for e in EMOTIONS
        ]
        table.add_row(spk, f"{total:.1f}s", str(len(utts)), *cells)
    out.print(table)


def print_utterances(result: Result) -> None:
    from rich.table import Table

    from emocli.output.render import EMOTION_COLOURS

    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("time", style="dim", no_wrap=True)
    table.add_column("speaker", style="cyan", no_wrap=True)
    table.add_column("emotion", no_wrap=True)
    table.add_column("text", overflow="fold")
    for u in result.utterances:
        r, g, b = EMOTION_COLOURS.get(u.emotion or "", (200, 200, 200))
        emo = (
            f"[rgb({r},{g},{b})]{u.emotion} {u.confidence:.0%}[/]"
            if u.emotion and u.confidence is not None
            else ""
        )
        table.add_row(f"{u.start:6.1f}-{u.end:6.1f}", u.speaker, emo, u.text)
    out.print(table)


@app.command("annotate")
@handle_errors
def annotate_command(
    input: Annotated[
        Path, typer.Argument(help="Video (or audio) file of people talking.", show_default=False)
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Annotated video to write (.mp4). Results go beside it: OUT.json, OUT.srt, ...",
            show_default=False,
        ),
    ],
    output_format: Annotated[
        str,
        typer.Option(
            "--output-format",
            "-f",
            help="Results beside the video: json, srt, vtt, csv, rttm, html (the report page), a comma list, "
            "or all.",
        ),
    ] = "json,srt,csv",
    model: ModelOpt = None,
    modalities: ModalitiesOpt = "text,audio,visual",
    asr_model: AsrModelOpt = "base",
    language: LanguageOpt = None,
    diarizer: DiarizerOpt = "embedded",
    num_speakers: NumSpeakersOpt = None,
    min_speakers: MinSpeakersOpt = 1,
    max_speakers: MaxSpeakersOpt = 8,
    hf_token: HfTokenOpt = None,
    face_detector: Annotated[
        str,
        typer.Option(
            "--face-detector",
            help="blazeface (bundled, offline) or retinaface (pip install retina-face; "
            "weights download once).",
        ),
    ] = "blazeface",
    asd: Annotated[
        str,
        typer.Option(
            "--asd",
            help="Active speaker detection (who speaks, from lips and sound): auto (where two or more "
            "faces are on screen together during speech), on (every face, also to find voices heard "
            "but not seen), off (the mouth-motion rule). Needs the Light-ASD weights: emocli models "
            "install asd.",
        ),
    ] = "auto",
    asd_weights: Annotated[
        Path | None,
        typer.Option(
            "--asd-weights",
            help="Light-ASD weights file (default: EMOCLI_ASD_WEIGHTS, then the model cache).",
            show_default=False,
        ),
    ] = None,
    captions: Annotated[
        str,
        typer.Option(
            "--captions",
            help="spoken: each caption in the language it was said in; english: speech not in English "
            "shown in Whisper's English translation (what the text model reads). The video, SRT, VTT "
            "and CSV follow; the JSON keeps both (text, text_en).",
        ),
    ] = "spoken",
    no_video: Annotated[
        bool, typer.Option("--no-video", help="Write only the results, not the annotated video.")
    ] = False,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
) -> None:
    """Recognise the emotion of every utterance from words, voice and face; burn captions and bars in."""
    from emocli.device import resolve_device
    from emocli.errors import EmocliError, OutputError
    from emocli.faces.detect import DETECTORS
    from emocli.fileio import check_output_path
    from emocli.media import probe
    from emocli.output.render import RenderOptions
    from emocli.output.writers import (
        CAPTION_MODES,
        languages_summary,
        output_paths,
        parse_formats,
        untranscribed_summary,
        write_outputs,
    )
    from emocli.pipeline import AnnotateOptions, Annotator

    # Everything cheap is checked before any model loads.
    mods = parse_modalities(modalities)
    asd = asd.strip().lower()
    if asd not in ("auto", "on", "off"):
        raise EmocliError(f"Unknown --asd mode {asd!r}.", "Choose auto, on or off.")
    if asd_weights is not None and not asd_weights.is_file():
        raise EmocliError(f"No Light-ASD weights file at {asd_weights}.", "Give the path of the .model file.")
    captions = captions.strip().lower()
    if captions not in CAPTION_MODES:
        raise EmocliError(f"Unknown --captions mode {captions!r}.", f"Choose {' or '.join(CAPTION_MODES)}.")
    if face_detector.strip().lower() not in DETECTORS:
        raise EmocliError(f"Unknown face detector {face_detector!r}.", f"Choose from {', '.join(DETECTORS)}.")
    info = probe(input)
    render = info.has_video and not no_video
    if render and output.suffix.lower() not in VIDEO_OUT_SUFFIXES:
        raise OutputError(
            f"The annotated video needs a video file name, not {output.name}.",
            "Use -o out.mp4 (results are written beside it), or --no-video.",
        )
    output = check_output_path(output, [input])
    paths = output_paths(output, parse_formats(output_format))
    for p in paths.values():
        check_output_path(p, [input])
    options = AnnotateOptions(
        modalities=mods,
        model_dir=model,
        speech=speech_options(
            asr_model, language, diarizer, num_speakers, min_speakers, max_speakers, hf_token
        ),
        face_detector=face_detector.strip().lower(),
        device=resolve_device(device),
        asd=asd,
        asd_weights=asd_weights,
        render=RenderOptions(captions=captions),
    )
    annotator = Annotator(options)
    with RichProgressHook(enabled=not quiet and is_interactive()) as hook:
        analysis = annotator.annotate(input, output if render else None, hook=hook, info=info)
    written = write_outputs(analysis.result, paths, captions)
    if quiet:
        return
    for w in analysis.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    if not info.has_video:
        err.print(
            "[yellow]note:[/] audio-only input: no video was written, only the results.", highlight=False
        )
    result = analysis.result
    if result.utterances:
        print_utterances(result)
        print_summary(result)
    if result.speaker_count is not None:
        err.print(f"Speakers: {result.speaker_count.summary()}", highlight=False)
    if languages_summary(result):
        err.print(f"Languages: {languages_summary(result)}", highlight=False)
    if untranscribed_summary(result):
        err.print(f"Transcript: {untranscribed_summary(result)}", highlight=False)
    files = ([str(output)] if render else []) + [str(p) for p in written]
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.timing.items() if "." not in k)
    err.print(f"Wrote {', '.join(files)}\nTime per stage: {stages}", highlight=False)
