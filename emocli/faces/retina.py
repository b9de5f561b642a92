"""``--face-detector retinaface``: RetinaFace (ResNet-50) through the ``retina-face`` package.

The package runs on tensorflow, PyTorch or onnxruntime; emocli asks for its PyTorch backend (torch
is already a dependency) unless ``DEEPFACE_BACKEND_ENGINE`` says otherwise. Its weights
(``retinaface.pth``, ~100 MB) download at first use to ``$DEEPFACE_HOME/.deepface/weights``
(default ``~/.deepface/weights``). Offline, or when the download fails, this raises one line with
the package's own hint: where to put the file by hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from emocli.errors import DependencyMissingError, ModelUnavailableError
from emocli.faces.detect import Detections
from emocli.models_registry import can_reach

INSTALL_HINT = "Install it with `pip install retina-face` (or `pip install 'emocli[retinaface]'`)."


def weights_path(backend: str = "pytorch") -> Path:
    """Where the package looks for its weights file (its ``weight_utils`` logic)."""
    name = {"pytorch": "retinaface.pth", "onnx": "retinaface.onnx"}.get(backend, "retinaface.h5")
    home = Path(os.getenv("DEEPFACE_HOME", default=str(Path.home())))
    return home / ".deepface" / "weights" / name


def _import_retinaface() -> tuple[Any, Any, str]:
    """Import the package on its PyTorch backend: (RetinaFace module, model module, backend)."""
    os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "pytorch")
    try:
        from retinaface import RetinaFace
        from retinaface.commons import backend_utils
    except ImportError as e:
        # e.g. the package is absent, or an engine it was told to use (tensorflow, gdown) is missing.
        missing = getattr(e, "name", None) or str(e)
        raise DependencyMissingError(
            f"--face-detector retinaface needs the retina-face package ({missing} is not installed).",
            INSTALL_HINT,
        ) from e
    except ValueError as e:  # the package's own message for a missing/unknown backend engine
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DependencyMissingError(f"retina-face cannot start: {reason}", INSTALL_HINT) from e
    backend = backend_utils.get_backend_engine()
    model_mod: Any
    if backend == "pytorch":
        from retinaface.model import retinaface_pth_model as model_mod
    elif backend == "onnx":
        from retinaface.model import retinaface_onnx_model as model_mod
    else:
        from retinaface.model import retinaface_model as model_mod
    return RetinaFace, model_mod, backend


class RetinaFaceDetector:
    """RetinaFace; landmarks mapped to (right eye, left eye, nose, mouth centre)."""

    name = "retinaface"

    def __init__(self, min_score: float = 0.9, model: Any = None) -> None:
        self.min_score = min_score
        self._rf, model_mod, backend = _import_retinaface()
        if model is None:
            target = weights_path(backend)
            urls = getattr(model_mod, "WEIGHTS_URLS", [])
            host = urls[0].split("/")[2] if urls else "github.com"
            if not target.is_file() and not can_reach(host):
                # Fail in well under a second instead of the package's 30 s request timeouts.
                raise ModelUnavailableError(
                    f"RetinaFace weights {target.name} are not at {target} and cannot be downloaded "
                    f"({host} cannot be reached).",
                    f"Download them on a machine with internet ({urls[0] if urls else 'see retina-face'}) "
                    f"and copy the file to {target}, or use the default --face-detector blazeface.",
                )
            try:
                model = self._rf.build_model()
            except Exception as e:  # the package raises ValueError with its hint on download failure
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ModelUnavailableError(
                    f"RetinaFace weights could not be loaded: {first}",
                    "Or use the default --face-detector blazeface.",
                ) from e
        self._model = model

    def detect(self, image: np.ndarray) -> Detections:
        # The package expects BGR (OpenCV) images; ours are RGB.
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        found = self._rf.detect_faces(bgr, threshold=self.min_score, model=self._model)
        if not isinstance(found, dict) or not found:
            return Detections.empty()
        boxes, scores, lms = [], [], []
        for face in found.values():
            boxes.append([float(v) for v in face["facial_area"]])
            scores.append(float(face["score"]))
            lm = face["landmarks"]
            mouth = (np.asarray(lm["mouth_left"]) + np.asarray(lm["mouth_right"])) / 2
            lms.append([lm["right_eye"], lm["left_eye"], lm["nose"], mouth])
        return Detections(
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(scores, np.float32),
            np.asarray(lms, np.float32).reshape(-1, 4, 2),
        )
