"""Benchmark ``emocli annotate`` on a 720p, 25 fps talk built from the real clips.

    python benchmarks/bench_annotate.py [--data DIR] [--work DIR] [--seconds 60] [--repeat 3] [--memory]

Reports, each ``emocli annotate`` running in a fresh process with the defaults:
- wall time / video duration (target <= 1.0 on 2 cores),
- the floor: a plain ffmpeg decode + re-encode of the same file with the same x264 settings,
  and annotate's ratio to it (target <= 3),
- the time of each stage (from the JSON's ``timing``) and the peak memory (RSS),
- ``--repeat N``: floor and annotate run N times, alternating, and the medians are reported (wall
  times on a shared 2-core VM swing by 10-15% from run to run),
- ``--memory``: peak RSS on a 1-minute and a 10-minute input (target: <= 1 GB apart).

The talk is the 4-person conversation of ``make_conversation.py`` (512x512) placed on a 1280x720
canvas at 25 fps and looped to at least ``--seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ffmpeg(*args: str) -> None:
    from emocli.media import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def build_talk(data: Path, work: Path, seconds: float) -> Path:
    """A >= ``seconds`` 1280x720 25 fps talk of 4 different people (looped conversation)."""
    conv = work / "conversation.mp4"
    if not conv.exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "make_conversation.py"),
                str(work),
                "--data",
                str(data),
            ],
            check=True,
        )
    base = work / "conversation720.mp4"
    if not base.exists():
        canvas = "scale=720:720,pad=1280:720:280:0,fps=25,setsar=1"
        x264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"]
        ffmpeg("-i", str(conv), "-vf", canvas, *x264, "-c:a", "aac", "-ar", "44100", str(base))
    from emocli.media import probe

    loops = max(0, int(seconds // probe(base).duration))
    out = work / f"talk720_{int(seconds)}s.mp4"
    if not out.exists():
        ffmpeg("-stream_loop", str(loops), "-i", str(base), "-c", "copy", str(out))
    return out


def timed_child(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB) of that process alone."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024


def floor_seconds(video: Path, out: Path) -> float:
    from emocli.media import ffmpeg_exe

    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-pix_fmt", "yuv420p"]
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(video),
        *x264,
        "-c:a",
        "aac",
        str(out),
    ]
    return timed_child(cmd)[0]


def annotate(video: Path, out: Path) -> dict:
    emocli = [sys.executable, "-m", "emocli"]
    wall, rss = timed_child([*emocli, "annotate", str(video), "-o", str(out), "-f", "json", "-q"])
    timing = json.loads(out.with_suffix(".json").read_text())["timing"]
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(rss), "timing": timing}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("EMOCLI_DATA", ROOT.parent / "shared" / "data"))
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/emocli-bench-annotate"))
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; medians are reported")
    ap.add_argument("--memory", action="store_true", help="also compare a 1-minute and a 10-minute input")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    from emocli.media import probe

    talk = build_talk(args.data, args.work, args.seconds)
    info = probe(talk)
    size = f"{info.width}x{info.height} {info.fps} fps"
    print(f"input: {talk.name} {size} {info.duration:.1f}s, {os.cpu_count()} cores")
    floors, runs = [], []
    for i in range(args.repeat):
        floors.append(floor_seconds(talk, args.work / "floor.mp4"))
        runs.append(annotate(talk, args.work / "annotated.mp4"))
        if args.repeat > 1:
            print(f"  run {i + 1}: floor {floors[-1]:.1f}s, annotate {runs[-1]['wall_s']:.1f}s")
    floor = statistics.median(floors)
    res = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]  # the median run, with its stages
    rtf = res["wall_s"] / info.duration
    med = " (medians)" if args.repeat > 1 else ""
    print(
        f"floor (ffmpeg decode + x264 veryfast re-encode): {floor:.1f}s"
        f"  (RTF {floor / info.duration:.3f}){med}"
    )
    ratio = res["wall_s"] / floor
    print(f"annotate: {res['wall_s']:.1f}s  RTF {rtf:.3f} (target <= 1.0){med}")
    print(f"ratio to floor {ratio:.2f} (target <= 3)")
    print(f"peak RSS {res['peak_rss_mb']} MB")
    for stage, sec in res["timing"].items():
        print(f"  {stage:<22} {sec:7.2f}s")
    if args.memory:
        rss = {}
        for minutes in (1, 10):
            video = build_talk(args.data, args.work, minutes * 60)
            r = annotate(video, args.work / f"mem{minutes}.mp4")
            rss[minutes] = r["peak_rss_mb"]
            print(f"{minutes:>2}-minute input: wall {r['wall_s']:.1f}s, peak RSS {r['peak_rss_mb']} MB")
        print(f"10-minute minus 1-minute peak RSS: {rss[10] - rss[1]} MB (target <= 1024)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
