"""Which language is spoken where: Whisper's language identification per stretch of speech.

faster-whisper finds the language once, from the first 30 s, and decodes the whole input in it. A
file that changes language then comes out wrong: a Russian vlog followed by an English one was
decoded as English words (Whisper translates when told the wrong language), and on a 10-minute
conversation of a Russian and an English speaker the English speaker's words came out in Russian.
Here the language is found per *stretch* of speech, and each run of stretches in one language is
decoded in that language (``asr.py``).

Stretches are the VAD's regions merged across pauses shorter than ``MERGE_GAP`` and cut into pieces
of at most ``WINDOW`` seconds. Each is identified alone by Whisper's own language head (the
decoder's first step over the encoder states). Whisper's encoder is built for 30 s windows, but
CTranslate2 runs it on fewer frames: a stretch's log-mel is padded with zeros (as Whisper pads) to
``WINDOW`` seconds and encoded at that length, a third of the cost of a full window. On espeak and
phone speech of 2.4-5 s, 10 s windows gave the language of the full 30 s window on 9 of 10 (the
tenth unsure either way); 6 s windows or no padding at all were worse (German read as Welsh, 3 s
of English as Nynorsk).

Rules, because a few seconds of speech are often not enough to be sure:

- a stretch shorter than ``MIN_STRETCH`` is not identified; it takes its neighbours' language;
- a stretch whose best language has probability below ``SURE`` is unsure: it keeps that language
  when the language is sure elsewhere in the input, else takes the nearest sure stretch's (before,
  then after);
- with no sure stretch at all, every stretch takes the guess of the longest one (what Whisper
  itself would do with the first window).

A stretch less than ``RECHECK`` sure in its short window is identified again in a full 30 s window.
With ``--language en,es`` (several codes) the choice is among those only; one code forces it.

Cost: one encoder pass of ``WINDOW`` seconds per stretch, a full one for the unsure ones
(``benchmarks/bench_languages.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from emocli.speech.vad import Region, merge_regions

if TYPE_CHECKING:
    import ctranslate2
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
FRAMES_PER_SECOND = 100  # Whisper's log-mel hop is 10 ms
MERGE_GAP = 0.3  # s: regions closer than this are one stretch (a breath, not a turn)
WINDOW = 10.0  # s: a stretch is at most this long, and is identified in a window this long
MIN_STRETCH = 1.0  # s: shorter stretches take their neighbours' language
SURE = 0.5  # probability of the best language for a stretch to decide on its own
RECHECK = 0.8  # a stretch less sure than this in a WINDOW s window is identified again in 30 s


@dataclass(frozen=True)
class LanguageSpan:
    """A stretch of speech and the language found in it (``probability``: Whisper's, None when
    the language came from the neighbours or the user)."""

    start: float
    end: float
    language: str
    probability: float | None = None


def stretches(
    regions: Sequence[Region], merge_gap: float = MERGE_GAP, window: float = WINDOW
) -> list[Region]:
    """Speech regions merged across short pauses, cut into pieces of at most ``window`` seconds
    (equal pieces, so no piece is a sliver)."""
    out: list[Region] = []
    for s, e in merge_regions(regions, merge_gap):
        n = max(1, int(np.ceil((e - s) / window - 1e-9)))
        step = (e - s) / n
        out += [(s + i * step, s + (i + 1) * step if i + 1 < n else e) for i in range(n)]
    return out


def window_features(model: WhisperModel, clip: np.ndarray, frames: int) -> ctranslate2.StorageView:
    """Whisper's log-mel of ``clip`` (16 kHz) in an encoder window of ``frames`` (100 per second,
    at most 3000): cut there, or padded with zeros as Whisper pads. Shape (1, n_mels, frames)."""
    import ctranslate2

    feats = model.feature_extractor(clip)  # (n_mels, frames), 100 frames per second
    padded = np.zeros((feats.shape[0], frames), np.float32)
    n = min(frames, feats.shape[1])
    padded[:, :n] = feats[:, :n]
    return ctranslate2.StorageView.from_array(padded[None])


def detect(
    model: WhisperModel,
    audio: np.ndarray,
    lo: float,
    hi: float,
    window: float = WINDOW,
    candidates: Sequence[str] | None = None,
) -> tuple[str, float]:
    """Whisper's best language for ``audio[lo:hi]`` (seconds) and its probability, from an
    encoder window of ``max(window, hi - lo)`` seconds (at most 30). With ``candidates``, the best
    of those, its probability renormalised over them."""
    clip = audio[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)]
    frames = int(min(30.0, max(window, hi - lo)) * FRAMES_PER_SECOND)
    states = model.model.encode(window_features(model, clip, frames), to_cpu=False)
    ranked = [(token[2:-2], float(p)) for token, p in model.model.detect_language(states)[0]]  # "<|en|>"
    if candidates:
        ranked = [(lang, p) for lang, p in ranked if lang in candidates] or [(candidates[0], 0.0)]
        total = sum(p for _, p in ranked) or 1.0
        ranked = [(lang, p / total) for lang, p in ranked]
    return ranked[0]


def detect_stretch(
    model: WhisperModel, audio: np.ndarray, lo: float, hi: float, candidates: Sequence[str] | None = None
) -> tuple[str, float]:
    """``detect`` in a ``WINDOW`` s window, and again in a full 30 s window when that was not
    ``RECHECK`` sure (the full window is Whisper's own: on short espeak Spanish, 10 s said Latin
    0.52, 30 s Spanish 0.54)."""
    found = detect(model, audio, lo, hi, WINDOW, candidates)
    if found[1] < RECHECK and WINDOW < 30.0:
        found = detect(model, audio, lo, hi, 30.0, candidates)
    return found


def resolve(found: Sequence[tuple[Region, tuple[str, float] | None]]) -> list[LanguageSpan]:
    """Stretches with their detection (None: too short to identify) -> one language each, by the
    module's rules."""
    sure = [i for i, (_, d) in enumerate(found) if d is not None and d[1] >= SURE]
    known = {found[i][1][0] for i in sure if found[i][1] is not None}
    if not sure:
        guessed = [(r[1] - r[0], d[0]) for r, d in found if d is not None]
        fallback = max(guessed)[1] if guessed else "en"
        return [LanguageSpan(r[0], r[1], fallback) for r, _ in found]
    out: list[LanguageSpan] = []
    for i, (region, d) in enumerate(found):
        if d is not None and (i in sure or d[0] in known):
            out.append(LanguageSpan(region[0], region[1], d[0], round(d[1], 4)))
        else:
            before = [j for j in sure if j < i]
            j = before[-1] if before else min(j for j in sure if j > i)
            lang = found[j][1][0] if found[j][1] is not None else "en"
            out.append(LanguageSpan(region[0], region[1], lang))
    return out


