"""``--face-detector retinaface``: missing package, missing weights offline, and the output mapping."""

from __future__ import annotations

import importlib.util
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from emocli.errors import DependencyMissingError, ModelUnavailableError
from emocli.faces import retina
from emocli.faces.detect import create_detector


def _fake_retinaface(
    monkeypatch: pytest.MonkeyPatch, detect_result: dict, build_error: Exception | None
) -> None:
    """Install a stand-in ``retinaface`` package with the real one's module layout and calls."""
    pkg = types.ModuleType("retinaface")
    pkg.__path__ = []  # type: ignore[attr-defined]
    rf = types.ModuleType("retinaface.RetinaFace")

    def build_model() -> object:
        if build_error is not None:
            raise build_error
        return object()

    rf.build_model = build_model  # type: ignore[attr-defined]
    rf.detect_faces = lambda img, threshold=0.9, model=None: detect_result  # type: ignore[attr-defined]
    commons = types.ModuleType("retinaface.commons")
    backend = types.ModuleType("retinaface.commons.backend_utils")
    backend.get_backend_engine = lambda: "pytorch"  # type: ignore[attr-defined]
    model_pkg = types.ModuleType("retinaface.model")
    pth = types.ModuleType("retinaface.model.retinaface_pth_model")
    pth.WEIGHTS_URLS = ["https://example.invalid/retinaface.pth"]  # type: ignore[attr-defined]
    pkg.RetinaFace = rf  # type: ignore[attr-defined]
    pkg.commons = commons  # type: ignore[attr-defined]
    commons.backend_utils = backend  # type: ignore[attr-defined]
    pkg.model = model_pkg  # type: ignore[attr-defined]
    model_pkg.retinaface_pth_model = pth  # type: ignore[attr-defined]
    for name, mod in {
        "retinaface": pkg,
        "retinaface.RetinaFace": rf,
        "retinaface.commons": commons,
        "retinaface.commons.backend_utils": backend,
        "retinaface.model": model_pkg,
        "retinaface.model.retinaface_pth_model": pth,
    }.items():
        monkeypatch.setitem(sys.modules, name, mod)


def test_missing_package_is_a_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "retinaface", None)  # import retinaface -> ImportError
    with pytest.raises(DependencyMissingError, match="pip install retina-face"):
        create_detector("retinaface")


def test_missing_weights_offline_fail_fast_with_the_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_retinaface(monkeypatch, {}, None)
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    t = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as e:
        create_detector("retinaface")
    assert time.perf_counter() - t < 1.0
    msg = str(e.value)
    assert str(tmp_path / ".deepface" / "weights" / "retinaface.pth") in msg and "\n" not in msg
    assert "--face-detector blazeface" in msg


def test_download_failure_becomes_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_retinaface(
        monkeypatch,
        {},
        ValueError("Pre-trained weight could not be loaded! You might try to download it manually\nmore"),
    )
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    weights = tmp_path / ".deepface" / "weights"
    weights.mkdir(parents=True)
    (weights / "retinaface.pth").write_bytes(b"x")  # present, so the package's own loader runs
    with pytest.raises(ModelUnavailableError, match="download it manually") as e:
        create_detector("retinaface")
    assert "\n" not in str(e.value)


def test_detections_are_mapped_to_our_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    found = {
        "face_1": {
            "score": 0.99,
            "facial_area": [10, 20, 110, 140],
            "landmarks": {
                "right_eye": [40.0, 60.0],
                "left_eye": [80.0, 60.0],
                "nose": [60.0, 90.0],
                "mouth_right": [45.0, 115.0],
                "mouth_left": [75.0, 117.0],
            },
        }
    }
    _fake_retinaface(monkeypatch, found, None)
    det = retina.RetinaFaceDetector(model=object()).detect(np.zeros((200, 200, 3), np.uint8))
    assert np.allclose(det.boxes, [[10, 20, 110, 140]]) and np.allclose(det.scores, [0.99])
    assert det.landmarks is not None and np.allclose(det.landmarks[0, 3], [60.0, 116.0])
    _fake_retinaface(monkeypatch, {}, None)
    assert len(retina.RetinaFaceDetector(model=object()).detect(np.zeros((50, 50, 3), np.uint8))) == 0


@pytest.mark.skipif(importlib.util.find_spec("retinaface") is None, reason="retina-face not installed")
def test_real_package_offline_names_where_to_put_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    with pytest.raises((ModelUnavailableError, DependencyMissingError)) as e:
        create_detector("retinaface")
    if isinstance(e.value, ModelUnavailableError):
        assert str(tmp_path / ".deepface" / "weights") in str(e.value)
