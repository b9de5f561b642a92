"""Where models come from: an XDG cache folder, checksums, and offline-first rules.

Loaders live next to the code that uses them (speech/, faces/, features/) and use these helpers.
Rules every loader follows: no work at import time; raise ``ModelUnavailableError`` (never return
None) with the fix in the message; fail in well under a second when a download cannot happen.
"""

from __future__ import annotations

import hashlib
import os
import socket
from functools import lru_cache
from pathlib import Path

from emocli.errors import ModelUnavailableError


def cache_dir() -> Path:
    """``$EMOCLI_CACHE_DIR``, else ``$XDG_CACHE_HOME/emocli``, else ``~/.cache/emocli``."""
    env = os.environ.get("EMOCLI_CACHE_DIR")
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "emocli"
    root.mkdir(parents=True, exist_ok=True)
    return root


def package_dir(package: str) -> Path | None:
    """An installed package's folder, found without importing it (imports can be slow or noisy)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def offline_requested() -> bool:
    """True when the user asked for no downloads (``HF_HUB_OFFLINE`` or ``EMOCLI_OFFLINE``)."""
    return any(
        os.environ.get(k, "").strip().lower() in ("1", "true", "yes")
        for k in ("HF_HUB_OFFLINE", "EMOCLI_OFFLINE")
    )


@lru_cache(maxsize=8)
def can_reach(host: str = "huggingface.co", port: int = 443, timeout: float = 0.5) -> bool:
    """A quick TCP check, so that a loader can fail in under a second instead of after retries."""
    if offline_requested():
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_download(what: str, host: str = "huggingface.co", fix: str = "") -> None:
    """Raise a clear error at once when ``what`` would need a download that cannot happen here."""
    if not can_reach(host):
        reason = "offline mode is set" if offline_requested() else f"{host} cannot be reached"
        raise ModelUnavailableError(
            f"{what} is not in the local cache and must be downloaded, but {reason}.",
            fix or "Run once on a machine with internet (the cache is reused), or pass a local folder.",
        )
