"""``emocli annotate``: the whole pipeline on real clips and on the awkward inputs users have."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emocli import EMOTIONS
from emocli.cli import app
from emocli.media import load_audio, probe, read_frames
from emocli.pipeline import AnnotateOptions, Annotator
from tests.cli_helpers import assert_one_line_error
from tests.media_factory import ffmpeg, make_video, write_wav

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["annotate", *args])
    return result.exit_code, result.output


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def leftovers(folder: Path, stem: str = "out") -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith((stem, f".{stem}"))]


# -- bad input: one line, non-zero exit, nothing written ----------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "nope.mp4", "not found"),
        (lambda d: _write(d / "empty.mp4", b""), "empty"),
        (
            lambda d: _write(d / "notes.mp4", b"meeting notes\n" * 30),
            "text file",
        ),
    ],
)
def test_unreadable_inputs(tmp_path: Path, make, expected: str) -> None:
    src = make(tmp_path)
    code, out = run(str(src), "-o", str(tmp_path / "out.mp4"))
    assert_one_line_error(code, out, expected)
    assert leftovers(tmp_path) == []


def test_truncated_mp4(tmp_path: Path) -> None:
    src = make_video(tmp_path / "talk.mp4", seconds=2.0)
    src.write_bytes(src.read_bytes()[:2000])
    code, out = run(str(src), "-o", str(tmp_path / "out.mp4"))
    assert_one_line_error(code, out, "truncated")
    assert leftovers(tmp_path) == []


def test_output_equal_to_input_unwritable_or_not_a_video_is_refused(tmp_path: Path) -> None:
    src = make_video(tmp_path / "talk.mp4", seconds=1.0)
    before = src.read_bytes()
    code, out = run(str(src), "-o", str(src))
    assert_one_line_error(code, out, "input file itself")
    assert src.read_bytes() == before
    code, out = run(str(src), "-o", "/proc/out.mp4")
    assert_one_line_error(code, out, "cannot write")
    code, out = run(str(src), "-o", str(tmp_path / "out.json"))
    assert_one_line_error(code, out, "video file name")
    code, out = run(str(src), "-o", str(tmp_path / "out.mp4"), "--modalities", "text,smell")
    assert_one_line_error(code, out, "unknown modality")
    assert leftovers(tmp_path) == []


def test_ten_seconds_of_silence(tmp_path: Path) -> None:
    src = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 10, np.float32))
    code, out = run(str(src), "-o", str(tmp_path / "out.mp4"))
    assert_one_line_error(code, out, "no speech")
    assert leftovers(tmp_path) == []


# -- real clips ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def annotator() -> Annotator:
    a = Annotator(AnnotateOptions())
    a.load()
    return a


def _same_video(src: Path, out: Path) -> None:
    a, b = probe(src), probe(out)
    assert (b.width, b.height) == (a.width, a.height)
    assert b.duration == pytest.approx(a.duration, abs=0.1)
    assert sum(1 for _ in read_frames(out)) == sum(1 for _ in read_frames(src))
    assert b.has_audio == a.has_audio


@pytest.mark.slow
def test_real_clip_gets_captions_scores_and_moving_bars(
    data_dir: Path, annotator: Annotator, tmp_path: Path
) -> None:
    src = data_dir / "clips" / "face_2.mp4"
    out = tmp_path / "out.mp4"
    analysis = annotator.annotate(src, out)
    res = analysis.result
    assert res.utterances and res.speakers == ["SPEAKER_00"]
    for u in res.utterances:
        assert u.emotion in EMOTIONS and u.scores is not None
        assert sum(u.scores.values()) == pytest.approx(1.0, abs=1e-3)
        assert set(u.modality_scores) == {"text", "audio", "visual"}
        assert u.modality_scores["visual"] is not None and u.face_track == 0
    assert res.frames and all(f.faces for f in res.frames)
    assert {"speech", "faces", "emotion", "render"} <= set(res.timing)
    # per-frame bars: the speaker's face probabilities change from frame to frame
    probs = np.array([analysis.overlay_at(t)[0].probs for t in np.arange(0.2, 4.0, 0.2)])
    assert probs.std(0).max() > 1e-3
    _same_video(src, out)
    a_in, a_out = load_audio(src), load_audio(out)
    assert np.corrcoef(a_in[16000:48000], a_out[16000:48000])[0, 1] > 0.9


@pytest.mark.slow
def test_cli_writes_video_and_every_result_format(data_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "mon clip à moi.mp4"  # spaces and non-ASCII characters
    src.write_bytes((data_dir / "clips" / "WDA_KatieHill_000.mp4").read_bytes())
    out = tmp_path / "résultat final.mp4"
    code, output = run(str(src), "-o", str(out), "--output-format", "all", "--quiet")
    assert code == 0, output
    assert output.strip() == ""  # --quiet prints nothing
    names = sorted(p.name for p in tmp_path.iterdir())
    stem = "résultat final"
    exts = ("mp4", "json", "srt", "vtt", "csv", "rttm", "html", "timeline.png")
    assert names == sorted([src.name, *(f"{stem}.{e}" for e in exts)])
    doc = json.loads((tmp_path / f"{stem}.json").read_text())
    u = doc["utterances"][0]
    assert {"start", "end", "speaker", "text", "emotion", "confidence", "scores", "modality_scores"} <= set(u)
    assert doc["frames"] and doc["timing"]["render"] > 0
    csv_lines = (tmp_path / f"{stem}.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(doc["utterances"])
    assert f"[{u['emotion']}" in (tmp_path / f"{stem}.srt").read_text()


@pytest.mark.slow
def test_video_without_faces_uses_words_and_voice(
    data_dir: Path, annotator: Annotator, tmp_path: Path
) -> None:
    src = tmp_path / "noface.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-i", str(data_dir / "speech" / "jfk.flac"),
           "-shortest", "-c:v", "libx264", "-c:a", "aac", str(src))  # fmt: skip
    analysis = annotator.annotate(src, tmp_path / "out.mp4")
    assert analysis.result.utterances
    assert all(u.modality_scores["visual"] is None and u.scores for u in analysis.result.utterances)
    assert any("No face" in w for w in analysis.warnings)
    _same_video(src, tmp_path / "out.mp4")


@pytest.mark.slow
def test_video_without_speech_is_still_annotated_from_faces(
    data_dir: Path, annotator: Annotator, tmp_path: Path
) -> None:
    src = tmp_path / "mute.mp4"
    ffmpeg("-i", str(data_dir / "clips" / "face_4.mp4"), "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
           "-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "copy", "-c:a", "aac", str(src))  # fmt: skip
    analysis = annotator.annotate(src, tmp_path / "out.mp4")
    assert analysis.result.utterances == []
    assert any("No speech" in w for w in analysis.warnings)
    assert analysis.result.frames and analysis.overlay_at(1.0)
    _same_video(src, tmp_path / "out.mp4")


@pytest.mark.slow
def test_portrait_phone_video_with_rotation_metadata(
    data_dir: Path, annotator: Annotator, tmp_path: Path
) -> None:
    upright = tmp_path / "upright.mp4"  # what the phone user saw: a 360x640 portrait
    ffmpeg("-i", str(data_dir / "clips" / "face_1.mp4"), "-t", "3", "-vf", "scale=360:360,pad=360:640:0:140",
           "-c:a", "copy", str(upright))  # fmt: skip
    turned = tmp_path / "turned.mp4"  # what the phone stored: landscape pixels, turned clockwise
    ffmpeg("-i", str(upright), "-vf", "transpose=1", "-c:a", "copy", str(turned))
    phone = tmp_path / "phone.mp4"  # + metadata: show it turned back by 90 degrees
    ffmpeg("-display_rotation", "90", "-i", str(turned), "-c", "copy", str(phone))
    info = probe(phone)
    assert info.rotation == 270 and (info.width, info.height) == (360, 640)
    analysis = annotator.annotate(phone, tmp_path / "out.mp4")
    boxes = [f.box for fr in analysis.result.frames for f in fr.faces]
    assert boxes and all(0 <= b[0] < b[2] <= 360 and 0 <= b[1] < b[3] <= 640 for b in boxes)
    out = probe(tmp_path / "out.mp4")
    assert (out.width, out.height) == (360, 640) and out.rotation == 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["hevc", "vfr", "4k"])
def test_hevc_variable_frame_rate_and_4k(
    kind: str, data_dir: Path, annotator: Annotator, tmp_path: Path
) -> None:
    clip = str(data_dir / "clips" / "WDA_AlexandriaOcasioCortez_000.mp4")
    src = tmp_path / f"{kind}.mp4"
    if kind == "hevc":
        ffmpeg("-i", clip, "-t", "3", "-c:v", "libx265", "-c:a", "copy", str(src))
    elif kind == "vfr":  # drop every third frame, keeping timestamps: a variable frame rate
        ffmpeg(
            "-i",
            clip,
            "-t",
            "3",
            "-vf",
            "select='not(eq(mod(n,3),2))'",
            "-fps_mode",
            "vfr",
            "-c:a",
            "copy",
            str(src),
        )
    else:
        ffmpeg("-i", clip, "-t", "1.5", "-vf", "scale=3840:2160,fps=10", "-c:v", "libx264",
               "-preset", "ultrafast", "-c:a", "copy", str(src))  # fmt: skip
    out = tmp_path / "out.mp4"
    analysis = annotator.annotate(src, out)
    assert analysis.result.frames and any(fr.faces for fr in analysis.result.frames)
    _same_video(src, out)
    if kind == "4k":  # analysed downscaled, boxes in full-size pixels, drawn at full size
        x0, _, x1, _ = analysis.result.frames[0].faces[0].box
        assert x1 - x0 > 800


@pytest.mark.slow
def test_interrupted_run_leaves_no_partial_output(data_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "long.mp4"
    ffmpeg(
        "-stream_loop", "1", "-i", str(data_dir / "clips" / "WDA_KatieHill_000.mp4"), "-c", "copy", str(src)
    )
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "emocli", "annotate", str(src), "-o", str(out), "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".out.") for p in tmp_path.iterdir()):
        time.sleep(0.1)  # wait until rendering has started writing its temporary file
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert leftovers(tmp_path) == []
    assert b"Traceback" not in stderr


def test_the_asr_whisper_feeds_the_audio_head_only_when_it_is_the_bundled_base() -> None:
    # The audio head was trained on Whisper base states; another ASR model (--asr-model small,
    # tiny.en, a folder) has other states, often of another width (this crashed annotate once).
    from types import SimpleNamespace

    for name, reused in (("base", True), ("small", False), ("/models/tiny.en", False)):
        ann = Annotator(AnnotateOptions())
        ann._speech = SimpleNamespace(asr=SimpleNamespace(model_name=name))  # type: ignore[assignment]
        assert ann._asr_gives_audio_features() is reused, name
    ann = Annotator(AnnotateOptions(modalities=("text",)))
    ann._speech = SimpleNamespace(asr=SimpleNamespace(model_name="base"))  # type: ignore[assignment]
    assert ann._asr_gives_audio_features() is False
