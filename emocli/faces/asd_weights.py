"""Where the Light-ASD weights come from, and the checks before they are ever unpickled.

The weights (MIT, 4.2 MB, a plain PyTorch state dict) are not shipped with emocli. They are found,
in this order: an explicit path; ``$EMOCLI_ASD_WEIGHTS``; the model cache
(``<cache>/models/light-asd/finetuning_TalkSet.model``, filled by ``emocli models install asd
--from FILE`` or by a download); else, on machines with internet, they are downloaded once from the
public repository into the cache. Offline the download fails in under a second, naming the fix.

Every file is checked by size and SHA-256 before ``torch.load(..., weights_only=True)`` reads it,
and the bytes that were checked are the bytes that are loaded (no second read of the path), so a
file with another checksum is refused and never unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from emocli.errors import InputError, ModelUnavailableError
from emocli.fileio import atomic_output
from emocli.models_registry import cache_dir, require_download

if TYPE_CHECKING:
    import torch

ENV_VAR = "EMOCLI_ASD_WEIGHTS"
ASD_FILE = "finetuning_TalkSet.model"
ASD_SIZE = 4_175_289  # bytes
ASD_SHA256 = "efc375833887eefa9d209dc92810e18519b04c3c73ea35a549f2a7f40b7d94d5"
ASD_URL = (
    "https://github.com/Junhua-Liao/Light-ASD/raw/ed38c232de5efe0261dbd68627c0ade7cdfe14eb/weight/" + ASD_FILE
)
ASD_SOURCE = "github.com/Junhua-Liao/Light-ASD (weight/finetuning_TalkSet.model, commit ed38c23)"
# Upstream's other file (AVA-ActiveSpeaker only; Columbia F1 81.1% against 95.5%): same size and
# format, accepted from an explicit path or $EMOCLI_ASD_WEIGHTS for comparisons, never installed.
KNOWN_SHA256 = {
    ASD_SHA256: "finetuning_TalkSet",
    "d44bc3ea7baa8e0946fa3921311714a630ed8b90a1928fab0dbe30d918909317": "pretrain_AVA_CVPR",
}
INSTALL_FIX = (
    "Install them with `emocli models install asd --from PATH` (the file finetuning_TalkSet.model of "
    "github.com/Junhua-Liao/Light-ASD), or set EMOCLI_ASD_WEIGHTS to that file."
)
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format is a zip archive
_MAX_DOWNLOAD = 16 * ASD_SIZE  # a server sending far more than the file is refused early


def cached_asd_path() -> Path:
    """Where the model cache keeps the weights (the file may not exist)."""
    return cache_dir() / "models" / "light-asd" / ASD_FILE


def _check_bytes(
    data: bytes, where: str, accepted: Callable[[str], bool], outcome: str = "it was not loaded"
) -> str:
    """Raise unless ``data`` is an accepted weights file; return its SHA-256."""
    if len(data) < ASD_SIZE:
        if data.startswith(_ZIP_MAGIC):  # the start of a PyTorch file: cut short
            raise ModelUnavailableError(
                f"The Light-ASD weights {where} are truncated ({len(data):,} of {ASD_SIZE:,} bytes); "
                f"{outcome}.",
                INSTALL_FIX,
            )
        raise ModelUnavailableError(
            f"{where} is not the Light-ASD weights file ({len(data):,} bytes, not a PyTorch file); "
            f"{outcome}.",
            INSTALL_FIX,
        )
    digest = hashlib.sha256(data).hexdigest()
    if not accepted(digest):
        other = KNOWN_SHA256.get(digest)
        what = f"upstream's {other} file, not {ASD_FILE}" if other else "checksum mismatch"
        raise ModelUnavailableError(
            f"{where} is not the Light-ASD weights file ({what}, SHA-256 {digest[:12]}...); {outcome}.",
            INSTALL_FIX,
        )
    return digest


def _read_checked(path: Path, where: str, accepted: Callable[[str], bool]) -> bytes:
    try:
        size = path.stat().st_size
        if size > ASD_SIZE:  # refuse without reading a large wrong file into memory
            raise ModelUnavailableError(
                f"{where} is not the Light-ASD weights file ({size:,} bytes, expected {ASD_SIZE:,}); "
                "it was not loaded.",
                INSTALL_FIX,
            )
        data = path.read_bytes()
    except OSError as e:
        raise ModelUnavailableError(
            f"Cannot read the Light-ASD weights {where}: {e.strerror}.", INSTALL_FIX
        ) from e
    _check_bytes(data, where, accepted)
    return data


def _local_candidate(path: Path | str | None) -> tuple[Path, str] | None:
    """The file the user chose (argument, then environment), else the cache file if present."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ModelUnavailableError(f"The Light-ASD weights {p} do not exist.", INSTALL_FIX)
        return p, str(p)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise ModelUnavailableError(
                f"{ENV_VAR} points at {p}, which does not exist.",
                f"Fix or unset {ENV_VAR}, or install the weights: `emocli models install asd --from PATH`.",
            )
        return p, f"{p} (from {ENV_VAR})"
    cached = cached_asd_path()
    if cached.is_file():
        return cached, f"{cached} (model cache)"
    return None


