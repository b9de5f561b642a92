"""Joining voice clusters and speaking faces into speakers (emocli.speakers), on synthetic evidence.

Each test builds a ``SpeakingActivity`` by hand (what ``emocli.faces.asd`` would measure) and a
``VideoFaces`` with the tracks on screen, so the rules are checked exactly and fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from emocli import EMOTIONS
from emocli.faces.asd import ASD_FPS, SpeakingActivity
from emocli.faces.speaker import OFF_SCREEN
from emocli.faces.video import VideoFaces
from emocli.results import Result, Utterance, Word
from emocli.speakers import (
    JoinOptions,
    count_speakers,
    join_speakers,
    relabel_result,
    voice_profiles,
)

DURATION = 20.0
N = int(DURATION * ASD_FPS)


def video_faces(tracks: dict[int, tuple[float, float, tuple[float, float, float, float]]]) -> VideoFaces:
    """Tracks on screen: id -> (from s, to s, box), detected at 5 samples/s."""
    times = np.arange(0, DURATION, 0.2)
    rows = [(i, k, box) for k, (a, b, box) in tracks.items() for i, t in enumerate(times) if a <= t <= b]
    d = len(rows)
    return VideoFaces(
        source="synthetic.mp4",
        width=1280,
        height=720,
        fps=25.0,
        duration=DURATION,
        sample_fps=5.0,
        detector="test",
        sample_times=times,
        det_sample=np.array([r[0] for r in rows], np.int32),
        det_track=np.array([r[1] for r in rows], np.int32),
        det_box=np.array([r[2] for r in rows], np.float32).reshape(d, 4),
        det_score=np.ones(d, np.float32),
        det_probs=np.full((d, len(EMOTIONS)), 1 / 7, np.float32),
        det_probs_smooth=np.full((d, len(EMOTIONS)), 1 / 7, np.float32),
        det_mouth=np.zeros(d, np.float32),
    )


def activity(speaking: np.ndarray, opening: np.ndarray | None = None, level: np.ndarray | None = None):
    """(K, N) speaking probabilities over the whole 20 s (every frame analysed, every track seen).

    By default every mouth opens with the heard loudness (in sync), so only ASD tells faces apart."""
    k = speaking.shape[0]
    rng = np.random.default_rng(0)
    level = rng.normal(size=N).astype(np.float32) if level is None else level
    if opening is None:
        opening = (level[None] + 0.5 * rng.normal(size=(k, N))).astype(np.float32)
    return SpeakingActivity(
        fps=float(ASD_FPS),
        frames=np.arange(N),
        tracks=list(range(k)),
        visible=np.ones((k, N), bool),
        opening=opening,
        level=level,
        asd=np.log(speaking / (1 - speaking)),
        speaking=speaking.astype(np.float32),
    )


def words_between(a: float, b: float, voice: str, step: float = 0.5) -> list[Word]:
    return [Word(t, t + 0.4, f"w{t:.1f}", 0.9, voice) for t in np.arange(a, b - 0.39, step)]


def during(spans: list[tuple[float, float]], high: float = 0.95, low: float = 0.05) -> np.ndarray:
    p = np.full(N, low)
    for a, b in spans:
        p[int(a * ASD_FPS) : int(b * ASD_FPS)] = high
    return p


FACES2 = {0: (0.0, DURATION, (100, 100, 300, 300)), 1: (0.0, DURATION, (700, 100, 900, 300))}


def test_one_voice_cluster_said_by_two_faces_is_two_people() -> None:
    # In one room the voice gives a single cluster; the faces take turns: A 0-5, B 5-10, A 10-15.
    words = words_between(0, 15, "SPEAKER_00")
    act = activity(np.stack([during([(0, 5), (10, 15)]), during([(5, 10)])]))
    j = join_speakers(words, act, video_faces(FACES2), np.zeros(16000 * 20, np.float32))
    assert len(j.profiles) == 2
    mids = np.array([(w.start + w.end) / 2 for w in j.words])
    assert set(np.array(j.word_tracks)[mids < 5]) == {0}
    assert set(np.array(j.word_tracks)[(mids > 5.2) & (mids < 9.8)]) == {1}
    assert j.face_share == pytest.approx(1.0)
    assert all(p.found_by == "face" for p in j.profiles.values())  # the voice could not tell them
    count = count_speakers(j, voice_range=(1, 1), faces_used=True)
    assert (count.n, count.confidence, count.low, count.high) == (2, "high", 2, 2)


def test_two_voice_clusters_always_on_one_face_are_one_person() -> None:
    words = words_between(0, 6, "SPEAKER_00") + words_between(6, 12, "SPEAKER_01")
    act = activity(np.stack([during([(0, 12)]), during([])]))
    j = join_speakers(words, act, video_faces(FACES2), np.zeros(16000 * 20, np.float32))
    assert len(j.profiles) == 1
    (p,) = j.profiles.values()
    assert p.voice_clusters == ["SPEAKER_00", "SPEAKER_01"] and [f.track for f in p.faces] == [0]


def test_a_voice_never_seen_speaking_is_an_off_screen_speaker() -> None:
    # The face speaks 0-6; an interviewer off camera (another voice) 6-12 while the face listens.
    words = words_between(0, 6, "SPEAKER_00") + words_between(6, 12, "SPEAKER_01")
    one_face = {0: FACES2[0]}
    act = activity(during([(0, 6)])[None])
    res = Result("synthetic.mp4", DURATION, [Utterance(words[0].start, words[-1].end, "x", "", words)])
    res.speakers = ["x"]
    j = join_speakers(words, act, video_faces(one_face), np.zeros(16000 * 20, np.float32))
    found = {p.found_by for p in j.profiles.values()}
    assert len(j.profiles) == 2 and "voice" in found
    tracks = relabel_result(res, j)
    assert res.speakers == ["SPEAKER_00", "SPEAKER_01"]
    by_speaker = {u.speaker: t for u, t in zip(res.utterances, tracks, strict=True)}
    assert by_speaker["SPEAKER_00"] == 0 and by_speaker["SPEAKER_01"] == OFF_SCREEN
    assert [p.speaker for p in res.speaker_profiles] == ["SPEAKER_00", "SPEAKER_01"]
    assert res.speaker_profiles[0].faces[0].track == 0
    assert res.speaker_profiles[0].faces[0].box == (100.0, 100.0, 300.0, 300.0)
    assert all(u.speaker in ("SPEAKER_00", "SPEAKER_01") for u in res.utterances)
    assert {t.speaker for t in res.turns} == {"SPEAKER_00", "SPEAKER_01"}


def test_several_moving_mouths_the_one_that_opens_with_the_voice_wins() -> None:
    # Both faces move their lips all the time (ASD says both speak); face 1's mouth opens with the
    # heard loudness during voice B's words, face 0's during voice A's.
    rng = np.random.default_rng(1)
    level = rng.normal(size=N).astype(np.float32)
    opening = rng.normal(size=(2, N)).astype(np.float32)
    a_frames = np.r_[0 : 5 * ASD_FPS, 10 * ASD_FPS : 15 * ASD_FPS]
    b_frames = np.r_[5 * ASD_FPS : 10 * ASD_FPS]
    opening[0, a_frames] = level[a_frames] + 0.5 * rng.normal(size=len(a_frames))
    opening[1, b_frames] = level[b_frames] + 0.5 * rng.normal(size=len(b_frames))
    words = words_between(0, 5, "V_A") + words_between(5, 10, "V_B") + words_between(10, 15, "V_A")
    act = activity(np.full((2, N), 0.97), opening.astype(np.float32), level)
    j = join_speakers(words, act, video_faces(FACES2), np.zeros(16000 * 20, np.float32))
    want = [0 if (w.start < 5 or w.start >= 10) else 1 for w in words]
    assert j.word_tracks == want
    # Two mouths that move alike cannot be told apart: no word is given to either.
    same = np.repeat(opening[:1], 2, axis=0)
    j2 = join_speakers(words, activity(np.full((2, N), 0.97), same, level), video_faces(FACES2), np.zeros(0))
    assert set(j2.word_tracks) == {None}


def test_one_voice_per_moving_face_the_joint_pairing_stands_on_a_small_lead(monkeypatch) -> None:
    # The mouth-loudness correlations measured on side3_muted (3 people, every listener's lips
    # moving): the best pairing (A-0, B-2, C-1) beats the next (A-1, B-2, C-0) by only 0.025, and
    # voice C's own row prefers face 0. Every word must still go to its voice's paired face.
    import emocli.faces.sync as sync

    table = {"V_A": (0.202, 0.173, 0.108), "V_B": (0.161, 0.242, 0.189), "V_C": (0.234, 0.230, 0.005)}

    def corr(opening: np.ndarray, level: np.ndarray, frames: np.ndarray) -> float:
        voice = ("V_A", "V_B", "V_C")[min(2, int(frames[0] / ASD_FPS // 5))]
        return table[voice][int(opening[0])]  # each test track's opening holds its own index

    monkeypatch.setattr(sync, "sync_correlation", corr)
    words = words_between(0, 5, "V_A") + words_between(5, 10, "V_B") + words_between(10, 15, "V_C")
    opening = np.repeat(np.arange(3, dtype=np.float32)[:, None], N, axis=1)
    act = activity(np.full((3, N), 0.9), opening, np.zeros(N, np.float32))
    faces3 = {k: (0.0, DURATION, (100 + 400 * k, 100, 300 + 400 * k, 300)) for k in range(3)}
    j = join_speakers(words, act, video_faces(faces3), np.zeros(0))
    paired = {"V_A": 0, "V_B": 2, "V_C": 1}
    assert j.word_tracks == [paired[w.speaker or ""] for w in words]


def test_a_mouth_out_of_time_with_its_voice_is_not_its_speaker() -> None:
    # One face, ASD says it speaks, but its mouth never opens with the heard voice (a dub).
    rng = np.random.default_rng(2)
    level = rng.normal(size=N).astype(np.float32)
    words = words_between(0, 10, "SPEAKER_00")
    synced = activity(
        during([(0, 10)])[None], (level + 0.5 * rng.normal(size=N))[None].astype(np.float32), level
    )
    dubbed = activity(during([(0, 10)])[None], rng.normal(size=(1, N)).astype(np.float32), level)
    vf = video_faces({0: FACES2[0]})
    opt_in = JoinOptions(dub_sync=0.15)  # off by default (see JoinOptions.dub_sync)
    said = join_speakers(words, synced, vf, np.zeros(16000 * 20, np.float32), options=opt_in)
    assert set(said.word_tracks) == {0}
    dub = join_speakers(words, dubbed, vf, np.zeros(16000 * 20, np.float32), options=opt_in)
    assert set(dub.word_tracks) == {None}
    assert [p.found_by for p in dub.profiles.values()] == ["voice"]
    # With too little of that voice on the face, the check is not trusted.
    short = join_speakers(words[:4], dubbed, vf, np.zeros(16000 * 20, np.float32), options=opt_in)
    assert set(join_speakers(words, dubbed, vf, np.zeros(0)).word_tracks) == {0}  # the default: off
    assert set(short.word_tracks) == {0}


def test_one_person_on_two_tracks_across_a_cut_is_linked_by_voice() -> None:
    # Track 0 on screen 0-8 s, track 1 (same person after a cut) 9-20 s; their voices match.
    faces = {0: (0.0, 8.0, (100, 100, 300, 300)), 1: (9.0, DURATION, (150, 100, 350, 300))}
    words = words_between(0, 8, "SPEAKER_00") + words_between(9, 16, "SPEAKER_00")
    act = activity(np.stack([during([(0, 8)]), during([(9, 16)])]))
    act.visible[0, 8 * ASD_FPS :] = False
    act.visible[1, : 9 * ASD_FPS] = False
    audio = np.zeros(16000 * 20, np.float32)
    same = join_speakers(words, act, video_faces(faces), audio, embed=lambda wav: np.array([1.0, 0.0]))
    assert len(same.profiles) == 1 and [f.track for f in next(iter(same.profiles.values())).faces] == [0, 1]
    voices = iter([np.array([1.0, 0.0]), np.array([0.0, 1.0])])
    apart = join_speakers(words, act, video_faces(faces), audio, embed=lambda wav: next(voices))
    assert len(apart.profiles) == 2
    nothing = join_speakers(words, act, video_faces(faces), audio)  # no voice embedder: not linked
    assert len(nothing.profiles) == 2


def test_without_faces_the_voice_decides_and_the_count_says_how_sure() -> None:
    words = words_between(0, 6, "SPEAKER_00") + words_between(6, 9, "SPEAKER_01")
    j = join_speakers(words, None, None, np.zeros(16000 * 10, np.float32))
    assert len(j.profiles) == 2 and j.face_share == 0.0
    assert all(p.found_by == "voice" for p in j.profiles.values())
    weak = count_speakers(j, voice_range=(1, 3), faces_used=False)
    assert (weak.n, weak.confidence, weak.low, weak.high) == (2, "low", 1, 3)
    assert "--num-speakers" in weak.summary() and "1-3" in weak.summary()
    # 9 s of speech is little even with a clear clustering: the range stays open upwards.
    short = count_speakers(j, voice_range=(2, 2), faces_used=False)
    assert short.confidence == "low" and short.high == 3
    long_words = words_between(0, 30, "SPEAKER_00") + words_between(30, 60, "SPEAKER_01")
    sure = count_speakers(join_speakers(long_words, None, None, np.zeros(0)), (2, 2), faces_used=False)
    assert (sure.n, sure.confidence, sure.low, sure.high) == (2, "high", 2, 2)
    assert "uncertain" not in sure.summary()


def test_voice_profiles_follow_the_result_speakers() -> None:
    w1, w2 = words_between(0, 3, "SPEAKER_00"), words_between(3, 4, "SPEAKER_01")
    res = Result("a.wav", 4.0, [Utterance(0, 3, "SPEAKER_00", "", w1), Utterance(3, 4, "SPEAKER_01", "", w2)])
    res.speakers = ["SPEAKER_00", "SPEAKER_01"]
    profiles = voice_profiles(res)
    assert [(p.speaker, p.found_by, p.faces) for p in profiles] == [
        ("SPEAKER_00", "voice", []),
        ("SPEAKER_01", "voice", []),
    ]
    assert profiles[0].speech == pytest.approx(sum(w.end - w.start for w in w1), abs=1e-3)


def test_join_options_are_frozen() -> None:
    with pytest.raises(AttributeError):
        JoinOptions().min_prob = 0.1  # type: ignore[misc]


def test_asd_runs_in_auto_only_where_faces_are_on_screen_together() -> None:
    from emocli.errors import EmocliError
    from emocli.speakers.stage import asd_wanted, one_face_through

    speech = [(0.0, 20.0)]
    together = video_faces(FACES2)
    one_after_another = video_faces(
        {0: (0.0, 9.8, (100, 100, 300, 300)), 1: (10.0, 20.0, (700, 100, 900, 300))}
    )
    single = video_faces({0: FACES2[0]})
    assert asd_wanted(together, speech, "auto")
    assert not asd_wanted(one_after_another, speech, "auto")  # cuts between people: one face to show
    assert not asd_wanted(single, speech, "auto") and asd_wanted(single, speech, "on")
    assert not asd_wanted(together, speech, "off")
    assert not asd_wanted(together, [(25.0, 30.0)], "auto")  # together only where nobody speaks
    assert one_face_through(single, speech) and not one_face_through(together, speech)
    with pytest.raises(EmocliError):
        asd_wanted(single, speech, "sometimes")


def test_when_every_mouth_moves_the_voice_is_clustered_into_as_many_as_the_faces() -> None:
    from emocli.results import Turn
    from emocli.speakers.stage import WhoSpeaks

    words = words_between(0, 10, "SPEAKER_00")  # the voice found one cluster for two people
    act = activity(np.full((2, N), 0.97))  # both mouths move all the time
    asked: list[int] = []

    def rediarize(k: int) -> list[Turn]:
        asked.append(k)
        return [Turn(0.0, 5.0, "SPEAKER_00"), Turn(5.0, 10.0, "SPEAKER_01")]

    out = WhoSpeaks._more_voices(words, act, video_faces(FACES2), [(0.0, 10.0)], rediarize)
    assert asked == [2]
    assert {w.speaker for w in out if w.start < 5} == {"SPEAKER_00"}
    assert {w.speaker for w in out if w.start >= 5.1} == {"SPEAKER_01"}
    # Listeners still (ASD decides): the voice clusters are left as they are.
    still = activity(np.stack([during([(0, 5)]), during([(5, 10)])]))
    assert WhoSpeaks._more_voices(words, still, video_faces(FACES2), [(0.0, 10.0)], rediarize) == words
    assert asked == [2]
