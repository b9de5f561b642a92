"""Issue 14: the language found per stretch of speech, runs decoded in their own language, utterances
in one language each, translations for the text model, and the writers' --captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emocli.errors import EmocliError
from emocli.output.writers import languages_summary, to_csv, to_json, to_srt, to_vtt
from emocli.results import Result, Utterance, Word
from emocli.speech.languages import LanguageSpan, language_runs, resolve, seconds_by_language, stretches
from emocli.speech.translate import needs_translation, translate_utterances
from emocli.speech.utterances import build_utterances
from tests.asr_fakes import SR, scripted_asr

# -- stretches and the rules ---------------------------------------------------------------------


def test_stretches_merge_breaths_and_cut_long_speech_into_equal_pieces() -> None:
    regions = [(0.0, 2.0), (2.2, 4.0), (5.0, 6.0), (10.0, 35.0)]
    out = stretches(regions, merge_gap=0.3, window=10.0)
    assert out[:2] == [(0.0, 4.0), (5.0, 6.0)]  # a 0.2 s pause is a breath; 1 s is not
    long = out[2:]
    assert len(long) == 3 and long[0][0] == 10.0 and long[-1][1] == 35.0
    assert all(abs((e - s) - 25.0 / 3) < 1e-9 for s, e in long)  # 25 s -> 3 pieces, no sliver


def test_short_and_unsure_stretches_take_their_language_from_the_sure_ones() -> None:
    found = [
        ((0.0, 3.0), ("en", 0.95)),
        ((3.5, 4.0), None),  # too short to identify
        ((5.0, 8.0), ("es", 0.90)),
        ((9.0, 11.0), ("la", 0.40)),  # unsure, and Latin is sure nowhere: the previous sure one
        ((12.0, 14.0), ("en", 0.30)),  # unsure, but English is sure elsewhere: kept
    ]
    spans = resolve(found)
    assert [s.language for s in spans] == ["en", "en", "es", "es", "en"]
    assert spans[0].probability == 0.95 and spans[1].probability is None and spans[3].probability is None
    first_unsure = resolve([((0.0, 2.0), ("la", 0.3)), ((2.5, 5.0), ("de", 0.9))])
    assert [s.language for s in first_unsure] == ["de", "de"]  # no sure one before: the next one


def test_with_no_sure_stretch_the_longest_guess_holds_everywhere() -> None:
    spans = resolve([((0.0, 2.0), ("pt", 0.4)), ((3.0, 9.0), ("es", 0.45)), ((10.0, 10.5), None)])
    assert {s.language for s in spans} == {"es"}


def test_runs_cut_regions_where_the_language_changes() -> None:
    regions = [(0.0, 4.0), (4.5, 9.0), (10.0, 12.0)]
    spans = [LanguageSpan(0.0, 4.0, "en"), LanguageSpan(4.5, 6.0, "en"), LanguageSpan(6.0, 9.0, "ru")]
    spans.append(LanguageSpan(10.0, 12.0, "en"))
    runs = language_runs(regions, spans)
    assert runs == [("en", [(0.0, 4.0), (4.5, 6.0)]), ("ru", [(6.0, 9.0)]), ("en", [(10.0, 12.0)])]
    assert seconds_by_language(spans) == {"en": 7.5, "ru": 3.0}


# -- the ASR decodes each run in its language ----------------------------------------------------


def _two_voices() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """12 s: English (quiet tone) 0.5-4.5 s, Spanish (loud tone) 6-10 s; the fake identifies the
    language from the loudness, as Whisper would from the words."""
    audio = np.zeros(12 * SR, np.float32)
    t = np.arange(4 * SR) / SR
    audio[int(0.5 * SR) : int(4.5 * SR)] = 0.1 * np.sin(2 * np.pi * 200 * t)
    audio[6 * SR : 10 * SR] = 0.5 * np.sin(2 * np.pi * 200 * t)
    return audio, [(0.5, 4.5), (6.0, 10.0)]


def _by_loudness(clip: np.ndarray) -> tuple[str, float]:
    return ("es", 0.9) if np.abs(clip).max() > 0.3 else ("en", 0.95)


def test_each_run_is_decoded_in_its_own_language_and_words_carry_it() -> None:
    audio, speech = _two_voices()
    # Block 1 (English), block 2 (Spanish): times relative to each block's start.
    asr = scripted_asr(
        [[(0.3, 3.8, "I am so happy today.", 0.01)], [(0.3, 3.8, "Estoy muy triste hoy.", 0.01)]]
    )
    asr.model.model.language_of = _by_loudness
    out = asr.transcribe(audio, speech)
    assert [c[1]["language"] for c in asr.model.calls] == ["en", "es"]
    assert {w.language for w in out.words if w.start < 5} == {"en"}
    assert {w.language for w in out.words if w.start > 5} == {"es"}
    assert out.language in ("en", "es") and {s.language for s in out.languages} == {"en", "es"}
    utts = build_utterances(
        [Word(w.start, w.end, w.word, speaker="S", language=w.language) for w in out.words]
    )
    assert [(u.language, u.text) for u in utts] == [
        ("en", "I am so happy today."),
        ("es", "Estoy muy triste hoy."),
    ]


def test_a_language_change_without_a_pause_or_sentence_end_still_starts_an_utterance() -> None:
    words = [
        Word(0.0, 0.4, "hello", speaker="S", language="en"),
        Word(0.45, 0.9, "hola", speaker="S", language="es"),
    ]
    utts = build_utterances(words, split_sentences=False)
    assert [u.language for u in utts] == ["en", "es"]


def test_one_given_language_is_forced_and_several_limit_the_choice() -> None:
    audio, speech = _two_voices()
    asr = scripted_asr([[(0.3, 3.8, "uno", 0.01)]])
    asr.model.model.language_of = _by_loudness
    out = asr.transcribe(audio, speech, language="es")
    assert asr.model.stretches == []  # nothing identified
    # One block, then its second region (no words) decoded again: Spanish both times.
    assert {c[1]["language"] for c in asr.model.calls} == {"es"} and out.language == "es"
    asr = scripted_asr([[(0.3, 3.8, "one", 0.01)], [(0.3, 3.8, "um", 0.01)]])
    asr.model.model.language_of = lambda clip: ("pt", 0.7) if np.abs(clip).max() > 0.3 else ("en", 0.9)
    asr.transcribe(audio, speech, language="en, ES")
    assert [c[1]["language"] for c in asr.model.calls] == ["en", "en"]  # pt is not a candidate
    with pytest.raises(EmocliError, match="'xx'"):
        asr.check_language("en,xx")
    assert asr.check_language(" EN ,es,en") == "en,es"


def test_short_stretches_are_identified_in_a_ten_second_window_and_unsure_ones_again_in_thirty() -> None:
    audio, speech = _two_voices()
    asr = scripted_asr([[(0.3, 3.8, "one", 0.01)], [(0.3, 3.8, "dos", 0.01)]])
    asr.model.model.language_of = lambda clip: ("es", 0.6) if np.abs(clip).max() > 0.3 else ("en", 0.95)
    asr.transcribe(audio, speech)
    assert asr.model.stretches == pytest.approx([4.0, 4.0, 4.0])  # the unsure Spanish one twice


# -- translation ---------------------------------------------------------------------------------


def test_only_speech_not_in_english_is_translated_from_its_own_audio(monkeypatch: pytest.MonkeyPatch) -> None:
    from emocli.speech import translate

    calls: list[tuple[float, str, dict]] = []

    def fake_generate(
        model: object, clip: np.ndarray, language: str, beam_size: int = 5, **options: object
    ) -> str:
        calls.append((len(clip) / SR, language, options))
        return f"I am sad ({language})." if len(calls) > 1 or language != "ru" else "sad sad sad sad sad sad"

    monkeypatch.setattr(translate, "generate", fake_generate)
    utts = [
        Utterance(0.5, 4.5, "S0", "I am so happy today.", language="en"),
        Utterance(6.0, 10.0, "S1", "Estoy muy triste hoy.", language="es"),
        Utterance(10.5, 11.0, "S1", "", language="es"),  # no words: nothing to translate
    ]
    assert translate_utterances(None, np.zeros(12 * SR, np.float32), utts) == 1  # type: ignore[arg-type]
    ((seconds, language, options),) = calls
    assert language == "es" and seconds == pytest.approx(4.4) and options == {}  # the utterance +- 0.2 s
    assert utts[0].text_en is None and not utts[0].translated
    assert (
        utts[1].text_en == "I am sad (es)." and utts[1].translated and utts[1].text == "Estoy muy triste hoy."
    )
    assert not needs_translation(Utterance(0, 1, "S", "hi", language=None))
    calls.clear()  # a translation that loops is decoded again with a repetition penalty
    looped = [Utterance(0.5, 4.5, "S0", "Мне грустно.", language="ru")]
    translate_utterances(None, np.zeros(6 * SR, np.float32), looped)  # type: ignore[arg-type]
    assert [c[2] for c in calls] == [{}, translate.LOOP_RETRY] and looped[0].text_en == "I am sad (ru)."


def test_translations_side_by_side_land_on_their_own_utterances(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from emocli.speech import translate

    running, most = [0], [0]
    lock = threading.Lock()

    def slow_generate(model: object, clip: np.ndarray, language: str, beam_size: int = 5, **o: object) -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        seconds = len(clip) / SR
        time.sleep(0.02 * (8 - seconds))  # the first (shortest) finish last
        with lock:
            running[0] -= 1
        return f"utterance of {seconds:.1f} s"

    monkeypatch.setattr(translate, "generate", slow_generate)
    utts = [Utterance(10.0 * i, 10.0 * i + 1 + i, "S", "Hola.", language="es") for i in range(5)]
    assert translate_utterances(None, np.zeros(60 * SR, np.float32), utts, workers=3) == 5  # type: ignore[arg-type]
    # Each utterance +- 0.2 s (the first starts at 0 s): its own translation, whatever finished first.
    assert [u.text_en for u in utts] == [f"utterance of {1.4 + i - 0.2 * (i == 0):.1f} s" for i in range(5)]
    assert most[0] > 1  # really side by side


def test_the_translation_window_fits_the_utterance_and_the_output_is_capped() -> None:
    from types import SimpleNamespace

    from emocli.speech import translate

    seen: dict[str, object] = {}

    class CT2:
        def generate(self, features: object, prompts: list, **options: object) -> list:
            seen.update(shape=np.asarray(features).shape, prompt=prompts[0], **options)
            return [SimpleNamespace(sequences_ids=[[50257]])]  # end of text at once

    from faster_whisper.tokenizer import Tokenizer

    class Model:
        model = CT2()
        hf_tokenizer = _whisper_tokenizer()

        def feature_extractor(self, clip: np.ndarray) -> np.ndarray:
            return np.ones((80, len(clip) // 160), np.float32)

    assert translate.generate(Model(), np.zeros(4 * SR, np.float32), "es") == ""  # type: ignore[arg-type]
    assert seen["shape"] == (1, 80, 1000)  # 4 s of speech: a 10 s window, not 30
    tok = Tokenizer(Model.hf_tokenizer, True, task="translate", language="es")
    assert seen["prompt"] == [*tok.sot_sequence, tok.no_timestamps] and seen["beam_size"] == 5
    assert seen["max_length"] == len(seen["prompt"]) + 16 + 32  # 16 + 8 tokens per second
    translate.generate(Model(), np.zeros(15 * SR, np.float32), "es")
    assert seen["shape"] == (1, 80, 1600)  # longer speech: its length and 1 s


def _whisper_tokenizer() -> object:
    """The bundled Whisper base's tokenizer, from its package (no model joined or loaded)."""
    import tokenizers

    from emocli.speech.whisper_model import BUNDLED_PACKAGES, _package_data

    return tokenizers.Tokenizer.from_file(str(_package_data(BUNDLED_PACKAGES[1]) / "tokenizer.json"))


