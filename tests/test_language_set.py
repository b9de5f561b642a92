"""benchmarks/language_set.py: the sentence data is complete, and espeak-ng synthesis is deterministic."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import wave
from collections import Counter
from pathlib import Path

import pytest

from emocli import EMOTIONS
from tests.benchmark_modules import load_benchmark

MINIMUM = {"neutral": 10, "joy": 10, "anger": 10, "sadness": 10, "surprise": 10, "fear": 8, "disgust": 8}


langset = load_benchmark("language_set")
SENTENCES: list[dict[str, str]] = langset.SENTENCES
LANGUAGES: tuple[str, ...] = langset.LANGUAGES
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def test_every_sentence_has_every_language_and_a_valid_label() -> None:
    assert {"en", "es", "fr", "de", "ru", "zh"} <= set(LANGUAGES)
    assert set(langset.VOICES) == set(LANGUAGES)
    assert set(langset.EMOTIONS) == set(EMOTIONS)
    for s in SENTENCES:
        assert set(s) == {"id", "emotion", *LANGUAGES}, s["id"]
        assert s["emotion"] in EMOTIONS, s["id"]
        assert s["id"].startswith(s["emotion"] + "_"), s["id"]
        assert all(s[lang].strip() == s[lang] and s[lang] for lang in LANGUAGES), s["id"]
        assert 5 <= len(s["en"].split()) <= 14, s["en"]


def test_counts_and_no_duplicates() -> None:
    counts = Counter(s["emotion"] for s in SENTENCES)
    assert len(SENTENCES) >= 66
    for emotion, least in MINIMUM.items():
        assert counts[emotion] >= least, emotion
    assert len({s["id"] for s in SENTENCES}) == len(SENTENCES)
    for lang in LANGUAGES:  # no sentence twice in any language
        assert len({s[lang].lower() for s in SENTENCES}) == len(SENTENCES), lang


def test_scripts_match_languages() -> None:
    # a translation pasted into the wrong column shows up as the wrong script
    script = {"ru": "\u0400-\u04ff", "zh": "\u4e00-\u9fff", "ar": "\u0600-\u06ff", "hi": "\u0900-\u097f"}
    for lang, block in script.items():
        for s in SENTENCES:
            assert re.search(f"[{block}]", s[lang]), (lang, s["id"])
            assert not re.search("[A-Za-z]", s[lang]), (lang, s["id"])


def test_interleaved_ids_cover_every_sentence_once() -> None:
    ids = langset.interleaved_ids()
    assert sorted(ids) == sorted(s["id"] for s in SENTENCES)
    assert len({langset.sentences([i])[0]["emotion"] for i in ids[:7]}) == 7


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@needs_espeak
def test_synthesis_is_16k_mono_plausible_and_repeatable(tmp_path: Path) -> None:
    ids = ["neutral_03", "anger_01"]
    first = langset.synthesize(tmp_path / "a", ["en", "de"], ids)
    assert [(i.language, i.id) for i in first] == [(lang, i) for lang in ("en", "de") for i in ids]
    for item in first:
        with wave.open(item.path, "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16_000)
            seconds = w.getnframes() / w.getframerate()
        assert 2.0 < seconds < 8.0, (item.id, seconds)
        assert item.text_en == langset.sentences([item.id])[0]["en"]
    pcm = langset._read_pcm(first[0].path)
    pad = round(langset.PAD * 16_000)
    assert not pcm[: pad - 1].any() and not pcm[-pad + 1 :].any()  # silence each side
    assert int(abs(pcm.astype(int)).max()) > 3000  # and speech between

    mtimes = [Path(i.path).stat().st_mtime_ns for i in first]
    again = langset.synthesize(tmp_path / "a", ["en", "de"], ids)  # cached: nothing rewritten
    assert [Path(i.path).stat().st_mtime_ns for i in again] == mtimes
    second = langset.synthesize(tmp_path / "b", ["en", "de"], ids)  # a fresh build: same bytes
    assert [_digest(i.path) for i in second] == [_digest(i.path) for i in first]
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
    loaded = langset.load_manifest(tmp_path / "a")
    assert loaded == first
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["voices"] == {"en": "en-us", "de": "de"}


@needs_espeak
def test_join_places_each_item_after_the_last(tmp_path: Path) -> None:
    en = langset.synthesize(tmp_path, ["en"], ["joy_01"], manifest=None)
    es = langset.synthesize(tmp_path, ["es"], ["fear_02"], voices={"es": "es+f3"}, manifest=None)
    assert es[0].voice == "es+f3"
    turns = langset.join([en[0], es[0]], tmp_path / "joined.wav", gap=0.6)
    lengths = [len(langset._read_pcm(i.path)) / 16_000 for i in (en[0], es[0])]
    joined = langset._read_pcm(tmp_path / "joined.wav")
    assert len(joined) / 16_000 == pytest.approx(sum(lengths) + 0.6, abs=1e-3)
    assert [t.language for t in turns] == ["en", "es"]
    a, b = turns
    assert langset.PAD <= a.start < a.end <= lengths[0] - langset.PAD + 0.01
    assert lengths[0] + 0.6 + langset.PAD - 0.01 <= b.start < b.end <= len(joined) / 16_000
