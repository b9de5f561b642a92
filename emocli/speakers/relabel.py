"""Rebuilding a Result's utterances, speakers and turns from the joined words."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from emocli.results import Result, Turn
from emocli.speakers.join import JoinedSpeakers


def relabel_result(
    result: Result,
    joined: JoinedSpeakers,
    max_pause: float = 1.0,
    max_utterance: float = 20.0,
    split_sentences: bool = True,
    speech: Sequence[tuple[float, float]] = (),
) -> list[int | None]:
    """Rebuild ``result``'s utterances, speakers and turns from the joined words, in place.

    Speakers are renamed SPEAKER_00, 01, ... in the order they first say a word; the turns (RTTM)
    become each speaker's utterance spans. Returns the face track per new utterance (the track that
    said most of its words; None when no face said any).
    """
    from emocli.faces.speaker import OFF_SCREEN
    from emocli.speech.diarize import speaker_name
    from emocli.speech.utterances import build_utterances, fit_to_speech

    track_of = {id(w): k for w, k in zip(joined.words, joined.word_tracks, strict=True)}
    score_of = {id(w): s for w, s in zip(joined.words, joined.word_scores, strict=True)}
    order = list(dict.fromkeys(w.speaker for w in sorted(joined.words, key=lambda w: w.start)))
    rename = {old: speaker_name(i) for i, old in enumerate(order)}
    utts = build_utterances(joined.words, max_pause, max_utterance, split_sentences, result.language)
    utts = fit_to_speech(utts, speech)
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
