"""Exporting the visual stage: ``Result.frames`` for the JSON, and the ``emocli faces`` document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emocli import EMOTIONS
from emocli.faces.speaker import UtteranceVisual, speaker_track_at
from emocli.faces.video import VideoFaces
from emocli.results import Face as FaceResult
from emocli.results import FrameResult, ModelInfo, Result


def to_frame_results(
    video_faces: VideoFaces,
    visuals: Sequence[UtteranceVisual] = (),
    every_frame: bool = False,
    smoothed: bool = True,
    decimals: int = 4,
) -> list[FrameResult]:
    """``Result.frames`` for the JSON: each sampled frame (or every video frame) with its faces."""
    vf = video_faces
    if every_frame:
        table = vf.frame_table(smoothed=smoothed)
        times, fr = table.frame_times, table.frame
        track, box, score, probs = table.track, table.box, table.score, table.probs
    else:
        times, fr = vf.sample_times, vf.det_sample
        track, box, score = vf.det_track, vf.det_box, vf.det_score
        probs = vf.det_probs_smooth if smoothed else vf.det_probs
    order = np.argsort(fr, kind="stable")
    fr, track, box, score, probs = fr[order], track[order], box[order], score[order], probs[order]
    bounds = np.searchsorted(fr, np.arange(len(times) + 1))  # rows of frame i: bounds[i]:bounds[i+1]
    out: list[FrameResult] = []
    for i, t in enumerate(times):
        spk = speaker_track_at(visuals, float(t))
        faces = [
            FaceResult(
                box=tuple(round(float(v), 1) for v in box[j]),  # type: ignore[arg-type]
                score=round(float(score[j]), decimals),
                track=int(track[j]),
                scores={e: round(float(p), decimals) for e, p in zip(EMOTIONS, probs[j], strict=True)},
                is_speaker=spk is not None and int(track[j]) == spk,
            )
            for j in range(bounds[i], bounds[i + 1])
        ]
        out.append(FrameResult(round(float(t), 3), faces))
    return out


def faces_document(
    video_faces: VideoFaces,
    visuals: Sequence[UtteranceVisual] = (),
    every_frame: bool = False,
    expression_model: str = "fer-mini-xception",
) -> dict[str, Any]:
    """The JSON of ``emocli faces``: the shared ``Result`` schema (frames, models, timing) plus
    ``faces`` (settings and face share) and ``tracks`` (per-track summary); loads with
    ``Result.from_dict``, which ignores the two extra keys."""
    vf = video_faces
    result = Result(
        source=vf.source,
        duration=vf.duration,
        models={
            "face_detector": ModelInfo(vf.detector, "vendored"),
            "face_expression": ModelInfo(expression_model, "vendored"),
        },
        frames=to_frame_results(vf, visuals, every_frame=every_frame),
        timing=dict(vf.timing),
    )
    doc = result.to_dict()
    doc["faces"] = {
        "detector": vf.detector,
        "sample_fps": vf.sample_fps,
        "samples": vf.n_samples,
        "face_fraction": round(vf.face_fraction(), 4),
        "width": vf.width,
        "height": vf.height,
        "fps": vf.fps,
        "every_frame": every_frame,
    }
    doc["tracks"] = vf.track_summary()
    return doc
