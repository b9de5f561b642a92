"""``emocli transcribe``: bad input gets one line, a non-zero exit code and no output file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.cli import app
from tests.cli_helpers import assert_one_line_error
from tests.media_factory import make_video, write_wav

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["transcribe", *args])
    return result.exit_code, result.output


def no_outputs(folder: Path, stem: str = "out") -> bool:
    return not any(p.name.startswith((stem, f".{stem}")) for p in folder.iterdir())


def test_missing_file(tmp_path: Path) -> None:
    code, out = run(str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "out.json"))
    assert_one_line_error(code, out, "not found")
    assert no_outputs(tmp_path)


def test_text_file_named_mp4(tmp_path: Path) -> None:
    src = tmp_path / "notes.mp4"
    src.write_text("These are meeting notes, not a video.\n" * 20)
    code, out = run(str(src), "-o", str(tmp_path / "out.json"))
    assert_one_line_error(code, out, "text file")
    assert no_outputs(tmp_path)


def test_truncated_mp4(tmp_path: Path) -> None:
    src = make_video(tmp_path / "talk.mp4", seconds=2.0)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 3])
    code, out = run(str(src), "-o", str(tmp_path / "out.json"))
    assert_one_line_error(code, out, "truncated")
    assert no_outputs(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    src = tmp_path / "empty.mp4"
    src.touch()
    code, out = run(str(src), "-o", str(tmp_path / "out.json"))
    assert_one_line_error(code, out, "empty (0 bytes)")
    assert no_outputs(tmp_path)


def test_video_without_audio(tmp_path: Path) -> None:
    src = make_video(tmp_path / "mute.mp4", seconds=1.0, audio=False)
    code, out = run(str(src), "-o", str(tmp_path / "out.json"))
    assert_one_line_error(code, out, "no audio track")
    assert no_outputs(tmp_path)


def test_ten_seconds_of_silence(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    src = write_wav(tmp_path / "silence.wav", 1e-4 * rng.normal(size=16000 * 10))  # room noise, no voice
    code, out = run(str(src), "-o", str(tmp_path / "out.json"), "-f", "all")
    assert_one_line_error(code, out, "no speech found")
    assert no_outputs(tmp_path)


@pytest.mark.parametrize(
    ("where", "message"),
    [("parent-is-a-file", "is a file"), ("missing-folder", "does not exist"), ("proc", "cannot write")],
)
def test_unwritable_output(tmp_path: Path, where: str, message: str) -> None:
    src = make_video(tmp_path / "talk.mp4", seconds=1.0)
    (tmp_path / "afile").write_text("x")
    target = {
        "parent-is-a-file": tmp_path / "afile" / "out.json",
        "missing-folder": tmp_path / "no" / "such" / "out.json",
        "proc": Path("/proc/out.json"),
    }[where]
    code, out = run(str(src), "-o", str(target))
    assert_one_line_error(code, out, message)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "talk.mp4"]


def test_output_equal_to_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "talk.json"
    src.write_text("{}")
    code, out = run(str(src), "-o", str(src))
    assert_one_line_error(code, out, "is the input file itself")
    assert src.read_text() == "{}"


def test_bad_options_are_one_line(tmp_path: Path) -> None:
    src = make_video(tmp_path / "talk.mp4", seconds=1.0)
    code, out = run(str(src), "-o", str(tmp_path / "out.json"), "-f", "docx")
    assert_one_line_error(code, out, "unknown output format")
    code, out = run(str(src), "-o", str(tmp_path / "out.json"), "--min-speakers", "3", "--max-speakers", "2")
    assert_one_line_error(code, out, "smaller than --min-speakers")
    code, out = run(str(src), "-o", str(tmp_path / "out.json"), "--diarizer", "magic")
    assert_one_line_error(code, out, "unknown diarizer")
    assert no_outputs(tmp_path)


@pytest.mark.slow
def test_transcribe_jfk_writes_every_format(tmp_path: Path, data_dir: Path) -> None:
    from emocli.speech.metrics import wer

    code, out = run(str(data_dir / "speech" / "jfk.flac"), "-o", str(tmp_path / "jfk.json"), "-f", "all")
    assert code == 0, out
    assert "SPEAKER_00: And so" in out  # the transcript is printed
    doc = json.loads((tmp_path / "jfk.json").read_text())
    assert doc["language"] == "en" and doc["speakers"] == ["SPEAKER_00"]
    assert doc["duration"] == pytest.approx(11.0, abs=0.1)
    assert {"asr", "vad", "diarizer"} <= set(doc["models"]) and doc["models"]["asr"]["version"]
    text = " ".join(u["text"] for u in doc["utterances"])
    ref = (
        "And so, my fellow Americans, ask not what your country can do for you, "
        "ask what you can do for your country."
    )
    assert wer(ref, text) <= 0.05
    for u in doc["utterances"]:
        assert {"start", "end", "speaker", "text", "words"} <= set(u)
        assert all(u["start"] <= w["start"] <= w["end"] <= u["end"] for w in u["words"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jfk.json", "jfk.rttm", "jfk.srt", "jfk.vtt"]
    assert (tmp_path / "jfk.srt").read_text().startswith("1\n00:00:00")
    assert (tmp_path / "jfk.vtt").read_text().startswith("WEBVTT")


@pytest.mark.slow
def test_quiet_prints_nothing_and_format_follows_the_suffix(tmp_path: Path, data_dir: Path) -> None:
    code, out = run(str(data_dir / "speech" / "jfk.flac"), "-o", str(tmp_path / "jfk.srt"), "--quiet")
    assert code == 0 and out.strip() == ""
    assert [p.name for p in tmp_path.iterdir()] == ["jfk.srt"]


def test_pyannote_without_its_extra_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyannote.audio", None)  # the extra is not installed
    src = make_video(tmp_path / "talk.mp4", seconds=1.0)
    code, out = run(str(src), "-o", str(tmp_path / "out.json"), "--diarizer", "pyannote")
    assert_one_line_error(code, out, "pip install 'emocli[pyannote]'")  # brackets survive Rich markup
    assert code == 4
    assert no_outputs(tmp_path)


@pytest.mark.slow
def test_unknown_language_fails_before_the_work(tmp_path: Path) -> None:
    src = make_video(tmp_path / "talk.mp4", seconds=1.0)
    code, out = run(str(src), "-o", str(tmp_path / "out.json"), "--language", "klingon")
    assert_one_line_error(code, out, "unknown language code 'klingon'")
    assert no_outputs(tmp_path)
