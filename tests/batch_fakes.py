"""A deterministic stand-in labeler for batch tests (importable by spawned workers and Ray actors)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from emocli import EMOTIONS
from emocli.errors import InputError


class FakeLabeler:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def __call__(self, path: Path, rel: str) -> list[dict]:
        time.sleep(self.delay)
        data = path.read_bytes()
        if data.startswith(b"CORRUPT"):
            raise InputError(f"{path} is not a media file ffmpeg can read.", "Give a video or audio file.")
        h = hashlib.sha256(data).digest()
        scores = [b + 1 for b in h[:7]]
        total = sum(scores)
        probs = {e: round(s / total, 4) for e, s in zip(EMOTIONS, scores, strict=True)}
        top = max(probs, key=lambda k: probs[k])
        row = {"file": rel, "status": "ok", "emotion": top, "confidence": probs[top], **probs}
        row.update(duration=len(data), n_speakers=1, transcript=f"text of {rel}, with a comma", error="")
        return [row]


class FakeFactory:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def __call__(self) -> FakeLabeler:
        return FakeLabeler(self.delay)
