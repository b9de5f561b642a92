"""The speech pipeline on real recordings (slow: real Whisper, VAD and speaker encoder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emocli.media import load_audio
from emocli.speech.metrics import der, read_rttm, read_stm, wer
from emocli.speech.pipeline import SpeechOptions, SpeechPipeline

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline() -> SpeechPipeline:
    return SpeechPipeline(SpeechOptions())


def test_jfk_single_speaker_and_wer(pipeline: SpeechPipeline, data_dir: Path) -> None:
    audio = load_audio(data_dir / "speech" / "jfk.flac")
    sr = pipeline.run(audio, name="jfk")  # an array works as well as a path
    ref = (
        "And so, my fellow Americans, ask not what your country can do for you, "
        "ask what you can do for your country."
    )
    assert wer(ref, " ".join(u.text for u in sr.result.utterances)) <= 0.05
    assert sr.result.speakers == ["SPEAKER_00"]
    assert sr.audio.dtype == np.float32 and len(sr.audio) == len(audio)
    assert set(sr.speaker_embeddings) == {"SPEAKER_00"}
    assert sr.speaker_embeddings["SPEAKER_00"].shape == (256,)
    assert sr.result.language == "en"


def test_sample_two_speakers_der_and_utterances(pipeline: SpeechPipeline, data_dir: Path) -> None:
    sr = pipeline.run(data_dir / "speech" / "sample.wav")
    res = sr.result
    assert res.speakers == ["SPEAKER_00", "SPEAKER_01"]  # found without --num-speakers
    report = der(
        read_rttm(data_dir / "speech" / "sample.rttm"), [(t.start, t.end, t.speaker) for t in sr.turns]
    )
    assert report.der <= 0.20, report
    stm = " ".join(t for *_, t in read_stm(data_dir / "speech" / "sample.stm"))
    assert wer(stm, " ".join(u.text for u in res.utterances)) <= 0.30
    for u in res.utterances:  # no utterance spans two speakers
        assert {w.speaker for w in u.words} == {u.speaker}
    assert set(sr.speaker_embeddings) == set(res.speakers)
    # the Whisper model is exposed for the emotion model's audio features
    assert pipeline.whisper.model.is_multilingual


def test_four_person_conversation(pipeline: SpeechPipeline, data_dir: Path, tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "make_conversation.py"),
            str(tmp_path),
            "--data",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )
    sr = pipeline.run(tmp_path / "conversation.mp4")
    ref = read_rttm(tmp_path / "conversation.rttm")
    assert len(sr.result.speakers) == 4
    report = der(ref, [(t.start, t.end, t.speaker) for t in sr.turns])
    assert report.der <= 0.15, report
