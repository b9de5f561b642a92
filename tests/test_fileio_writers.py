from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emocli import EMOTIONS
from emocli.errors import OutputError
from emocli.fileio import atomic_output, check_output_path
from emocli.output.writers import (
    OutputFormat,
    output_paths,
    parse_formats,
    to_csv,
    to_rttm,
    to_srt,
    to_vtt,
    write_outputs,
)
from emocli.results import Result, Utterance, Word, scores_from_probs, top_emotion


def _result() -> Result:
    probs = [0.1, 0.6, 0.1, 0.05, 0.05, 0.05, 0.05]
    return Result(
        source="/x/my talk.mp4",
        duration=10.0,
        speakers=["SPEAKER_00", "SPEAKER_01"],
        language="en",
        utterances=[
            Utterance(
                0.5, 2.25, "SPEAKER_00", "Hello there.", [Word(0.5, 1.0, "Hello"), Word(1.1, 2.25, "there.")]
            ),
            Utterance(
                3723.0,
                3724.5,
                "SPEAKER_01",
                "I am happy.",
                emotion="joy",
                confidence=0.6,
                scores=scores_from_probs(probs),
            ),
        ],
    )


def test_atomic_output_renames_on_success_and_cleans_up_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and tmp != target
        tmp.write_text("done")
    assert target.read_text() == "done"

    target2 = tmp_path / "out2.txt"
    with pytest.raises(KeyboardInterrupt), atomic_output(target2) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert not target2.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_failed_overwrite_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert target.read_text() == "previous"


def test_check_output_path_refuses_input_missing_folder_and_unwritable(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    src.write_bytes(b"x")
    with pytest.raises(OutputError, match="input file itself"):
        check_output_path(src, [src])
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "out.mp4")
    with pytest.raises(OutputError, match="is a folder"):
        check_output_path(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that ignores permissions")
        with pytest.raises(OutputError, match="not writable"):
            check_output_path(locked / "out.mp4")
    finally:
        locked.chmod(0o700)


def test_parse_formats() -> None:
    assert parse_formats("json,srt,json") == [OutputFormat.json, OutputFormat.srt]
    assert parse_formats("all") == list(OutputFormat)
    with pytest.raises(OutputError, match="Choose from"):
        parse_formats("docx")
    with pytest.raises(OutputError):
        parse_formats("csv", allowed=[OutputFormat.json])


def test_srt_vtt_timestamps_and_captions() -> None:
    srt = to_srt(_result())
    assert "1\n00:00:00,500 --> 00:00:02,250\nSPEAKER_00: Hello there.\n" in srt
    assert "2\n01:02:03,000 --> 01:02:04,500\nSPEAKER_01 [joy 60%]: I am happy.\n" in srt
    vtt = to_vtt(_result())
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:00.500 --> 00:00:02.250\n<v SPEAKER_00>SPEAKER_00: Hello there." in vtt


def test_rttm_and_csv_rows() -> None:
    rttm = to_rttm(_result()).splitlines()
    assert rttm[0] == "SPEAKER my_talk 1 0.500 1.750 <NA> <NA> SPEAKER_00 <NA> <NA>"
    rows = to_csv(_result()).splitlines()
    header = ["start", "end", "speaker", "language", "text", "text_en", "emotion", "confidence", *EMOTIONS]
    assert rows[0].split(",") == header
    assert rows[2].startswith("3723.000,3724.500,SPEAKER_01,,I am happy.,,joy,0.6000,0.1000,0.6000")


def test_json_round_trip_and_atomic_writing(tmp_path: Path) -> None:
    res = _result()
    paths = output_paths(tmp_path / "talk.mp4", [OutputFormat.json, OutputFormat.srt])
    assert paths[OutputFormat.json].name == "talk.json"
    write_outputs(res, paths)
    data = json.loads(paths[OutputFormat.json].read_text())
    assert data["utterances"][0]["words"][1] == {
        "start": 1.1,
        "end": 2.25,
        "word": "there.",
        "probability": None,
        "speaker": None,
    }
    back = Result.from_dict(data)
    assert back.utterances[1].scores == res.utterances[1].scores
    assert top_emotion(back.utterances[1].scores or {}) == ("joy", 0.6)
