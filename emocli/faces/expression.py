"""Facial expression probabilities from fer's mini-Xception (FER2013), on ai-edge-litert.

The model (``emotion_model_quantized.tflite``, 93 KB, MIT, vendored) takes a 64x64 grey face scaled
to [-1, 1] and returns softmax probabilities over fer's classes (angry, disgust, fear, happy, sad,
surprise, neutral), which are reordered into ``emocli.EMOTIONS``. The crop is a square 1.15x the
detector box (tight crops turned sad into angry in the guide's measurements).
"""

from __future__ import annotations

import numpy as np

from emocli import EMOTIONS
from emocli.faces.weights import model_file, tflite_interpreter

FER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
_FER_NAME = {
    "neutral": "neutral",
    "joy": "happy",
    "surprise": "surprise",
    "anger": "angry",
    "sadness": "sad",
    "disgust": "disgust",
    "fear": "fear",
}
FER_TO_EMOTIONS = np.array([FER_CLASSES.index(_FER_NAME[e]) for e in EMOTIONS])
"""``probs_fer[:, FER_TO_EMOTIONS]`` gives probabilities in ``EMOTIONS`` order."""

INPUT_SIZE = 64  # pixels, square grey input of the model
CROP_SCALE = 1.15  # side of the square crop / longer side of the detector box


def square_boxes(boxes: np.ndarray, scale: float = CROP_SCALE) -> np.ndarray:
    """(N, 4) boxes -> (N, 4) squares with side ``scale * max(w, h)``, same centre."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = scale * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None] / 2
    return np.concatenate([c - half, c + half], axis=1)


def crop_region(gray: np.ndarray, box: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Resample the (float) ``box`` x0 y0 x1 y1 of a grey image to (out_h, out_w) uint8.

    Parts of the box outside the image repeat the border pixels, so faces at the edge still give
    a full crop. Shrinking averages (INTER_AREA); enlarging tiny faces interpolates linearly.
    """
    import cv2

    h, w = gray.shape[:2]
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if cx1 <= cx0 or cy1 <= cy0:  # entirely outside the image
        return np.zeros((out_h, out_w), np.uint8)
    patch = gray[cy0:cy1, cx0:cx1]
    if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
        patch = cv2.copyMakeBorder(patch, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1, cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if patch.shape[1] > out_w else cv2.INTER_LINEAR
    return cv2.resize(patch, (out_w, out_h), interpolation=interp)


def face_inputs(gray: np.ndarray, boxes: np.ndarray, scale: float = CROP_SCALE) -> np.ndarray:
    """Model inputs for each box: (N, 64, 64) float32 in [-1, 1] from a grey uint8 image."""
    squares = square_boxes(boxes, scale)
    crops = [crop_region(gray, b, INPUT_SIZE, INPUT_SIZE) for b in squares]
    if not crops:
        return np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.float32)
    return np.stack(crops).astype(np.float32) * (2.0 / 255.0) - 1.0


class ExpressionModel:
    """fer's mini-Xception; ``predict(gray, boxes)`` -> (N, 7) probabilities in ``EMOTIONS`` order."""

    name = "fer-mini-xception"

    def __init__(self, num_threads: int | None = 1) -> None:
        self._interp = tflite_interpreter(model_file("emotion_model_quantized.tflite"), num_threads)
        self._input = self._interp.get_input_details()[0]["index"]
        self._output = self._interp.get_output_details()[0]["index"]

    def predict_inputs(self, faces: np.ndarray) -> np.ndarray:
        """(N, 64, 64) float32 in [-1, 1] -> (N, 7) float32 probabilities in EMOTIONS order."""
        out = np.zeros((len(faces), len(EMOTIONS)), np.float32)
        for i, face in enumerate(faces):  # the TFLite graph has a fixed batch of 1 (~0.6 ms each)
            self._interp.set_tensor(self._input, face[None, :, :, None])
            self._interp.invoke()
            out[i] = self._interp.get_tensor(self._output)[0][FER_TO_EMOTIONS]
        # The quantised graph's softmax can drift from 1 by ~1e-3: renormalise.
        return out / np.clip(out.sum(1, keepdims=True), 1e-6, None)

    def predict(self, gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return self.predict_inputs(face_inputs(gray, boxes))
