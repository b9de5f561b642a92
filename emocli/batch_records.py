"""What batch's first pass keeps of a clip (``ClipRecord``) and where: one file per clip, so a killed
run resumes without reading the clips it already read.

The store is a hidden folder beside the results file (``.NAME.clips/``), one ``.npz`` per clip
(numbers as arrays, the rest as UTF-8 JSON in a byte array; loaded with ``allow_pickle=False``),
written atomically; a fresh (not resumed) run empties it and a finished run removes it. A record
written with other options (``fingerprint``) or unreadable is read again from the clip.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emocli.batch_speakers import Voice
from emocli.fileio import atomic_output

Row = dict[str, Any]


@dataclass
class UtteranceRecord:
    start: float
    end: float
    speaker: str  # label inside the clip
    text: str  # the words (rows show them)
    model_text: str | None  # what the text branch reads (None: text not used)
    audio: np.ndarray | None = None  # (D,) raw pooled encoder states (before standardisation)
    visual: np.ndarray | None = None  # (F, 7) frame expression probabilities of the speaker's face


@dataclass
class ClipRecord:
    rel: str
    fingerprint: str
    # Rows pass 2 writes as they are: the clip's error row, or a labeler's reading of it alone
    # (one without two passes). None: to be read with the speakers' groups.
    fixed_rows: list[Row] | None = None
    duration: float = 0.0
    speakers: list[str] = field(default_factory=list)
    utterances: list[UtteranceRecord] = field(default_factory=list)
    voices: list[Voice] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.fixed_rows is None

    def audio_by_speaker(self) -> dict[str, np.ndarray]:
        """Speaker label -> (k, D) the raw audio rows of its utterances, in time order."""
        out: dict[str, list[np.ndarray]] = {}
        for u in self.utterances:
            if u.audio is not None:
                out.setdefault(u.speaker, []).append(u.audio)
        return {s: np.stack(rows) for s, rows in out.items()}


def _bytes(obj: object) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def save_record(path: Path, rec: ClipRecord) -> None:
    arrays: dict[str, np.ndarray] = {}
    utts = []
    for i, u in enumerate(rec.utterances):
        if u.audio is not None:
            arrays[f"a{i}"] = np.asarray(u.audio, dtype=np.float32)
        if u.visual is not None:
            arrays[f"v{i}"] = np.asarray(u.visual, dtype=np.float32)
        utts.append([u.start, u.end, u.speaker, u.text, u.model_text])
    voices = []
    for j, v in enumerate(rec.voices):
        if v.embedding is not None:
            arrays[f"e{j}"] = np.asarray(v.embedding, dtype=np.float32)
        voices.append([v.label, v.seconds])
    meta = {"rel": rec.rel, "fingerprint": rec.fingerprint, "fixed_rows": rec.fixed_rows}
    meta.update(duration=rec.duration, speakers=rec.speakers, utterances=utts, voices=voices)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, tmp.open("wb") as f:
        np.savez(f, meta=_bytes(meta), **arrays)


def load_record(path: Path) -> ClipRecord:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode("utf-8"))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    utts = [
        UtteranceRecord(s, e, spk, text, model_text, arrays.get(f"a{i}"), arrays.get(f"v{i}"))
        for i, (s, e, spk, text, model_text) in enumerate(meta["utterances"])
    ]
    voices = [
        Voice(meta["rel"], label, sec, arrays.get(f"e{j}")) for j, (label, sec) in enumerate(meta["voices"])
    ]
    return ClipRecord(meta["rel"], meta["fingerprint"], meta["fixed_rows"], meta["duration"],
                      meta["speakers"], utts, voices)  # fmt: skip


class RecordStore:
    """The first pass's records of one results file (see the module docstring)."""

    def __init__(self, output: Path, fingerprint: str) -> None:
        self.root = Path(output).with_name(f".{Path(output).name}.clips")
        self.fingerprint = fingerprint

    def _path(self, rel: str) -> Path:
        return self.root / f"{hashlib.sha256(rel.encode('utf-8')).hexdigest()[:32]}.npz"

    def start(self, resume: bool) -> None:
        if not resume:
            self.clear()

    def get(self, rel: str) -> ClipRecord | None:
        path = self._path(rel)
        if not path.is_file():
            return None
        try:
            rec = load_record(path)
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
            return None  # torn or foreign: read the clip again
        return rec if rec.rel == rel and rec.fingerprint == self.fingerprint else None

    def has(self, rel: str) -> bool:
        return self.get(rel) is not None

    def put(self, rec: ClipRecord) -> None:
        rec.fingerprint = self.fingerprint
        save_record(self._path(rec.rel), rec)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
