"""Nothing silently dropped (issue 16): speech without words is decoded again, and what still has
none is listed (JSON), counted (summary line) and shown ("(speech not transcribed)")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emocli.output.render import CaptionRenderer
from emocli.output.writers import NOT_TRANSCRIBED, to_csv, to_json, to_srt, to_vtt, untranscribed_summary
from emocli.results import RepetitionCut, Result, Untranscribed, Utterance, Word
from emocli.speech.coverage import LOOP_CUT, NO_WORDS, NOT_SPEECH, uncovered, unexplained
from tests.asr_fakes import scripted_asr

SR = 16_000


def test_uncovered_finds_speech_of_a_second_or_more_without_words() -> None:
    words = [Word(1.0, 2.0, "a"), Word(6.0, 7.0, "b"), Word(7.4, 7.8, "c")]
    # 0-0.75 is too short; 2.25-5.75 and 8.05-10 are stretches; 10.1-10.6 joins 8.05-10 (gap < 0.3 s).
    assert uncovered([(0.0, 10.0), (10.1, 10.6)], words) == [(2.25, 5.75), (8.05, 10.6)]
    assert uncovered([(0.0, 3.0)], []) == [(0.0, 3.0)]
    assert uncovered([(0.0, 0.9)], []) == []


def test_unexplained_gives_each_stretch_the_reason_seen_there() -> None:
    notes = [Untranscribed(0.0, 4.0, NOT_SPEECH), Untranscribed(3.5, 9.0, LOOP_CUT)]
    got = unexplained([(0.0, 3.0), (5.0, 8.0), (20.0, 22.0)], [], notes)
    assert [(x.start, x.end, x.reason) for x in got] == [
        (0.0, 3.0, NOT_SPEECH),
        (5.0, 8.0, LOOP_CUT),
        (20.0, 22.0, NO_WORDS),
    ]


def test_speech_the_first_pass_skipped_is_decoded_again_in_its_own_language() -> None:
    # First pass: words in 0.5-3 s only (Whisper jumped over the rest); the retry of 3-8 s has words.
    asr = scripted_asr(
        [[(0.5, 3.0, "hello there my friends", 0.1)], [(0.3, 4.5, "здравствуйте меня зовут Иван", 0.2)]],
        language=("ru", 0.9),
    )
    out = asr.transcribe(np.zeros(9 * SR, np.float32), speech=[(0.4, 8.0)])
    assert [w.word for w in out.words][-1] == "Иван"
    assert out.untranscribed == [] and out.language == "en"  # the input's language stays
    length, options = asr.model.calls[1]
    assert options["language"] == "ru" and options["no_speech_threshold"] is None
    assert 4.5 < length < 5.6  # the stretch alone (with 0.2 s either side), not the whole block


def test_a_given_language_is_kept_for_the_second_decoding_too() -> None:
    asr = scripted_asr([[(0.5, 3.0, "hello there my friends", 0.1)], []], language=("ru", 0.9))
    out = asr.transcribe(np.zeros(9 * SR, np.float32), speech=[(0.4, 8.0)], language="en")
    assert asr.model.detected == 0 and asr.model.calls[1][1]["language"] == "en"
    assert [(x.reason, x.end) for x in out.untranscribed] == [(NO_WORDS, 8.0)]


def test_what_whisper_judges_not_speech_is_listed_with_that_reason() -> None:
    asr = scripted_asr([[(0.5, 2.0, "okay so", 0.1)], [(0.0, 5.0, "trans buti minasa", 0.85, -1.2)]])
    out = asr.transcribe(np.zeros(9 * SR, np.float32), speech=[(0.4, 8.0)])
    assert [w.word for w in out.words] == ["okay", "so"]  # the low-confidence words are not kept
    (x,) = out.untranscribed
    assert x.reason == NOT_SPEECH and x.start == pytest.approx(2.2) and x.end == 8.0


def _result() -> Result:
    u = Utterance(0.5, 2.0, "SPEAKER_00", "Okay so.", [Word(0.5, 2.0, "Okay so.", 0.9, "SPEAKER_00")])
    return Result(
        source="talk.wav",
        duration=12.0,
        utterances=[u, Utterance(9.0, 10.0, "SPEAKER_01", "Bye.", [Word(9.0, 10.0, "Bye.")])],
        speech_duration=9.5,
        untranscribed=[Untranscribed(3.0, 8.0, NOT_SPEECH)],
        repetitions=[RepetitionCut(9.0, 9.5, "bye", 9, "decoded again")],
        timing={"asr": 1.234},
    )


def test_json_lists_the_stretches_and_reads_back_and_old_json_still_loads() -> None:
    r = _result()
    d = json.loads(to_json(r))
    assert d["untranscribed"] == [{"start": 3.0, "end": 8.0, "reason": NOT_SPEECH}]
    assert d["speech_duration"] == 9.5 and d["repetitions"][0]["action"] == "decoded again"
    assert [u["repetition_cut"] for u in d["utterances"]] == [False, False]  # decoded again: not cut
    back = Result.from_dict(d)
    assert back.untranscribed == r.untranscribed and back.repetitions == r.repetitions
    assert back.to_dict() == r.to_dict()
    assert "timing" not in r.to_dict(timing=False) and "timing" in r.to_dict()
    for key in ("untranscribed", "repetitions", "speech_duration"):
        d.pop(key)
    old = Result.from_dict(d)
    assert old.untranscribed == [] and old.speech_duration is None and untranscribed_summary(old) == ""


def test_subtitles_say_where_speech_was_not_transcribed() -> None:
    r = _result()
    srt = to_srt(r)
    blocks = srt.strip().split("\n\n")
    assert len(blocks) == 3
    assert blocks[1] == f"2\n00:00:03,000 --> 00:00:08,000\n{NOT_TRANSCRIBED}"  # in time order
    vtt = to_vtt(r)
    assert f"00:00:03.000 --> 00:00:08.000\n{NOT_TRANSCRIBED}\n" in vtt
    assert NOT_TRANSCRIBED not in to_csv(r)  # one row per utterance, as before


def test_summary_says_how_much_speech_went_untranscribed() -> None:
    r = _result()
    line = untranscribed_summary(r)
    assert "5.0 s of 9.5 s (53%) in 1 stretch" in line and "1 repetition loop caught" in line
    r.untranscribed, r.repetitions = [], []
    assert untranscribed_summary(r) == "untranscribed speech: none"


def test_the_video_says_speech_not_transcribed_instead_of_no_speech() -> None:
    plain, marked = np.zeros((360, 640, 3), np.uint8), np.zeros((360, 640, 3), np.uint8)
    CaptionRenderer(640, 360).draw(plain, None, None, [])
    CaptionRenderer(640, 360).draw(marked, None, None, [], untranscribed=True)
    bottom = (slice(300, 360), slice(0, 640))
    assert marked[bottom].max() > 150
    assert (marked[bottom] > 150).sum() > 1.5 * (plain[bottom] > 150).sum()  # a longer text than "no speech"
