"""Audio-visual synchrony: how a face's mouth opens with the heard voice.

Light-ASD scores any moving mouth as speaking; these signals tell which of several moving mouths the
voice belongs to (``emocli.speakers`` rule 1b). The mouth opening is the share of dark pixels in the
mouth area of the lower-face crops that ``emocli.faces.asd`` cuts (the open mouth's inside is the
darkest part of the lower face); its correlation with the loudness at the rate of syllables, at the
best of a few frames of lag, follows a face's own voice.
"""

from __future__ import annotations

import numpy as np

ASD_FPS = 25  # frames per second Light-ASD was trained at; 4 MFCC frames (10 ms) per video frame


def frame_runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs of ``frames`` as (first, last + 1) index pairs into the array."""
    if len(frames) == 0:
        return []
    cut = np.flatnonzero(np.diff(frames) != 1) + 1
    lo = np.concatenate([[0], cut])
    hi = np.concatenate([cut, [len(frames)]])
    return list(zip(lo.tolist(), hi.tolist(), strict=True))


def mouth_opening(crops: np.ndarray, percentile: float = 8.0) -> np.ndarray:
    """(T,) mouth opening of one track's crops (T, 112, 112): the share of pixels of the mouth area
    (rows 50-112, the middle 65% of the columns) darker than the ``percentile`` of that area over all
    T crops. An open mouth shows its dark inside; closed lips do not. Measured on the 7 clips, this
    followed the loudness of the face's own voice better than frame differences, optical flow of the
    lips, or ridge maps of pixels or of Light-ASD's visual features."""
    if len(crops) == 0:
        return np.zeros(0, np.float32)
    m = crops[:, 50:, 20:92]
    thr = np.percentile(m, percentile)
    return (m < thr).mean(axis=(1, 2)).astype(np.float32)


def loudness(audio: np.ndarray, frames: np.ndarray, sample_rate: int = 16_000) -> np.ndarray:
    """(N,) loudness (dB of the RMS over the 40 ms of each 25 fps frame) at ``frames``."""
    hop = sample_rate // ASD_FPS
    n = len(audio) // hop
    if n == 0:
        return np.zeros(len(frames), np.float32)
    rms = np.sqrt((audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(1))
    db = 20 * np.log10(rms + 1e-4)
    return db[np.clip(frames, 0, n - 1)].astype(np.float32)


def _highpass(x: np.ndarray, width: int) -> np.ndarray:
    """``x`` minus its centred moving average over ``width`` samples (keeps syllable-rate change)."""
    if len(x) < 3:
        return x - x.mean() if len(x) else x
    k = np.ones(width) / width
    pad = np.pad(x, width // 2, mode="edge")
    return x - np.convolve(pad, k, mode="same")[width // 2 : width // 2 + len(x)]


def sync_correlation(
    opening: np.ndarray, level: np.ndarray, frames: np.ndarray, max_lag: int = 3, highpass: int = 12
) -> float:
    """Correlation of mouth opening with loudness over the given frames, best lag in +-``max_lag``.

    ``opening`` and ``level`` are (N,) over the sorted frame indices ``frames`` (one voice's speech on
    one face, in several runs). Each run of consecutive frames is high-passed (``highpass``-frame
    moving average removed: what is left moves at the rate of syllables); lags shift within runs.
    Returns 0 with fewer than 25 usable frames.
    """
    best = -1.0
    runs = [(a, b) for a, b in frame_runs(frames) if b - a > 2 * max_lag + 2]
    if sum(b - a for a, b in runs) < 25:
        return 0.0
    o_hp = [_highpass(opening[a:b].astype(np.float64), highpass) for a, b in runs]
    l_hp = [_highpass(level[a:b].astype(np.float64), highpass) for a, b in runs]
    for lag in range(-max_lag, max_lag + 1):
        xs, ys = [], []
        for o, lv in zip(o_hp, l_hp, strict=True):
            n = len(o)
            xs.append(o[max(0, -lag) : n - max(0, lag)])
            ys.append(lv[max(0, lag) : n - max(0, -lag)])
        x, y = np.concatenate(xs), np.concatenate(ys)
        x, y = x - x.mean(), y - y.mean()
        den = float(np.sqrt((x * x).sum() * (y * y).sum()))
        if den > 1e-12:
            best = max(best, float((x * y).sum()) / den)
    return best
