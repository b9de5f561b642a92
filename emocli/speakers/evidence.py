"""Rules 1, 1b and 1c of ``emocli.speakers``: which face says each word.

Rule 1 reads Light-ASD's speaking probability per word; 1b decides between several moving mouths by
how each mouth opens with the heard voice (voice clusters and faces paired one to one, then per
turn); 1c takes a face off a voice its mouth is out of time with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from emocli.results import Word

if TYPE_CHECKING:
    from emocli.faces.asd import SpeakingActivity


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
    # Rule 1c, off by default (0: only a mouth that does not follow its voice at all). Over a 5-8 s
    # clip a face with its own voice correlated 0.18-0.46 and with another clip's voice laid under
    # 0.04-0.20 (0.15 caught 3 of 7 dubs), but over 20-40 s of one voice the own-voice correlation
    # falls to 0.09-0.10 (the short windows' best-of-7-lags inflates it): 0.15 took every word off
    # the faces of a 2-minute two-person conversation. JoinOptions(dub_sync=0.15) opts in.
    dub_sync: float = 0.0
    dub_frames: int = 100  # 4 s of that voice on that face before the check is trusted
    sample_rate: int = 16_000


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
        # Two faces both above ``min_prob`` are two moving mouths: Light-ASD's margin between them
        # says little (it scores any moving mouth), so rule 1b decides by the voice.
        if best >= o.min_prob and best - second >= o.margin and second < o.min_prob:
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
    (``emocli.faces.sync.sync_correlation``): a voice belongs to one face, and the longer stretch
    steadies the estimate. Then each turn (a run of one cluster's words) takes the face with the best
    correlation over the turn, plus ``pair_bonus`` for its cluster's face and minus it for a face
    paired with another voice (so a cluster that holds two similar voices can still be split), when
    it leads the next by ``sync_margin``.
    """
    from scipy.optimize import linear_sum_assignment

    from emocli.faces.sync import sync_correlation

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
    # When the voice tells as many people apart as there are moving faces, a voice cluster is one
    # person: its words all go to its paired face (a turn's own correlation, over 1-5 s, is too noisy
    # to split a cluster: on the muted-listener conversations that raised the DER from 0.04 to
    # 0.13-0.20). With fewer clusters than faces, each turn may overrule its cluster's face.
    trust_voice = len(clusters) >= len(faces)
    paired: dict[str, int] = {}
    for r, p in zip(rows, picks, strict=True):
        # How much worse the best pairing gets without this pair: 0 for a tie broken at random
        # (two mouths that move alike), clearly positive for a real preference.
        banned = table.copy()
        banned[r, p] = -10.0
        r2, p2 = linear_sum_assignment(-banned)
        lead = best - float(banned[r2, p2].sum())
        # With one voice per face the joint pairing stands even on a small lead: the per-turn
        # choice it would fall back to reads 1-5 s instead of all of a voice, and is noisier still
        # (3 people, listeners' lips moving: the pairing was right with leads of 0.025, the turns
        # gave the speaking face for 23% of the speech). An exact tie is still no preference.
        need = 1e-6 if trust_voice else options.sync_margin
        if table[r, p] > 0 and lead >= need:
            paired[clusters[r]] = faces[p]
    taken = set(paired.values())
    for turn in _turns(words, voice, options.max_gap):
        cand = sorted({k for i in turn for k in moving[i]})
        if not cand:
            continue
        own = paired.get(voice[turn[0]])
        if trust_voice and own is not None:
            for i in turn:
                if own in moving[i]:
                    out[i] = own
            continue
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
    from emocli.faces.sync import sync_correlation

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
