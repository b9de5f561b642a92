"""Speaker diarization: who speaks when, behind one small interface.

Backends are chosen by name from ``DIARIZERS``:

- ``embedded`` (default, offline): the speech regions from the VAD are cut into 1.6 s windows
  (``hop`` apart), each window is embedded with the GE2E voice encoder (embeddings.py), the
  windows are clustered (clustering.py, which also decides the number of speakers) and every
  10-50 ms frame of speech takes the label its covering windows vote for (weighted towards each
  window's centre). Memory is bounded: the mel spectrogram is computed one speech region at a
  time and at most ``max_cluster_windows`` windows are clustered (the rest join the nearest
  speaker).
- ``pyannote``: pyannote.audio 4 (optional extra, gated weights), see pyannote_backend.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from emocli.errors import EmocliError
from emocli.hooks import ProgressHook, null_hook
from emocli.speech.utterances import Turn
from emocli.speech.vad import Region

SAMPLE_RATE = 16_000


@dataclass
class Diarization:
    turns: list[Turn]  # sorted by start; may overlap for backends that detect overlap
    speakers: list[str]  # labels in order of first appearance
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # speaker -> (dim,) unit vector
    # The speaker counts the voice evidence allows (see clustering.estimate_clusters); None: unknown.
    count_range: tuple[int, int] | None = None


class Diarizer(Protocol):
    name: str
    version: str

    def __call__(
        self,
        audio: np.ndarray,
        speech: Sequence[Region],
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 8,
        hook: ProgressHook = null_hook,
    ) -> Diarization:
        """Turns of 16 kHz mono ``audio``, given its speech regions (seconds)."""


def speaker_name(i: int) -> str:
    return f"SPEAKER_{i:02d}"


def check_speaker_bounds(num_speakers: int | None, min_speakers: int, max_speakers: int) -> None:
    """One clear line for impossible --num-speakers / --min-speakers / --max-speakers values."""
    if num_speakers is not None and num_speakers < 1:
        raise EmocliError(f"--num-speakers must be at least 1 (got {num_speakers}).")
    if min_speakers < 1:
        raise EmocliError(f"--min-speakers must be at least 1 (got {min_speakers}).")
    if max_speakers < min_speakers:
        raise EmocliError(
            f"--max-speakers ({max_speakers}) is smaller than --min-speakers ({min_speakers}).",
            "Swap or fix the bounds.",
        )


class EmbeddedDiarizer:
    """VAD regions + GE2E window embeddings + spectral clustering with automatic speaker count."""

    name = "embedded"

    def __init__(
        self,
        device: str = "cpu",
        hop: float = 0.25,
        frame: float = 0.05,
        max_cluster_windows: int = 1500,
    ) -> None:
        from emocli.speech.embeddings import VoiceEncoder

        self.encoder = VoiceEncoder(device)
        self.version = f"GE2E {self.encoder.version} + spectral clustering"
        self.hop = hop
        self.frame = frame
        self.max_cluster_windows = max_cluster_windows

    def embed_regions(
        self, audio: np.ndarray, speech: Sequence[Region], hook: ProgressHook = null_hook
    ) -> tuple[np.ndarray, np.ndarray]:
        """Window embeddings (n, 256) and their spans (n, 2) in seconds, region by region."""
        import torch

        from emocli.speech.embeddings import EMBED_DIM, WINDOW_FRAMES, mel_frames

        hop_frames = max(1, round(self.hop * 100))
        embs: list[np.ndarray] = []
        spans: list[tuple[float, float]] = []
        total = sum(e - s for s, e in speech)
        done = 0.0
        for s, e in speech:
            seg = audio[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)]
            done += e - s
            if len(seg) < int(0.3 * SAMPLE_RATE):  # too short to say anything about a voice
                continue
            mel = mel_frames(seg)  # (frames, 40), 10 ms per frame
            if len(mel) <= WINDOW_FRAMES:  # one shorter window over the whole region
                embs.append(self.encoder.embed_mels(torch.from_numpy(mel[None]))[0].cpu().numpy())
                spans.append((s, e))
            else:
                last = len(mel) - WINDOW_FRAMES
                starts = [*range(0, last, hop_frames), last]  # the last one ends with the region
                embs.extend(self.encoder.embed_windows(mel, starts))
                spans.extend((s + f / 100, s + (f + WINDOW_FRAMES) / 100) for f in starts)
            hook("diarize", completed=done, total=total)
        if not embs:
            return np.zeros((0, EMBED_DIM), np.float32), np.zeros((0, 2))
        return np.stack(embs).astype(np.float32), np.array(spans, dtype=np.float64)

    def __call__(
        self,
        audio: np.ndarray,
        speech: Sequence[Region],
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 8,
        hook: ProgressHook = null_hook,
    ) -> Diarization:
        from emocli.speech.clustering import cluster_speakers

        check_speaker_bounds(num_speakers, min_speakers, max_speakers)
        emb, spans = self.embed_regions(audio, speech, hook)
        if len(emb) == 0:  # speech too short to embed: one speaker
            turns = [Turn(s, e, speaker_name(0)) for s, e in speech]
            return Diarization(turns, [speaker_name(0)] if turns else [], {}, (1, 2))
        report: dict[str, object] = {}
        labels = cluster_speakers(
            emb, spans, num_speakers, min_speakers, max_speakers, self.max_cluster_windows, report
        )
        turns = frames_to_turns(spans, labels, speech, len(audio) / SAMPLE_RATE, self.frame)
        speakers = [speaker_name(i) for i in range(int(labels.max()) + 1)]
        embeddings = {}
        for i, name in enumerate(speakers):
            c = emb[labels == i].mean(axis=0)
            embeddings[name] = c / max(float(np.linalg.norm(c)), 1e-8)
        used = {t.speaker for t in turns}
        rng = report.get("count_range")
        return Diarization(
            turns, [s for s in speakers if s in used], embeddings, rng if isinstance(rng, tuple) else None
        )


def frames_to_turns(
    spans: np.ndarray, labels: np.ndarray, speech: Sequence[Region], duration: float, step: float = 0.05
) -> list[Turn]:
    """Label every ``step``-second frame of speech by a vote of the windows covering it.

    Each window votes for its speaker with a triangular weight peaking at its centre (a window's
    edges may hold the previous or next speaker). Speech frames no window covers take the label of
    the nearest voted frame. Consecutive frames with one label form a turn, cut at silences.
    """
    n = int(np.ceil(duration / step)) + 1
    k = int(labels.max()) + 1
    votes = np.zeros((n, k))  # (frames, speakers)
    for (s, e), lab in zip(spans, labels, strict=True):
        a, b = int(s / step), min(n, int(np.ceil(e / step)))
        centres = (np.arange(a, b) + 0.5) * step
        half = max((e - s) / 2, step)
        votes[a:b, lab] += np.clip(1.0 - np.abs(centres - (s + e) / 2) / half, 0.01, None)
    voted = np.flatnonzero(votes.sum(axis=1) > 0)
    frame_label = votes.argmax(axis=1)
    if len(voted) and len(voted) < n:
        # nearest voted frame for frames without votes
        idx = np.searchsorted(voted, np.arange(n)).clip(1, len(voted) - 1)
        left, right = voted[idx - 1], voted[idx]
        nearest = np.where(np.arange(n) - left <= right - np.arange(n), left, right)
        frame_label = np.where(votes.sum(axis=1) > 0, frame_label, frame_label[nearest])
    turns: list[Turn] = []
    for s, e in speech:
        a = round(s / step)
        b = max(a + 1, round(e / step))
        labs = frame_label[a:b]
        cut = np.flatnonzero(np.diff(labs)) + 1
        for lo, hi in zip(np.concatenate([[0], cut]), np.concatenate([cut, [len(labs)]]), strict=True):
            t0 = s if lo == 0 else (a + lo) * step
            t1 = e if hi == len(labs) else (a + hi) * step
            turns.append(Turn(round(float(t0), 3), round(float(t1), 3), speaker_name(int(labs[lo]))))
    return turns


def _pyannote_factory(**kwargs: Any) -> Diarizer:
    from emocli.speech.pyannote_backend import PyannoteDiarizer

    return PyannoteDiarizer(**kwargs)


DIARIZERS: dict[str, Callable[..., Diarizer]] = {
    "embedded": EmbeddedDiarizer,
    "pyannote": _pyannote_factory,
}


def load_diarizer(name: str = "embedded", device: str = "cpu", hf_token: str | None = None) -> Diarizer:
    """Build a diarizer by name (loads its models once; reuse it across files)."""
    if name not in DIARIZERS:
        raise EmocliError(f"Unknown diarizer {name!r}.", f"Choose from {', '.join(DIARIZERS)}.")
    if name == "pyannote":
        return DIARIZERS[name](device=device, hf_token=hf_token)
    return DIARIZERS[name](device=device)
