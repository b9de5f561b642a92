"""Issue 14 on real models: a two-language recording (espeak-ng voices, one English, one German)
through the bundled Whisper and the shipped emotion model. Skips without espeak-ng."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emocli.media import load_audio
from emocli.pipeline import AnnotateOptions, Annotator
from tests.media_factory import write_wav

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
    ),
]

LINES = [  # (espeak voice, language, text)
    ("en-us", "en", "I really did not expect to see you here today, this is wonderful."),
    ("de+m3", "de", "Ich habe heute meinen Schlüssel verloren und bin sehr traurig."),
    ("en-us", "en", "Honestly, I am so tired of waiting, nobody ever tells me anything."),
    ("de+m3", "de", "Das ist der schönste Tag meines Lebens, ich bin so glücklich!"),
]
GAP = 0.8  # s of silence between the lines


@pytest.fixture(scope="module")
def bilingual(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float, str]]]:
    """One 16 kHz recording of the four lines, and each line's (start, end, language)."""
    work = tmp_path_factory.mktemp("bilingual")
    parts, spans, t = [], [], 0.0
    for i, (voice, lang, text) in enumerate(LINES):
        wav = work / f"line{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
        x = load_audio(wav)  # 16 kHz mono float32
        parts += [x, np.zeros(int(GAP * 16000), np.float32)]
        spans.append((t, t + len(x) / 16000, lang))
        t += len(x) / 16000 + GAP
    return write_wav(work / "bilingual.wav", np.concatenate(parts)), spans


def _line_of(u_start: float, u_end: float, spans: list[tuple[float, float, str]]) -> int:
    overlap = [max(0.0, min(u_end, e) - max(u_start, s)) for s, e, _ in spans]
    return int(np.argmax(overlap))


def test_each_utterance_gets_its_language_and_only_the_german_ones_are_translated(
    bilingual: tuple[Path, list[tuple[float, float, str]]],
) -> None:
    path, spans = bilingual
    analysis = Annotator(AnnotateOptions(modalities=("text",))).analyze(path)
    res = analysis.result
    assert set(res.languages) == {"en", "de"} and res.utterances
    for u in res.utterances:
        want = spans[_line_of(u.start, u.end, spans)][2]
        assert u.language == want, (u.text, u.language)
        if want == "en":
            assert u.text_en is None and not u.translated  # English is never translated
        else:
            assert u.translated and u.text_en and u.text_en.isascii()  # the text model read English
            assert not u.text.isascii() or any(w in u.text for w in ("Ich", "Das", "ich", "das"))
    assert "translate" in res.timing
    german = " ".join(u.text for u in res.utterances if u.language == "de")
    assert "Schlüssel" in german or "glücklich" in german  # decoded in German, not translated by accident


def test_forcing_english_decodes_everything_as_english_and_translates_nothing(
    bilingual: tuple[Path, list[tuple[float, float, str]]],
) -> None:
    from emocli.speech.pipeline import SpeechOptions

    path, _ = bilingual
    options = AnnotateOptions(modalities=("text",), speech=SpeechOptions(language="en"))
    res = Annotator(options).analyze(path).result
    assert {u.language for u in res.utterances} == {"en"} and res.languages == {
        "en": pytest.approx(res.speech_duration, abs=0.5)
    }
    assert not any(u.translated for u in res.utterances)


def test_annotate_captions_english_with_candidate_languages_writes_translated_subtitles(
    bilingual: tuple[Path, list[tuple[float, float, str]]], tmp_path: Path
) -> None:
    """What a user types for a German/English interview: --language en,de --captions english."""
    from typer.testing import CliRunner

    from emocli.cli import app

    path, _ = bilingual
    out = tmp_path / "talk.mp4"
    args = ["annotate", str(path), "-o", str(out), "-f", "json,srt,csv", "--language", "en,de"]
    res = CliRunner().invoke(app, [*args, "--captions", "english", "--modalities", "text,audio"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.with_suffix(".json").read_text())
    german = [u for u in doc["utterances"] if u["language"] == "de"]
    assert german and all(u["translated"] and u["text_en"] for u in german)
    srt = out.with_suffix(".srt").read_text()
    for u in german:  # the subtitles show the translation, the JSON keeps both
        assert u["text_en"].strip() in srt and u["text"].strip() not in srt
    english = [u for u in doc["utterances"] if u["language"] == "en"]
    assert english and all(u["text"].strip() in srt for u in english)
    rows = list(csv.DictReader(out.with_suffix(".csv").open(encoding="utf-8")))
    assert [r["language"] for r in rows] == [u["language"] for u in doc["utterances"]]
    assert "Languages: " in res.output and "read through an English translation" in res.output
