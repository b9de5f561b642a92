from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emocli import EMOTIONS
from emocli.media import load_audio, probe, read_frames
from emocli.output.render import (
    EMOTION_COLOURS,
    CaptionRenderer,
    FaceOverlay,
    active_utterance,
    render_video,
)
from emocli.results import Result, Utterance
from tests.media_factory import make_video


def _utts() -> list[Utterance]:
    return [
        Utterance(0.2, 1.0, "SPEAKER_00", "Hello there, this is a test.", emotion="joy", confidence=0.8),
        Utterance(1.5, 1.9, "SPEAKER_01", "Déjà vu — ça va?", emotion="anger", confidence=0.6),
    ]


def test_active_utterance_follows_time() -> None:
    u = _utts()
    assert active_utterance(u, 0.1) is None
    assert active_utterance(u, 0.5) == 0
    assert active_utterance(u, 1.2) is None
    assert active_utterance(u, 1.6, start_index=1) == 1


def test_draw_puts_caption_bars_and_box_where_expected() -> None:
    frame = np.full((360, 640, 3), 255, np.uint8)  # white: the dark caption panel must show
    r = CaptionRenderer(640, 360)
    probs = np.array([0.05, 0.05, 0.05, 0.7, 0.05, 0.05, 0.05], np.float32)
    r.draw(frame, 0, _utts()[0], [FaceOverlay((200, 60, 300, 180), probs, True, "SPEAKER_00")])
    # caption panel at the bottom centre is dark
    assert frame[340:350, 300:340].mean() < 120
    # box top edge drawn in the colour of the frame's top emotion (anger)
    assert tuple(frame[61, 250]) == EMOTION_COLOURS["anger"]
    # an anger-coloured bar exists right of the face
    right = frame[60:200, 300:640].reshape(-1, 3)
    assert (right == np.array(EMOTION_COLOURS["anger"], np.uint8)).all(1).sum() > 50
    # nothing drawn on the far left of the face region
    assert frame[100, 20].tolist() == [255, 255, 255]


def test_no_face_and_no_speech_are_said_quietly() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    CaptionRenderer(640, 360).draw(frame, None, None, [])
    # small light text top-left ("no face") and bottom centre ("no speech"); nothing else
    assert frame[:40, :120].max() > 150
    assert frame[300:, 250:390].max() > 150
    assert frame[100:250, 100:540].max() == 0


def test_bars_move_with_the_face() -> None:
    probs = np.eye(7, dtype=np.float32)[1]
    cols = []
    for x in (40, 300):
        frame = np.zeros((360, 640, 3), np.uint8)
        CaptionRenderer(
            640,
            360,
        ).draw(frame, None, None, [FaceOverlay((x, 50, x + 80, 150), probs, True)])
        joy = np.array(EMOTION_COLOURS["joy"], np.uint8)
        _ys, xs = np.nonzero((frame == joy).all(-1))
        cols.append(xs.mean())
    assert cols[1] - cols[0] == pytest.approx(260, abs=30)


def test_render_video_keeps_size_frames_duration_and_audio(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in put é.mp4", seconds=2.0, size="320x240", fps=25)
    out = tmp_path / "out.mp4"
    res = Result(str(src), 2.0, _utts())
    probs = np.eye(7, dtype=np.float32)[EMOTIONS.index("sadness")]
    n = render_video(src, out, res, lambda t: [FaceOverlay((100, 50, 200, 170), probs, True)])
    info_in, info_out = probe(src), probe(out)
    assert n == 50
    assert (info_out.width, info_out.height) == (320, 240)
    assert info_out.duration == pytest.approx(info_in.duration, abs=0.1)
    assert sum(1 for _ in read_frames(out)) == 50
    a_in, a_out = load_audio(src), load_audio(out)
    assert len(a_out) == pytest.approx(len(a_in), rel=0.03)
    assert np.corrcoef(a_in[2000:20000], a_out[2000:20000])[0, 1] > 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, "out.mp4"])
