"""Rules 2-5 of ``emocli.speakers``: faces are people, tracks linked across cuts, words without a face."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from emocli.results import SpeakerFace, SpeakerProfile, Word
from emocli.speakers.evidence import JoinOptions, _word_frames, dub_check, sync_assign, word_faces

if TYPE_CHECKING:
    from emocli.faces.asd import SpeakingActivity
    from emocli.faces.video import VideoFaces

VoiceEmbedder = Callable[[np.ndarray], np.ndarray]
"""16 kHz mono samples -> (dim,) unit voice embedding."""


@dataclass
class JoinedSpeakers:
    words: list[Word]  # speaker = person name (provisional "P0", "V:SPEAKER_01"; renamed by the caller)
    word_tracks: list[int | None]  # the face track that said each word (None: no face decided)
    word_scores: list[float | None]  # that face's mean speaking probability over the word
    profiles: dict[str, SpeakerProfile] = field(default_factory=dict)
    face_share: float = 0.0  # share of word time decided by a face


def _on_screen(vf: VideoFaces, track: int) -> tuple[float, float]:
    t = vf.det_times()[vf.det_track == track]
    return float(t.min()), float(t.max())


def _voice(
    audio: np.ndarray, spans: list[tuple[float, float]], embed: VoiceEmbedder, sr: int
) -> np.ndarray | None:
    parts = [audio[int(s * sr) : int(e * sr)] for s, e in spans]
    wav = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if len(wav) < sr:  # under a second of voice says little about it
        return None
    v = np.asarray(embed(wav), np.float64)
    return v / max(float(np.linalg.norm(v)), 1e-9)


def join_speakers(
    words: Sequence[Word],
    activity: SpeakingActivity | None,
    video_faces: VideoFaces | None,
    audio: np.ndarray,
    embed: VoiceEmbedder | None = None,
    options: JoinOptions = JoinOptions(),
) -> JoinedSpeakers:
    """Rules 1-5 of the module docstring. ``words`` carry their voice cluster in ``speaker``."""
    o = options
    words = list(words)
    voice = [w.speaker or "SPEAKER_00" for w in words]
    if activity is None or video_faces is None or not activity.tracks:
        return _voice_only(words, voice)
    tracks, scores, moving = word_faces(words, activity, o)
    by_sync = sync_assign(words, voice, moving, activity, o)
    for i, k in enumerate(by_sync):
        if tracks[i] is None and k is not None:
            tracks[i] = k
            cols = _word_frames(words[i : i + 1], activity, o.min_word_s)[0]
            scores[i] = round(float(np.nanmean(activity.speaking[activity.row(k), cols])), 4)
    tracks = dub_check(words, voice, tracks, activity, o)
    dur = np.array([max(w.end - w.start, 0.02) for w in words])
    said: dict[int, float] = defaultdict(float)
    for k, d in zip(tracks, dur, strict=True):
        if k is not None:
            said[k] += float(d)
    speaking_tracks = sorted(k for k, s in said.items() if s >= o.min_track_speech)
    keep = set(speaking_tracks)
    tracks = [k if k in keep else None for k in tracks]  # a face that says a word or two: noise
    if not speaking_tracks:
        return _voice_only(words, voice)

    # Rule 3: link tracks never on screen together whose voices are alike.
    person = {k: k for k in speaking_tracks}

    def root(k: int) -> int:
        while person[k] != k:
            k = person[k]
        return k

    if embed is not None and len(speaking_tracks) > 1:
        spans = {
            k: [(w.start, w.end) for w, t in zip(words, tracks, strict=True) if t == k]
            for k in speaking_tracks
        }
        voices = {k: _voice(audio, spans[k], embed, o.sample_rate) for k in speaking_tracks}
        seen = {k: _on_screen(video_faces, k) for k in speaking_tracks}
        for i, a in enumerate(speaking_tracks):
            for b in speaking_tracks[i + 1 :]:
                va, vb = voices[a], voices[b]
                apart = seen[a][1] < seen[b][0] or seen[b][1] < seen[a][0]
                if va is not None and vb is not None and apart and float(va @ vb) >= o.link_voice:
                    person[root(b)] = root(a)
    names = {k: f"P{root(k)}" for k in speaking_tracks}

    # Rule 4: words without a face.
    labels: list[str | None] = [names[k] if k is not None else None for k in tracks]
    decided = [i for i, lab in enumerate(labels) if lab is not None]
    by_cluster: dict[str, Counter[str]] = defaultdict(Counter)
    cluster_time: dict[str, float] = defaultdict(float)
    for i in range(len(words)):
        cluster_time[voice[i]] += float(dur[i])
        if labels[i] is not None:
            by_cluster[voice[i]][labels[i]] += float(dur[i])  # type: ignore[index]
    for i, w in enumerate(words):
        if labels[i] is not None:
            continue
        near = [j for j in decided if voice[j] == voice[i]]
        gaps = [max(words[j].start - w.end, w.start - words[j].end, 0.0) for j in near]
        if near and min(gaps) <= o.max_gap:
            labels[i] = labels[near[int(np.argmin(gaps))]]
        elif sum(by_cluster[voice[i]].values()) < o.offscreen_share * cluster_time[voice[i]]:
            labels[i] = f"V:{voice[i]}"
        else:
            labels[i] = by_cluster[voice[i]].most_common(1)[0][0]
    out_words = [replace(w, speaker=lab) for w, lab in zip(words, labels, strict=True)]
    profiles = _profiles(out_words, tracks, voice, activity, video_faces, dur)
    face_time = float(sum(d for k, d in zip(tracks, dur, strict=True) if k is not None))
    return JoinedSpeakers(out_words, tracks, scores, profiles, face_time / max(float(dur.sum()), 1e-9))


def _voice_only(words: list[Word], voice: list[str]) -> JoinedSpeakers:
    dur = np.array([max(w.end - w.start, 0.02) for w in words])
    out = [replace(w, speaker=f"V:{v}") for w, v in zip(words, voice, strict=True)]
    profiles: dict[str, SpeakerProfile] = {}
    for w, v, d in zip(out, voice, dur, strict=True):
        p = profiles.setdefault(w.speaker or "", SpeakerProfile(w.speaker or "", "voice", 0.0, [], [v]))
        p.speech += float(d)
    return JoinedSpeakers(out, [None] * len(words), [None] * len(words), profiles, 0.0)


def _profiles(
    words: list[Word],
    tracks: list[int | None],
    voice: list[str],
    activity: SpeakingActivity,
    vf: VideoFaces,
    dur: np.ndarray,
) -> dict[str, SpeakerProfile]:
    profiles: dict[str, SpeakerProfile] = {}
    per_track: dict[str, Counter[int]] = defaultdict(Counter)
    clusters: dict[str, Counter[str]] = defaultdict(Counter)
    for w, k, v, d in zip(words, tracks, voice, dur, strict=True):
        name = w.speaker or ""
        p = profiles.setdefault(name, SpeakerProfile(name, "voice", 0.0))
        p.speech += float(d)
        clusters[name][v] += float(d)
        if k is not None:
            per_track[name][k] += float(d)
    for name, p in profiles.items():
        p.speech = round(p.speech, 3)
        p.voice_clusters = sorted(clusters[name], key=lambda c: (-round(clusters[name][c], 3), c))
        for k, secs in sorted(per_track[name].items()):
            row = activity.row(k)
            prob = np.where(activity.visible[row], activity.speaking[row], -1.0)
            j = int(np.argmax(prob))
            t = float(activity.frames[j] / activity.fps)
            from emocli.faces.asd import track_boxes

            box, _ = track_boxes(vf, k, np.array([t]))
            p.faces.append(
                SpeakerFace(k, round(t, 3), tuple(round(float(x), 1) for x in box[0]), round(secs, 3))  # type: ignore[arg-type]
            )
        if p.faces:
            # "voice+face" when this person's voice cluster is theirs alone (the voice told them
            # apart too); "face" when the picture alone did (the cluster is shared with others).
            own = all(
                sum(c[v] for other, c in clusters.items() if other != name) < 0.2 * clusters[name][v]
                for v in p.voice_clusters[:1]
            )
            p.found_by = "voice+face" if own else "face"
    return profiles