def identify(
    model: WhisperModel,
    audio: np.ndarray,
    regions: Sequence[Region],
    candidates: Sequence[str] | None = None,
    mapper: Callable[..., Iterable[tuple[str, float]]] = map,
) -> list[LanguageSpan]:
    """The language of every stretch of speech in ``regions`` (seconds), in time order; with
    ``candidates`` (the user's ``--language en,es``), one of those. ``mapper``: ``map``, or a thread
    pool's (stretches are identified side by side; the results keep the stretches' order)."""
    pieces = stretches(regions)
    long = [r for r in pieces if r[1] - r[0] >= MIN_STRETCH]
    found = dict(zip(long, mapper(lambda r: detect_stretch(model, audio, *r, candidates), long), strict=True))
    return resolve([(r, found.get(r)) for r in pieces])


def language_runs(regions: Sequence[Region], spans: Sequence[LanguageSpan]) -> list[tuple[str, list[Region]]]:
    """Speech ``regions`` split into consecutive runs of one language: (language, its regions).
    Regions are cut where a span boundary falls inside them."""
    runs: list[tuple[str, list[Region]]] = []
    for span in spans:
        inside = [
            (max(s, span.start), min(e, span.end)) for s, e in regions if e > span.start and s < span.end
        ]
        inside = [(s, e) for s, e in inside if e > s]
        if not inside:
            continue
        if runs and runs[-1][0] == span.language:
            runs[-1][1].extend(inside)
        else:
            runs.append((span.language, inside))
    return [(lang, merge_regions(rs)) for lang, rs in runs]


def seconds_by_language(spans: Sequence[LanguageSpan]) -> dict[str, float]:
    """Speech seconds per language, most first (ties: alphabetical, so the order is stable)."""
    total: dict[str, float] = {}
    for s in spans:
        total[s.language] = total.get(s.language, 0.0) + (s.end - s.start)
    return {k: round(v, 3) for k, v in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))}
