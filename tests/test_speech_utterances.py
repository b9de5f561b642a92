from __future__ import annotations

import itertools

import numpy as np
import pytest

from emocli.results import Word
from emocli.speech.diarize import frames_to_turns
from emocli.speech.utterances import (
    Turn,
    assign_speakers,
    build_utterances,
    ends_sentence,
    join_words,
    smooth_sentence_edges,
)
from emocli.speech.vad import merge_regions, plan_blocks


def words(*spec: tuple[float, float, str]) -> list[Word]:
    return [Word(s, e, w) for s, e, w in spec]


def test_words_are_assigned_by_overlap_even_inside_one_asr_segment() -> None:
    # One Whisper segment "yes I agree no way" spans a speaker change at 1.0 s.
    ws = words(
        (0.0, 0.3, "yes"), (0.35, 0.5, "I"), (0.55, 0.95, "agree"), (1.1, 1.3, "no"), (1.35, 1.7, "way")
    )
    turns = [Turn(0.0, 1.0, "A"), Turn(1.0, 2.0, "B")]
    out = assign_speakers(ws, turns)
    assert [w.speaker for w in out] == ["A", "A", "A", "B", "B"]
    utts = build_utterances(out)
    assert [(u.speaker, u.text) for u in utts] == [("A", "yes I agree"), ("B", "no way")]
    assert all(len({w.speaker for w in u.words}) == 1 for u in utts)


def test_word_crossing_a_turn_boundary_goes_to_the_larger_overlap() -> None:
    turns = [Turn(0.0, 1.0, "A"), Turn(1.0, 3.0, "B")]
    (w,) = assign_speakers(words((0.9, 1.5, "crossing")), turns)  # 0.1 s in A, 0.5 s in B
    assert w.speaker == "B"
    (w,) = assign_speakers(words((0.5, 1.1, "crossing")), turns)  # 0.5 s in A, 0.1 s in B
    assert w.speaker == "A"


def test_word_in_silence_goes_to_the_nearest_turn() -> None:
    turns = [Turn(0.0, 1.0, "A"), Turn(5.0, 6.0, "B"), Turn(8.0, 9.0, "A")]
    out = assign_speakers(words((1.5, 1.8, "near-a"), (4.2, 4.6, "near-b"), (9.5, 9.7, "after")), turns)
    assert [w.speaker for w in out] == ["A", "B", "A"]


def test_overlapping_turns_and_zero_length_words() -> None:
    turns = [Turn(0.0, 2.0, "A"), Turn(1.5, 3.0, "B")]  # overlap 1.5-2.0
    out = assign_speakers(words((1.0, 1.0, "zero"), (2.5, 2.5, "zero2")), turns)
    assert [w.speaker for w in out] == ["A", "B"]
    assert assign_speakers([], turns) == []


def test_pauses_sentences_and_max_length_split_utterances() -> None:
    ws = [
        Word(0.0, 0.4, "Hello.", speaker="A"),
        Word(0.5, 0.9, "How", speaker="A"),
        Word(1.0, 1.3, "are", speaker="A"),
        Word(3.0, 3.3, "you", speaker="A"),  # 1.7 s pause
        Word(3.4, 3.6, "Mr.", speaker="A"),  # an abbreviation does not end a sentence
        Word(3.7, 4.0, "Smith?", speaker="A"),
    ]
    utts = build_utterances(ws, max_pause=1.0)
    assert [u.text for u in utts] == ["Hello.", "How are", "you Mr. Smith?"]
    assert (utts[2].start, utts[2].end) == (3.0, 4.0)
    long = [Word(i * 0.5, i * 0.5 + 0.4, f"w{i}", speaker="A") for i in range(20)]  # 10 s, no pauses
    parts = build_utterances(long, max_duration=3.0)
    assert all(u.duration <= 3.0 for u in parts) and sum(len(u.words) for u in parts) == 20
    assert len(build_utterances(ws, split_sentences=False, max_pause=5.0)) == 1


def test_sentence_end_detection_and_joining() -> None:
    assert ends_sentence("done.") and ends_sentence("why?") and ends_sentence('"no!"')
    assert not ends_sentence("Mr.") and not ends_sentence("D.C.") and not ends_sentence("3.5")
    assert not ends_sentence("hello,")
    ws = words((0, 1, "你好"), (1, 2, "世界"))
    assert join_words(ws, "zh") == "你好世界" and join_words(ws, "en") == "你好 世界"
    assert join_words(words((0, 1, "in"), (1, 2, "D"), (2, 3, ".C."), (3, 4, "today"))) == "in D.C. today"


def test_short_run_at_a_sentence_edge_joins_the_sentence_speaker() -> None:
    ws = [
        Word(18.1, 18.4, "Oh", speaker="A"),
        Word(18.5, 19.0, "I'm", speaker="A"),
        Word(19.0, 19.5, "from", speaker="A"),
        Word(19.5, 19.9, "Chicago", speaker="A"),
        Word(19.9, 20.1, "also.", speaker="B"),  # turn edge landed one word early
        Word(20.3, 20.6, "Really?", speaker="B"),
    ]
    out = smooth_sentence_edges(ws)
    assert [w.speaker for w in out] == ["A"] * 5 + ["B"]
    # A real change inside a sentence (long runs on both sides) is kept.
    ws2 = [Word(i * 0.4, i * 0.4 + 0.35, "w", speaker="A" if i < 4 else "B") for i in range(8)]
    ws2[-1] = Word(ws2[-1].start, ws2[-1].end, "end.", speaker="B")
    assert [w.speaker for w in smooth_sentence_edges(ws2)] == [w.speaker for w in ws2]


