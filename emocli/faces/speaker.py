"""The speaker's face per utterance, and the utterance's visual scores by temporal pooling.

The rule, tried in this order for each utterance (its name is stored in ``Utterance.face_rule``):

1. ``no_face``: no track is on screen for at least ``min_presence`` of the utterance's samples:
   the visual modality is missing (scores None; the model masks it).
1b. ``asd``: active speaker detection chose the face that says most of the utterance's words
   (``emocli.speakers``, from ``emocli.faces.asd``): that track, when it is on screen.
1c. ``off_screen``: active speaker detection found that none of the faces on screen says it (a voice
   heard but not seen, e.g. an interviewer off camera): the visual modality is missing.
2. ``only_face``: exactly one track is on screen: it is the speaker's face.
3. ``mouth_motion``: several faces; the one whose mouth moves most while this speaker talks.
   A track's evidence is its mean mouth motion (``track.mouth_motion``: mouth change minus
   half the nose band's change between consecutive samples) over the utterance, weighted by the audio
   activity when given, minus its own mean over samples where this speaker is silent (so a face
   that always moves, e.g. a gesturing listener, does not win). Chosen when it leads the runner-up
   by ``mouth_margin`` with at least ``min_motion_samples`` samples each.
4. ``presence``: else the track on screen through most of this speaker's turns (all utterances
   of the speaker), when it leads the runner-up by ``presence_margin``.
5. ``all_faces``: else no single face can be told apart: every face on screen is weighted
   equally per frame (M2FNet's way of using all faces; ``face_track`` None).

The utterance's frames are the samples inside it where the chosen track was detected (for
``all_faces``: the mean over the faces of each sample). Temporal softmax pooling
(``emocli.model.pooling``) turns their (F, 7) probabilities into the utterance's (7,) scores and a
per-frame importance (F,); ``pooling="mean"`` gives the frame-averaging baseline instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emocli import EMOTIONS
from emocli.faces.video import VideoFaces
from emocli.results import Scores, Utterance, scores_from_probs

OFF_SCREEN = -1  # ``chosen`` value: ASD says no face on screen speaks this utterance
RULES: tuple[str, ...] = (
    "no_face",
    "asd",
    "off_screen",
    "only_face",
    "mouth_motion",
    "presence",
    "all_faces",
)


@dataclass(frozen=True)
class SpeakerOptions:
    min_presence: float = 0.3  # share of the utterance's samples a track must be detected in
    mouth_margin: float = 0.05  # lead in mouth motion (standardised patch units) to decide by it
    min_motion_samples: int = 3
    presence_margin: float = 0.15  # lead in share of the speaker's turns to decide by presence
    pooling: str = "softmax"  # "softmax" (temporal softmax pooling) or "mean" (frame averaging)
    tau: float | None = None  # softmax temperature; None -> emocli.model.pooling.DEFAULT_TAU
    smoothed: bool = True  # pool the time-smoothed probabilities (see FaceOptions.smooth_s)


@dataclass(frozen=True)
class SpeechActivity:
    """Audio activity over time (e.g. the RMS envelope): ``level`` in [0, 1] at ``times`` (s)."""

    times: np.ndarray  # (T,)
    level: np.ndarray  # (T,)

    def at(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.times, self.level, left=0.0, right=0.0)

    @staticmethod
    def from_audio(samples: np.ndarray, sample_rate: int = 16_000, hop_s: float = 0.02) -> SpeechActivity:
        """RMS energy per ``hop_s`` window, mapped to [0, 1] between the 10th and 95th percentile."""
        hop = max(1, int(hop_s * sample_rate))
        n = len(samples) // hop
        if n == 0:
            return SpeechActivity(np.zeros(1), np.zeros(1))
        rms = np.sqrt((samples[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(1))
        db = 20 * np.log10(rms + 1e-5)
        lo, hi = np.percentile(db, [10, 95])
        level = np.clip((db - lo) / max(hi - lo, 1e-3), 0.0, 1.0)
        return SpeechActivity((np.arange(n) + 0.5) * hop_s, level)


@dataclass(frozen=True)
class UtteranceVisual:
    """The visual modality of one utterance."""

    start: float
    end: float
    speaker: str
    track: int | None  # the speaker's face track; None for no_face and all_faces
    rule: str  # one of RULES
    times: np.ndarray  # (F,) sample times of the frames used, seconds
    frame_probs: np.ndarray  # (F, 7) their expression probabilities, EMOTIONS order
    scores: np.ndarray | None  # (7,) pooled visual scores; None when there is no face
    importance: np.ndarray  # (F,) frame importance from the pooling, sums to 1 (empty if F=0)

    @property
    def has_face(self) -> bool:
        return self.scores is not None

    def scores_dict(self) -> Scores | None:
        return None if self.scores is None else scores_from_probs(self.scores)


def _samples_in(vf: VideoFaces, start: float, end: float) -> np.ndarray:
    """Indices of sampled frames inside [start, end); for a span between samples, the samples whose
    interval (half a sample interval either side; the last one to the end) overlaps it."""
    t = vf.sample_times
    s = np.flatnonzero((t >= start) & (t < end))
    if len(s) == 0 and len(t):
        h = 0.5 / max(vf.sample_fps, 1e-6)
        lo, hi = t - h, t + h
        lo[0], hi[-1] = -np.inf, np.inf
        s = np.flatnonzero((lo < end) & (hi > start))
    return s


def _pool(probs: np.ndarray, how: str, tau: float | None) -> tuple[np.ndarray, np.ndarray]:
    from emocli.model.pooling import DEFAULT_TAU, pool_frame_probs

    if how == "mean":
        return probs.mean(0), np.full(len(probs), 1.0 / len(probs), np.float32)
    if how != "softmax":
        raise ValueError(f"unknown pooling {how!r}: softmax or mean")
    scores, importance = pool_frame_probs(probs, tau=DEFAULT_TAU if tau is None else tau)
    return scores / max(float(scores.sum()), 1e-9), importance


def utterance_visuals(
    video_faces: VideoFaces,
    utterances: Sequence[Utterance],
    speech_activity: SpeechActivity | None = None,
    options: SpeakerOptions = SpeakerOptions(),
    chosen: Sequence[int | None] | None = None,
) -> list[UtteranceVisual]:
    """Per utterance: the speaker's face (by the rule above) and its pooled visual scores.

    ``chosen`` (one per utterance) is the track active speaker detection found saying it, or None."""
    vf, o = video_faces, options
    d_time = vf.det_times()
    probs_all = vf.det_probs_smooth if o.smoothed else vf.det_probs
    # Per speaker: which samples fall in their turns (for presence and the silent baseline).
    speaker_samples: dict[str, np.ndarray] = {}
    for u in utterances:
        s = _samples_in(vf, u.start, u.end)
        prev = speaker_samples.get(u.speaker, np.zeros(0, np.int64))
        speaker_samples[u.speaker] = np.union1d(prev, s)
    out: list[UtteranceVisual] = []
    for i, u in enumerate(utterances):
        s = _samples_in(vf, u.start, u.end)
        rows = np.flatnonzero(np.isin(vf.det_sample, s))
        tracks, counts = np.unique(vf.det_track[rows], return_counts=True)
        present = tracks[counts >= max(1.0, o.min_presence * len(s))] if len(s) else tracks[:0]
        track: int | None = None
        pick = chosen[i] if chosen is not None and i < len(chosen) else None
        if len(present) == 0 or pick == OFF_SCREEN:
            rule = "no_face" if len(present) == 0 else "off_screen"
        elif pick is not None and pick in tracks:
            rule, track = "asd", int(pick)
        elif len(present) == 1:
            rule, track = "only_face", int(present[0])
        else:
            track = _by_mouth(vf, rows, present, speaker_samples[u.speaker], d_time, speech_activity, o)
            rule = "mouth_motion"
            if track is None:
                track = _by_presence(vf, present, speaker_samples[u.speaker], o)
                rule = "presence" if track is not None else "all_faces"
        if rule in ("no_face", "off_screen"):
            z = np.zeros(0)
            out.append(UtteranceVisual(u.start, u.end, u.speaker, None, rule, z,
                                       np.zeros((0, len(EMOTIONS)), np.float32), None, z))  # fmt: skip
            continue
        if track is not None:
            r = rows[vf.det_track[rows] == track]
            times, fprobs = d_time[r], probs_all[r]
        else:  # all_faces: the mean over the faces on screen, per sample
            keep = rows[np.isin(vf.det_track[rows], present)]
            samples = np.unique(vf.det_sample[keep])
            times = vf.sample_times[samples]
            fprobs = np.stack([probs_all[keep[vf.det_sample[keep] == j]].mean(0) for j in samples])
        order = np.argsort(times, kind="stable")
        times, fprobs = times[order], fprobs[order].astype(np.float32)
        scores, importance = _pool(fprobs, o.pooling, o.tau)
        out.append(UtteranceVisual(u.start, u.end, u.speaker, track, rule, times, fprobs,
                                   scores.astype(np.float32), importance.astype(np.float32)))  # fmt: skip
    return out


def _by_mouth(
    vf: VideoFaces,
    rows: np.ndarray,
    present: np.ndarray,
    speaker_samples: np.ndarray,
    d_time: np.ndarray,
    activity: SpeechActivity | None,
    o: SpeakerOptions,
) -> int | None:
    """Rule 3: the track whose mouth moves most in this utterance beyond its own silent baseline."""
    evidence: dict[int, float] = {}
    for k in present:
        r = rows[(vf.det_track[rows] == k) & np.isfinite(vf.det_mouth[rows])]
        if len(r) < o.min_motion_samples:
            return None
        w = activity.at(d_time[r]) if activity is not None else np.ones(len(r))
        if w.sum() < 1e-6:
            w = np.ones(len(r))
        talk = float((vf.det_mouth[r] * w).sum() / w.sum())
        # Baseline: the same face while this speaker is silent (others talk, or nobody does).
        quiet = np.flatnonzero((vf.det_track == k) & ~np.isin(vf.det_sample, speaker_samples))
        quiet = quiet[np.isfinite(vf.det_mouth[quiet])]
        base = float(vf.det_mouth[quiet].mean()) if len(quiet) >= o.min_motion_samples else 0.0
        evidence[int(k)] = talk - base
    ranked = sorted(evidence.items(), key=lambda kv: kv[1], reverse=True)
    if ranked[0][1] - ranked[1][1] >= o.mouth_margin:
        return ranked[0][0]
    return None


def _by_presence(
    vf: VideoFaces, present: np.ndarray, speaker_samples: np.ndarray, o: SpeakerOptions
) -> int | None:
    """Rule 4: the track detected in the largest share of this speaker's sampled frames."""
    in_turns = np.isin(vf.det_sample, speaker_samples)
    share = {
        int(k): float(np.sum(in_turns & (vf.det_track == k))) / max(1, len(speaker_samples)) for k in present
    }
    ranked = sorted(share.items(), key=lambda kv: kv[1], reverse=True)
    if ranked[0][1] - ranked[1][1] >= o.presence_margin:
        return ranked[0][0]
    return None


def apply_to_utterances(utterances: Sequence[Utterance], visuals: Sequence[UtteranceVisual]) -> None:
    """Store each utterance's face track, rule and visual scores (None = missing modality)."""
    for u, v in zip(utterances, visuals, strict=True):
        u.face_track = v.track
        u.face_rule = v.rule
        u.modality_scores["visual"] = v.scores_dict()


def speaker_track_at(visuals: Sequence[UtteranceVisual], time: float) -> int | None:
    """The speaker's face track at ``time`` (s): that of the utterance covering it, else None."""
    for v in visuals:
        if v.start <= time < v.end and v.track is not None:
            return v.track
    return None