def read_asd_weights(path: Path | str | None = None, download: bool = True) -> tuple[bytes, Path]:
    """The verified bytes of the weights file and where they came from.

    Raises ``ModelUnavailableError`` naming the fix when no valid file can be had (missing,
    truncated, wrong checksum, or a download that cannot happen here)."""
    found = _local_candidate(path)
    if found is not None:
        p, where = found
        chosen_by_user = p != cached_asd_path()
        return _read_checked(p, where, KNOWN_SHA256.__contains__ if chosen_by_user else ASD_SHA256.__eq__), p
    if not download:
        raise ModelUnavailableError("The Light-ASD active-speaker weights are not installed.", INSTALL_FIX)
    target = download_asd_weights()
    return _read_checked(target, f"{target} (model cache)", ASD_SHA256.__eq__), target


def asd_available(path: Path | str | None = None) -> bool:
    """True when valid weights are on this machine (no download needed, nothing downloaded)."""
    try:
        read_asd_weights(path, download=False)
    except ModelUnavailableError:
        return False
    return True


def load_asd_state_dict(path: Path | str | None = None) -> dict[str, torch.Tensor]:
    """The upstream state dict (``model.*``, ``lossAV.*``, ``lossV.*``) from verified bytes."""
    import torch

    data, p = read_asd_weights(path)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # pragma: no cover - the checksum matched a file that loads
        raise ModelUnavailableError(f"Cannot read the Light-ASD weights {p}: {e}.", INSTALL_FIX) from e
    if not isinstance(state, dict):  # pragma: no cover - same
        raise ModelUnavailableError(f"The Light-ASD weights {p} are not a state dict.", INSTALL_FIX)
    return state


# ---------------------------------------------------------------------------- install / download
def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https", "file")


def _store(fill: Callable[[BinaryIO], None], what: str) -> Path:
    """Write the cache file through a temporary file; keep it only if its checksum is right."""
    target = cached_asd_path()
    created = [d for d in (target.parent, target.parent.parent) if not d.is_dir()]  # light-asd, models
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_output(target) as tmp:
            with tmp.open("wb") as out:
                fill(out)
            size = tmp.stat().st_size
            if size > ASD_SIZE:
                raise ModelUnavailableError(
                    f"{what} is not the Light-ASD weights file ({size:,} bytes, expected {ASD_SIZE:,}); "
                    "nothing was installed.",
                    INSTALL_FIX,
                )
            _check_bytes(tmp.read_bytes(), what, ASD_SHA256.__eq__, "nothing was installed")
    except BaseException:
        for d in created:  # leave nothing behind (rmdir only removes empty folders)
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return target


def _fetch(url: str) -> Callable[[BinaryIO], None]:
    def fill(out: BinaryIO) -> None:
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                got = 0
                while block := resp.read(1 << 20):
                    got += len(block)
                    if got > _MAX_DOWNLOAD:
                        raise ModelUnavailableError(
                            f"{url} sent more than {_MAX_DOWNLOAD:,} bytes.", INSTALL_FIX
                        )
                    out.write(block)
        except OSError as e:  # URLError, HTTPError, timeouts
            reason = getattr(e, "reason", None) or e
            raise ModelUnavailableError(
                f"Downloading the Light-ASD weights from {url} failed: {reason}.", INSTALL_FIX
            ) from e

    return fill


def download_asd_weights(url: str | None = None) -> Path:
    """Download the weights once into the model cache (checked); offline, fail fast naming the fix."""
    url = url or ASD_URL
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https"):
        require_download(
            "The Light-ASD active-speaker weights file", host=parsed.hostname or "github.com", fix=INSTALL_FIX
        )
    return _store(_fetch(url), url)


def install_asd_weights(source: str | Path) -> Path:
    """Copy (a path) or download (an http(s)/file URL) the weights into the model cache, checked.

    A wrong file is refused with one line and leaves nothing in the cache; a valid file already
    there is replaced atomically."""
    text = str(source)
    if _is_url(text):
        return download_asd_weights(text)
    src = Path(text).expanduser()
    if not src.is_file():
        raise InputError(
            f"{src} does not exist or is not a file.", "Give the path of finetuning_TalkSet.model."
        )
    if src.stat().st_size > ASD_SIZE:
        raise ModelUnavailableError(
            f"{src} is not the Light-ASD weights file ({src.stat().st_size:,} bytes, expected {ASD_SIZE:,}); "
            "nothing was installed.",
            INSTALL_FIX,
        )

    def copy(out: BinaryIO) -> None:
        with src.open("rb") as f:
            shutil.copyfileobj(f, out)

    return _store(copy, str(src))
