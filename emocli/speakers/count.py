"""The speaker count with how sure it is, and the profiles of speakers found by their voice alone."""

from __future__ import annotations

from collections import defaultdict

from emocli.results import Result, SpeakerCount, SpeakerProfile
from emocli.speakers.join import JoinedSpeakers


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
    one_face: bool = False,
) -> SpeakerCount:
    """The speaker count, how sure it is, and the range the evidence allows.

    With faces deciding most of the speech (``face_share`` >= 0.6), the count is the faces' and sure,
    but a voice-only speaker with little speech (< 3 s) widens the range down by one each. Otherwise
    the voice decides: the range is the counts the voice evidence allows (``voice_range``, see
    ``emocli.speech.clustering.estimate_clusters``), and the count is sure only with at least
    ``min_speech`` seconds of words and a range of one value. ``one_face``: a single face was on
    screen through the speech (ASD not needed); with one voice, that is one speaker, surely.
    """
    n = len(joined.profiles)
    total = sum(p.speech for p in joined.profiles.values())
    if one_face and n == 1:  # one face on screen through the speech, and one voice
        return SpeakerCount(1, "high", 1, 1, "one face seen through the speech and one voice")
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
