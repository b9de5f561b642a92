"""The visual stage for one video: sampled frames -> faces, expressions, tracks, mouth motion.

Load the models once (``FaceAnalyzer(options)``) and call ``analyze(path)`` for each file. Frames
are decoded by ffmpeg already resampled to ``sample_fps`` and scaled to ``max_side`` (a 4K video is
analysed at 640 px), upright (rotation applied by ``emocli.media.read_frames``); boxes are mapped
back to displayed-frame pixels. Per-frame output for every frame comes from ``VideoFaces``.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emocli import EMOTIONS
from emocli.faces.detect import DEFAULT_DETECTOR, create_detector
from emocli.faces.expression import CROP_SCALE, ExpressionModel, face_inputs
from emocli.faces.track import (
    FaceTracker,
    TrackerOptions,
    drop_spurious_tracks,
    frame_signature,
    is_cut,
    mouth_motion,
    mouth_patches,
)
from emocli.faces.video import VideoFaces, smooth_track_probs
from emocli.hooks import ProgressHook, null_hook
from emocli.media import MediaInfo, probe, read_frames


@dataclass(frozen=True)
class FaceOptions:
    detector: str = DEFAULT_DETECTOR  # a name in emocli.faces.detect.DETECTORS
    # 5 samples/s: the visual stage then costs ~0.1 s per second of video on 2 cores (decoding
    # included), and expressions (held for 0.5-4 s) and mouth motion are still seen several times.
    sample_fps: float = 5.0
    max_side: int = 640  # analysis resolution: longer side of the decoded frames, pixels
    min_score: float = 0.5  # detector confidence threshold
    min_face_px: float = 12.0  # faces smaller than this (analysis pixels) are ignored: noise
    max_faces: int = 16  # per frame, largest first
    crop_scale: float = CROP_SCALE  # square expression crop, x the detector box's longer side
    smooth_s: float = 0.6  # moving-average window of each track's expression probabilities
    num_threads: int | None = 1  # TFLite threads; 1 leaves a core to ffmpeg's decoder
    tracker: TrackerOptions = field(default_factory=TrackerOptions)


class FaceAnalyzer:
    """Models loaded once; ``analyze`` any number of videos."""

    def __init__(self, options: FaceOptions = FaceOptions()) -> None:
        if options.sample_fps <= 0:
            raise ValueError("sample_fps must be positive")
        self.options = options
        self.detector = create_detector(options.detector, options.min_score, options.num_threads)
        self.expression = ExpressionModel(num_threads=options.num_threads)

    def analyze_frame(self, image: np.ndarray) -> tuple[np.ndarray, ...]:
        """One RGB analysis frame -> boxes (N, 4), scores (N,), probs (N, 7), patches (N, 2, 12, 24)."""
        import cv2

        o = self.options
        det = self.detector.detect(image)
        if len(det):
            side = np.minimum(det.boxes[:, 2] - det.boxes[:, 0], det.boxes[:, 3] - det.boxes[:, 1])
            h, w = image.shape[:2]
            # Keep faces of a useful size whose centre lies inside the frame, largest first.
            cx = (det.boxes[:, 0] + det.boxes[:, 2]) / 2
            cy = (det.boxes[:, 1] + det.boxes[:, 3]) / 2
            ok = (side >= o.min_face_px) & (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
            det = det.select(np.flatnonzero(ok)[np.argsort(-side[ok], kind="stable")][: o.max_faces])
        if not len(det):
            e = np.zeros(0, np.float32)
            return (np.zeros((0, 4), np.float32), e, np.zeros((0, len(EMOTIONS)), np.float32),
                    np.zeros((0, 2, 12, 24), np.float32))  # fmt: skip
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        probs = self.expression.predict_inputs(face_inputs(gray, det.boxes, o.crop_scale))
        patches = mouth_patches(gray, det.boxes, det.landmarks)
        return det.boxes, det.scores, probs, patches

    def analyze(
        self, path: Path | str, info: MediaInfo | None = None, hook: ProgressHook = null_hook
    ) -> VideoFaces:
        """Faces of the whole video (raises ``InputError`` when it has no video track)."""
        o = self.options
        info = info or probe(path)
        fps = float(info.fps or 25.0)
        sample_fps = min(o.sample_fps, fps)
        tracker = FaceTracker(o.tracker)
        t_start = _time.perf_counter()
        times: list[float] = []
        rows: dict[str, list[np.ndarray]] = {
            k: [] for k in ("sample", "track", "box", "score", "probs", "mouth")
        }
        last_patch: dict[int, tuple[int, np.ndarray]] = {}  # track -> (sample index, patches)
        prev_sig = None
        total = max(info.duration, 1e-3)
        for i, frame in enumerate(read_frames(path, fps=sample_fps, max_side=o.max_side, info=info)):
            img = frame.image
            times.append(frame.time)
            sig = frame_signature(img)
            cut = is_cut(prev_sig, sig, o.tracker)
            prev_sig = sig
            boxes, scores, probs, patches = self.analyze_frame(img)
            ids = tracker.update(frame.time, boxes, cut)
            # Analysis pixels -> displayed-frame pixels (the decoder scaled the upright frame).
            sx = (info.width or img.shape[1]) / img.shape[1]
            sy = (info.height or img.shape[0]) / img.shape[0]
            mouth = np.full(len(ids), np.nan, np.float32)
            for j, k in enumerate(ids):
                prev = last_patch.get(int(k))
                if prev is not None and i - prev[0] <= 2:  # only across 1-2 sample intervals
                    mouth[j] = mouth_motion(prev[1], patches[j])
                last_patch[int(k)] = (i, patches[j])
            rows["sample"].append(np.full(len(ids), i, np.int32))
            rows["track"].append(ids.astype(np.int32))
            rows["box"].append((boxes * np.array([sx, sy, sx, sy], np.float32)).astype(np.float32))
            rows["score"].append(scores.astype(np.float32))
            rows["probs"].append(probs.astype(np.float32))
            rows["mouth"].append(mouth)
            hook("faces", completed=min(frame.time, total), total=total)
        hook("faces", completed=total, total=total)
        # read_frames yields at least one frame (or raises), so every list has one entry per sample.
        cat = {k: np.concatenate(v) for k, v in rows.items()}
        keep, cat["track"] = drop_spurious_tracks(cat["track"], cat["score"], len(times))
        cat = {k: v[keep] for k, v in cat.items()}
        sample_times = np.asarray(times, np.float64)
        det_sample, det_track, det_probs = cat["sample"], cat["track"], cat["probs"]
        smooth = smooth_track_probs(sample_times[det_sample], det_track, det_probs, o.smooth_s)
        return VideoFaces(
            source=str(info.path),
            width=int(info.width or 0),
            height=int(info.height or 0),
            fps=fps,
            duration=float(info.duration) if info.duration > 0 else (len(times) / sample_fps),
            sample_fps=sample_fps,
            detector=self.detector.name,
            sample_times=sample_times,
            det_sample=det_sample,
            det_track=det_track,
            det_box=cat["box"],
            det_score=cat["score"],
            det_probs=det_probs,
            det_probs_smooth=smooth,
            det_mouth=cat["mouth"],
            timing={"faces": _time.perf_counter() - t_start},
        )
