"""Reproducibility and coverage of the transcript on hard audio (issue 16).

    python benchmarks/bench_determinism.py make OUT_DIR [--data DATA]
        builds the hard clips: overlapping speakers from DATA/clips and, when espeak-ng is installed,
        Russian / Portuguese / English synthetic speakers taking turns and talking over each other
    python benchmarks/bench_determinism.py repeat FILE... --out DIR [--runs 3] [--cmd transcribe|annotate]
        runs the command in separate processes and says whether the JSON (``timing`` left out) is
        byte-identical across runs, with the number of utterances of each run
    python benchmarks/bench_determinism.py coverage RESULT.json...
        per result: VAD speech in stretches >= 1 s, how much of it has words, how much is listed in
        ``untranscribed``, how much is neither (silently dropped), and the longest run of one
        repeated word or phrase in any utterance

Coverage: the VAD speech (emocli's Silero VAD on the ``source`` of the result; regions closer than
0.3 s joined, stretches of 1 s or more) minus the word spans (each widened by 0.25 s, as
``emocli.speech.coverage.uncovered`` does) is the speech without words; minus the listed untranscribed
stretches too, what is left (in pieces of 1 s or more; shorter gaps are pauses between words) was
dropped silently.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SR = 16_000
MIN_STRETCH = 1.0

# (voice, text): synthetic speakers of other languages (there are no foreign clips in the data).
RU = (
    "ru",
    "Здравствуйте, меня зовут Иван. Я живу в Москве и работаю инженером. "
    "Сегодня мы поговорим о погоде и о планах на выходные.",
)
PT = (
    "pt",
    "Bom dia, eu sou a Maria. Eu moro em Lisboa e gosto muito de música. "
    "Amanhã vamos viajar para o Porto com os meus amigos.",
)
EN = ("en-us", "I think we should start the meeting now, because everybody is already here.")


def _ffmpeg(*args: str | Path) -> None:
    from emocli.media import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)]
    subprocess.run(cmd, check=True)


def espeak(voice: str, text: str, work: Path, speed: int = 150) -> np.ndarray | None:
    """16 kHz float32 speech from espeak-ng, or None when it is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    from emocli.media import load_audio

    wav = work / f"espeak_{voice}_{abs(hash(text)) % 10**8}.wav"
    subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
    return load_audio(wav) * 0.8


def mix(pieces: list[tuple[float, np.ndarray]], tail: float = 0.5) -> np.ndarray:
    """Add each (start s, samples) into one track; the sum is scaled down only where it clips."""
    end = max(int(s * SR) + len(x) for s, x in pieces) + int(tail * SR)
    out = np.zeros(end, np.float32)
    for s, x in pieces:
        out[int(s * SR) : int(s * SR) + len(x)] += x
    peak = float(np.abs(out).max())
    return out / peak * 0.9 if peak > 0.95 else out


