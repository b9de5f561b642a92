from __future__ import annotations

import time
from pathlib import Path

import pytest

from emocli.errors import ModelUnavailableError
from emocli.speech.whisper_model import BUNDLED_SHA256, bundled_whisper_dir, resolve_whisper


def test_bundled_base_is_joined_once_and_verified() -> None:
    d = bundled_whisper_dir()
    assert (d / "model.bin").stat().st_size == 94371840 + 50845767
    assert (d / ".sha256").read_text() == BUNDLED_SHA256
    mtime = (d / "model.bin").stat().st_mtime_ns
    assert resolve_whisper("base").path == str(d)
    assert (d / "model.bin").stat().st_mtime_ns == mtime  # reused, not joined again


def test_corrupt_cached_model_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOCLI_CACHE_DIR", str(tmp_path))
    d = bundled_whisper_dir()
    (d / ".sha256").write_text("stale")
    with (d / "model.bin").open("r+b") as f:
        f.write(b"garbage")
    d2 = bundled_whisper_dir()
    assert (d2 / ".sha256").read_text() == BUNDLED_SHA256


def test_unavailable_models_fail_fast_with_the_fix(tmp_path: Path) -> None:
    t = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="must be downloaded"):
        resolve_whisper("large-v3")
    with pytest.raises(ModelUnavailableError, match="Unknown Whisper model"):
        resolve_whisper("whisper-huge-9000")
    with pytest.raises(ModelUnavailableError, match="not a CTranslate2 Whisper model folder"):
        resolve_whisper(str(tmp_path))
    assert time.perf_counter() - t < 1.0
