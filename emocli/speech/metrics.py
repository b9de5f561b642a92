"""Scoring for the speech front-end: word error rate (WER) and diarization error rate (DER).

Small, dependency-free implementations so that benchmarks and tests need no extra package:

- ``wer``: jiwer-like normalisation (lowercase, punctuation stripped, whitespace collapsed), then
  the word-level Levenshtein distance divided by the number of reference words.
- ``der``: frame-based (10 ms frames), no collar, overlapped speech counted, speakers mapped
  one-to-one with the Hungarian algorithm so that the mapped overlap time is maximal (as NIST
  md-eval and pyannote.metrics do). DER = (missed + false alarm + confusion) / reference speech.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Segment = tuple[float, float, str]
"""(start seconds, end seconds, speaker label)."""

_PUNCT = re.compile(r"[^\w\s']|_")


def normalize_text(text: str) -> list[str]:
    """Lowercase, strip punctuation (apostrophes inside words are dropped too), split into words."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("-", " ")  # "so-called" and "so called" count the same
    text = _PUNCT.sub(" ", text).replace("'", "")
    return text.split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two word lists (substitutions, insertions, deletions cost 1)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` after normalisation."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


@dataclass(frozen=True)
class DERReport:
    der: float
    missed: float  # seconds of reference speech with too few hypothesis speakers
    false_alarm: float  # seconds of hypothesis speech beyond the reference speakers
    confusion: float  # seconds attributed to the wrong (mapped) speaker
    total: float  # seconds of reference speech (overlap counted once per speaker)
    mapping: dict[str, str]  # hypothesis label -> reference label

    def __str__(self) -> str:
        return (
            f"DER {self.der:.3f} (missed {self.missed:.2f} s, false alarm {self.false_alarm:.2f} s, "
            f"confusion {self.confusion:.2f} s of {self.total:.2f} s)"
        )


def _activity(segments: Iterable[Segment], labels: list[str], n_frames: int, step: float) -> np.ndarray:
    """(n_labels, n_frames) bool matrix: is speaker i talking in frame t (frame centres)."""
    act = np.zeros((len(labels), n_frames), dtype=bool)
    index = {lab: i for i, lab in enumerate(labels)}
    for start, end, lab in segments:
        # A frame belongs to a segment when its centre lies inside it.
        a = max(0, int(np.ceil(start / step - 0.5)))
        b = min(n_frames, int(np.ceil(end / step - 0.5)))
        if b > a:
            act[index[lab], a:b] = True
    return act


def der(reference: Iterable[Segment], hypothesis: Iterable[Segment], step: float = 0.01) -> DERReport:
    """Diarization error rate with no collar, overlap counted, optimal one-to-one speaker mapping."""
    from scipy.optimize import linear_sum_assignment

    ref, hyp = list(reference), list(hypothesis)
    end = max([e for _, e, _ in ref + hyp], default=0.0)
    n = int(np.ceil(end / step)) + 1
    ref_labels = sorted({s for _, _, s in ref})
    hyp_labels = sorted({s for _, _, s in hyp})
    r = _activity(ref, ref_labels, n, step)  # (n_ref, n)
    h = _activity(hyp, hyp_labels, n, step)  # (n_hyp, n)
    overlap = r.astype(np.int64) @ h.T.astype(np.int64)  # (n_ref, n_hyp) frames spoken by both
    mapping: dict[str, str] = {}
    correct = np.zeros(n, dtype=np.int64)
    if ref_labels and hyp_labels:
        rows, cols = linear_sum_assignment(-overlap)
        for i, j in zip(rows, cols, strict=True):
            mapping[hyp_labels[j]] = ref_labels[i]
            correct += r[i] & h[j]
    n_ref = r.sum(axis=0)
    n_hyp = h.sum(axis=0)
    missed = np.maximum(n_ref - n_hyp, 0).sum() * step
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum() * step
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum() * step
    total = n_ref.sum() * step
    value = (missed + false_alarm + confusion) / total if total > 0 else float(false_alarm > 0)
    return DERReport(float(value), float(missed), float(false_alarm), float(confusion), float(total), mapping)


def read_rttm(path: Path | str) -> list[Segment]:
    """SPEAKER lines of an RTTM file as (start, end, speaker)."""
    segs: list[Segment] = []
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            start, dur = float(f[3]), float(f[4])
            segs.append((start, start + dur, f[7]))
    return segs


def read_stm(path: Path | str) -> list[tuple[str, float, float, str]]:
    """Lines ``file channel speaker start end text`` of an STM file as (speaker, start, end, text)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        f = line.split(maxsplit=5)
        if len(f) >= 5 and not line.startswith(";;"):
            rows.append((f[2], float(f[3]), float(f[4]), f[5] if len(f) > 5 else ""))
    return rows