def test_regions_and_asr_blocks() -> None:
    assert merge_regions([(3, 4), (0, 1), (0.5, 2)]) == [(0.0, 2.0), (3.0, 4.0)]
    assert merge_regions([(0, 1), (1.2, 2)], max_gap=0.3) == [(0.0, 2.0)]
    regions = [(0.0, 5.0), (6.0, 9.0), (20.0, 25.0), (25.5, 400.0)]
    blocks = plan_blocks(regions, duration=410.0, max_gap=2.0, max_block=240.0, pad=0.3)
    # silence 9-20 s is skipped; blocks never exceed the limit (plus padding) and never overlap
    assert blocks[0] == (0.0, 9.3)
    assert all(e - s <= 240.0 + 0.6 for s, e in blocks)
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(blocks))
    covered = sum(min(e, be) - max(s, bs) for s, e in regions for bs, be in blocks if be > s and bs < e)
    assert covered == pytest.approx(sum(e - s for s, e in regions))


def test_frames_to_turns_follow_window_votes_and_cut_at_silence() -> None:
    # windows every 0.25 s over 0-6 s of speech; speaker 0 until 3 s, then speaker 1
    starts = np.arange(0.0, 4.41, 0.25)
    spans = np.stack([starts, starts + 1.6], axis=1)
    labels = ((starts + 0.8) >= 3.0).astype(int)
    turns = frames_to_turns(spans, labels, [(0.0, 2.0), (2.5, 6.0)], duration=7.0)
    assert [t.speaker for t in turns] == ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01"]
    assert turns[0] == Turn(0.0, 2.0, "SPEAKER_00")
    assert turns[2].start == pytest.approx(3.0, abs=0.15) and turns[2].end == 6.0


def test_no_speech_is_reported_as_no_speech_error() -> None:
    # annotate catches NoSpeechError to fall back to faces alone; it must stay an InputError too
    from emocli.errors import InputError, NoSpeechError
    from emocli.speech.pipeline import _no_speech

    err = _no_speech("talk.mp4")
    assert isinstance(err, NoSpeechError) and isinstance(err, InputError)
    assert str(err).startswith("No speech found in talk.mp4.")


def test_fit_to_speech_stretches_captions_to_the_voice_but_not_into_neighbours() -> None:
    from emocli.results import Utterance
    from emocli.speech.utterances import fit_to_speech

    a = Utterance(1.30, 2.00, "S0", "a")  # speech region 1.0-2.4: start 0.3 s late, end 0.4 s early
    b = Utterance(2.10, 3.00, "S1", "b")  # same region continues to 3.2 (another speaker)
    c = Utterance(5.00, 6.00, "S0", "c")  # region 4.0-7.5: further than max_extend either side
    d = Utterance(9.00, 9.50, "S1", "d")  # in no region at all (the VAD missed it)
    out = fit_to_speech([b, a, d, c], [(1.0, 3.2), (4.0, 7.5)], max_extend=0.6)
    assert [(u.text, u.start, u.end) for u in out] == [
        ("a", 1.0, 2.1),  # back to the region start; forward only up to b's start
        ("b", 2.1, 3.2),
        ("c", 4.4, 6.6),  # at most 0.6 s each way
        ("d", 9.0, 9.5),  # untouched
    ]
    assert (a.start, a.end) == (1.30, 2.00)  # the inputs are not modified
    assert fit_to_speech([a], []) == [a]


def test_a_word_stretched_back_over_a_pause_at_a_change_of_speaker_starts_after_it() -> None:
    """bench_diarize's 10-minute loop: "I'd" (of the next speaker's "I'd like to do better at that")
    ran 323.30-323.88 s over the voice's pause at 323.58-323.75 s, so it went to the previous speaker."""
    from emocli.speech.utterances import start_after_pauses

    words = [
        Word(322.644, 322.824, "use"),
        Word(322.824, 323.304, "batunnels"),
        Word(323.304, 323.884, "I'd"),
        Word(323.884, 323.964, "like"),
        Word(323.964, 324.104, "to"),
        Word(324.104, 324.204, "do"),
        Word(324.204, 324.384, "better"),
    ]
    regions = [(320.802, 323.582), (323.746, 324.862)]
    turns = [Turn(320.6, 323.66, "A"), Turn(323.66, 325.0, "B")]
    out = start_after_pauses(words, regions, turns)
    assert out[2].start == 323.746 and out[2].end == 323.884  # its sound is after the pause
    assert [(w.start, w.end) for i, w in enumerate(out) if i != 2] == [
        (w.start, w.end) for i, w in enumerate(words) if i != 2
    ]  # "batunnels" (0.48 s) is long too, but no pause starts inside it
    assert [w.speaker for w in assign_speakers(out, turns)][1:4] == ["A", "B", "B"]
    assert [w.speaker for w in assign_speakers(words, turns)][1:4] == ["A", "A", "B"]  # before
    # No change of speaker near the word (one speaker, or the change 0.5 s away): Whisper's times.
    assert start_after_pauses(words, regions, [Turn(320.0, 325.0, "A")]) == words
    far = [Turn(320.6, 322.5, "A"), Turn(322.5, 325.0, "B")]
    assert start_after_pauses(words, regions, far) == words
    # A short word over a pause is left alone, and so is everything without speech regions.
    short = [Word(1.0, 1.2, "a"), Word(1.2, 1.3, "b")]
    assert (
        start_after_pauses(short, [(0.5, 1.05), (1.2, 2.0)], [Turn(0, 1.1, "A"), Turn(1.1, 2, "B")]) == short
    )
    assert start_after_pauses(words, [], turns) == words
