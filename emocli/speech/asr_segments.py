"""Whisper's segments in input time: conversion from faster-whisper, and cutting repetition loops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emocli.results import RepetitionCut, Untranscribed, Word
from emocli.speech.coverage import LOOP_CUT
from emocli.speech.repetition import KEEP, cut_loop, word_loops
from emocli.speech.vad import Region


@dataclass
class AsrSegment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    no_speech_prob: float = 0.0  # Whisper's probability that its 30 s window holds no speech
    avg_logprob: float = 0.0  # mean log-probability of the window's decoded tokens


def cut_loops(words: list[Word], repetitions: list[RepetitionCut], notes: list[Untranscribed]) -> list[Word]:
    """``words`` with every loop cut to its first ``KEEP`` occurrences; each cut recorded."""
    out = list(words)
    for loop in reversed(word_loops(out)):  # from the end: earlier indices stay valid
        run = out[loop.first : loop.last + 1]
        kept = cut_loop(out, loop)
        hi = max(w.end for w in run)
        repetitions.append(RepetitionCut(run[0].start, hi, loop.phrase, loop.repeats, "cut", KEEP))
        notes.append(Untranscribed(kept[-1].end, hi, LOOP_CUT))
        out[loop.first : loop.last + 1] = kept
    return out


def looped(gap: Region, notes: Sequence[Untranscribed]) -> bool:
    """Whether a loop was cut over most of ``gap``."""
    cut = sum(max(0.0, min(gap[1], n.end) - max(gap[0], n.start)) for n in notes if n.reason == LOOP_CUT)
    return cut >= 0.5 * (gap[1] - gap[0])


def mid(w: Word) -> float:
    return (w.start + w.end) / 2


def segment(words: list[Word], like: AsrSegment | None = None) -> AsrSegment:
    """A segment holding ``words`` (``like`` itself when they are all of its words)."""
    if like is not None and len(words) == len(like.words):
        return like
    text = " ".join(w.word for w in words)
    if like is None:
        return AsrSegment(words[0].start, max(w.end for w in words), text, words)
    return AsrSegment(like.start, like.end, text, words, like.no_speech_prob, like.avg_logprob)


def convert_segment(seg: Any, offset: float, language: str | None = None) -> AsrSegment:
    """A faster-whisper Segment (times relative to its block) -> AsrSegment in input time, its
    words marked with the ``language`` they were decoded in."""
    words = [
        Word(
            start=round(offset + float(w.start), 3),
            end=round(offset + float(max(w.end, w.start)), 3),
            word=str(w.word).strip(),
            probability=round(float(w.probability), 4),
            language=language,
        )
        for w in (seg.words or [])
        if str(w.word).strip()
    ]
    return AsrSegment(
        round(offset + seg.start, 3),
        round(offset + seg.end, 3),
        seg.text.strip(),
        words,
        float(getattr(seg, "no_speech_prob", 0.0)),
        float(getattr(seg, "avg_logprob", 0.0)),
    )
