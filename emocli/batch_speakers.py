"""Who speaks in which clip of a folder: ``emocli batch``'s speaker groups for voice normalisation.

The audio head reads a voice against that speaker's own statistics (``speaker_standardise``), as
training and ``evaluate`` do over all of an actor's clips. A clip labelled alone hears its speaker
once or a few times, and reads them against the average training speaker instead (RAVDESS actors
17-18, voice alone: 7-class accuracy 0.775 alone against 0.858 per actor). So batch first reads every
clip (pass 1: features and a voice embedding per speaker of each clip, ``ClipRecord``), then groups
those voices across the folder and standardises each group over all its utterances (pass 2).

Groups come from, in this order:
- ``pattern``: a regular expression on each clip's path (relative to the folder, ``/``-separated)
  whose first group is the speaker id, e.g. RAVDESS ``(\\d+)\\.\\w+$``: every voice of a matching
  clip is that speaker (the user says a clip is one person);
- ``mode="auto"``: the others by voice: GE2E embeddings (``emocli.speech.embeddings``) clustered by
  average linkage, joining groups while their voices are on average at least ``VOICE_SIMILARITY``
  alike (cosine; ``LONG_VOICE_SIMILARITY`` among voices heard ``LONG_VOICE_SECONDS`` or longer);
- ``mode="clip"``: each voice of each clip alone (batch then needs a single pass).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emocli.errors import InputError
from emocli.features.audio import SpeakerStats

SPEAKER_MODES = ("auto", "clip")
# Mean cosine similarity (GE2E) at which two groups of voices join. The danger is splitting one
# person, not joining two: emotion moves a voice's embedding (RAVDESS actors 17-18, 1.5 s of acted
# speech per clip: same actor median 0.71, other actors median 0.54, 99th percentile 0.78), so a
# strict rule splits an actor by emotion, and standardising each part over itself removes the
# emotion (7-class accuracy 0.63-0.75 for complete linkage at 0.55-0.8, against 0.775 for every clip
# alone), while one group for both actors costs little (0.783). Average linkage at 0.60 finds the two
# actors exactly (0.850; 0.858, evaluate's, since a clip of one utterance is read whole); at 0.65 it
# splits one (0.783). These figures, but the 0.858, predate the whole-clip reading.
# benchmarks/bench_batch_vs_evaluate.py.
VOICE_SIMILARITY = 0.60
# A voice heard longer gives a steadier embedding (another person's stays as far): voices with at
# least LONG_VOICE_SECONDS of speech are grouped among themselves at LONG_VOICE_SIMILARITY. The 7
# shared talking-head clips (4-8 s of speech, different people 0.40-0.63, one voice in two clips
# 0.98) keep each person apart; RAVDESS clips (at most 3.0 s of speech) are short voices.
LONG_VOICE_SECONDS = 3.5
LONG_VOICE_SIMILARITY = 0.75
MIN_VOICE_SECONDS = 1.0  # less speech than this gives too noisy a voice embedding to join anyone
MAX_CLUSTER = 4000  # voices clustered together at most (the linkage needs O(n^2) memory)


@dataclass(frozen=True)
class SpeakerGrouping:
    """How batch groups the clips' voices (see the module docstring)."""

    mode: str = "auto"
    pattern: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in SPEAKER_MODES:
            raise InputError(f"Unknown --speakers {self.mode!r}.", "Choose auto or clip.")
        if self.pattern is not None:
            try:
                rx = re.compile(self.pattern)
            except re.error as e:
                raise InputError(
                    f"--speaker-pattern {self.pattern!r} is not a regular expression ({e}).",
                    "Give a regular expression whose first group is the speaker, e.g. '(\\d+)\\.\\w+$'.",
                ) from None
            if rx.groups < 1:
                raise InputError(
                    f"--speaker-pattern {self.pattern!r} has no group.",
                    "Put the speaker id in parentheses, e.g. 'Actor_(\\d+)/'.",
                )

    @property
    def two_pass(self) -> bool:
        """Whether clips must be read before any can be labelled (a clip alone needs one pass)."""
        return self.mode != "clip" or self.pattern is not None

    def speaker_of_path(self, rel: str) -> str | None:
        """The speaker id the pattern finds in ``rel`` (None: no pattern, no match or empty group)."""
        if self.pattern is None:
            return None
        m = re.search(self.pattern, rel)
        return m.group(1) if m is not None and m.group(1) else None


