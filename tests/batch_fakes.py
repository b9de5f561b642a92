"""A deterministic stand-in labeler for batch tests (importable by spawned workers and Ray actors)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emocli import EMOTIONS
from emocli.batch_records import ClipRecord, UtteranceRecord
from emocli.batch_speakers import Voice
from emocli.errors import InputError
from emocli.features.audio import SpeakerStats


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


# -- speaker groups (two passes) ----------------------------------------------------------------


def fake_voice(name: str) -> np.ndarray:
    """A unit 'voice embedding' fixed by a name: the same name, the same voice."""
    v = np.frombuffer(hashlib.sha256(name.encode()).digest(), dtype=np.uint8).astype(np.float32) - 127.5
    return v / np.linalg.norm(v)


class FakeVoiceLabeler:
    """Clips are text files ``VOICE VALUE [SECONDS]``: one utterance whose raw audio feature is
    (VALUE, 1) and whose voice is ``fake_voice(VOICE)``. The label is joy when the value lies above its
    speaker's mean (read against the group's statistics, or against 0 for a clip alone), else
    sadness. ``log`` (a folder) gets one file per call, to count the passes' work."""

    def __init__(self, spec: FakeVoiceFactory) -> None:
        self.spec = spec

    def _note(self, what: str, rel: str) -> None:
        if self.spec.log is not None:
            name = f"{what}-{rel.replace('/', '_')}-{time.time_ns()}"
            (self.spec.log / name).write_text("")

    def extract(self, path: Path, rel: str, render: bool = True) -> ClipRecord:
        time.sleep(self.spec.delay)
        self._note("extract", rel)
        data = path.read_bytes()
        if data.startswith(b"CORRUPT"):
            raise InputError(f"{path} is not a media file ffmpeg can read.", "Give a video or audio file.")
        voice, value, *rest = data.decode().split()
        seconds = float(rest[0]) if rest else 2.0
        audio = np.array([float(value), 1.0], np.float32)
        utt = UtteranceRecord(0.0, seconds, "SPEAKER_00", f"words of {rel}", None, audio)
        rec = ClipRecord(
            rel,
            "",
            None,
            seconds,
            ["SPEAKER_00"],
            [utt],
            [Voice(rel, "SPEAKER_00", seconds, fake_voice(voice))],
        )
        if render and self.spec.annotate_dir is not None:
            self._write(rel, self.finish(rec, None))
        return rec

    def finish(self, rec: ClipRecord, stats: Mapping[str, SpeakerStats] | None = None) -> list[dict]:
        if rec.fixed_rows is not None:
            return rec.fixed_rows
        if self.spec.fail_at is not None and rec.rel == self.spec.fail_at:
            raise KeyboardInterrupt  # stands for a kill in the second pass
        x = float(rec.utterances[0].audio[0])  # type: ignore[index]
        s = (stats or {}).get("SPEAKER_00")
        z = x if s is None else (x - s.mean[0]) / np.sqrt(s.var[0] + 1e-6)
        top = "joy" if z > 0 else "sadness"
        p = round(1 / (1 + np.exp(-abs(z))), 4)
        probs = {e: 0.0 for e in EMOTIONS} | {top: p, "neutral": round(1 - p, 4)}
        row = {"file": rec.rel, "status": "ok", "emotion": top, "confidence": f"{p:.4f}"}
        row.update({e: f"{v:.4f}" for e, v in probs.items()})
        row.update(duration=f"{rec.duration:.3f}", n_speakers=1, transcript=f"z={z:.6f}", error="")
        return [row]

    def __call__(self, path: Path, rel: str) -> list[dict]:
        return self.finish(self.extract(path, rel))

    def _write(self, rel: str, rows: list[dict]) -> None:
        assert self.spec.annotate_dir is not None
        out = self.spec.annotate_dir / f"{rel}.label"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rows[0]["emotion"])

    def render(self, path: Path, rel: str, stats: Mapping[str, SpeakerStats]) -> None:
        self._note("render", rel)
        rec = self.extract(path, rel, render=False)
        self._write(rel, self.finish(rec, stats))


@dataclass(frozen=True)
class FakeVoiceFactory:
    delay: float = 0.0
    annotate_dir: Path | None = None
    log: Path | None = None
    fail_at: str | None = None

    def __call__(self) -> FakeVoiceLabeler:
        return FakeVoiceLabeler(self)

    def fingerprint(self) -> str:
        return "fake-voices-v1"

    def finisher(self) -> FakeVoiceLabeler:
        return FakeVoiceLabeler(self)
