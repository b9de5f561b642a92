"""Repetition loops (issue 16): the detector on synthetic decodings, and what the ASR does with one
(decodes it again alone; cuts it when that loops too; marks both)."""

from __future__ import annotations

import numpy as np
import pytest

from emocli.results import Result, Utterance, Word
from emocli.speech.repetition import (
    KEEP,
    MAX_REPEATS,
    cut_loop,
    find_loops,
    longest_repeat,
    tokens_of,
    word_loops,
)
from tests.asr_fakes import scripted_asr

SR = 16_000


def _words(text: str, start: float = 0.0, step: float = 0.3) -> list[Word]:
    return [
        Word(round(start + i * step, 3), round(start + i * step + 0.2, 3), w)
        for i, w in enumerate(text.split())
    ]


@pytest.mark.parametrize(
    ("text", "repeats"),
    [
        ("Yeah, yeah, yeah, yeah, yeah, yeah, yeah, yeah, yeah, yeah, yeah, yeah.", 12),
        ("И я ию, и я ию, ию, ию, ию, ию, ию, ию, ию", 8),
        ("I will tell you, I will tell you, I will tell you, I will tell you, I will tell you, okay", 5),
        ("Siponya-mypada-mypada-mypada-mypada-mypada-mypada.", 6),  # inside one hyphenated word
        ("No, no, no, no. I said no.", 4),  # people say this: not more than MAX_REPEATS
        ("And so, my fellow Americans, ask not what your country can do for you.", 1),
        ("", 0),
    ],
)
def test_longest_repeat(text: str, repeats: int) -> None:
    assert longest_repeat(text) == repeats
    assert bool(find_loops(tokens_of(text))) == (repeats > MAX_REPEATS)


def test_find_loops_takes_the_longest_run_and_the_shortest_phrase() -> None:
    tokens = tokens_of("so " + "yeah " * 9 + "right, " + "go on " * 6 + "end")
    loops = find_loops(tokens)
    assert [(lp.start, lp.phrase, lp.repeats) for lp in loops] == [(1, 1, 9), (11, 2, 6)]
    assert tokens[loops[1].start : loops[1].end] == ["go", "on"] * 6


def test_cut_keeps_the_first_occurrences_and_the_words_around() -> None:
    words = _words("and then " + "I mean " * 7 + "we left")
    (loop,) = word_loops(words)
    assert (loop.first, loop.last, loop.phrase, loop.repeats) == (2, 15, "i mean", 7)
    kept = cut_loop(words, loop)
    assert [w.word for w in kept] == ["I", "mean"] * KEEP
    hyphen = [Word(0.0, 0.5, "Okay."), Word(0.5, 3.0, "Siponya-mypada-mypada-mypada-mypada-mypada-mypada.")]
    (loop,) = word_loops(hyphen)
    assert [w.word for w in cut_loop(hyphen, loop)] == ["Siponya-mypada-mypada"]


LOOP = "okay " + "yeah " * 12


def test_a_loop_is_decoded_again_and_the_new_words_replace_it() -> None:
    asr = scripted_asr([[(0.5, 6.0, LOOP, 0.1)], [(0.3, 5.0, "we are going to start now", 0.1)]])
    out = asr.transcribe(np.zeros(7 * SR, np.float32), speech=[(0.4, 6.1)])
    texts = [w.word for w in out.words]
    assert "yeah" not in texts and "start" in texts and texts.count("okay") == 1
    (rep,) = out.repetitions
    assert (rep.phrase, rep.repeats, rep.action, rep.kept) == ("yeah", 12, "decoded again", 0)
    # The second decoding is of the loop alone, without the chance of sampling, against repeats.
    length, options = asr.model.calls[1]
    assert length < 6.5 and options["temperature"] == 0.0
    assert options["repetition_penalty"] > 1 and options["no_repeat_ngram_size"] > 0
    assert out.untranscribed == []


def test_a_loop_that_loops_again_is_cut_marked_and_its_rest_listed_not_decoded_a_third_time() -> None:
    asr = scripted_asr([[(0.5, 6.0, LOOP, 0.1)], [(0.5, 5.0, "yeah " * 10, 0.1)]])
    out = asr.transcribe(np.zeros(7 * SR, np.float32), speech=[(0.4, 6.1)])
    assert [w.word for w in out.words] == ["okay", *["yeah"] * KEEP]
    assert [(r.action, r.repeats, r.kept) for r in out.repetitions] == [
        ("decoded again", 12, 0),
        ("cut", 10, KEEP),
    ]
    # The speech after the kept words has none: listed with the reason, and not decoded again.
    assert [x.reason for x in out.untranscribed] == ["repetition loop cut"]
    assert out.untranscribed[0].start >= out.words[-1].end and out.untranscribed[0].end == pytest.approx(6.1)
    assert len(asr.model.calls) == 2
    # The utterance that holds the cut is marked in the JSON.
    u = Utterance(out.words[0].start, out.words[-1].end, "SPEAKER_00", "okay yeah yeah", out.words)
    d = Result("x", 7.0, [u], repetitions=out.repetitions).to_dict()
    assert d["utterances"][0]["repetition_cut"] is True
    assert d["repetitions"][1]["phrase"] == "yeah"


def test_a_loop_whose_second_decoding_is_empty_is_cut() -> None:
    asr = scripted_asr([[(0.5, 6.0, LOOP, 0.1)], []])
    out = asr.transcribe(np.zeros(7 * SR, np.float32), speech=[(0.4, 6.1)])
    assert [w.word for w in out.words] == ["okay", *["yeah"] * KEEP]
    assert [(r.action, r.repeats, r.kept) for r in out.repetitions] == [("cut", 12, KEEP)]


def test_no_output_utterance_repeats_a_phrase_more_than_four_times() -> None:
    from emocli.speech.utterances import build_utterances

    looped = "I'm going to speak my, " * 9
    asr = scripted_asr([[(0.2, 9.0, "well " + looped, 0.1)], [(0.0, 9.0, looped, 0.1)]])
    out = asr.transcribe(np.zeros(10 * SR, np.float32), speech=[(0.1, 9.2)])
    words = [Word(w.start, w.end, w.word, w.probability, "SPEAKER_00") for w in out.words]
    utts = build_utterances(words)
    assert utts and max(longest_repeat(u.text) for u in utts) <= MAX_REPEATS
    assert ("decoded again", "i'm going to speak my") in [(r.action, r.phrase) for r in out.repetitions]


def test_words_of_two_passes_that_loop_side_by_side_are_cut_too() -> None:
    # Three "oh" in the first pass, three more from the second decoding of the speech after them.
    asr = scripted_asr([[(0.5, 2.0, "oh oh oh", 0.1)], [(0.4, 2.0, "oh oh oh", 0.1)]])
    out = asr.transcribe(np.zeros(7 * SR, np.float32), speech=[(0.4, 5.0)])
    assert [w.word for w in out.words] == ["oh"] * KEEP
    assert [(r.phrase, r.repeats, r.action) for r in out.repetitions] == [("oh", 6, "cut")]
