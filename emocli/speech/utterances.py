"""From timed words and speaker turns to speaker-attributed utterances.

Words are assigned to speakers one by one (the speaker whose turns overlap the word most; the
nearest turn when none overlaps), then grouped into utterances that break at every speaker
change, at pauses longer than ``max_pause``, at sentence ends and at ``max_duration``. So no
utterance ever spans two speakers, even when one Whisper segment does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from emocli.results import Turn, Utterance, Word

MIN_PAUSE = 0.1  # s: a pause of the voice inside a word's span (the VAD's min_silence is 0.1 s)
TURN_NEAR = 0.25  # s: a change of speaker this close to a word is at it (the diarizer's hop)

__all__ = ["Turn", "assign_speakers", "build_utterances", "fit_to_speech", "start_after_pauses"]

_MIN_WORD = 0.02  # seconds: zero-length words (Whisper gives some) still overlap something
_SENTENCE_END = re.compile(r"[.?!。？！…]+[\"'”’)\]]*$")
_ABBREVIATIONS = frozenset(
    {"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "sr.", "jr.", "vs.", "etc.", "e.g.", "i.e.", "no."}
)
# Languages written without spaces between words: their Whisper words are joined without one.
_NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "yue", "bo"})


def ends_sentence(word: str) -> bool:
    """True for ``done.``, ``why?``, ``"no!"``; false for ``Mr.``, ``e.g.``, ``D.C.``, ``3.5``."""
    w = word.strip().lower()
    if not _SENTENCE_END.search(w) or w in _ABBREVIATIONS:
        return False
    core = w.rstrip("\"'”’)]").rstrip(".?!。？！…")
    return "." not in core  # "d.c." -> core "d.c": an abbreviation with inner dots


def assign_speakers(words: Sequence[Word], turns: Sequence[Turn]) -> list[Word]:
    """Copies of ``words`` with ``speaker`` set: most overlapping speaker, else the nearest turn.

    Vectorised per speaker (turns merged into sorted, disjoint intervals), so an hour of words
    and turns takes milliseconds.
    """
    if not words:
        return []
    if not turns:
        return [replace(w, speaker=w.speaker) for w in words]
    starts = np.array([min(w.start, w.end) for w in words])
    ends = np.array([max(w.end, w.start) for w in words])
    mid = (starts + ends) / 2
    starts = np.minimum(starts, mid - _MIN_WORD / 2)
    ends = np.maximum(ends, mid + _MIN_WORD / 2)
    speakers = sorted({t.speaker for t in turns})
    overlap = np.zeros((len(speakers), len(words)))  # seconds of each word inside each speaker
    distance = np.full((len(speakers), len(words)), np.inf)  # seconds from the word to the speaker
    for k, spk in enumerate(speakers):
        iv = _merge([(t.start, t.end) for t in turns if t.speaker == spk])
        ts, te = iv[:, 0], iv[:, 1]
        cum = np.concatenate([[0.0], np.cumsum(te - ts)])
        # Overlap of [a, b] with disjoint sorted intervals = covered(b) - covered(a).
        overlap[k] = _covered(ends, ts, te, cum) - _covered(starts, ts, te, cum)
        i = np.clip(np.searchsorted(ts, mid) - 1, 0, len(ts) - 1)  # last turn starting before mid
        j = np.clip(i + 1, 0, len(ts) - 1)
        d_i = np.maximum(0.0, np.maximum(ts[i] - mid, mid - te[i]))
        d_j = np.maximum(0.0, np.maximum(ts[j] - mid, mid - te[j]))
        distance[k] = np.minimum(d_i, d_j)
    best = np.where(overlap.max(axis=0) > 0, overlap.argmax(axis=0), distance.argmin(axis=0))
    return [replace(w, speaker=speakers[b]) for w, b in zip(words, best, strict=True)]


def smooth_sentence_edges(
    words: Sequence[Word], max_words: int = 2, max_seconds: float = 0.8, max_gap: float = 0.3
) -> list[Word]:
    """Give a short speaker run at the start or end of a sentence to the sentence's other speaker.

    Diarization turn edges are coarse (1.6 s embedding windows) while word times are precise, so
    the first or last word of a sentence often lands on the neighbouring speaker ("Chicago |
    also."). A run of at most ``max_words`` words and ``max_seconds`` at a sentence edge, right
    next to (``max_gap``) a longer run of another speaker inside the same sentence, is reassigned
    to that speaker. Real speaker changes inside a sentence keep their longer runs.
    """
    out = list(words)
    start = 0
    for i, w in enumerate(out):
        if not (ends_sentence(w.word) or i == len(out) - 1):
            continue
        sent = list(range(start, i + 1))
        start = i + 1
        runs: list[list[int]] = []
        for j in sent:
            if runs and out[runs[-1][-1]].speaker == out[j].speaker:
                runs[-1].append(j)
            else:
                runs.append([j])
        if len(runs) < 2:
            continue
        for edge, neighbour, before in ((runs[0], runs[1], True), (runs[-1], runs[-2], False)):
            span = out[edge[-1]].end - out[edge[0]].start
            gap = (
                out[neighbour[0]].start - out[edge[-1]].end
                if before
                else out[edge[0]].start - out[neighbour[-1]].end
            )
            n_len = out[neighbour[-1]].end - out[neighbour[0]].start
            if len(edge) <= max_words and span <= max_seconds and gap <= max_gap and n_len > 2 * span:
                spk = out[neighbour[0]].speaker
                for j in edge:
                    out[j] = replace(out[j], speaker=spk)
    return out


def _merge(intervals: list[tuple[float, float]]) -> np.ndarray:
    out: list[list[float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return np.array(out, dtype=float).reshape(-1, 2)


def _covered(x: np.ndarray, ts: np.ndarray, te: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Seconds of the intervals [ts, te) lying before each time in ``x``."""
    i = np.searchsorted(ts, x, side="right")  # intervals starting before x
    prev = np.clip(i - 1, 0, len(ts) - 1)
    partial = np.clip(x - ts[prev], 0.0, te[prev] - ts[prev])
    return np.where(i > 0, cum[np.maximum(i - 1, 0)] + partial, 0.0)


_ATTACHES_LEFT = tuple(".,!?;:%)]}'’")  # a word starting with these continues the previous one


def join_words(words: Sequence[Word], language: str | None = None) -> str:
    """Words -> text: spaces between words, none before ".C." of "D" ".C." or in Chinese/Japanese."""
    sep = "" if (language or "").lower() in _NO_SPACE_LANGUAGES else " "
    parts: list[str] = []
    for w in words:
        text = w.word.strip()
        if parts and text and not text.startswith(_ATTACHES_LEFT):
            parts.append(sep)
        parts.append(text)
    return "".join(parts).strip()


def build_utterances(
    words: Sequence[Word],
    max_pause: float = 1.0,
    max_duration: float = 20.0,
    split_sentences: bool = True,
    language: str | None = None,
) -> list[Utterance]:
    """Group speaker-assigned words (in time order) into utterances.

    A new utterance starts when the speaker or the language changes, when the pause before a word exceeds
    ``max_pause`` seconds, after a word that ends a sentence (``split_sentences``), or when the
    utterance would grow past ``max_duration`` seconds.
    """
    utterances: list[Utterance] = []
    current: list[Word] = []

    def flush() -> None:
        if current:
            utterances.append(
                Utterance(
                    start=current[0].start,
                    end=max(w.end for w in current),
                    speaker=current[0].speaker or "SPEAKER_00",
                    text=join_words(current, current[0].language or language),
                    words=list(current),
                    language=current[0].language or language,
                )
            )
            current.clear()

    for w in sorted(words, key=lambda w: (w.start, w.end)):
        if current:
            last = current[-1]
            if (
                w.speaker != last.speaker
                or w.language != last.language  # an utterance is in one language (issue 14)
                or w.start - last.end > max_pause
                or (split_sentences and ends_sentence(last.word))
                or w.end - current[0].start > max_duration
            ):
                flush()
        current.append(w)
    flush()
    return utterances


def fit_to_speech(
    utterances: Sequence[Utterance], regions: Sequence[tuple[float, float]], max_extend: float = 0.6
) -> list[Utterance]:
    """Stretch each utterance to the edges of the speech it lies in, so captions cover the voice.

    Whisper's word times are tight (often late at the start, early at the end) while the voice
    activity detector's regions hold the whole sound. Each utterance's start moves back and its end
    forward to the edge of the speech region that holds it, by at most ``max_extend`` seconds and
    never into the previous or next utterance. Words keep their own times. On the multi-face
    conversations of ``benchmarks/bench_diarize.py``, 8% of the speech was under no caption before.
    """
    out = [replace(u) for u in sorted(utterances, key=lambda u: (u.start, u.end))]
    if not regions:
        return out
    starts = np.array([s for s, _ in regions])
    ends = np.array([e for _, e in regions])
    for i, u in enumerate(out):
        prev_end = out[i - 1].end if i else -np.inf
        next_start = _start_of(out, i + 1)
        # The region holding the utterance's start (or the last one starting before it).
        j = int(np.clip(np.searchsorted(starts, u.start, side="right") - 1, 0, len(starts) - 1))
        if starts[j] <= u.start <= ends[j] + 0.05:
            u.start = round(float(max(starts[j], u.start - max_extend, prev_end)), 3)
        k = int(np.clip(np.searchsorted(starts, u.end, side="right") - 1, 0, len(starts) - 1))
        if starts[k] - 0.05 <= u.end <= ends[k]:
            u.end = round(float(min(ends[k], u.end + max_extend, next_start)), 3)
    return out


def start_after_pauses(
    words: Sequence[Word],
    regions: Sequence[tuple[float, float]],
    turns: Sequence[Turn],
    min_pause: float = MIN_PAUSE,
    near: float = TURN_NEAR,
) -> list[Word]:
    """Words that Whisper stretched back over a pause where the speaker changes start where their
    sound starts.

    Whisper's word times come from attention alignment (DTW), which leaves no gap between words: the
    silence before a word is often given to that word, so it starts early. Whisper itself moves the
    start of a long word after a sentence's end ("a better segmentation algorithm based on VAD
    should be able to replace this", ``whisper/timing.py``); here the voice activity decides. A word
    longer than twice the median word (at most 0.7 s, Whisper's rule) whose span holds a pause of
    ``min_pause`` s or more in ``regions``, and near which (``near`` s) the diarization's ``turns``
    change speaker, starts where the speech after the last such pause starts. On the 10-minute loop
    of bench_diarize, "I'd" of the next speaker's "I'd like to do better at that" ran from 323.30 s
    to 323.88 s over the turn change at 323.58-323.75 s and went to the previous speaker: its sound
    is after the pause. Elsewhere the words keep Whisper's times: moved everywhere, they split
    utterances at pauses and cost captions the speech in them (AMI's mean DER without overlap
    0.347 -> 0.382).
    """
    if not words or not regions:
        return list(words)
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    changes = np.array([a.end for a, b in itertools.pairwise(ordered) if a.speaker != b.speaker])
    if not len(changes):
        return list(words)
    lengths = np.array([w.end - w.start for w in words])
    longest = 2.0 * min(0.7, float(np.median(lengths)))
    starts = np.array([s for s, _ in regions])
    ends = np.array([e for _, e in regions])
    pause_before = starts - np.concatenate([[-np.inf], ends[:-1]])
    out = []
    for w in words:
        if w.end - w.start > longest and np.any(np.abs(changes - np.clip(changes, w.start, w.end)) <= near):
            # Speech regions starting inside the word after a pause of min_pause or more.
            after_pause = (starts > w.start) & (starts < w.end - 0.05) & (pause_before >= min_pause)
            if after_pause.any():
                w = replace(w, start=round(float(starts[after_pause][-1]), 3))
        out.append(w)
    return out


def _start_of(utterances: Sequence[Utterance], i: int) -> float:
    return utterances[i].start if i < len(utterances) else np.inf
