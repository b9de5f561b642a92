"""The speaker's-face rule, temporal pooling and the exports, on synthetic tracks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emocli import EMOTIONS
from emocli.faces.export import faces_document, to_frame_results
from emocli.faces.speaker import (
    SpeakerOptions,
    SpeechActivity,
    apply_to_utterances,
    speaker_track_at,
    utterance_visuals,
)
from emocli.results import Result, Utterance
from tests.test_faces_track import make_video_faces

LEFT = [50.0, 50.0, 150.0, 150.0]
RIGHT = [400.0, 50.0, 500.0, 150.0]


def _utt(start: float, end: float, speaker: str) -> Utterance:
    return Utterance(start, end, speaker, "text")


def test_no_face_is_an_explicit_missing_modality() -> None:
    vf = make_video_faces({0: [(s, LEFT) for s in range(0, 5)]}, 20)  # face only in the first second
    utts = [_utt(0.0, 1.0, "A"), _utt(2.0, 4.0, "A")]
    vis = utterance_visuals(vf, utts)
    assert vis[0].rule == "only_face" and vis[0].track == 0 and vis[0].has_face
    assert vis[1].rule == "no_face" and vis[1].track is None and vis[1].scores is None
    assert vis[1].frame_probs.shape == (0, 7) and len(vis[1].importance) == 0
    apply_to_utterances(utts, vis)
    assert utts[1].modality_scores["visual"] is None and utts[1].face_rule == "no_face"
    assert utts[0].face_track == 0 and set(utts[0].modality_scores["visual"]) == set(EMOTIONS)  # type: ignore[arg-type]


def test_mouth_motion_picks_the_talking_face() -> None:
    # Two faces through 4 s; A talks 0-2 s (left mouth moves), B talks 2-4 s (right mouth moves).
    n = 20
    left_m = [0.4 if s < 10 else 0.05 for s in range(n)]
    right_m = [0.05 if s < 10 else 0.4 for s in range(n)]
    vf = make_video_faces(
        {0: [(s, LEFT) for s in range(n)], 1: [(s, RIGHT) for s in range(n)]},
        n,
        mouth={0: left_m, 1: right_m},
    )
    utts = [_utt(0.0, 2.0, "A"), _utt(2.0, 4.0, "B")]
    vis = utterance_visuals(vf, utts)
    assert [(v.track, v.rule) for v in vis] == [(0, "mouth_motion"), (1, "mouth_motion")]
    # A face that moves its mouth all the time (chewing listener) is judged against its own baseline.
    busy = [0.5] * n
    vf2 = make_video_faces(
        {0: [(s, LEFT) for s in range(n)], 1: [(s, RIGHT) for s in range(n)]},
        n,
        mouth={0: left_m, 1: busy},
    )
    assert utterance_visuals(vf2, utts)[0].track == 0


def test_speech_activity_weights_the_mouth_evidence() -> None:
    n = 20
    # In utterance A (0-4 s) face 0 moves in the first half, face 1 in the second; the voice is
    # only active in the first half, so face 0 is the speaker.
    m0 = [0.5 if s < 10 else 0.0 for s in range(n)]
    m1 = [0.0 if s < 10 else 0.5 for s in range(n)]
    vf = make_video_faces(
        {0: [(s, LEFT) for s in range(n)], 1: [(s, RIGHT) for s in range(n)]}, n, mouth={0: m0, 1: m1}
    )
    act = SpeechActivity(np.array([0.0, 1.9, 2.0, 4.0]), np.array([1.0, 1.0, 0.0, 0.0]))
    vis = utterance_visuals(vf, [_utt(0.0, 4.0, "A")], speech_activity=act)
    assert vis[0].track == 0 and vis[0].rule == "mouth_motion"
    # Without the activity the two faces tie and no mouth decision is taken.
    assert utterance_visuals(vf, [_utt(0.0, 4.0, "A")])[0].rule != "mouth_motion"


def test_presence_then_all_faces_fallbacks() -> None:
    n = 20
    # No mouth information at all (e.g. profile faces). Speaker A's turns: 0-2 s and 3-4 s.
    # Face 0 is on screen throughout; face 1 only 1-2 s (present in half of utterance 1).
    vf = make_video_faces({0: [(s, LEFT) for s in range(n)], 1: [(s, RIGHT) for s in range(5, 10)]}, n)
    utts = [_utt(0.0, 2.0, "A"), _utt(3.0, 4.0, "A")]
    vis = utterance_visuals(vf, utts)
    assert (vis[0].track, vis[0].rule) == (0, "presence")
    assert (vis[1].track, vis[1].rule) == (0, "only_face")
    # Two faces present all the time and nothing tells them apart: all faces, weighted equally.
    probs = {0: np.tile(np.eye(7)[1], (n, 1)), 1: np.tile(np.eye(7)[4], (n, 1))}  # joy vs sadness
    vf2 = make_video_faces(
        {0: [(s, LEFT) for s in range(n)], 1: [(s, RIGHT) for s in range(n)]}, n, probs=probs
    )
    v = utterance_visuals(vf2, [_utt(0.0, 4.0, "A")], options=SpeakerOptions(pooling="mean"))[0]
    assert v.rule == "all_faces" and v.track is None
    assert v.scores is not None and v.scores[1] == pytest.approx(0.5) and v.scores[4] == pytest.approx(0.5)


def test_softmax_pooling_lets_clear_frames_dominate_where_averaging_stays_neutral() -> None:
    n = 10
    probs = np.tile([0.6, 0.1, 0.06, 0.06, 0.06, 0.06, 0.06], (n, 1)).astype(np.float32)
    probs[3] = [0.02, 0.9, 0.02, 0.02, 0.02, 0.01, 0.01]  # one clear smile
    vf = make_video_faces({0: [(s, LEFT) for s in range(n)]}, n, probs={0: probs})
    utt = [_utt(0.0, 2.0, "A")]
    soft = utterance_visuals(vf, utt, options=SpeakerOptions(pooling="softmax", tau=0.3))[0]
    mean = utterance_visuals(vf, utt, options=SpeakerOptions(pooling="mean"))[0]
    assert mean.scores is not None and soft.scores is not None
    assert np.argmax(mean.scores) == 0  # averaging: neutral
    assert soft.scores[1] > mean.scores[1] * 1.5  # softmax pooling: the smile counts much more
    assert int(np.argmax(soft.importance)) == 3  # and that frame is the most important
    assert soft.scores.sum() == pytest.approx(1.0, abs=1e-5) and soft.importance.sum() == pytest.approx(1.0)
    assert soft.frame_probs.shape == (n, 7) and soft.times.shape == (n,)
    with pytest.raises(ValueError, match="unknown pooling"):
        utterance_visuals(vf, utt, options=SpeakerOptions(pooling="max"))


def test_frame_results_mark_the_speaker_and_round_trip_through_json() -> None:
    n = 10
    vf = make_video_faces(
        {0: [(s, LEFT) for s in range(n)], 1: [(s, RIGHT) for s in range(n)]},
        n,
        mouth={0: [0.5] * 5 + [0.05] * 5, 1: [0.0] * n},
    )
    vis = utterance_visuals(vf, [_utt(0.0, 1.0, "A")])
    assert vis[0].track == 0
    assert speaker_track_at(vis, 0.5) == 0 and speaker_track_at(vis, 1.5) is None
    sampled = to_frame_results(vf, vis)
    assert len(sampled) == n and len(sampled[0].faces) == 2
    assert [f.is_speaker for f in sampled[0].faces] == [True, False]
    assert not any(f.is_speaker for f in sampled[7].faces)  # t = 1.4 s: outside the utterance
    every = to_frame_results(vf, vis, every_frame=True)
    assert len(every) == vf.n_frames and all(len(fr.faces) == 2 for fr in every)
    doc = json.loads(json.dumps(faces_document(vf, vis)))
    back = Result.from_dict(doc)
    assert back.frames[0].faces[0].track == 0 and back.frames[0].faces[0].box == tuple(LEFT)
    assert doc["faces"]["face_fraction"] == 1.0 and len(doc["tracks"]) == 2


def test_speech_activity_from_audio() -> None:
    sr = 16000
    x = np.zeros(sr * 2, np.float32)
    x[sr // 2 : sr] = 0.3 * np.sin(np.arange(sr // 2) * 0.2)  # a tone 0.5-1.0 s
    act = SpeechActivity.from_audio(x, sr)
    assert act.at(np.array([0.75]))[0] == pytest.approx(1.0) and act.at(np.array([1.5]))[0] == 0.0
