"""Annotate every real clip and a 4-person conversation; check and keep frames to look at.

    python benchmarks/check_annotate_clips.py [--data DIR] [--work DIR]

For each input: the output's duration (+-0.1 s), frame count, resolution and audio against the
input's, and three frames (at 20%, 50% and 80% of the video) saved as PNG beside the output, so a
person can see the caption, the bars and the face box. Prints one line per input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from emocli.media import ffmpeg_exe, load_audio, probe, read_frames

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("EMOCLI_DATA", ROOT.parent / "shared" / "data"))
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/emocli-check-annotate"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    conv = args.work / "conversation.mp4"
    if not conv.exists():
        make = [
            sys.executable,
            str(ROOT / "benchmarks" / "make_conversation.py"),
            str(args.work),
            "--data",
            str(args.data),
        ]
        subprocess.run(make, check=True, stdout=subprocess.DEVNULL)
    inputs = [*sorted((args.data / "clips").glob("*.mp4")), conv]
    for src in inputs:
        out = args.work / f"{src.stem}.annotated.mp4"
        cmd = [sys.executable, "-m", "emocli", "annotate", str(src), "-o", str(out), "-f", "json", "-q"]
        subprocess.run(cmd, check=True)
        a, b = probe(src), probe(out)
        n_in = sum(1 for _ in read_frames(src))
        n_out = sum(1 for _ in read_frames(out))
        audio_in, audio_out = load_audio(src), load_audio(out)
        doc = json.loads(out.with_suffix(".json").read_text())
        pngs = []
        for k, frac in enumerate((0.2, 0.5, 0.8)):
            png = out.with_name(f"{src.stem}.t{k}.png")
            at = f"{b.duration * frac:.2f}"
            grab = [
                ffmpeg_exe(),
                "-loglevel",
                "error",
                "-y",
                "-ss",
                at,
                "-i",
                str(out),
                "-frames:v",
                "1",
                str(png),
            ]
            subprocess.run(grab, check=True)
            pngs.append(png.name)
        speakers = ",".join(doc["speakers"])
        emotions = " ".join(f"{u['speaker'][-2:]}:{u['emotion']}" for u in doc["utterances"])
        sizes = f"{a.width}x{a.height}->{b.width}x{b.height}"
        durations = f"{a.duration:.2f}->{b.duration:.2f}s (diff {abs(a.duration - b.duration):.3f})"
        audio = f"audio {len(audio_in) / 16000:.2f}->{len(audio_out) / 16000:.2f}s"
        print(f"{src.name}: {sizes}, {durations}, frames {n_in}->{n_out}, {audio}")
        print(f"    speakers {speakers}; {emotions}")
        print(f"    frames to look at: {' '.join(pngs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
