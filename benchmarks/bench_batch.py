"""Benchmark and check ``emocli batch`` on ~200 real clips (issue 6's acceptance).

    python benchmarks/bench_batch.py [--data DIR] [--work DIR] [--actors 01 02 03 04] [--checks]

Builds a folder of RAVDESS audio clips of a few actors, the videos of ``DATA/clips`` and one
corrupt file, then reports clips per minute for ``--jobs 1`` and ``--jobs 2``, audio-only and video
separately (goal: >= 60 audio and >= 20 video clips/min on 2 cores), and with ``--checks``:
- the whole folder in one command (the corrupt file must get an error row),
- a run killed with SIGKILL halfway and resumed gives the same file as an uninterrupted run,
- ``--engine ray`` on a local Ray instance gives the same rows as the local run.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMOCLI = [sys.executable, "-m", "emocli"]


def build_folder(data: Path, work: Path, actors: list[str], per_actor: int) -> Path:
    folder = work / "clips"
    if folder.exists():
        return folder
    (folder / "audio").mkdir(parents=True)
    (folder / "video").mkdir(parents=True)
    for actor in actors:
        files = sorted((data / "ravdess" / "flac").rglob(f"*-{actor}.flac"))[:per_actor]
        for f in files:
            shutil.copy(f, folder / "audio" / f.name)
    for f in sorted((data / "clips").glob("*.mp4")):
        shutil.copy(f, folder / "video" / f.name)
    (folder / "video" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    return folder


def run(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([*EMOCLI, "batch", *args, "-q"], check=True)
    return time.perf_counter() - t


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def throughput(folder: Path, work: Path) -> None:
    for sub in ("audio", "video"):
        n = len(list((folder / sub).iterdir()))
        for jobs in (1, 2):
            out = work / f"{sub}_j{jobs}.csv"
            out.unlink(missing_ok=True)
            sec = run([str(folder / sub), "-o", str(out), "--jobs", str(jobs)])
            print(f"{sub:>5} clips, --jobs {jobs}: {n} clips in {sec:.1f}s = {60 * n / sec:.1f} clips/min")


def checks(folder: Path, work: Path) -> None:
    full = work / "full.csv"
    full.unlink(missing_ok=True)
    sec = run([str(folder), "-o", str(full), "--recursive", "--jobs", "2"])
    r = rows(full)
    errors = [x for x in r if x["status"] == "error"]
    print(f"whole folder: {len(r)} rows in {sec:.1f}s; errors: {[(x['file'], x['error']) for x in errors]}")

    killed = work / "killed.csv"
    killed.unlink(missing_ok=True)
    cmd = [*EMOCLI, "batch", str(folder), "-o", str(killed), "--recursive", "--jobs", "2", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    while proc.poll() is None and (not killed.exists() or len(killed.read_text().splitlines()) < len(r) // 2):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = len(killed.read_text().splitlines()) - 1
    run([str(folder), "-o", str(killed), "--recursive", "--jobs", "2", "--resume"])
    same = killed.read_bytes() == full.read_bytes()
    print(f"SIGKILL after {at_kill} rows, then --resume: identical to the uninterrupted run: {same}")

    ray_out = work / "ray.csv"
    ray_out.unlink(missing_ok=True)
    sec = run([str(folder), "-o", str(ray_out), "--recursive", "--jobs", "2", "--engine", "ray"])
    print(
        f"--engine ray: {sec:.1f}s; same rows as the local run: {ray_out.read_bytes() == full.read_bytes()}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("EMOCLI_DATA", ROOT.parent / "shared" / "data"))
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/emocli-bench-batch"))
    ap.add_argument("--actors", nargs="+", default=["01", "02", "03", "04"])
    ap.add_argument("--per-actor", type=int, default=48)
    ap.add_argument(
        "--checks", action="store_true", help="also run the one-command, kill/resume and Ray checks"
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    folder = build_folder(args.data, args.work, args.actors, args.per_actor)
    n = sum(1 for p in folder.rglob("*") if p.is_file())
    print(f"{n} clips in {folder} ({os.cpu_count()} cores)")
    throughput(folder, args.work)
    if args.checks:
        checks(folder, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
