"""``emocli transcribe``: Whisper ASR + offline diarization -> speaker-attributed utterances.

Heavy imports (torch, faster-whisper) happen inside the command, so ``emocli --help`` stays fast.
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
    NumSpeakersOpt,
    QuietOpt,
    speech_options,
)
from emocli.device import Device

if TYPE_CHECKING:
    from emocli.output.writers import OutputFormat
    from emocli.results import Result

TRANSCRIBE_FORMATS = ("json", "srt", "vtt", "rttm")


def _formats(output: Path, spec: str | None) -> list[OutputFormat]:
    """Formats from --output-format, else from OUT's suffix (json when the suffix says nothing)."""
    from emocli.output.writers import OutputFormat, parse_formats

    allowed = [OutputFormat(f) for f in TRANSCRIBE_FORMATS]
    if spec is not None:
        return parse_formats(spec, allowed)
    suffix = output.suffix.lower().lstrip(".")
    return [OutputFormat(suffix)] if suffix in TRANSCRIBE_FORMATS else [OutputFormat.json]


def _clock(t: float) -> str:
    m, s = divmod(max(0.0, t), 60)
    return f"{int(m):02d}:{s:05.2f}"


def print_transcript(result: Result) -> None:
    """The transcript on stdout: a table in a terminal, plain ``[start-end] SPEAKER: text`` lines
    when piped."""
    if out.is_terminal:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("speaker", style="cyan", no_wrap=True)
        table.add_column("time", style="dim", no_wrap=True)
        table.add_column("text", overflow="fold")
        for u in result.utterances:
            table.add_row(u.speaker, f"{_clock(u.start)}-{_clock(u.end)}", u.text)
        out.print(table)
    else:
        for u in result.utterances:
            out.print(
                f"[{_clock(u.start)}-{_clock(u.end)}] {u.speaker}: {u.text}", markup=False, highlight=False
            )


def _languages(result: Result) -> str:
    """``language en``, or the languages with their speech seconds when there are several."""
    if len(result.languages) > 1:
        from emocli.output.writers import languages_text

        return f"languages {languages_text(result.languages)}"
    return f"language {result.language}"


@app.command("transcribe")
@handle_errors
def transcribe_command(
    input: Annotated[Path, typer.Argument(help="Video or audio file.", show_default=False)],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Output file; its suffix picks the format (.json, .srt, .vtt, .rttm) unless "
            "--output-format is given. Other formats go beside it with their own suffix.",
            show_default=False,
        ),
    ],
    output_format: Annotated[
        str | None,
        typer.Option(
            "--output-format",
            "-f",
            help="json, srt, vtt, rttm, a comma-separated list, or all. "
            "Default: from OUT's suffix, else json.",
            show_default=False,
        ),
    ] = None,
    language: LanguageOpt = None,
    num_speakers: NumSpeakersOpt = None,
    min_speakers: MinSpeakersOpt = 1,
    max_speakers: MaxSpeakersOpt = 8,
    asr_model: AsrModelOpt = "base",
    diarizer: DiarizerOpt = "embedded",
    hf_token: HfTokenOpt = None,
    device: DeviceOpt = Device.auto,
    quiet: QuietOpt = False,
) -> None:
    """Transcribe a talk with word timestamps and tell who speaks when, offline.

    Speakers come from the voice alone here (it does not look at the faces of a video); for speakers
    found from voice and face together (active speaker detection), use emocli annotate IN -o OUT.mp4
    --no-video --output-format json,rttm. The language is found per stretch of speech (a file may hold
    several; each utterance says its own) and the words are kept as spoken: transcribe does not
    translate (annotate does, for its text model)."""
    from emocli.device import resolve_device
    from emocli.errors import InputError
    from emocli.fileio import check_output_path
    from emocli.media import probe
    from emocli.output.writers import output_paths, untranscribed_summary, write_outputs
    from emocli.speech.pipeline import SpeechPipeline

    # Everything that can be checked cheaply is checked before models load and work starts.
    paths = output_paths(output, _formats(output, output_format))
    for path in paths.values():
        check_output_path(path, [input])
    options = speech_options(
        asr_model, language, diarizer, num_speakers, min_speakers, max_speakers, hf_token
    )
    info = probe(input)
    if not info.has_audio:
        raise InputError(
            f"{input} has no audio track.", "Give a video with sound, or an audio file (wav, flac, mp3, m4a)."
        )
    with RichProgressHook(enabled=not quiet and is_interactive()) as hook:
        hook("load models")
        pipeline = SpeechPipeline(options, device=resolve_device(device))
        hook("load models", completed=1, total=1)
        speech = pipeline.run(input, hook=hook, info=info)
    from emocli.speakers import count_speakers, join_speakers, voice_profiles

    # The voice alone decides here (faces: emocli annotate); the count says how sure it is.
    words = [w for u in speech.result.utterances for w in u.words]
    joined = join_speakers(words, None, None, speech.audio)
    speech.result.speaker_count = count_speakers(joined, speech.count_range, faces_used=False)
    speech.result.speaker_profiles = voice_profiles(speech.result)
    written = write_outputs(speech.result, paths)
    if quiet:
        return
    print_transcript(speech.result)
    err.print(
        f"Speakers: {speech.result.speaker_count.summary()}. {len(speech.result.utterances)} utterances, "
        f"{_languages(speech.result)}; {untranscribed_summary(speech.result)}. "
        f"Wrote {', '.join(str(p) for p in written)}",
        highlight=False,
    )
