"""Who speaks: voice clusters and speaking faces joined into speakers, with an honest count.

One step of its own between speech and the emotion model: it takes the speech result's words
(each labelled with its voice cluster by the diarizer), the face tracks and their speaking
evidence (``emocli.faces.asd``), and returns the words relabelled by person, the face track that
said each word, one profile per speaker and the speaker count with how sure it is. ``speech/`` and
``faces/`` never import each other; this module reads both.

The rules, in order:

1. **A word's face.** Over the word's frames (at least 0.16 s around its middle), each visible track's
   mean speaking probability; the word goes to the best track when that is >= ``min_prob`` and leads
   the runner-up by ``margin``. Single words between two stretches of one face, within a sentence's
   pauses, go to that face (ASD is noisy at word scale).
1b. **Several moving mouths.** Where two or more faces look like speaking (Light-ASD scores any
   moving mouth), the words of each turn go to the moving face whose mouth opening follows the
   heard loudness best over the turn and over all its voice cluster's words (``sync_assign``).
1c. **A mouth out of time with its voice** (``dub_check``): a face that moves its lips but whose
   mouth does not open with the voice it was given, over 4 s or more, is not that voice's speaker.
2. **Faces are people.** Each track that says at least ``min_track_speech`` seconds is a speaker: a
   voice cluster heard on two faces on screen together is two people, and two voice clusters said
   by one face are one person (in one room the voice embeddings do not tell people apart; the
   picture does).
3. **One person on two tracks** (a shot cut, a face lost and found): two tracks never on screen at
   the same time whose voices are alike (cosine >= ``link_voice``) are one speaker.
4. **Words without a face** go to the face-speaker of the nearest decided word of the same voice
   cluster within ``max_gap`` seconds (the same sentence); else a voice cluster that is (almost)
   never seen on a face is a speaker of its own (off screen, ``found_by`` "voice"); else the
   face-speaker that says most of that cluster's decided words.
5. Without faces (audio only, no face on screen during speech), the voice clusters are the speakers,
   as before.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from emocli.results import Result, SpeakerCount, SpeakerFace, SpeakerProfile, Turn, Word

if TYPE_CHECKING:
    from emocli.faces.asd import SpeakingActivity
    from emocli.faces.video import VideoFaces

VoiceEmbedder = Callable[[np.ndarray], np.ndarray]
"""16 kHz mono samples -> (dim,) unit voice embedding."""


@dataclass(frozen=True)
class JoinOptions:
    min_prob: float = 0.5  # a word's face must speak with at least this probability ...
    margin: float = 0.15  # ... and lead the next face by this much
    min_word_s: float = 0.16  # words are judged over at least this many seconds (4 frames)
    min_track_speech: float = 0.8  # seconds of words for a face track to count as a speaker
    link_voice: float = 0.85  # GE2E cosine for two never-together tracks to be one person
    max_gap: float = 1.0  # seconds: an undecided word joins the nearest decided one this close
    offscreen_share: float = 0.1  # a voice cluster decided on faces less than this is off screen
    sync_margin: float = 0.03  # lead in mouth-loudness correlation for rule 1b
    pair_bonus: float = 0.1  # rule 1b: weight of the voice cluster's face in each turn's choice
    # Rule 1c. Measured on the 7 clips: a face with its own voice 0.18-0.46, with another clip's
    # voice laid under it 0.04-0.20 (6 of 7 below 0.15).
    dub_sync: float = 0.15
    dub_frames: int = 100  # 4 s of that voice on that face before the check is trusted
    sample_rate: int = 16_000


@dataclass
class JoinedSpeakers:
    words: list[Word]  # speaker = person name (provisional "P0", "V:SPEAKER_01"; renamed by the caller)
    word_tracks: list[int | None]  # the face track that said each word (None: no face decided)
    word_scores: list[float | None]  # that face's mean speaking probability over the word
    profiles: dict[str, SpeakerProfile] = field(default_factory=dict)
    face_share: float = 0.0  # share of word time decided by a face


def _word_spans(words: Sequence[Word], min_s: float) -> np.ndarray:
    s = np.array([min(w.start, w.end) for w in words], np.float64)
    e = np.array([max(w.start, w.end) for w in words], np.float64)
    mid, half = (s + e) / 2, np.maximum((e - s) / 2, min_s / 2)
    return np.stack([mid - half, mid + half], axis=1)


def word_faces(
    words: Sequence[Word], activity: SpeakingActivity, options: JoinOptions = JoinOptions()
) -> tuple[list[int | None], list[float | None], list[list[int]]]:
    """Rule 1: per word, the track that says it (or None), its mean speaking probability, and the
    tracks that all look like speaking when none leads (several moving mouths: rule 1b decides)."""
    o = options
    tracks: list[int | None] = [None] * len(words)
    scores: list[float | None] = [None] * len(words)
    moving: list[list[int]] = [[] for _ in words]
    if not words or not activity.tracks or len(activity.frames) == 0:
        return tracks, scores, moving
    spans = _word_spans(words, o.min_word_s)
    fps = activity.fps
    lo = np.searchsorted(activity.frames, np.floor(spans[:, 0] * fps))
    hi = np.searchsorted(activity.frames, np.ceil(spans[:, 1] * fps), side="right")
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if b <= a:
            continue
        p = activity.speaking[:, a:b]  # (K, F)
        vis = activity.visible[:, a:b]
        seen = vis.mean(axis=1) >= 0.5
        if not seen.any():
            continue
        mean = np.where(seen, np.nanmean(np.where(vis, p, np.nan), axis=1), -1.0)
        order = np.argsort(-mean, kind="stable")
        best = float(mean[order[0]])
        second = float(mean[order[1]]) if len(order) > 1 and seen[order[1]] else 0.0
        if best >= o.min_prob and best - second >= o.margin:
            tracks[i], scores[i] = activity.tracks[int(order[0])], round(best, 4)
        elif best >= o.min_prob:
            moving[i] = [activity.tracks[int(j)] for j in order if seen[j] and mean[j] >= o.min_prob]
    return _fill_single_words(words, tracks, scores), scores, moving


def _word_frames(words: Sequence[Word], activity: SpeakingActivity, min_s: float) -> list[np.ndarray]:
    """Per word, the columns of ``activity`` inside it."""
    spans = _word_spans(words, min_s)
    lo = np.searchsorted(activity.frames, np.floor(spans[:, 0] * activity.fps))
    hi = np.searchsorted(activity.frames, np.ceil(spans[:, 1] * activity.fps), side="right")
    return [np.arange(a, b) for a, b in zip(lo, hi, strict=True)]


def _turns(words: Sequence[Word], voice: Sequence[str], max_gap: float) -> list[list[int]]:
    """Runs of consecutive words of one voice cluster with pauses of at most ``max_gap`` s."""
    turns: list[list[int]] = []
    for i, w in enumerate(words):
        if turns and voice[turns[-1][-1]] == voice[i] and w.start - words[turns[-1][-1]].end <= max_gap:
            turns[-1].append(i)
        else:
            turns.append([i])
    return turns


def sync_assign(
    words: Sequence[Word],
    voice: Sequence[str],
    moving: Sequence[list[int]],
    activity: SpeakingActivity,
    options: JoinOptions = JoinOptions(),
) -> list[int | None]:
    """Rule 1b: for words that several moving mouths could have said, the face whose mouth opens
    with the heard voice (None where no face leads).

    Voice clusters and moving faces are first paired one to one (Hungarian) by the correlation of the
    face's mouth opening with the loudness over all of the cluster's words
    (``emocli.faces.asd.sync_correlation``): a voice belongs to one face, and the longer stretch
    steadies the estimate. Then each turn (a run of one cluster's words) takes the face with the best
    correlation over the turn, plus ``pair_bonus`` for its cluster's face and minus it for a face
    paired with another voice (so a cluster that holds two similar voices can still be split), when
    it leads the next by ``sync_margin``.
    """
    from scipy.optimize import linear_sum_assignment

    from emocli.faces.asd import sync_correlation

    out: list[int | None] = [None] * len(words)
    if not any(moving):
        return out
    cols = _word_frames(words, activity, options.min_word_s)

    def corr(idx: list[int], track: int) -> float:
        j = np.unique(np.concatenate([cols[i] for i in idx])) if idx else np.zeros(0, np.int64)
        row = activity.row(track)
        j = j[activity.visible[row, j]]
        return sync_correlation(activity.opening[row, j], activity.level[j], activity.frames[j])

    by_cluster: dict[str, list[int]] = defaultdict(list)
    for i, v in enumerate(voice):
        if moving[i]:
            by_cluster[v].append(i)
    # A voice belongs to one face: pair clusters and faces one to one by their correlation over all
    # of the cluster's words (Hungarian), then let each turn confirm or overrule its cluster's face.
    clusters = sorted(by_cluster)
    faces = sorted({k for m in moving for k in m})
    table = np.array([[corr(by_cluster[c], k) for k in faces] for c in clusters])
    rows, picks = linear_sum_assignment(-table)
    best = float(table[rows, picks].sum())
    paired: dict[str, int] = {}
    for r, p in zip(rows, picks, strict=True):
        # How much worse the best pairing gets without this pair: 0 for a tie broken at random
        # (two mouths that move alike), clearly positive for a real preference.
        banned = table.copy()
        banned[r, p] = -10.0
        r2, p2 = linear_sum_assignment(-banned)
        lead = best - float(banned[r2, p2].sum())
        if table[r, p] > 0 and lead >= options.sync_margin:
            paired[clusters[r]] = faces[p]
    taken = set(paired.values())
    for turn in _turns(words, voice, options.max_gap):
        cand = sorted({k for i in turn for k in moving[i]})
        if not cand:
            continue
        own = paired.get(voice[turn[0]])
        score = {}
        for k in cand:
            bonus = options.pair_bonus if k == own else (-options.pair_bonus if k in taken else 0.0)
            score[k] = corr(turn, k) + bonus
        ranked = sorted(score.items(), key=lambda kv: -kv[1])
        lead = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
        if ranked[0][1] > 0 and lead >= options.sync_margin:
            for i in turn:
                if ranked[0][0] in moving[i]:
                    out[i] = ranked[0][0]
    return out


def dub_check(
    words: Sequence[Word],
    voice: Sequence[str],
    tracks: Sequence[int | None],
    activity: SpeakingActivity,
    options: JoinOptions = JoinOptions(),
) -> list[int | None]:
    """Rule 1c: a face whose mouth moves but does not open with the voice it was given is not its
    speaker (someone off screen speaks while the face mouths, chews or dubs): per voice cluster and
    face, with at least ``dub_frames`` frames of that voice on that face, a mouth-loudness
    correlation below ``dub_sync`` takes the face off those words."""
    from emocli.faces.asd import sync_correlation

    out = list(tracks)
    cols = _word_frames(words, activity, options.min_word_s)
    pairs: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, k in enumerate(tracks):
        if k is not None:
            pairs[(voice[i], k)].append(i)
    for (_c, k), idx in pairs.items():
        row = activity.row(k)
        j = np.unique(np.concatenate([cols[i] for i in idx]))
        j = j[activity.visible[row, j]]
        if len(j) < options.dub_frames:
            continue
        if (
            sync_correlation(activity.opening[row, j], activity.level[j], activity.frames[j])
            < options.dub_sync
        ):
            for i in idx:
                out[i] = None
    return out


def _fill_single_words(
    words: Sequence[Word], tracks: list[int | None], scores: list[float | None], max_gap: float = 0.5
) -> list[int | None]:
    """A single undecided or differing word between two words of one track (gaps <= max_gap s)."""
    out = list(tracks)
    for i in range(1, len(words) - 1):
        a, b = out[i - 1], tracks[i + 1]
        if a is None or a != b or out[i] == a:
            continue
        if words[i].start - words[i - 1].end <= max_gap and words[i + 1].start - words[i].end <= max_gap:
            out[i] = a
            scores[i] = None if tracks[i] != a else scores[i]
    return out


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


def voice_profiles(result: Result) -> list[SpeakerProfile]:
    """Profiles of speakers found by their voice alone: seconds of words each."""
    secs: dict[str, float] = defaultdict(float)
    for u in result.utterances:
        for w in u.words:
            secs[u.speaker] += max(w.end - w.start, 0.02)
    return [SpeakerProfile(s, "voice", round(secs[s], 3), [], [s]) for s in result.speakers]


def count_speakers(
    joined: JoinedSpeakers,
    voice_range: tuple[int, int] | None,
    faces_used: bool,
    min_speech: float = 20.0,
) -> SpeakerCount:
    """The speaker count, how sure it is, and the range the evidence allows.

    With faces deciding most of the speech (``face_share`` >= 0.6), the count is the faces' and sure,
    but a voice-only speaker with little speech (< 3 s) widens the range down by one each. Otherwise
    the voice decides: the range is the counts the clustering reaches when its merge thresholds move
    by their margin (``voice_range``), and the count is sure only with at least ``min_speech``
    seconds of words and a range of one value.
    """
    n = len(joined.profiles)
    total = sum(p.speech for p in joined.profiles.values())
    if faces_used and joined.face_share >= 0.6:
        weak = sum(1 for p in joined.profiles.values() if p.found_by == "voice" and p.speech < 3.0)
        lo = max(1, n - weak)
        conf = "high" if lo == n else "low"
        return SpeakerCount(n, conf, lo, n, f"faces seen speaking for {joined.face_share:.0%} of the speech")
    lo, hi = voice_range if voice_range is not None else (n, n)
    lo, hi = min(lo, n), max(hi, n)
    sure = lo == hi and total >= min_speech
    why = "voice only" if not faces_used else f"voice mostly (faces decided {joined.face_share:.0%})"
    if total < min_speech:
        why += f", {total:.0f} s of speech"
        hi = max(hi, n + 1)
    return SpeakerCount(n, "high" if sure else "low", max(1, lo), hi, why)


def relabel_result(
    result: Result,
    joined: JoinedSpeakers,
    max_pause: float = 1.0,
    max_utterance: float = 20.0,
    split_sentences: bool = True,
) -> list[int | None]:
    """Rebuild ``result``'s utterances, speakers and turns from the joined words, in place.

    Speakers are renamed SPEAKER_00, 01, ... in the order they first say a word; the turns (RTTM)
    become each speaker's utterance spans. Returns the face track per new utterance (the track that
    said most of its words; None when no face said any).
    """
    from emocli.faces.speaker import OFF_SCREEN
    from emocli.speech.diarize import speaker_name
    from emocli.speech.utterances import build_utterances

    track_of = {id(w): k for w, k in zip(joined.words, joined.word_tracks, strict=True)}
    score_of = {id(w): s for w, s in zip(joined.words, joined.word_scores, strict=True)}
    order = list(dict.fromkeys(w.speaker for w in sorted(joined.words, key=lambda w: w.start)))
    rename = {old: speaker_name(i) for i, old in enumerate(order)}
    utts = build_utterances(joined.words, max_pause, max_utterance, split_sentences, result.language)
    tracks: list[int | None] = []
    for u in utts:
        said: Counter[int] = Counter()
        probs = []
        for w in u.words:
            k = track_of.get(id(w))
            if k is not None:
                said[k] += max(w.end - w.start, 0.02)
                if score_of.get(id(w)) is not None:
                    probs.append(score_of[id(w)])
        off = not said and joined.profiles[u.speaker].found_by == "voice" and bool(joined.face_share)
        tracks.append(said.most_common(1)[0][0] if said else (OFF_SCREEN if off else None))
        u.speaking_score = round(float(np.mean(probs)), 4) if probs else None
        u.speaker = rename[u.speaker]
        u.words = [replace(w, speaker=u.speaker) for w in u.words]
    result.utterances = utts
    result.speakers = [rename[s] for s in order]
    result.turns = [Turn(u.start, u.end, u.speaker) for u in utts]
    profiles = []
    for old in order:
        p = joined.profiles[old]
        profiles.append(replace(p, speaker=rename[old]))
    result.speaker_profiles = profiles
    return tracks
