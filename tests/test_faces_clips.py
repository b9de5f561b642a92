"""Real-model tests on the real talking-head clips (data_dir): acceptance items 1, 2 and 4 of issue 4.

Composite videos (a concatenation, side-by-side speakers, a grid of faces, tiny faces, turned faces,
a rotated phone video) are built here from the clips' frames; nothing is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from emocli.faces.analyze import FaceAnalyzer, FaceOptions
from emocli.faces.speaker import utterance_visuals
from emocli.faces.video import VideoFaces
from emocli.media import VideoWriter, probe, read_frames
from emocli.results import Utterance
from tests.media_factory import ffmpeg

pytestmark = [pytest.mark.slow, pytest.mark.data]

CLIPS = [
    "WDA_AlexandriaOcasioCortez_000.mp4",
    "WDA_KatieHill_000.mp4",
    "face_1.mp4",
    "face_2.mp4",
    "face_3.mp4",
    "face_4.mp4",
    "face_5.mp4",
]
DIFFERENT_PEOPLE = ["face_1.mp4", "face_2.mp4", "face_4.mp4", "face_5.mp4"]


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(FaceOptions())


def _frames(path: Path, size: int, fps: float = 25.0, seconds: float | None = None) -> list[np.ndarray]:
    out = []
    for f in read_frames(path, fps=fps):
        if seconds is not None and f.time >= seconds:
            break
        out.append(cv2.resize(f.image, (size, size), interpolation=cv2.INTER_AREA))
    return out


def _write(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    with VideoWriter(path, w, h, fps) as wr:
        for im in frames:
            wr.write(np.ascontiguousarray(im))
    return path


def _windows(duration: float, step: float = 1.0) -> list[Utterance]:
    return [
        Utterance(float(s), float(min(s + step, duration)), "A", "") for s in np.arange(0, duration, step)
    ]


@pytest.mark.parametrize("clip", CLIPS)
def test_each_clip_has_a_face_and_one_speaker_track(
    data_dir: Path, analyzer: FaceAnalyzer, clip: str
) -> None:
    vf = analyzer.analyze(data_dir / "clips" / clip)
    assert vf.face_fraction() >= 0.95
    vis = utterance_visuals(vf, _windows(vf.duration))
    assert len({v.track for v in vis}) == 1 and vis[0].track is not None
    assert all(v.has_face and v.scores is not None and abs(float(v.scores.sum()) - 1) < 1e-4 for v in vis)
    # Every frame of the video has the speaker's face (interpolated between samples).
    table = vf.frame_table()
    assert len(np.unique(table.frame)) == vf.n_frames


def test_concatenated_speakers_each_get_the_face_on_screen(
    data_dir: Path, analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    parts = [data_dir / "clips" / c for c in DIFFERENT_PEOPLE]
    frames: list[np.ndarray] = []
    bounds: list[tuple[float, float]] = []
    alone: list[VideoFaces] = []
    for i, p in enumerate(parts):
        fr = _frames(p, 480)
        start = len(frames) / 25.0
        frames += fr
        bounds.append((start, len(frames) / 25.0))
        alone.append(analyzer.analyze(_write(tmp_path / f"part{i}.mp4", fr)))
    vf = analyzer.analyze(_write(tmp_path / "talk.mp4", frames))
    utts = [Utterance(s, e, f"SPEAKER_{i:02d}", "") for i, (s, e) in enumerate(bounds)]
    vis = utterance_visuals(vf, utts)
    chosen = [v.track for v in vis]
    assert None not in chosen and len(set(chosen)) == 4  # a different face for each speaker
    times = vf.det_times()
    for v, (s, e), ref in zip(vis, bounds, alone, strict=True):
        rows = vf.det_track == v.track
        # The chosen track lives inside this part only ...
        assert times[rows].min() >= s - 1e-6 and times[rows].max() < e
        # ... and is the face the same clip shows on its own (same place, same size).
        assert np.allclose(vf.det_box[rows].mean(0), ref.det_box.mean(0), atol=12)


def test_side_by_side_speakers_are_told_apart_by_mouth_motion(
    data_dir: Path, analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    """Two faces on screen all the time; each talks in its turn while the other one keeps still."""
    a = _frames(data_dir / "clips" / "face_1.mp4", 320, seconds=3.0)
    b = _frames(data_dir / "clips" / "face_5.mp4", 320, seconds=3.0)
    n = min(len(a), len(b))
    frames = [np.hstack([a[i], b[0]]) for i in range(n)] + [np.hstack([a[n - 1], b[i]]) for i in range(n)]
    vf = analyzer.analyze(_write(tmp_path / "duo.mp4", frames))
    t = n / 25.0
    vis = utterance_visuals(vf, [Utterance(0.0, t, "A", ""), Utterance(t, 2 * t, "B", "")])
    centres = []
    for v in vis:
        assert v.rule == "mouth_motion"
        box = vf.det_box[vf.det_track == v.track].mean(0)
        centres.append((box[0] + box[2]) / 2)
    assert centres[0] < 320 < centres[1]  # A is the left face, B the right one


def _grid(
    data_dir: Path, tile: int, cols: int, rows: int, canvas: tuple[int, int], seconds: float = 2.0
) -> list:
    clips = [_frames(data_dir / "clips" / c, tile, seconds=seconds) for c in CLIPS[: cols * rows]]
    n = min(len(c) for c in clips)
    out = []
    for i in range(n):
        img = np.full((canvas[1], canvas[0], 3), 40, np.uint8)
        for j, c in enumerate(clips):
            x, y = (j % cols) * (canvas[0] // cols), (j // cols) * (canvas[1] // rows)
            img[y : y + tile, x : x + tile] = c[i]
        out.append(img)
    return out


def test_many_faces_are_tracked_separately(data_dir: Path, analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    vf = analyzer.analyze(_write(tmp_path / "grid.mp4", _grid(data_dir, 300, 4, 2, (1280, 720))))
    summary = vf.track_summary()
    # 7 clips in a 4x2 grid: 7 faces, each one track seen on (nearly) every sample.
    assert len(summary) == 7
    assert all(s["coverage"] >= 0.9 for s in summary)
    assert np.all(vf.det_box[:, 2] <= 1280 + 1) and np.all(vf.det_box[:, 3] <= 720 + 1)
    # Several faces, no motion information decided for a single speaker: rule and scores still valid.
    v = utterance_visuals(vf, [Utterance(0.0, vf.duration, "A", "")])[0]
    assert v.rule in ("mouth_motion", "presence", "all_faces") and v.scores is not None


def test_tiny_faces_do_not_break_anything(data_dir: Path, analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    # 7 faces in 72 px tiles of a 1280x720 frame (faces ~20 px after analysis at 640 px).
    vf = analyzer.analyze(_write(tmp_path / "tiny.mp4", _grid(data_dir, 72, 4, 2, (1280, 720), 1.0)))
    summary = vf.track_summary()
    assert len(summary) <= 7
    assert all(0 <= s["start"] <= s["end"] <= vf.duration for s in summary)
    assert len(np.unique(vf.frame_table().frame)) <= vf.n_frames


@pytest.mark.parametrize(
    "transform",
    [
        lambda im: im[:, ::-1],  # mirrored
        lambda im: cv2.warpPerspective(  # turned away: one side of the face squeezed (yaw-like)
            im,
            cv2.getPerspectiveTransform(
                np.float32([[0, 0], [480, 0], [480, 480], [0, 480]]),
                np.float32([[0, 0], [300, 60], [300, 420], [0, 480]]),
            ),
            (480, 480),
        ),
        lambda im: im[:, 150:330],  # half the face cut off at the frame edge
    ],
)
def test_turned_or_cut_faces_stay_consistent(
    data_dir: Path, analyzer: FaceAnalyzer, tmp_path: Path, transform: Callable[[np.ndarray], np.ndarray]
) -> None:
    frames = [
        np.ascontiguousarray(transform(im))
        for im in _frames(data_dir / "clips" / "face_2.mp4", 480, seconds=2)
    ]
    frames = [im[: im.shape[0] // 2 * 2, : im.shape[1] // 2 * 2] for im in frames]
    vf = analyzer.analyze(_write(tmp_path / "turned.mp4", frames))
    # Found or not, a face is one stable track and the no-face state is explicit.
    assert len(vf.track_ids) <= 2
    v = utterance_visuals(vf, [Utterance(0.0, vf.duration, "A", "")])[0]
    assert (v.scores is None) == (v.rule == "no_face")


def test_rotated_phone_video_gives_the_same_faces_as_upright(
    data_dir: Path, analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    src = data_dir / "clips" / "face_2.mp4"
    upright = tmp_path / "upright.mp4"
    ffmpeg("-i", str(src), "-t", "2", "-vf", "crop=632:844,scale=480:640", "-an", str(upright))
    stored = tmp_path / "stored.mp4"  # the pixels turned 90 degrees clockwise, as a phone stores them
    ffmpeg("-i", str(upright), "-vf", "transpose=1", str(stored))
    phone = tmp_path / "phone.mp4"  # ... with the display matrix that turns them back upright
    ffmpeg("-display_rotation", "90", "-i", str(stored), "-c", "copy", str(phone))
    info = probe(phone)
    assert (info.width, info.height) == (480, 640)
    a, b = analyzer.analyze(upright), analyzer.analyze(phone, info=info)
    assert a.face_fraction() >= 0.95 and b.face_fraction() >= 0.95
    assert np.allclose(a.det_box.mean(0), b.det_box.mean(0), atol=6)
