from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    # Real data is never committed: EMOCLI_DATA points at it, defaulting to ../shared/data.
    return Path(os.environ.get("EMOCLI_DATA", ROOT.parent / "shared" / "data")).expanduser()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = _data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set EMOCLI_DATA)")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never touch the user's cache or the network.
    cache = tmp_path_factory.getbasetemp() / "emocli-cache"
    monkeypatch.setenv("EMOCLI_CACHE_DIR", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("EMOCLI_OFFLINE", "1")


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread for the test (``pytestmark = pytest.mark.usefixtures(...)``): small
    tensors gain nothing from OpenMP threads, which stall badly on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
