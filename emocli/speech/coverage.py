"""Which speech has words: the stretches of voice activity that no word covers, and why.

A stretch counts from ``MIN_STRETCH`` seconds: shorter gaps are the pauses between words, a breath,
or a filler that Whisper leaves out on purpose. Word times are approximate, so each word covers
``WORD_PAD`` seconds either side of itself; voice activity regions closer than ``REGION_GAP`` form
one stretch.
"""

from __future__ import annotations

from collections.abc import Sequence

from emocli.results import Untranscribed, Word
from emocli.speech.vad import Region, merge_regions

MIN_STRETCH = 1.0  # s
WORD_PAD = 0.25  # s
REGION_GAP = 0.3  # s

# Reasons listed in ``Result.untranscribed``.
NO_WORDS = "no words decoded"  # Whisper gave no words, also when the stretch was decoded alone
NOT_SPEECH = "judged not speech by Whisper"  # no-speech probability > 0.6 and mean log-prob <= -1
LOOP_CUT = "repetition loop cut"  # the words there were a loop, cut (Result.repetitions)


def uncovered(
    regions: Sequence[Region], words: Sequence[Word], pad: float = WORD_PAD, min_len: float = MIN_STRETCH
) -> list[Region]:
    """The parts of the speech ``regions`` that no word covers (each word widened by ``pad``
    seconds), ``min_len`` seconds or longer, in time order."""
    covers = merge_regions([(w.start - pad, w.end + pad) for w in words])
    out: list[Region] = []
    for s, e in merge_regions(regions, max_gap=REGION_GAP):
        t = s
        for c0, c1 in covers:
            if c1 <= t or c0 >= e:
                continue
            if c0 - t >= min_len:
                out.append((round(t, 3), round(c0, 3)))
            t = max(t, c1)
        if e - t >= min_len:
            out.append((round(t, 3), round(e, 3)))
    return out


def unexplained(
    regions: Sequence[Region], words: Sequence[Word], notes: Sequence[Untranscribed]
) -> list[Untranscribed]:
    """The stretches of speech without words, each with the reason among ``notes`` (what the ASR
    saw while decoding) that overlaps it most; ``NO_WORDS`` where none does."""
    out = []
    for s, e in uncovered(regions, words):
        overlap: dict[str, float] = {}
        for n in notes:
            overlap[n.reason] = overlap.get(n.reason, 0.0) + max(0.0, min(e, n.end) - max(s, n.start))
        best = max(overlap, key=lambda r: overlap[r], default=NO_WORDS)
        out.append(Untranscribed(s, e, best if overlap.get(best, 0.0) > 0 else NO_WORDS))
    return out
