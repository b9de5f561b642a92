"""Face detection behind one small interface, chosen by name from a registry.

Every backend takes an RGB image ``(H, W, 3) uint8`` and returns ``Detections`` in that image's
pixels. Backends:

- ``blazeface`` (default): MediaPipe BlazeFace full range (192x192 input, faces up to ~5 m from the
  camera) with the short-range model (128x128) as fallback on frames where full range finds no
  face; run on ai-edge-litert from vendored TFLite files; anchor decoding and weighted NMS are ours
  (``emocli.faces.blazeface``).
- ``blazeface-full`` / ``blazeface-short``: one of the two models alone (short range is ~3x faster
  and scores close-ups higher, but needs faces >= ~10% of the frame width).
- ``retinaface``: the ``retina-face`` package (ResNet-50, PyTorch backend); its weights download at
  first use (``emocli.faces.retina``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from emocli.errors import EmocliError

LANDMARKS: tuple[str, ...] = ("right_eye", "left_eye", "nose", "mouth")
"""Landmark order in ``Detections.landmarks`` (the subject's right eye is on the image's left)."""
MOUTH = LANDMARKS.index("mouth")


@dataclass(frozen=True)
class Detections:
    """Faces found in one image. ``N`` faces; coordinates are pixels of the image given."""

    boxes: np.ndarray  # (N, 4) float32: x0, y0, x1, y1
    scores: np.ndarray  # (N,) float32 detector confidence in [0, 1]
    landmarks: np.ndarray | None = None  # (N, 4, 2) float32 (x, y) in LANDMARKS order, or None

    def __len__(self) -> int:
        return len(self.boxes)

    @staticmethod
    def empty(with_landmarks: bool = True) -> Detections:
        return Detections(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, len(LANDMARKS), 2), np.float32) if with_landmarks else None,
        )

    def select(self, keep: np.ndarray) -> Detections:
        """A subset (boolean mask or index array)."""
        lm = None if self.landmarks is None else self.landmarks[keep]
        return Detections(self.boxes[keep], self.scores[keep], lm)

    def scaled(self, sx: float, sy: float) -> Detections:
        """Coordinates multiplied by (sx, sy): maps analysis pixels to display pixels."""
        boxes = self.boxes * np.array([sx, sy, sx, sy], np.float32)
        lm = None if self.landmarks is None else self.landmarks * np.array([sx, sy], np.float32)
        return Detections(boxes.astype(np.float32), self.scores, lm)


class FaceDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> Detections:
        """Faces in ``image`` (H, W, 3) uint8 RGB."""


def _blazeface(ranges: str) -> Callable[[float, int | None], FaceDetector]:
    def build(min_score: float, num_threads: int | None) -> FaceDetector:
        from emocli.faces import blazeface as bf

        opts = {"full": bf.FULL_RANGE, "short": bf.SHORT_RANGE}
        name = "blazeface" if ranges == "full,short" else f"blazeface-{ranges}"
        chosen = tuple(opts[r] for r in ranges.split(","))
        return bf.BlazeFace(chosen, min_score=min_score, num_threads=num_threads, name=name)

    return build


def _retinaface(min_score: float, num_threads: int | None) -> FaceDetector:
    from emocli.faces.retina import RetinaFaceDetector

    return RetinaFaceDetector(min_score=max(min_score, 0.5))


DETECTORS: dict[str, Callable[[float, int | None], FaceDetector]] = {
    "blazeface": _blazeface("full,short"),
    "blazeface-full": _blazeface("full"),
    "blazeface-short": _blazeface("short"),
    "retinaface": _retinaface,
}
DEFAULT_DETECTOR = "blazeface"


def create_detector(
    name: str = DEFAULT_DETECTOR, min_score: float = 0.5, num_threads: int | None = None
) -> FaceDetector:
    """Build the detector registered as ``name`` (models load here, once)."""
    key = name.strip().lower()
    if key not in DETECTORS:
        raise EmocliError(
            f"Unknown face detector {name!r}.", f"Choose one of: {', '.join(sorted(DETECTORS))}."
        )
    return DETECTORS[key](min_score, num_threads)