def _bilingual() -> Result:
    words = [Word(0.5, 1.0, "Hello", language="en"), Word(6.0, 7.0, "Hola", language="es")]
    return Result(
        source="x.mp4",
        duration=12.0,
        language="es",
        languages={"es": 4.0, "en": 4.0},
        utterances=[
            Utterance(0.5, 1.0, "S0", "Hello", [words[0]], language="en", emotion="joy", confidence=0.8),
            Utterance(
                6.0, 7.0, "S1", "Hola", [words[1]], language="es", text_en="Hi", emotion="joy", confidence=0.7
            ),
        ],
    )


def test_json_keeps_the_words_as_spoken_and_the_translation_and_reads_back() -> None:
    d = json.loads(to_json(_bilingual()))
    u = d["utterances"][1]
    assert (u["text"], u["text_en"], u["language"], u["translated"]) == ("Hola", "Hi", "es", True)
    assert d["utterances"][0]["translated"] is False
    assert "language" not in u["words"][0]  # said once, on the utterance
    back = Result.from_dict(d)
    assert back.utterances[1].words[0].language == "es" and back.utterances[1].text_en == "Hi"
    assert back.languages == {"es": 4.0, "en": 4.0}


def test_subtitles_and_csv_follow_captions_english() -> None:
    r = _bilingual()
    assert "S1 [joy 70%]: Hola" in to_srt(r) and "S1 [joy 70%]: Hi" in to_srt(r, "english")
    assert "<v S1>S1 [joy 70%]: Hi" in to_vtt(r, "english")
    assert "S0 [joy 80%]: Hello" in to_srt(r, "english")  # English speech is shown as said
    rows = to_csv(r).splitlines()
    assert rows[2].startswith("6.000,7.000,S1,es,Hola,Hi,joy")
    assert to_csv(r, "english").splitlines()[2].startswith("6.000,7.000,S1,es,Hi,Hi,joy")
    assert languages_summary(r) == "es 4.0 s, en 4.0 s; 1 of 2 utterances read through an English translation"
    english = Result(source="y", duration=1.0, language="en", languages={"en": 1.0})
    assert languages_summary(english) == ""


def test_a_bad_captions_mode_fails_in_one_line_before_any_model_loads(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from emocli.cli import app
    from tests.cli_helpers import assert_one_line_error
    from tests.media_factory import tone, write_wav

    src = write_wav(tmp_path / "a.wav", tone(1.0))
    res = CliRunner().invoke(
        app, ["annotate", str(src), "-o", str(tmp_path / "o.mp4"), "--captions", "french"]
    )
    assert_one_line_error(res.exit_code, res.output, "unknown --captions mode 'french'")
