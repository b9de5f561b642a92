"""Build a multi-person "conversation" video from single-speaker clips, with its reference RTTM.

    python benchmarks/make_conversation.py OUT_DIR [--data DIR] [--clips A B C D] [--no-interleave]

Each clip of ``DATA/clips`` shows one person talking. By default each clip is cut in two at its
longest pause (found with the Silero VAD) and the halves are interleaved, A1 B1 C1 D1 A2 B2 C2 D2,
so that every speaker comes back, as in a real conversation; ``--no-interleave`` keeps each clip
whole (A B C D). Each piece is trimmed to its speech (plus ``--pad`` seconds). ffmpeg (the bundled
binary) joins the pieces into ``OUT_DIR/conversation.mp4`` (512x512, 25 fps, AAC) and the piece
boundaries become the reference turns in ``OUT_DIR/conversation.rttm`` (one speaker per clip).

The default four people are all different (face_3 and WDA_AlexandriaOcasioCortez_000 are the same
person, so only one of them may be used).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_CLIPS = ("WDA_KatieHill_000", "face_1", "face_2", "face_4")
SAME_PERSON = {"face_3": "AOC", "WDA_AlexandriaOcasioCortez_000": "AOC"}


def speech_span(regions: list[tuple[float, float]], lo: float, hi: float) -> tuple[float, float]:
    inside = [(max(s, lo), min(e, hi)) for s, e in regions if e > lo and s < hi]
    return (inside[0][0], inside[-1][1]) if inside else (lo, hi)


def plan_pieces(
    clips: dict[str, list[tuple[float, float]]], durations: dict[str, float], interleave: bool, pad: float
) -> list[tuple[str, float, float]]:
    """(clip, start, end) pieces in conversation order, each trimmed to its speech +- pad."""
    halves: dict[str, list[tuple[float, float]]] = {}
    for name, regions in clips.items():
        dur = durations[name]
        s0, e0 = speech_span(regions, 0.0, dur)
        cuts = [(regions[i][1], regions[i + 1][0]) for i in range(len(regions) - 1)]
        if interleave and cuts:
            a, b = max(cuts, key=lambda c: c[1] - c[0])  # the longest pause
            mid = (a + b) / 2
            parts = [(s0, speech_span(regions, s0, mid)[1]), (speech_span(regions, mid, dur)[0], e0)]
        else:
            parts = [(s0, e0)]
        halves[name] = [(max(0.0, s - pad), min(dur, e + pad)) for s, e in parts]
    order: list[tuple[str, float, float]] = []
    for i in range(max(len(p) for p in halves.values())):
        order += [(name, *p[i]) for name, p in halves.items() if i < len(p)]
    return order


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("EMOCLI_DATA", "../shared/data")))
    ap.add_argument("--clips", nargs="+", default=list(DEFAULT_CLIPS))
    ap.add_argument("--no-interleave", action="store_true", help="keep each clip whole (A B C D)")
    ap.add_argument("--pad", type=float, default=0.15, help="seconds kept around each piece's speech")
    args = ap.parse_args(argv)

    from emocli.media import ffmpeg_exe, load_audio, probe
    from emocli.speech.vad import SileroVAD

    people = [SAME_PERSON.get(c, c) for c in args.clips]
    if len(set(people)) != len(people):
        ap.error("face_3 and WDA_AlexandriaOcasioCortez_000 are the same person; use only one of them")
    paths = {c: args.data / "clips" / f"{c}.mp4" for c in args.clips}
    vad = SileroVAD()
    regions = {c: vad(load_audio(p)) for c, p in paths.items()}
    durations = {c: probe(p).duration for c, p in paths.items()}
    pieces = plan_pieces(regions, durations, not args.no_interleave, args.pad)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    inputs: list[str] = []
    index = {c: i for i, c in enumerate(args.clips)}
    for c in args.clips:
        inputs += ["-i", str(paths[c])]
    filters, labels = [], []
    for j, (c, s, e) in enumerate(pieces):
        i = index[c]
        filters.append(
            f"[{i}:v]trim=start={s:.3f}:end={e:.3f},setpts=PTS-STARTPTS,"
            "scale=512:512:force_original_aspect_ratio=decrease,pad=512:512:(ow-iw)/2:(oh-ih)/2,"
            f"fps=25,setsar=1,format=yuv420p[v{j}]"
        )
        filters.append(
            f"[{i}:a]atrim=start={s:.3f}:end={e:.3f},asetpts=PTS-STARTPTS,"
            f"aresample=16000,aformat=channel_layouts=mono[a{j}]"
        )
        labels.append(f"[v{j}][a{j}]")
    filters.append(f"{''.join(labels)}concat=n={len(pieces)}:v=1:a=1[v][a]")
    out = args.out_dir / "conversation.mp4"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *inputs,
           "-filter_complex", ";".join(filters), "-map", "[v]", "-map", "[a]",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-c:a", "aac", "-b:a", "128k",
           str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)

    # Reference turns: each piece's speech (its VAD span, without the padding) on the joined timeline.
    lines, t = [], 0.0
    for c, s, e in pieces:
        sp_s, sp_e = speech_span(regions[c], s, e)
        lines.append(f"SPEAKER conversation 1 {t + sp_s - s:.3f} {sp_e - sp_s:.3f} <NA> <NA> {c} <NA> <NA>")
        t += e - s
    (args.out_dir / "conversation.rttm").write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({t:.1f} s, {len(pieces)} turns of {len(args.clips)} people) and conversation.rttm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
