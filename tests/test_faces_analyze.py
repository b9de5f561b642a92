"""The visual stage end to end on media the tests build: no faces, portrait/rotated, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emocli.cli import app
from emocli.faces.analyze import FaceAnalyzer, FaceOptions
from emocli.faces.speaker import utterance_visuals
from emocli.media import probe
from emocli.results import Result, Utterance
from tests.media_factory import ffmpeg, make_video, tone, write_wav

runner = CliRunner()


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(FaceOptions())


def test_video_without_faces_gives_the_no_face_state_on_every_frame(
    tmp_path: Path, analyzer: FaceAnalyzer
) -> None:
    video = make_video(tmp_path / "pattern.mp4", seconds=2.0, size="320x240", fps=25)
    hooks: list[tuple[str, float | None, float | None]] = []
    vf = analyzer.analyze(
        video, hook=lambda s, completed=None, total=None: hooks.append((s, completed, total))
    )
    assert vf.n_samples == 10 and vf.face_fraction() == 0.0 and vf.track_ids == []
    assert (vf.width, vf.height, vf.n_frames) == (320, 240, 50)
    table = vf.frame_table()
    assert len(table.frame_times) == 50 and len(table.frame) == 0
    vis = utterance_visuals(vf, [Utterance(0.0, 2.0, "A", "hi")])
    assert vis[0].rule == "no_face" and vis[0].scores is None
    assert hooks and hooks[-1] == ("faces", 2.0, 2.0)


def test_rotated_portrait_video_is_analysed_upright(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    src = make_video(tmp_path / "land.mp4", seconds=1.0, size="320x180", fps=25, audio=False)
    rotated = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(src), "-c", "copy", str(rotated))
    info = probe(rotated)
    vf = analyzer.analyze(rotated, info=info)
    assert (vf.width, vf.height) == (180, 320)  # displayed (portrait) size
    assert vf.n_samples == 5


def test_sample_rate_above_the_video_rate_is_capped(tmp_path: Path) -> None:
    video = make_video(tmp_path / "slow.mp4", seconds=2.0, size="160x120", fps=4, audio=False)
    vf = FaceAnalyzer(FaceOptions(sample_fps=30.0)).analyze(video)
    assert vf.sample_fps == 4.0 and vf.n_samples == 8


def test_cli_writes_json_and_prints_tracks(tmp_path: Path) -> None:
    video = make_video(tmp_path / "pattern.mp4", seconds=1.0, size="160x120", fps=10)
    out = tmp_path / "faces.json"
    r = runner.invoke(app, ["faces", str(video), "-o", str(out), "--sample-fps", "4"])
    assert r.exit_code == 0, r.output
    assert "No face found" in r.output and "face in 0.0%" in r.output
    doc = json.loads(out.read_text())
    assert doc["faces"]["sample_fps"] == 4.0 and doc["faces"]["samples"] == 4
    assert Result.from_dict(doc).duration == pytest.approx(1.0, abs=0.1)
    every = tmp_path / "every.json"
    r = runner.invoke(app, ["faces", str(video), "-o", str(every), "--every-frame", "-q"])
    assert r.exit_code == 0 and r.output == ""
    assert len(json.loads(every.read_text())["frames"]) == 10


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "voice.wav", tone(1.0))
    r = runner.invoke(app, ["faces", str(wav), "-o", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "has no video track" in r.output
    video = make_video(tmp_path / "v.mp4", seconds=0.5, size="160x120", fps=10)
    r = runner.invoke(app, ["faces", str(video), "-o", str(tmp_path / "x.json"), "--face-detector", "mtcnn"])
    assert r.exit_code == 1 and "Unknown face detector 'mtcnn'" in r.output
    assert not (tmp_path / "x.json").exists()
    r = runner.invoke(app, ["faces", str(video), "-o", str(video)])
    assert r.exit_code == 3 and "input file itself" in r.output


def test_analyze_frame_ignores_degenerate_images(analyzer: FaceAnalyzer) -> None:
    for img in (np.zeros((2, 2, 3), np.uint8), np.full((720, 40, 3), 128, np.uint8)):
        boxes, scores, probs, patches = analyzer.analyze_frame(img)
        assert scores.shape == (0,)
        assert boxes.shape == (0, 4) and probs.shape == (0, 7) and patches.shape == (0, 2, 12, 24)


def test_sampled_frames_are_the_frames_at_their_times(tmp_path: Path) -> None:
    """read_frames(fps=...) must return the frame on screen at each labelled time (not a later one)."""
    from emocli.media import VideoWriter, read_frames

    path = tmp_path / "count.mp4"
    with VideoWriter(path, 64, 64, 25, crf=0) as w:
        for i in range(50):
            w.write(np.full((64, 64, 3), i * 5, np.uint8))  # frame i has grey level 5 i
    got = [(round(f.time, 2), round(float(f.image.mean()) / 5)) for f in read_frames(path, fps=5)]
    assert got == [(i / 5, 5 * i) for i in range(10)]
