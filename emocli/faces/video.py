"""The faces of one video, kept compact: one row per detection on a sampled frame, numpy arrays.

The detector runs on sampled frames only; ``faces_at(t)`` and ``frame_table()`` give every frame of
the video its faces by linear interpolation of each track between its detections (boxes, scores
and expression probabilities), holding the first/last detection for half a sample interval at a
track's ends. A 10-minute video at 5 samples/s with two faces is ~6,000 rows (~0.3 MB).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emocli import EMOTIONS


@dataclass(frozen=True)
class FrameFace:
    """One face on one frame (display pixels); ``detected`` is False where interpolated."""

    track: int
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float
    probs: np.ndarray  # (7,) expression probabilities in EMOTIONS order
    detected: bool
    is_speaker: bool = False


@dataclass(frozen=True)
class FrameTable:
    """Faces on every frame, flattened: M rows = (frame, face) pairs, sorted by frame then track."""

    frame_times: np.ndarray  # (n_frames,) seconds
    frame: np.ndarray  # (M,) int32 frame index
    track: np.ndarray  # (M,) int32
    box: np.ndarray  # (M, 4) float32 display pixels
    score: np.ndarray  # (M,) float32
    probs: np.ndarray  # (M, 7) float32
    detected: np.ndarray  # (M,) bool: this frame is a sampled frame where the face was detected

    def rows_of(self, frame: int) -> np.ndarray:
        """Row indices of one frame (empty when no face)."""
        lo, hi = np.searchsorted(self.frame, [frame, frame + 1])
        return np.arange(lo, hi)


@dataclass
class VideoFaces:
    """Everything the visual stage found in one video (see the module docstring)."""

    source: str
    width: int  # displayed frame size, pixels
    height: int
    fps: float  # native frame rate (frames/s)
    duration: float  # seconds
    sample_fps: float  # detector samples per second
    detector: str
    sample_times: np.ndarray  # (S,) seconds, every sampled frame (with or without faces)
    det_sample: np.ndarray  # (D,) int32 index into sample_times
    det_track: np.ndarray  # (D,) int32 track id
    det_box: np.ndarray  # (D, 4) float32 display pixels x0 y0 x1 y1
    det_score: np.ndarray  # (D,) float32 detector confidence
    det_probs: np.ndarray  # (D, 7) float32 expression probabilities (EMOTIONS order), raw
    det_probs_smooth: np.ndarray  # (D, 7) float32 the same, smoothed over time within each track
    det_mouth: np.ndarray  # (D,) float32 mouth motion since the track's previous sample; NaN unknown
    timing: dict[str, float] = field(default_factory=dict)  # stage -> seconds of wall time
    _rows_cache: tuple[tuple[int, int], dict[int, np.ndarray]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    # -- summaries ---------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return len(self.sample_times)

    @property
    def n_frames(self) -> int:
        return max(1, round(self.duration * self.fps))

    @property
    def track_ids(self) -> list[int]:
        return sorted(int(t) for t in np.unique(self.det_track))

    def det_times(self) -> np.ndarray:
        """(D,) time of each detection."""
        return self.sample_times[self.det_sample] if len(self.det_sample) else np.zeros(0)

    def face_fraction(self) -> float:
        """Share of sampled frames with at least one face."""
        if self.n_samples == 0:
            return 0.0
        return len(np.unique(self.det_sample)) / self.n_samples

    def track_summary(self) -> list[dict[str, float | int | str]]:
        """Per track: id, first/last time, samples detected, mean score, mean box side, top expression."""
        out: list[dict[str, float | int | str]] = []
        times = self.det_times()
        for k in self.track_ids:
            rows = self.det_track == k
            mean_probs = self.det_probs[rows].mean(0)
            side = ((self.det_box[rows, 2:] - self.det_box[rows, :2]).mean(1)).mean()
            out.append(
                {
                    "track": k,
                    "start": float(times[rows].min()),
                    "end": float(times[rows].max()),
                    "samples": int(rows.sum()),
                    "coverage": float(rows.sum() / max(1, self.n_samples)),
                    "score": float(self.det_score[rows].mean()),
                    "side_px": float(side),
                    "top": EMOTIONS[int(mean_probs.argmax())],
                    "top_prob": float(mean_probs.max()),
                }
            )
        return out

    # -- every frame -------------------------------------------------------------------------
    def frame_times(self) -> np.ndarray:
        """(n_frames,) presentation time of every frame at the native rate, seconds."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def _track_rows(self) -> dict[int, np.ndarray]:
        """Detection rows of each track in time order (cached: ``faces_at`` runs on every frame)."""
        key = (len(self.det_track), id(self.det_track))
        if self._rows_cache is None or self._rows_cache[0] != key:
            times = self.det_times()
            rows: dict[int, np.ndarray] = {}
            for k in self.track_ids:
                idx = np.flatnonzero(self.det_track == k)
                rows[k] = idx[np.argsort(times[idx], kind="stable")]
            self._rows_cache = (key, rows)
        return self._rows_cache[1]

    def _span(self, idx: np.ndarray) -> tuple[float, float]:
        """Times a track covers: its detections, held half a sample interval beyond each end,
        and to the video's start/end when it was seen on the first/last sampled frame."""
        hold = 0.5 / max(self.sample_fps, 1e-6)
        first, last = int(self.det_sample[idx[0]]), int(self.det_sample[idx[-1]])
        lo = -np.inf if first == 0 else self.sample_times[first] - hold
        hi = np.inf if last == self.n_samples - 1 else self.sample_times[last] + hold
        return lo, hi

    def _interpolate(self, idx: np.ndarray, t: np.ndarray, smoothed: bool) -> tuple[np.ndarray, ...]:
        """Boxes (T, 4), scores (T,), probs (T, 7) of one track's detections ``idx`` at times ``t``."""
        td = self.sample_times[self.det_sample[idx]]
        probs = (self.det_probs_smooth if smoothed else self.det_probs)[idx]
        box = np.stack([np.interp(t, td, self.det_box[idx, j]) for j in range(4)], axis=1)
        score = np.interp(t, td, self.det_score[idx])
        p = np.stack([np.interp(t, td, probs[:, j]) for j in range(probs.shape[1])], axis=1)
        return box.astype(np.float32), score.astype(np.float32), p.astype(np.float32)

    def faces_at(
        self, time: float, speaker_track: int | None = None, smoothed: bool = True
    ) -> list[FrameFace]:
        """The faces on screen at ``time`` (s), interpolated between samples; for the renderer."""
        out: list[FrameFace] = []
        tol = 0.5 / max(self.fps, 1e-6)
        t = np.array([time], np.float64)
        for k, idx in self._track_rows().items():
            td = self.sample_times[self.det_sample[idx]]
            lo, hi = self._span(idx)
            if time < lo or time > hi:
                continue
            j = int(np.searchsorted(td, time))
            near = idx[max(0, j - 1) : j + 1]  # the detections either side of ``time``
            box, score, probs = self._interpolate(near, t, smoothed)
            out.append(
                FrameFace(
                    track=k,
                    box=tuple(float(v) for v in box[0]),  # type: ignore[arg-type]
                    score=float(score[0]),
                    probs=probs[0],
                    detected=bool(np.abs(td - time).min() <= tol),
                    is_speaker=k == speaker_track,
                )
            )
        return out

    def frame_table(self, smoothed: bool = True, frame_times: np.ndarray | None = None) -> FrameTable:
        """Faces on every frame (default: the native frame rate over the whole duration)."""
        ft = self.frame_times() if frame_times is None else np.asarray(frame_times, np.float64)
        tol = 0.5 / max(self.fps, 1e-6)
        parts: list[tuple[np.ndarray, ...]] = []
        for k, idx in self._track_rows().items():
            td = self.sample_times[self.det_sample[idx]]
            lo, hi = self._span(idx)
            frames = np.flatnonzero((ft >= lo) & (ft <= hi))
            if len(frames) == 0:
                continue
            box, score, probs = self._interpolate(idx, ft[frames], smoothed)
            near = np.abs(td[np.clip(np.searchsorted(td, ft[frames]), 0, len(td) - 1)] - ft[frames])
            near_prev = np.abs(td[np.clip(np.searchsorted(td, ft[frames]) - 1, 0, len(td) - 1)] - ft[frames])
            detected = np.minimum(near, near_prev) <= tol
            parts.append((frames, np.full(len(frames), k), box, score, probs, detected))
        if not parts:
            z = np.zeros(0, np.int32)
            return FrameTable(
                ft, z, z, np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                np.zeros((0, len(EMOTIONS)), np.float32), np.zeros(0, bool),
            )  # fmt: skip
        cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
        order = np.lexsort((cols[1], cols[0]))
        return FrameTable(
            ft,
            cols[0][order].astype(np.int32),
            cols[1][order].astype(np.int32),
            cols[2][order],
            cols[3][order],
            cols[4][order],
            cols[5][order],
        )


def smooth_track_probs(
    times: np.ndarray, tracks: np.ndarray, probs: np.ndarray, window_s: float
) -> np.ndarray:
    """Centred moving average of each track's probabilities over ``window_s`` seconds: (D, 7).

    Single-frame misreadings (a talking mouth read as fear, a blink read as sad) are damped;
    expressions held for longer than the window are kept.
    """
    out = probs.astype(np.float32, copy=True)
    if window_s <= 0 or len(probs) == 0:
        return out
    half = window_s / 2
    for k in np.unique(tracks):
        idx = np.flatnonzero(tracks == k)
        t = times[idx]
        for j, i in enumerate(idx):
            near = idx[np.abs(t - t[j]) <= half + 1e-9]
            out[i] = probs[near].mean(0)
    return out
