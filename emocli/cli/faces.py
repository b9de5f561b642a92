"""``emocli faces``: the visual stage alone (detection, tracks, expressions) -> JSON + a track table.

Useful to debug the face side of ``annotate``. Heavy imports happen inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emocli.cli.app import app
from emocli.cli.common import RichProgressHook, err, handle_errors, is_interactive, out

DETECTOR_NAMES = ("blazeface", "blazeface-full", "blazeface-short", "retinaface")


@app.command("faces")
@handle_errors
def faces_command(
    input: Annotated[Path, typer.Argument(help="Video file to analyse.", show_default=False)],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="JSON file to write (faces per frame, tracks).")
    ] = Path("faces.json"),
    face_detector: Annotated[
        str,
        typer.Option(
            "--face-detector",
            help="blazeface (default, bundled; full range with short-range fallback), blazeface-full, "
            "blazeface-short, or retinaface (needs `pip install retina-face`; its weights download "
            "at first use).",
        ),
    ] = "blazeface",
    sample_fps: Annotated[
        float, typer.Option("--sample-fps", min=0.1, max=60.0, help="Detector samples per second.")
    ] = 5.0,
    max_side: Annotated[
        int, typer.Option("--max-side", min=128, max=4096, help="Analysis size: longer side in pixels.")
    ] = 640,
    every_frame: Annotated[
        bool,
        typer.Option(
            "--every-frame",
            help="Write every video frame (interpolated between samples) instead of the sampled frames.",
        ),
    ] = False,
    asd: Annotated[
        bool,
        typer.Option(
            "--asd/--no-asd",
            help="Also score who is speaking (active speaker detection over the speech, needs the "
            "Light-ASD weights and a sound track): the speaking share per track.",
        ),
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no table.")] = False,
) -> None:
    """Find the faces in a video, link them into tracks and read their expressions, per frame."""
    from emocli.errors import EmocliError, InputError
    from emocli.faces.analyze import FaceAnalyzer, FaceOptions
    from emocli.faces.export import faces_document
    from emocli.fileio import check_output_path, write_text_atomic
    from emocli.media import probe

    if face_detector.strip().lower() not in DETECTOR_NAMES:
        raise EmocliError(
            f"Unknown face detector {face_detector!r}.", f"Choose one of: {', '.join(DETECTOR_NAMES)}."
        )
    output = check_output_path(output, [input])
    info = probe(input)
    if not info.has_video:
        raise InputError(f"{input} has no video track.", "Give a video file; faces need pictures.")
    options = FaceOptions(detector=face_detector.strip().lower(), sample_fps=sample_fps, max_side=max_side)
    analyzer = FaceAnalyzer(options)
    with RichProgressHook(enabled=not quiet and is_interactive()) as hook:
        video_faces = analyzer.analyze(input, info=info, hook=hook)
    import json

    doc = faces_document(video_faces, every_frame=every_frame, expression_model=analyzer.expression.name)
    note = _speaking_share(input, info, video_faces, doc) if asd and info.has_audio else None
    # Every-frame output of a long video is large: write it compact.
    indent = None if every_frame else 1
    write_text_atomic(output, json.dumps(doc, ensure_ascii=False, indent=indent) + "\n")
    if quiet:
        return
    _print_summary(doc)
    if note:
        err.print(f"[yellow]note:[/] {note}", highlight=False)
    err.print(f"Wrote {output}", highlight=False)


def _speaking_share(input: Path, info: object, video_faces: object, doc: dict) -> str | None:
    """Add each track's speaking share (Light-ASD over the speech) to ``doc``; a note when it cannot."""
    from emocli.errors import ModelUnavailableError
    from emocli.faces.asd import analyse_speaking
    from emocli.faces.asd_net import load_asd
    from emocli.media import load_audio
    from emocli.speech.vad import load_vad

    try:
        net = load_asd()
    except ModelUnavailableError as e:
        return f"no speaking share: {e}"
    audio = load_audio(input)
    speech = load_vad("silero")(audio)
    activity = analyse_speaking(input, info, video_faces, audio, speech, net)  # type: ignore[arg-type]
    share = activity.track_share()
    for t in doc["tracks"]:
        t["speaking"] = round(share.get(int(t["track"]), 0.0), 4)
    doc["models"]["asd"] = {"name": "light-asd", "version": "finetuning_TalkSet"}
    doc["timing"]["asd"] = round(sum(activity.timing.values()), 3)
    return None


def _print_summary(doc: dict) -> None:
    from rich.table import Table

    f = doc["faces"]
    secs = doc["timing"].get("faces", 0.0)
    out.print(
        f"{doc['source']}: {f['width']}x{f['height']} @ {f['fps']:.2f} fps, {doc['duration']:.2f} s; "
        f"{f['samples']} frames sampled at {f['sample_fps']:g}/s with {f['detector']}; "
        f"face in {100 * f['face_fraction']:.1f}% of them; {secs:.2f} s "
        f"({secs / max(doc['duration'], 1e-6):.3f} s per second of video).",
        highlight=False,
    )
    if not doc["tracks"]:
        out.print("No face found.")
        return
    cols = ["track", "from (s)", "to (s)", "samples", "coverage", "score", "size (px)", "expression"]
    speaking = all("speaking" in t for t in doc["tracks"])
    table = Table(*cols, *(["speaking"] if speaking else []))
    for t in doc["tracks"]:
        extra = [f"{100 * t['speaking']:.0f}%"] if speaking else []
        table.add_row(
            str(t["track"]),
            f"{t['start']:.2f}",
            f"{t['end']:.2f}",
            str(t["samples"]),
            f"{100 * t['coverage']:.0f}%",
            f"{t['score']:.2f}",
            f"{t['side_px']:.0f}",
            f"{t['top']} {100 * t['top_prob']:.0f}%",
            *extra,
        )
    out.print(table)
