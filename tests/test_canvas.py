"""The I420 canvas: drawing on it matches drawing on a full RGB frame; untouched pixels pass through."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emocli.output.canvas import I420Canvas, i420_block_to_rgb, rgb_block_to_i420, split_i420
from emocli.output.render import CaptionRenderer, FaceOverlay
from emocli.results import Utterance


def smooth_i420(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A natural-looking frame (smooth gradients + noise) as I420 (H * 3 / 2, W)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) * 127 / (width + height) + 60], -1)
    rgb = np.clip(rgb + rng.normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def draw_scene(frame: object, renderer: CaptionRenderer, h: int) -> None:
    u = Utterance(0.0, 2.0, "SPEAKER_00", "a caption long enough to wrap onto a second line " * 2,
                  emotion="anger", confidence=0.7)  # fmt: skip
    probs = np.array([0.1, 0.05, 0.05, 0.6, 0.1, 0.05, 0.05], np.float32)
    face = FaceOverlay(box=(100.0, 60.0, 260.0, 250.0), probs=probs, is_speaker=True, label="SPEAKER_00")
    renderer.draw(frame, 0, u, [face])  # type: ignore[arg-type]


@pytest.mark.parametrize(("width", "height"), [(640, 360), (480, 854)])  # 854: last tile row of 22 px
def test_drawing_on_the_canvas_matches_drawing_on_rgb(width: int, height: int) -> None:
    yuv = smooth_i420(width, height)
    original = yuv.copy()
    # Reference: the whole frame to RGB, drawn on, back to I420 (what the renderer did before).
    rgb = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
    draw_scene(rgb, CaptionRenderer(width, height), height)
    reference = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)

    canvas = I420Canvas(width, height)
    canvas.load(yuv)
    draw_scene(canvas, CaptionRenderer(width, height), height)
    converted = canvas.flush()

    tiles = canvas.converted.size
    assert 0 < converted < tiles // 2  # only the drawn-on tiles were converted
    diff = np.abs(yuv.astype(int) - reference.astype(int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 3  # same picture (rounding apart)
    drawn = np.abs(yuv.astype(int) - original.astype(int)) > 20
    assert drawn.sum() > 0.02 * yuv.size  # the overlays are really there
    # Tiles never drawn on are the decoder's bytes, untouched.
    Y0, _, _ = split_i420(original, width, height)
    Y1, _, _ = split_i420(yuv, width, height)
    t = canvas.tile
    for r, c in zip(*np.nonzero(~canvas.converted), strict=True):
        assert np.array_equal(
            Y1[r * t : (r + 1) * t, c * t : (c + 1) * t], Y0[r * t : (r + 1) * t, c * t : (c + 1) * t]
        )


def test_canvas_slices_are_writable_views_and_nothing_drawn_means_no_change() -> None:
    w, h = 96, 64
    yuv = smooth_i420(w, h, seed=1)
    before = yuv.copy()
    canvas = I420Canvas(w, h)
    canvas.load(yuv)
    assert canvas.shape == (h, w, 3)
    assert canvas.flush() == 0 and np.array_equal(yuv, before)
    canvas.load(yuv)
    view = canvas[10:20, 40:70]
    assert view.shape == (10, 30, 3)
    view[:] = (255, 0, 0)
    canvas.flush()
    back = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
    assert np.abs(back[12:18, 42:68].astype(int) - [255, 0, 0]).max() <= 12  # red, up to 4:2:0 rounding
    assert np.array_equal(canvas[0:0, 0:5], np.zeros((0, 5, 3), np.uint8))  # empty slices are fine
    with pytest.raises(ValueError):
        I420Canvas(95, 64)
    with pytest.raises(ValueError):
        canvas.load(np.zeros(10, np.uint8))


def test_block_conversions_round_trip_and_handle_heights_not_multiple_of_four() -> None:
    rgb = cv2.cvtColor(smooth_i420(64, 38, seed=2), cv2.COLOR_YUV2RGB_I420)[:, :, :]  # 38 = 4k + 2
    y, u, v = rgb_block_to_i420(rgb)
    assert y.shape == (38, 64) and u.shape == v.shape == (19, 32)
    again = i420_block_to_rgb(y, u, v)
    assert again.shape == rgb.shape and np.abs(again.astype(int) - rgb.astype(int)).mean() < 3
