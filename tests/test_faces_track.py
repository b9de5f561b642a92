"""Tracking, shot cuts, mouth motion and per-frame interpolation on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from emocli.faces.track import (
    FaceTracker,
    TrackerOptions,
    frame_signature,
    is_cut,
    mouth_motion,
    mouth_patches,
)
from emocli.faces.video import VideoFaces, smooth_track_probs


def _box(cx: float, cy: float, side: float) -> list[float]:
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def test_tracker_keeps_ids_for_moving_faces_and_new_ids_for_new_faces() -> None:
    tr = FaceTracker()
    a = tr.update(0.0, np.array([_box(100, 100, 80), _box(400, 100, 80)]))
    assert list(a) == [0, 1]
    # Both move 20 px (IoU still high); order of detections swapped: ids follow the faces.
    b = tr.update(0.2, np.array([_box(420, 100, 80), _box(120, 100, 80)]))
    assert list(b) == [1, 0]
    # A third face appears far away: a new id.
    c = tr.update(0.4, np.array([_box(140, 100, 80), _box(440, 100, 80), _box(250, 300, 60)]))
    assert list(c) == [0, 1, 2]


def test_tracker_survives_short_gaps_and_ends_tracks_after_long_ones() -> None:
    tr = FaceTracker(TrackerOptions(max_gap_s=1.0))
    assert list(tr.update(0.0, np.array([_box(100, 100, 80)]))) == [0]
    assert len(tr.update(0.2, np.zeros((0, 4)))) == 0  # missed detection
    assert list(tr.update(0.6, np.array([_box(104, 100, 80)]))) == [0]  # back within 1 s
    assert list(tr.update(2.0, np.array([_box(104, 100, 80)]))) == [1]  # gap 1.4 s: a new track


def test_tracker_refuses_implausible_links() -> None:
    tr = FaceTracker()
    tr.update(0.0, np.array([_box(100, 100, 80)]))
    # Same centre but 3x the size: not the same face.
    assert list(tr.update(0.2, np.array([_box(100, 100, 240)]))) == [1]
    # Far away: a new face.
    assert list(tr.update(0.4, np.array([_box(600, 100, 240)]))) == [2]


def test_tracker_uses_velocity_for_fast_faces() -> None:
    tr = FaceTracker()
    side = 40.0
    xs = [100, 116] + [116 + 28 * i for i in range(1, 6)]  # 16 px, then 28 px per sample
    ids = [int(tr.update(0.2 * i, np.array([_box(x, 100, side)]))[0]) for i, x in enumerate(xs)]
    # 28 px per sample with a 40 px face: IoU with the last box is 0.18 and the centre moves 0.7 face
    # sides, so only the constant-velocity prediction keeps the track.
    assert ids == [0] * len(xs)
    still = FaceTracker()
    ids = [int(still.update(0.2 * i, np.array([_box(x, 100, side)]))[0]) for i, x in enumerate(xs[1:])]
    assert ids[1] == 1  # without a velocity estimate (a fresh track) the same jump is not linked


def test_a_cut_ends_every_track() -> None:
    tr = FaceTracker()
    tr.update(0.0, np.array([_box(100, 100, 80)]))
    assert list(tr.update(0.2, np.array([_box(100, 100, 80)]), cut=True)) == [1]


def test_shot_cut_detection_on_signatures() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    a = frame_signature(base)
    same = frame_signature(
        np.clip(base.astype(int) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
    )
    other = frame_signature(np.full((90, 160, 3), (20, 200, 60), np.uint8))
    o = TrackerOptions()
    assert not is_cut(None, a, o)
    assert not is_cut(a, same, o)
    assert is_cut(a, other, o)


def test_mouth_motion_sees_the_mouth_not_the_head() -> None:
    """A mouth that opens scores higher than a still face; a global brightness change cancels."""
    rng = np.random.default_rng(2)
    face = rng.integers(60, 200, (200, 200), dtype=np.uint8)
    box = np.array([[40, 40, 160, 160]], np.float32)
    lm = np.array([[[70, 80], [130, 80], [100, 110], [100, 140]]], np.float32)
    open_mouth = face.copy()
    open_mouth[130:150, 80:120] = 10  # dark open mouth around the mouth landmark
    brighter = np.clip(face.astype(int) + 30, 0, 255).astype(np.uint8)
    p0 = mouth_patches(face, box, lm)[0]
    assert mouth_patches(face, box, lm).shape == (1, 2, 12, 24)
    talking = mouth_motion(p0, mouth_patches(open_mouth, box, lm)[0])
    still = mouth_motion(p0, mouth_patches(face, box, lm)[0])
    lit = mouth_motion(p0, mouth_patches(brighter, box, lm)[0])
    assert still == pytest.approx(0.0, abs=1e-6)
    assert talking > 0.3
    assert abs(lit) < 0.05
    # Without landmarks the lower third of the box is used.
    assert mouth_patches(face, box, None).shape == (1, 2, 12, 24)


def make_video_faces(
    tracks: dict[int, list[tuple[int, list[float]]]],
    n_samples: int,
    sample_fps: float = 5.0,
    fps: float = 25.0,
    mouth: dict[int, list[float]] | None = None,
    probs: dict[int, np.ndarray] | None = None,
) -> VideoFaces:
    """A VideoFaces from per-track (sample index, box) lists; probabilities default to one-hot neutral."""
    rows = sorted((s, k, b) for k, dets in tracks.items() for s, b in dets)
    n = len(rows)
    det_probs = np.zeros((n, 7), np.float32)
    det_mouth = np.full(n, np.nan, np.float32)
    seen: dict[int, int] = {}
    for i, (_, k, _) in enumerate(rows):
        j = seen.get(k, 0)
        seen[k] = j + 1
        det_probs[i] = probs[k][j] if probs and k in probs else np.eye(7)[0]
        if mouth and k in mouth:
            det_mouth[i] = mouth[k][j]
    return VideoFaces(
        source="synthetic",
        width=640,
        height=360,
        fps=fps,
        duration=n_samples / sample_fps,
        sample_fps=sample_fps,
        detector="test",
        sample_times=np.arange(n_samples) / sample_fps,
        det_sample=np.array([r[0] for r in rows], np.int32),
        det_track=np.array([r[1] for r in rows], np.int32),
        det_box=np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
        det_score=np.full(n, 0.9, np.float32),
        det_probs=det_probs,
        det_probs_smooth=det_probs.copy(),
        det_mouth=det_mouth,
    )


def test_every_frame_is_covered_and_boxes_are_interpolated() -> None:
    # One face on every sample moving right 10 px per sample (5 samples/s, 25 frames/s, 2 s).
    vf = make_video_faces({0: [(s, [10 * s, 0, 10 * s + 50, 50]) for s in range(10)]}, 10)
    table = vf.frame_table(smoothed=False)
    assert vf.n_frames == 50
    assert np.array_equal(np.unique(table.frame), np.arange(50))  # every frame has the face
    # Frame 2 (t = 0.08 s) lies 40% of the way from sample 0 to sample 1: x0 = 4 px.
    rows = table.rows_of(2)
    assert len(rows) == 1 and table.box[rows[0], 0] == pytest.approx(4.0)
    # Sampled frames are flagged as detections, the frames between them are not.
    assert table.detected[table.rows_of(5)[0]] and not table.detected[table.rows_of(7)[0]]
    # faces_at agrees with the table.
    f = vf.faces_at(0.08)
    assert len(f) == 1 and f[0].box[0] == pytest.approx(4.0) and not f[0].detected


def test_tracks_are_drawn_only_around_their_detections() -> None:
    # Track 0 in samples 0-3, track 1 in samples 6-9 (2 s video): no face in between.
    vf = make_video_faces(
        {0: [(s, [0, 0, 50, 50]) for s in range(4)], 1: [(s, [300, 0, 350, 50]) for s in range(6, 10)]}, 10
    )
    table = vf.frame_table()
    covered0 = table.frame[table.track == 0]
    covered1 = table.frame[table.track == 1]
    # Track 0: from the start to sample 3 (0.6 s) + half a sample (0.1 s) -> frames 0..17.
    assert covered0.min() == 0 and covered0.max() == 17
    # Track 1: from 1.2 - 0.1 = 1.1 s (frame 28 at 1.12 s) to the end.
    assert covered1.min() == 28 and covered1.max() == 49
    assert len(vf.faces_at(0.9)) == 0
    assert vf.face_fraction() == pytest.approx(0.8)
    assert vf.track_ids == [0, 1]
    summary = vf.track_summary()
    assert summary[1]["start"] == pytest.approx(1.2) and summary[1]["samples"] == 4


def test_no_face_video_gives_empty_but_valid_tables() -> None:
    vf = make_video_faces({}, 10)
    table = vf.frame_table()
    assert len(table.frame) == 0 and table.probs.shape == (0, 7) and len(table.frame_times) == 50
    assert vf.faces_at(0.5) == [] and vf.face_fraction() == 0.0 and vf.track_summary() == []


def test_smoothing_damps_single_frame_spikes_within_a_track_only() -> None:
    times = np.arange(6) / 5.0
    tracks = np.array([0, 0, 0, 0, 0, 1])
    probs = np.tile(np.eye(7)[0], (6, 1)).astype(np.float32)
    probs[2] = np.eye(7)[6]  # one frame reads as fear
    out = smooth_track_probs(times, tracks, probs, window_s=0.6)
    assert out[2, 6] == pytest.approx(1 / 3) and out[2, 0] == pytest.approx(2 / 3)
    assert out[5, 0] == pytest.approx(1.0)  # the other track is not mixed in
    assert np.allclose(out.sum(1), 1.0)
    assert np.array_equal(smooth_track_probs(times, tracks, probs, 0.0), probs)


def test_single_weak_detections_are_dropped_and_ids_renumbered() -> None:
    from emocli.faces.track import drop_spurious_tracks

    tracks = np.array([0, 1, 0, 2, 0, 3, 3])
    scores = np.array([0.9, 0.52, 0.9, 0.8, 0.9, 0.6, 0.6], np.float32)
    keep, ids = drop_spurious_tracks(tracks, scores, n_samples=10)
    # Track 1 (one weak detection) goes; track 2 (one but confident) and track 3 (two) stay.
    assert keep.tolist() == [True, False, True, True, True, True, True]
    assert ids[keep].tolist() == [0, 0, 1, 0, 2, 2]
    keep_short, _ = drop_spurious_tracks(tracks, scores, n_samples=2)
    assert keep_short.all()  # too short a video to judge
