"""Speed, memory and accuracy of ``emocli transcribe`` with the default models.

    python benchmarks/bench_transcribe.py [--data DIR] [--work DIR] [--threads 2] [--skip-long]
    python benchmarks/bench_transcribe.py --counts   # validate the automatic speaker count

Each input runs in a fresh process (so that peak memory is that input's alone) and reports:
wall time of the run (models already loaded) / audio duration = real-time factor (RTF), the
process's peak resident memory, the speakers found and, where a reference exists, WER and DER
(no collar, overlap counted). Inputs: jfk.flac, sample.wav, the 4-person conversation built by
make_conversation.py, and 1-minute and 10-minute inputs made by looping real speech (sample.wav,
jfk.flac and the clips, joined) to check that memory does not grow with the input's length.

Acceptance (issue 2): jfk WER <= 0.05; sample DER <= 0.20 with 2 speakers found; RTF <= 0.35 on
sample.wav; peak RSS(10 min) - peak RSS(1 min) <= 0.5 GB. Results also go to WORK/bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
JFK_TEXT = (
    "And so, my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def child(path: str, threads: int, ref_rttm: str | None, ref_text: str | None) -> None:
    """Run in a subprocess: load, transcribe one input, print one JSON line."""
    import resource
    import time

    import torch

    torch.set_num_threads(threads)
    from emocli.speech.metrics import der, read_rttm, wer
    from emocli.speech.pipeline import SpeechOptions, SpeechPipeline

    t0 = time.perf_counter()
    pipe = SpeechPipeline(SpeechOptions(cpu_threads=threads))
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    sr = pipe.run(path)
    wall = time.perf_counter() - t0
    res = sr.result
    row = {
        "input": Path(path).name,
        "duration_s": round(res.duration, 2),
        "load_s": round(load, 2),
        "run_s": round(wall, 2),
        "rtf": round(wall / res.duration, 3),
        "stages_s": res.timing,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "speakers": len(res.speakers),
        "utterances": len(res.utterances),
    }
    text = " ".join(u.text for u in res.utterances)
    if ref_text:
        row["wer"] = round(wer(ref_text, text), 4)
    if ref_rttm:
        ref = read_rttm(ref_rttm)
        row["ref_speakers"] = len({s for *_, s in ref})
        row["der_turns"] = round(der(ref, [(t.start, t.end, t.speaker) for t in sr.turns]).der, 4)
        row["der_utterances"] = round(der(ref, [(u.start, u.end, u.speaker) for u in res.utterances]).der, 4)
    print("RESULT " + json.dumps(row))


def measure(path: Path, threads: int, ref_rttm: Path | None = None, ref_text: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--threads", str(threads)]
    if ref_rttm:
        cmd += ["--ref-rttm", str(ref_rttm)]
    if ref_text:
        cmd += ["--ref-text", ref_text]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{path.name} failed:\n{proc.stderr[-2000:]}")


def build_long_inputs(data: Path, work: Path) -> tuple[Path, Path]:
    """1-minute and 10-minute 16 kHz wavs looping real speech (sample.wav, jfk.flac, the clips)."""
    from emocli.media import ffmpeg_exe

    sources = [
        data / "speech" / "sample.wav",
        data / "speech" / "jfk.flac",
        *sorted((data / "clips").glob("*.mp4")),
    ]
    base = work / "speech_base.wav"
    inputs: list[str] = []
    for s in sources:
        inputs += ["-i", str(s)]
    chain = "".join(
        f"[{i}:a]aresample=16000,aformat=channel_layouts=mono[a{i}];" for i in range(len(sources))
    )
    chain += "".join(f"[a{i}]" for i in range(len(sources))) + f"concat=n={len(sources)}:v=0:a=1[out]"
    ff = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*ff, *inputs, "-filter_complex", chain, "-map", "[out]", str(base)], check=True)
    out = []
    for minutes in (1, 10):
        target = work / f"speech_{minutes}min.wav"
        subprocess.run(
            [*ff, "-stream_loop", "-1", "-i", str(base), "-t", str(60 * minutes), str(target)], check=True
        )
        out.append(target)
    return out[0], out[1]


def speaker_counts(data: Path, seed: int = 0) -> None:
    """Validate the automatic speaker count (VAD + embedded diarizer, no ASR) on real recordings:
    each single-person clip, jfk, sample, joins of 2-6 different people from clips/, and joins of
    TESS and RAVDESS speakers (acted emotional speech, 1.5-3 s per utterance: the hard case)."""
    import csv
    import random

    import numpy as np

    from emocli.media import load_audio
    from emocli.speech.diarize import EmbeddedDiarizer
    from emocli.speech.vad import SileroVAD

    vad, diarizer = SileroVAD(), EmbeddedDiarizer()
    gap = np.zeros(int(0.4 * 16000), np.float32)
    people = {
        "KH": "WDA_KatieHill_000", "F1": "face_1", "F2": "face_2", "F4": "face_4", "F5": "face_5",
        "AOC": "WDA_AlexandriaOcasioCortez_000",
    }  # fmt: skip
    clips = {k: load_audio(data / "clips" / f"{v}.mp4") for k, v in people.items()}
    cases: list[tuple[str, np.ndarray, int]] = [(f"clip {v}", clips[k], 1) for k, v in people.items()]
    cases.append(("clip face_3", load_audio(data / "clips" / "face_3.mp4"), 1))
    cases.append(("jfk", load_audio(data / "speech" / "jfk.flac"), 1))
    cases.append(("sample", load_audio(data / "speech" / "sample.wav"), 2))
    for combo in [("KH", "F1"), ("F4", "F5"), ("KH", "F2", "F5"), ("KH", "F1", "F2", "F4"),
                  ("F5", "AOC", "F1", "F2"), ("KH", "F4", "F5", "AOC"), tuple(people)]:  # fmt: skip
        audio = np.concatenate([x for k in combo for x in (clips[k], gap)])
        cases.append(("clips " + "+".join(combo), audio, len(combo)))
    rng = random.Random(seed)
    tess = list(csv.DictReader((data / "tess" / "manifest.csv").open()))
    for spk in ("OAF", "YAF", None):
        rows = rng.sample([r for r in tess if spk is None or r["speaker"] == spk], 12)
        audio = np.concatenate([x for r in rows for x in (load_audio(data / "tess" / r["file"]), gap)])
        cases.append(
            (f"tess {spk or 'OAF+YAF'} x12 words", audio, 1 if spk else len({r["speaker"] for r in rows}))
        )
    rav = list(csv.DictReader((data / "ravdess" / "manifest.csv").open()))
    by_actor: dict[str, list[dict[str, str]]] = {}
    for r in rav:
        by_actor.setdefault(r["actor"], []).append(r)
    for k in (1, 1, 1, 2, 2, 3, 4):
        actors = rng.sample(sorted(by_actor), k)
        rows = [r for a in actors for r in rng.sample(by_actor[a], 5)]
        rng.shuffle(rows)
        audio = np.concatenate([x for r in rows for x in (load_audio(data / "ravdess" / r["file"]), gap)])
        cases.append((f"ravdess actors {'+'.join(actors)} x5 clips", audio, k))
    right = 0
    for name, audio, truth in cases:
        found = len(diarizer(audio, vad(audio)).speakers)
        right += found == truth
        mark = "" if found == truth else "  X"
        print(f"{name:45s} {len(audio) / 16000:6.1f} s  true {truth}  found {found}{mark}")
    print(f"speaker count right on {right} of {len(cases)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMOCLI_DATA", HERE.parent.parent / "shared" / "data")),
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/emocli-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-long", action="store_true", help="skip the 1- and 10-minute memory runs")
    ap.add_argument("--counts", action="store_true", help="only validate the automatic speaker count")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--ref-rttm", help=argparse.SUPPRESS)
    ap.add_argument("--ref-text", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.threads, args.ref_rttm, args.ref_text)
        return 0
    if args.counts:
        speaker_counts(args.data)
        return 0

    from emocli.speech.metrics import read_stm

    args.work.mkdir(parents=True, exist_ok=True)
    speech = args.data / "speech"
    conv = args.work / "conversation"
    subprocess.run(
        [sys.executable, str(HERE / "make_conversation.py"), str(conv), "--data", str(args.data)],
        check=True,
        capture_output=True,
    )
    stm_text = " ".join(t for *_, t in read_stm(speech / "sample.stm"))
    rows = [
        measure(speech / "jfk.flac", args.threads, ref_text=JFK_TEXT),
        measure(speech / "sample.wav", args.threads, speech / "sample.rttm", stm_text),
        measure(conv / "conversation.mp4", args.threads, conv / "conversation.rttm"),
    ]
    if not args.skip_long:
        one, ten = build_long_inputs(args.data, args.work)
        rows += [measure(one, args.threads), measure(ten, args.threads)]
    keys = ["input", "duration_s", "rtf", "run_s", "load_s", "peak_rss_mb", "speakers", "wer", "der_turns"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r.get(k, "")) for k in keys))
    if not args.skip_long:
        grow = rows[-1]["peak_rss_mb"] - rows[-2]["peak_rss_mb"]
        print(f"peak RSS 10 min - 1 min: {grow:.0f} MB (limit 512 MB)")
    (args.work / "bench.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