@dataclass
class Voice:
    """One speaker of one clip, as pass 1 heard them."""

    rel: str  # the clip
    label: str  # the speaker label inside the clip (SPEAKER_00 ...)
    seconds: float  # speech used for the embedding
    embedding: np.ndarray | None  # (256,) unit GE2E embedding; None: too little speech


def group_voices(voices: Sequence[Voice], grouping: SpeakerGrouping) -> dict[tuple[str, str], str]:
    """(clip, label) -> group name, for every voice. Deterministic: the same voices (in any order)
    give the same groups, each named after its first (clip, label) in sorted order."""
    ordered = sorted(voices, key=lambda v: (v.rel, v.label))
    key: dict[tuple[str, str], str] = {}
    rest: list[Voice] = []
    for v in ordered:
        spk = grouping.speaker_of_path(v.rel)
        if spk is not None:
            key[(v.rel, v.label)] = f"pattern:{spk}"
        elif grouping.mode == "auto" and v.embedding is not None and v.seconds >= MIN_VOICE_SECONDS:
            rest.append(v)
        else:
            key[(v.rel, v.label)] = f"clip:{v.rel}#{v.label}"
    short = [v for v in rest if v.seconds < LONG_VOICE_SECONDS]
    long = [v for v in rest if v.seconds >= LONG_VOICE_SECONDS]
    for voices_, similarity in ((short, VOICE_SIMILARITY), (long, LONG_VOICE_SIMILARITY)):
        for start in range(0, len(voices_), MAX_CLUSTER):  # a huge folder: clustered in sorted blocks
            block = voices_[start : start + MAX_CLUSTER]
            labels = cluster_embeddings(np.stack([v.embedding for v in block]), similarity)  # type: ignore[misc]
            first: dict[int, Voice] = {}
            for v, c in zip(block, labels, strict=True):
                f = first.setdefault(int(c), v)
                key[(v.rel, v.label)] = f"voice:{f.rel}#{f.label}"
    return key


def cluster_embeddings(x: np.ndarray, similarity: float = VOICE_SIMILARITY) -> np.ndarray:
    """(n, d) unit embeddings -> (n,) cluster ids; average linkage on cosine distance, cut where
    two groups' voices would be on average less than ``similarity`` alike."""
    n = len(x)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    d = np.clip(pdist(np.asarray(x, dtype=np.float64), "cosine"), 0.0, 2.0)
    tree = linkage(d, method="average")
    return fcluster(tree, t=1.0 - similarity, criterion="distance").astype(np.int64)


class GroupStats:
    """Per group, the running sums of its raw audio feature rows, float64, in the order added."""

    def __init__(self) -> None:
        self._n: dict[str, int] = {}
        self._s1: dict[str, np.ndarray] = {}
        self._s2: dict[str, np.ndarray] = {}

    def add(self, group: str, rows: np.ndarray) -> None:
        x = np.asarray(rows, dtype=np.float64)
        if len(x) == 0:
            return
        if group not in self._n:
            self._n[group] = 0
            self._s1[group] = np.zeros(x.shape[1])
            self._s2[group] = np.zeros(x.shape[1])
        self._n[group] += len(x)
        self._s1[group] += x.sum(0)
        self._s2[group] += np.square(x).sum(0)

    def count(self, group: str) -> int:
        return self._n.get(group, 0)

    def get(self, group: str) -> SpeakerStats:
        n = self._n[group]
        mean = self._s1[group] / n
        var = np.maximum(self._s2[group] / n - np.square(mean), 0.0)
        return SpeakerStats(n, mean, var)


def group_clip_counts(key: dict[tuple[str, str], str]) -> dict[str, int]:
    """Group name -> how many clips have a voice in it."""
    clips: dict[str, set[str]] = {}
    for (rel, _), g in key.items():
        clips.setdefault(g, set()).add(rel)
    return {g: len(c) for g, c in clips.items()}


def fingerprint(*parts: object) -> str:
    """A short digest of what shapes pass 1 (options, model), stored with each clip's record."""
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:16]
