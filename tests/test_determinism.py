"""Same input, same result (issue 16): decoding never samples, and runs in separate processes, in
batch workers and through the Python API give byte-identical outputs (``timing`` left out of the
JSON: it holds wall times, the only field that may change).

The hard clip is built from the shared clips and, when espeak-ng is installed, synthetic speech:
three voices over each other with a change of language Whisper was not told about (see
``hard_audio``); without espeak-ng, three English speakers who talk over each other.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.media_factory import ffmpeg

ROOT = Path(__file__).resolve().parents[1]
SR = 16_000
RUSSIAN = "Здравствуйте, меня зовут Иван. Я живу в Москве и работаю инженером."
CHANT = "yeah, " * 14 + "okay, I think we should go now. " + "no, " * 10  # where Whisper loops


def _wav(path: Path, x: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def hard_audio(data_dir: Path, work: Path, chant: bool = True) -> np.ndarray:
    """Three voices over each other and a change of language Whisper is not told about.

    With espeak-ng and ``chant``, about 15 s: "yeah" said 14 times, then "no" 10 times (the old
    sampling fallback gave other words on each run here), face_4 over it from 2 s and Russian over
    both from 8 s. Otherwise about 12 s: Katie Hill, face_1 over her from 3 s, face_2 over face_1
    from 6.5 s, and with espeak-ng Russian over face_2 from 9.5 s.
    """
    from emocli.media import load_audio

    espeak = shutil.which("espeak-ng")
    chant = chant and espeak is not None
    pieces = [(2.0, "face_4")] if chant else [(0.0, "WDA_KatieHill_000"), (3.0, "face_1"), (6.5, "face_2")]
    tracks = [(t, load_audio(data_dir / "clips" / f"{name}.mp4")) for t, name in pieces]
    synthetic = [(0.0, "en-us", CHANT), (8.0, "ru", RUSSIAN)] if chant else [(9.5, "ru", RUSSIAN)]
    for t, voice, text in synthetic if espeak is not None else []:
        wav = work / f"{voice}.wav"
        subprocess.run([espeak, "-v", voice, "-s", "160", "-w", str(wav), text], check=True)
        tracks.append((t, load_audio(wav) * 0.8))
    out = np.zeros(max(int(t * SR) + len(x) for t, x in tracks) + SR // 2, np.float32)
    for t, x in tracks:
        out[int(t * SR) : int(t * SR) + len(x)] += x
    return out / max(1.0, float(np.abs(out).max()) / 0.9)


def hard_clip(data_dir: Path, work: Path) -> Path:
    """The hard audio under two faces side by side (both looped), h264 + AAC."""
    wav = _wav(work / "hard.wav", hard_audio(data_dir, work))
    clips = data_dir / "clips"
    out = work / "hard.mp4"
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / SR
    ffmpeg(
        "-stream_loop", "-1", "-i", str(clips / "WDA_KatieHill_000.mp4"),
        "-stream_loop", "-1", "-i", str(clips / "face_1.mp4"), "-i", str(wav),
        "-filter_complex", "[0:v]scale=256:256,fps=25,setsar=1[a];[1:v]scale=256:256,fps=25,setsar=1[b];"
        "[a][b]hstack=inputs=2[v]",
        "-map", "[v]", "-map", "2:a", "-t", f"{seconds:.3f}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
        "-c:a", "aac", str(out),
    )  # fmt: skip
    return out


def without_timing(path: Path) -> str:
    d = json.loads(path.read_text(encoding="utf-8"))
    d.pop("timing")
    return json.dumps(d, ensure_ascii=False, indent=1)


def _run(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, whatever the venv points at
    return subprocess.Popen(
        [sys.executable, "-m", "emocli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err.decode(errors="replace")[-2000:]


# -- no sampling, ever (fast) ------------------------------------------------------------------


def test_every_decoding_is_beam_search_at_temperature_zero() -> None:
    from tests.asr_fakes import scripted_asr

    # The first decoding loops; the second (its retry) does too; then nothing for the gap.
    loop = [(0.1, 2.5, " yeah" * 12, 0.1, -0.3)]
    asr = scripted_asr([loop, loop], language=("ru", 0.9))
    asr.transcribe(np.zeros(6 * SR, np.float32), speech=[(0.0, 5.5)])
    assert len(asr.model.calls) >= 3  # first pass, the loop's retry, the gap's retry
    for _, options in asr.model.calls:
        assert options["temperature"] == 0.0  # a tuple of temperatures would sample as a fallback
        assert options["beam_size"] == 5


def test_kmeans_is_run_on_one_thread_so_its_sums_do_not_depend_on_thread_timing(monkeypatch) -> None:
    import sklearn.cluster
    from threadpoolctl import threadpool_info

    from emocli.speech import clustering

    seen: list[int] = []
    real = sklearn.cluster.KMeans.fit_predict

    def spy(self: Any, x: np.ndarray, *a: Any, **k: Any) -> np.ndarray:
        seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")
        return real(self, x, *a, **k)

    monkeypatch.setattr(sklearn.cluster.KMeans, "fit_predict", spy)
    x = np.random.default_rng(0).normal(size=(200, 4))
    labels = [clustering._kmeans_rows(x, 3) for _ in range(3)]
    assert seen and set(seen) == {1}
    assert all((lab == labels[0]).all() for lab in labels)


# -- real models (slow) ----------------------------------------------------------------------


@pytest.mark.slow
def test_annotate_twice_in_separate_processes_gives_identical_results(data_dir: Path, tmp_path: Path) -> None:
    clip = hard_clip(data_dir, tmp_path)
    outs = [tmp_path / f"run{i}" / "out.mp4" for i in (1, 2)]
    for o in outs:
        o.parent.mkdir()
    # At the same time, so that the two compete for the cores: thread timing must not matter.
    _wait([_run(["annotate", str(clip), "-o", str(o), "--no-video", "-f", "all", "-q"]) for o in outs])
    a, b = (o.with_suffix(".json") for o in outs)
    assert without_timing(a) == without_timing(b)
    for suffix in (".srt", ".vtt", ".csv", ".rttm"):
        assert outs[0].with_suffix(suffix).read_bytes() == outs[1].with_suffix(suffix).read_bytes(), suffix
    result = json.loads(a.read_text(encoding="utf-8"))
    assert result["utterances"] and "timing" in result
    assert result["speech_duration"] > 10
    assert isinstance(result["untranscribed"], list) and isinstance(result["repetitions"], list)


@pytest.mark.slow
def test_batch_with_two_jobs_twice_gives_identical_rows(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    # The overlapping speakers (and Russian) without the chant, whose loops take long to decode on
    # the one thread each worker gets; and a plain clip, so that both workers have one.
    _wav(folder / "a_hard.wav", hard_audio(data_dir, tmp_path, chant=False))
    shutil.copy(data_dir / "clips" / "face_2.mp4", folder / "b_face_2.mp4")
    results = [tmp_path / f"rows{i}.csv" for i in (1, 2)]
    for r in results:
        _wait([_run(["batch", str(folder), "-o", str(r), "--jobs", "2", "--per-utterance", "-q"])])
    a, b = (r.read_bytes() for r in results)
    assert a == b
    files = {line.split(",")[0] for line in a.decode().splitlines()[1:]}
    assert files == {"a_hard.wav", "b_face_2.mp4"}
    assert ",error," not in a.decode()


@pytest.mark.slow
def test_the_python_api_repeats_itself_and_accounts_for_all_speech(data_dir: Path, tmp_path: Path) -> None:
    """One loaded pipeline, the same audio twice (the state a batch worker carries from clip to
    clip must not change the next result), then: every stretch of speech has words or is listed."""
    from emocli.results import Word
    from emocli.speech.coverage import uncovered
    from emocli.speech.pipeline import SpeechPipeline
    from emocli.speech.repetition import MAX_REPEATS, longest_repeat

    audio = hard_audio(data_dir, tmp_path)
    pipeline = SpeechPipeline()
    first = pipeline.run(audio, name="hard").result
    pipeline.run(np.ascontiguousarray(audio[::-1][: 6 * SR]), name="reversed")  # something else between
    second = pipeline.run(audio, name="hard").result
    assert first.to_dict(timing=False) == second.to_dict(timing=False)
    assert "timing" not in first.to_dict(timing=False)

    speech = pipeline.vad(audio)
    listed = [Word(x.start, x.end, "") for x in first.untranscribed]
    no_words = uncovered(speech, [w for u in first.utterances for w in u.words])
    assert uncovered(no_words, listed, pad=0.0) == []  # nothing silently dropped
    assert all(longest_repeat(u.text) <= MAX_REPEATS for u in first.utterances)