def write_video(out: Path, faces: list[Path], audio: np.ndarray, work: Path) -> Path:
    """Tiles of the given clips side by side (looped, 256 px, 25 fps) with ``audio`` as the sound."""
    wav = work / f"{out.stem}.wav"
    _write_wav(wav, audio)
    seconds = len(audio) / SR
    args: list[str | Path] = []
    for f in faces:
        args += ["-stream_loop", "-1", "-i", f]
    args += ["-i", wav]
    tiles = "".join(f"[{i}:v]scale=256:256,fps=25,setsar=1[v{i}];" for i in range(len(faces)))
    stack = "".join(f"[v{i}]" for i in range(len(faces))) + f"hstack=inputs={len(faces)}[v]"
    args += ["-filter_complex", tiles + stack, "-map", "[v]", "-map", f"{len(faces)}:a"]
    args += ["-t", f"{seconds:.3f}", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", out]
    _ffmpeg(*args)
    return out


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    import wave

    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    return path


def make_hard_clips(out_dir: Path, data: Path) -> list[Path]:
    """The hard clips: see the module docstring. Returns the files written."""
    from emocli.media import load_audio

    out_dir.mkdir(parents=True, exist_ok=True)
    clips = data / "clips"
    kh, f1, f2, f4, f5 = (
        clips / f"{n}.mp4" for n in ("WDA_KatieHill_000", "face_1", "face_2", "face_4", "face_5")
    )
    a = {p.stem: load_audio(p) for p in (kh, f1, f2, f4, f5)}
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # 1. Three English speakers who talk over each other (about half of each turn overlapped).
        overlap = mix([(0.0, a[kh.stem]), (4.0, a[f1.stem]), (7.5, a[f2.stem]), (10.0, a[f5.stem])])
        written.append(write_video(out_dir / "overlap3_en.mp4", [kh, f1, f2], overlap, work))
        ru, pt, en = (espeak(v, t, work) for v, t in (RU, PT, EN))
        if ru is not None and pt is not None and en is not None:
            # 2. Russian, Portuguese and English speakers taking turns, two of them at once in the
            #    middle, and the real English speakers over the synthetic ones near the end.
            t_ru2 = len(ru) / SR + len(pt) / SR + 2.0
            turns = mix(
                [
                    (0.0, ru),
                    (len(ru) / SR + 0.6, pt),
                    (t_ru2 - 1.0, a[kh.stem]),  # English over the end of Portuguese
                    (t_ru2 + 4.0, ru),  # Russian over the English
                    (t_ru2 + 6.0 + len(ru) / SR, en),
                    (t_ru2 + 7.0 + len(ru) / SR + len(en) / SR, a[f4.stem]),
                    (t_ru2 + 9.0 + len(ru) / SR + len(en) / SR, pt),  # Portuguese over English
                ]
            )
            written.append(write_video(out_dir / "turns3_ru_pt_en.mp4", [kh, f4, f1], turns, work))
            # 3. Audio only: an English argument (two speakers at once) with Russian breaking in.
            argue = mix([(0.0, a[f4.stem]), (2.0, a[f1.stem]), (5.0, ru), (9.0, a[kh.stem])])
            written.append(_write_wav(out_dir / "argue_en_ru.wav", argue))
            # 4. Audio only: "yeah" said 14 times and "no" 10 times (where Whisper loops and used to
            #    sample), a real English speaker over it from 2 s.
            chant = espeak(
                "en-us", "yeah, " * 14 + "okay, I think we should go now. " + "no, " * 10, work, 160
            )
            assert chant is not None
            written.append(_write_wav(out_dir / "yeah_loop.wav", mix([(0.0, chant), (2.0, a[f4.stem])])))
    return written


# -- measuring --------------------------------------------------------------------------------


def _strip_timing(path: Path) -> bytes:
    d = json.loads(path.read_text(encoding="utf-8"))
    d.pop("timing", None)
    return json.dumps(d, ensure_ascii=False, indent=2).encode()


def repeat(files: list[Path], out: Path, runs: int, cmd: str) -> None:
    emocli = Path(sys.executable).with_name("emocli")
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        outputs = []
        for r in range(runs):
            if cmd == "transcribe":
                target = out / f"{f.stem}.run{r}.json"
                args = [str(emocli), "transcribe", str(f), "-o", str(target), "--quiet"]
            else:
                base = out / f"{f.stem}.run{r}.mp4"
                target = base.with_suffix(".json")
                args = [str(emocli), "annotate", str(f), "-o", str(base), "--no-video", "-f", "json"]
                args.append("--quiet")
            for stale in (target,):
                stale.unlink(missing_ok=True)
            subprocess.run(args, check=True, env={**os.environ})
            outputs.append(target)
        blobs = [_strip_timing(p) for p in outputs]
        counts = [len(json.loads(b)["utterances"]) for b in blobs]
        same = all(b == blobs[0] for b in blobs)
        print(f"{f.name}: {'identical' if same else 'DIFFERENT'} over {runs} runs; utterances {counts}")


def coverage(result_path: Path) -> dict[str, float | int | str]:
    from emocli.media import load_audio
    from emocli.results import Word
    from emocli.speech.coverage import REGION_GAP, uncovered
    from emocli.speech.repetition import longest_repeat
    from emocli.speech.vad import load_vad, merge_regions

    d = json.loads(result_path.read_text(encoding="utf-8"))
    vad = load_vad()(load_audio(d["source"]))
    speech = [(s, e) for s, e in merge_regions(vad, max_gap=REGION_GAP) if e - s >= MIN_STRETCH]
    words = [Word(**w) for u in d["utterances"] for w in u["words"]]
    listed = [Word(x["start"], x["end"], "(listed)") for x in d.get("untranscribed", [])]
    total = sum(e - s for s, e in speech)
    no_words = uncovered(speech, words)
    dropped = uncovered(no_words, listed, pad=0.0)  # neither words nor listed
    dropped_s = sum(e - s for s, e in dropped)
    worst = max((longest_repeat(u["text"]) for u in d["utterances"]), default=0)
    return {
        "file": Path(d["source"]).name,
        "speech_s": round(total, 2),
        "no_words_s": round(sum(e - s for s, e in no_words), 2),
        "listed_s": round(sum(x["end"] - x["start"] for x in d.get("untranscribed", [])), 2),
        "dropped_s": round(dropped_s, 2),
        "accounted_pct": round(100 * (1 - dropped_s / max(total, 1e-9)), 1),
        "max_repeat": worst,
        "utterances": len(d["utterances"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("out_dir", type=Path)
    default_data = os.environ.get("EMOCLI_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    mk.add_argument("--data", type=Path, default=Path(default_data))
    rp = sub.add_parser("repeat")
    rp.add_argument("files", type=Path, nargs="+")
    rp.add_argument("--out", type=Path, required=True)
    rp.add_argument("--runs", type=int, default=3)
    rp.add_argument("--cmd", choices=("transcribe", "annotate"), default="transcribe")
    cv = sub.add_parser("coverage")
    cv.add_argument("results", type=Path, nargs="+")
    args = ap.parse_args()
    if args.mode == "make":
        for p in make_hard_clips(args.out_dir, args.data):
            print(p)
    elif args.mode == "repeat":
        repeat(args.files, args.out, args.runs, args.cmd)
    else:
        for r in args.results:
            print(json.dumps(coverage(r), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
