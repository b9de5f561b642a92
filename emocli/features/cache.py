"""On-disk feature cache: one ``.npy`` per item, keyed by the input's content and the extractor version.

Layout: ``<cache_dir>/features/<namespace>/<key[:2]>/<key>.npy``. Keys are SHA-256 hex digests
of everything that shapes the features (file bytes or text, time span, extractor version), so a
changed input or a new extractor version never reads stale features, and a second run reuses
them. Arrays are loaded with ``allow_pickle=False``; a corrupt entry is recomputed, not trusted.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from emocli.fileio import atomic_output
from emocli.models_registry import cache_dir


@lru_cache(maxsize=65536)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (memoised per path, size and modification time within a run)."""
    st = Path(path).stat()
    return _file_digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def make_key(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


class FeatureCache:
    def __init__(self, namespace: str, root: Path | None = None) -> None:
        self.root = (root or cache_dir() / "features") / namespace
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return arr

    def put(self, key: str, array: np.ndarray) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp, tmp.open("wb") as f:
            np.save(f, np.ascontiguousarray(array), allow_pickle=False)
