"""benchmarks/kokoro_tts.py and language_set.py's Kokoro voices and English references.

The first tests need neither Kokoro nor espeak-ng. The last ones speak with Kokoro and are skipped
unless its packages (kokoro_tts.REQUIREMENTS) are importable here or ``EMOCLI_KOKORO_PYTHON`` names a
python that has them, and espeak-ng is installed: the project's CI installs none of them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import wave
from pathlib import Path

import pytest

from tests.benchmark_modules import load_benchmark

langset = load_benchmark("language_set")
kt = langset.kokoro_tts  # the module language_set itself uses
KUMO = langset.KOKORO + "jm_kumo"

_python = os.environ.get(kt.PYTHON_ENV)
KOKORO_HERE = kt.available()
KOKORO_ANYWHERE = KOKORO_HERE or bool(_python and shutil.which(_python) and shutil.which("espeak-ng"))
needs_kokoro_here = pytest.mark.skipif(not KOKORO_HERE, reason="Kokoro's packages or espeak-ng are missing")
needs_kokoro = pytest.mark.skipif(
    not KOKORO_ANYWHERE, reason=f"Kokoro's packages or espeak-ng are missing (and no {kt.PYTHON_ENV})"
)


def test_kokoro_voices_are_known_and_speak_their_language() -> None:
    kokoro = {lang: v for lang, v in langset.VOICES.items() if langset.synthesizer(v) == "kokoro"}
    assert set(kokoro) == {"es", "fr", "zh", "hi"}
    for lang, voice in kokoro.items():
        assert voice.removeprefix(langset.KOKORO) in kt.VOICE_NAMES
        assert lang in kt.LANGUAGE_CODES and "en" in kt.LANGUAGE_CODES
    assert langset.synthesizer(langset.VOICES["ru"]) == "festival"
    assert {lang for lang, v in langset.VOICES.items() if langset.synthesizer(v) == "espeak-ng"} == {
        "en",
        "de",
        "ar",
    }


def test_reference_voice_follows_the_synthesizer() -> None:
    assert langset.reference_voice(KUMO) == KUMO  # Kokoro speaks the English itself
    assert langset.reference_voice("de") == langset.VOICES["en"] == "en-us"  # espeak-ng's English
    assert langset.reference_voice(langset.VOICES["ru"]) == "en-us"  # Festival's voice cannot
    assert langset.reference_voice("ar", english="en-gb") == "en-gb"


def test_file_names_cover_the_synthesizer_and_keep_espeak_names() -> None:
    text = "¿Me pasas la sal, por favor?"
    espeak = langset._file_name("neutral_03", text, "es", 150, 0.4)
    old = hashlib.sha256(f"es|150|{0.4}|{text}".encode()).hexdigest()[:10]
    assert espeak == f"neutral_03_{old}.wav"  # files built before Kokoro are still found
    kokoro = langset._file_name("neutral_03", text, KUMO, 150, 0.4)
    assert kokoro != espeak
    assert kokoro != "neutral_03_" + hashlib.sha256(f"{KUMO}|150|0.4|{text}".encode()).hexdigest()[:10]
    assert kokoro == langset._file_name("neutral_03", text, KUMO, 175, 0.4)  # espeak's speed: no part


def _touch_all(out: Path, groups: list[tuple[str, str]], ids: list[str]) -> dict[Path, bytes]:
    made = {}
    for lang, voice in groups:
        for s in langset.sentences(ids):
            path = out / lang / langset._file_name(s["id"], s[lang], voice, langset.SPEED, langset.PAD)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"{lang} {voice} {s['id']}".encode())
            made[path] = path.read_bytes()
    return made


def test_synthesize_adds_one_english_reference_per_kokoro_voice(tmp_path: Path, monkeypatch) -> None:
    ids = ["neutral_03", "joy_01"]
    groups = [
        ("en", "en-us"),
        ("es", KUMO),
        ("de", "de"),
        ("ru", langset.VOICES["ru"]),
        ("zh", KUMO),
        ("en", KUMO),
    ]
    made = _touch_all(tmp_path, groups, ids)  # every file exists: nothing may be spoken

    def refuse(*args, **kwargs):
        if args and args[0]:
            raise AssertionError(f"spoke {args}")

    monkeypatch.setattr(kt, "speak_many", refuse)
    monkeypatch.setattr(langset, "speak", refuse)
    items = langset.synthesize(tmp_path, ["en", "es", "de", "ru", "zh"], ids, manifest=None)
    assert list(dict.fromkeys((i.language, i.voice) for i in items)) == groups
    refs = [i for i in items if i.language == "en" and i.voice == KUMO]
    assert [(i.id, i.text, i.text_en) for i in refs] == [
        (s["id"], s["en"], s["en"]) for s in langset.sentences(ids)
    ]
    assert {Path(i.path): Path(i.path).read_bytes() for i in items} == made
    # no Kokoro language: no Kokoro English; references=False: none either
    alone = langset.synthesize(tmp_path, ["en", "de"], ids, manifest=None)
    assert {i.voice for i in alone} == {"en-us", "de"}
    plain = langset.synthesize(tmp_path, ["es"], ids, manifest=None, references=False)
    assert {(i.language, i.voice) for i in plain} == {("es", KUMO)}


def test_missing_kokoro_stops_before_anything_is_spoken(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(kt.PYTHON_ENV, raising=False)
    monkeypatch.setattr(kt, "missing", lambda: ["misaki==0.9.4"])
    with pytest.raises(SystemExit) as stop:
        langset.synthesize(tmp_path, ["en", "es"], ["neutral_03"], manifest=None)
    message = str(stop.value)
    assert "\n" not in message and kt.PIP_COMMAND in message and kt.PYTHON_ENV in message
    assert not list(tmp_path.rglob("*.wav"))  # not even the espeak-ng English
    monkeypatch.setenv(kt.PYTHON_ENV, str(tmp_path / "no-such-python"))
    with pytest.raises(SystemExit, match="no such program"):
        kt.ready()


@needs_kokoro_here
def test_phonemes_are_in_kokoros_vocabulary() -> None:
    vocab = kt.vocab()
    said = {
        lang: kt.phonemize(langset.sentences(["neutral_03"])[0][lang], lang) for lang in ("en", "es", "zh")
    }
    for lang, ps in said.items():
        assert ps and set(ps) <= set(vocab), lang
    assert said["es"].startswith("me pˈasas")
    assert any(arrow in said["zh"] for arrow in "→↗↓↘")  # tones
    assert kt.model_path().is_file()  # joined, SHA-256 checked


@needs_kokoro
def test_kokoro_items_are_16k_padded_and_identical_when_built_twice(tmp_path: Path) -> None:
    first = langset.synthesize(tmp_path / "a", ["es"], ["neutral_03"])
    assert [(i.language, i.voice) for i in first] == [("es", KUMO), ("en", KUMO)]
    pad = round(langset.PAD * langset.SR)
    for item in first:
        with wave.open(item.path, "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16_000)
            assert 1.5 < w.getnframes() / 16_000 < 6.0
        pcm = langset._read_pcm(item.path)
        assert not pcm[: pad - 1].any() and not pcm[-pad + 1 :].any()  # silence each side
        assert int(abs(pcm.astype(int)).max()) > 3000  # and speech between
    second = langset.synthesize(tmp_path / "b", ["es"], ["neutral_03"])
    assert [Path(i.path).read_bytes() for i in second] == [Path(i.path).read_bytes() for i in first]
    manifest = (tmp_path / "a" / "manifest.json").read_text(encoding="utf-8")
    assert manifest == (tmp_path / "b" / "manifest.json").read_text(encoding="utf-8")
    assert '"references": {\n  "es": "kokoro:jm_kumo"\n }' in manifest
