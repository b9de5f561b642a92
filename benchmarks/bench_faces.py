"""Speed of the visual stage and the issue-4 acceptance figures on the real clips.

    python benchmarks/bench_faces.py                 # speed at 720p (needs EMOCLI_DATA or --video)
    python benchmarks/bench_faces.py --acceptance    # + per-clip and concatenation checks

Reports (1) ms per processed frame at 720p: detection + expression + mouth features + tracking on
one sampled frame, starting from the decoded 1280x720 frame (the downscale to the analysis size
included), and (2) the whole stage's wall time per second of video at the default sampling rate,
decoding included (ffmpeg decodes, resamples and scales; the stage analyses). Targets: <= 20 ms
and <= 0.15 s. Run on a quiet machine: timings taken while other jobs run are inflated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from emocli.faces.analyze import FaceAnalyzer, FaceOptions
from emocli.faces.speaker import utterance_visuals
from emocli.media import ffmpeg_exe, probe, read_frames
from emocli.results import Utterance

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [
    "WDA_AlexandriaOcasioCortez_000.mp4",
    "WDA_KatieHill_000.mp4",
    "face_1.mp4",
    "face_2.mp4",
    "face_3.mp4",
    "face_4.mp4",
    "face_5.mp4",
]
DIFFERENT_PEOPLE = ["face_1.mp4", "face_2.mp4", "face_4.mp4", "face_5.mp4"]


def data_dir() -> Path:
    return Path(os.environ.get("EMOCLI_DATA", ROOT.parent / "shared" / "data")).expanduser()


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_720p(clip: Path, out: Path, seconds: float = 20.0) -> Path:
    """A 1280x720 30 fps H.264 talking-head video: the clip looped, scaled and centred."""
    ffmpeg(
        "-stream_loop", "-1", "-i", str(clip), "-t", str(seconds),
        "-vf", "scale=720:720,pad=1280:720:280:0,fps=30", "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "23", "-c:a", "aac", str(out),
    )  # fmt: skip
    return out


def bench_frames(analyzer: FaceAnalyzer, video: Path, n: int = 60) -> dict[str, float]:
    """ms per processed frame from decoded full-size frames (downscale to the analysis size included)."""
    import cv2

    o = analyzer.options
    frames = [f.image for f, _ in zip(read_frames(video, fps=o.sample_fps), range(n), strict=False)]
    h, w = frames[0].shape[:2]
    k = o.max_side / max(h, w)
    size = (round(w * k / 2) * 2, round(h * k / 2) * 2)
    analyzer.analyze_frame(cv2.resize(frames[0], size, interpolation=cv2.INTER_AREA))  # warm-up
    times, faces = [], 0
    for im in frames:
        t = time.perf_counter()
        small = cv2.resize(im, size, interpolation=cv2.INTER_AREA)
        boxes, *_ = analyzer.analyze_frame(small)
        times.append((time.perf_counter() - t) * 1000)
        faces += len(boxes)
    return {
        "frames": len(times),
        "size": f"{w}x{h}",
        "faces_per_frame": faces / len(times),
        "ms_median": statistics.median(times),
        "ms_mean": statistics.fmean(times),
        "ms_p90": float(np.percentile(times, 90)),
    }


def bench_stage(analyzer: FaceAnalyzer, video: Path, repeats: int = 2) -> dict[str, float]:
    """Wall seconds of ``analyze`` per second of video (decode included); best of ``repeats``."""
    info = probe(video)
    walls = []
    for _ in range(repeats):
        t = time.perf_counter()
        vf = analyzer.analyze(video, info=info)
        walls.append(time.perf_counter() - t)
    best = min(walls)
    return {
        "duration_s": info.duration,
        "sample_fps": vf.sample_fps,
        "wall_s": best,
        "s_per_video_s": best / info.duration,
        "face_fraction": vf.face_fraction(),
    }


def acceptance(analyzer: FaceAnalyzer, clips: Path, tmp: Path) -> None:
    print("\n== 1. each clip: face in >= 95% of sampled frames, one speaker track throughout ==")
    print(
        f"{'clip':38s} {'samples':>7s} {'face%':>6s} {'tracks':>6s} {'speaker tracks (1-s windows)':30s} s/s"
    )
    for name in CLIPS:
        t = time.perf_counter()
        vf = analyzer.analyze(clips / name)
        wall = time.perf_counter() - t
        wins = [
            Utterance(float(s), float(min(s + 1, vf.duration)), "A", "") for s in np.arange(0, vf.duration, 1)
        ]
        vis = utterance_visuals(vf, wins)
        chosen = sorted({str(v.track) for v in vis})
        ok = vf.face_fraction() >= 0.95 and len(chosen) == 1 and chosen != ["None"]
        print(
            f"{name:38s} {vf.n_samples:7d} {100 * vf.face_fraction():6.1f} {len(vf.track_ids):6d} "
            f"{','.join(chosen) + ' (' + ','.join(sorted({v.rule for v in vis})) + ')':30s} "
            f"{wall / vf.duration:.3f} {'PASS' if ok else 'FAIL'}"
        )
    print("\n== 2. concatenation of 4 different people; clip boundaries as speaker turns ==")
    parts = [clips / c for c in DIFFERENT_PEOPLE]
    listing = tmp / "parts.txt"
    scaled = []
    for i, p in enumerate(parts):
        q = tmp / f"part{i}.mp4"
        ffmpeg("-i", str(p), "-vf", "scale=480:480,fps=25", "-c:v", "libx264", "-an", str(q))
        scaled.append(q)
    listing.write_text("".join(f"file '{q}'\n" for q in scaled))
    talk = tmp / "talk.mp4"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(talk))
    bounds, start = [], 0.0
    for q in scaled:
        d = sum(1 for _ in read_frames(q)) / 25.0
        bounds.append((start, start + d))
        start += d
    vf = analyzer.analyze(talk)
    utts = [Utterance(s, e, f"SPEAKER_{i:02d}", "") for i, (s, e) in enumerate(bounds)]
    vis = utterance_visuals(vf, utts)
    times = vf.det_times()
    for name, v, (s, e), q in zip(DIFFERENT_PEOPLE, vis, bounds, scaled, strict=True):
        ref = analyzer.analyze(q)
        rows = vf.det_track == v.track
        inside = bool(rows.any() and times[rows].min() >= s - 1e-6 and times[rows].max() < e)
        dist = (
            float(np.abs(vf.det_box[rows].mean(0) - ref.det_box.mean(0)).max())
            if rows.any()
            else float("nan")
        )
        print(
            f"{s:6.2f}-{e:6.2f} s {name:12s} track={v.track} rule={v.rule:10s} track inside part={inside} "
            f"box vs clip alone: max |diff| {dist:.1f} px {'PASS' if inside and dist < 12 else 'FAIL'}"
        )
    print(
        f"tracks in the concatenation: {vf.track_ids}; distinct speaker tracks: {len({v.track for v in vis})}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, help="a 720p video to time (default: built from a clip)")
    ap.add_argument("--detector", default="blazeface")
    ap.add_argument("--sample-fps", type=float, default=FaceOptions().sample_fps)
    ap.add_argument(
        "--acceptance", action="store_true", help="also run the per-clip and concatenation checks"
    )
    args = ap.parse_args()
    clips = data_dir() / "clips"
    print(f"cores: {os.cpu_count()}, detector: {args.detector}, sample fps: {args.sample_fps}")
    analyzer = FaceAnalyzer(FaceOptions(detector=args.detector, sample_fps=args.sample_fps))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        video = args.video
        if video is None:
            if not clips.is_dir():
                print(f"no clips at {clips}: set EMOCLI_DATA or pass --video", file=sys.stderr)
                return 2
            video = make_720p(clips / "face_1.mp4", tmp / "talk720.mp4")
        f = bench_frames(analyzer, video)
        print(
            f"per processed frame ({f['size']}, {f['faces_per_frame']:.1f} faces/frame, "
            f"{f['frames']} frames): "
            f"median {f['ms_median']:.1f} ms, mean {f['ms_mean']:.1f} ms, p90 {f['ms_p90']:.1f} ms "
            f"(target <= 20 ms)"
        )
        s = bench_stage(analyzer, video)
        print(
            f"visual stage, {s['duration_s']:.1f} s video at {s['sample_fps']:g} samples/s: "
            f"{s['wall_s']:.2f} s wall "
            f"= {s['s_per_video_s']:.3f} s per second of video, decoding included (target <= 0.15); "
            f"face in {100 * s['face_fraction']:.0f}% of samples"
        )
        if args.acceptance:
            if not clips.is_dir():
                print(f"no clips at {clips}: set EMOCLI_DATA", file=sys.stderr)
                return 2
            acceptance(analyzer, clips, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
