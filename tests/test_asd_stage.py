"""The active-speaker stage (emocli.faces.asd) and who-speaks in annotate.

Fast tests use media built here and a Light-ASD network with random weights; the real ones (marked
``slow``) need the shared clips and the real weights, and skip cleanly without them.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emocli.faces.asd import (
    ASD_FPS,
    CROP,
    GREY_PAD,
    analyse_speaking,
    frames_around,
    mouth_crop,
    read_grey_frames,
)
from emocli.faces.asd_net import random_asd
from emocli.faces.sync import mouth_opening, sync_correlation
from emocli.media import ffmpeg_exe, probe
from tests.media_factory import make_video
from tests.test_speakers import video_faces

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("EMOCLI_MODELS_DIR", ROOT.parent / "shared" / "models")).expanduser()
WEIGHTS = MODELS_DIR / "light-asd" / "finetuning_TalkSet.model"
CLIPS = (
    "face_1",
    "face_2",
    "face_3",
    "face_4",
    "face_5",
    "WDA_KatieHill_000",
    "WDA_AlexandriaOcasioCortez_000",
)


def test_frames_around_speech_only() -> None:
    # 1.0-2.0 and 2.2-2.4 s padded by 0.3 s join into 0.7-2.7 s (frames 17-67); the last region is
    # cut at the end of the 10 s video (250 frames).
    frames = frames_around([(1.0, 2.0), (2.2, 2.4), (9.9, 12.0)], duration=10.0, pad_s=0.3)
    assert frames.tolist() == [*range(17, 68), *range(240, 250)]
    assert list(frames_around([], 5.0, 0.3)) == []


def test_only_the_asked_frames_are_decoded(tmp_path: Path) -> None:
    # Frame n of this video is a flat grey of level 4 n (25 fps, lossless), so each decoded frame
    # tells which one it is.
    levels = (np.arange(60) * 4).astype(np.uint8)
    raw = np.repeat(levels[:, None, None], 64 * 48, axis=1).reshape(60, 48, 64).tobytes()
    path = tmp_path / "ramp.mkv"
    cmd = [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "64x48",
           "-r", "25", "-i", "-", "-c:v", "ffv1", str(path)]  # fmt: skip
    subprocess.run(cmd, input=raw, check=True)
    want = np.array([3, 4, 5, 30, 31, 59, 70])  # 70 is past the end
    got = list(read_grey_frames(path, probe(path), want, max_side=64))
    assert [f for f, _ in got] == [3, 4, 5, 30, 31, 59]
    assert [round(float(g.mean())) for _, g in got] == [12, 16, 20, 120, 124, 236]


def test_mouth_crop_is_the_lower_face_and_pads_with_grey() -> None:
    img = np.zeros((400, 400), np.uint8)
    box = np.array([100, 100, 200, 200], np.float32)  # centre (150, 150), bs = 50: crop x 115-185, y 135-205
    img[169:172, 149:152] = 255  # 0.4 bs below the centre: the middle of the crop
    img[100:130, 100:200] = 40  # the eyes' band, above the crop: not in it
    crop = mouth_crop(img, box, scale=1.0)
    assert crop.shape == (CROP, CROP)
    y, x = np.unravel_index(int(np.argmax(crop)), crop.shape)
    assert abs(y - CROP / 2) <= 3 and abs(x - CROP / 2) <= 3
    assert (crop[:10] == 0).all()  # the crop starts below the eyes' band
    edge = mouth_crop(img, np.array([-80, 330, 20, 430], np.float32), scale=1.0)  # half off the frame
    assert (edge[-20:, :] == GREY_PAD).all()


def test_mouth_opening_grows_with_a_dark_open_mouth() -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(140, 160, (6, CROP, CROP)).astype(np.uint8)  # skin, with camera noise
    for t, h in enumerate([0, 1, 2, 3, 4, 6]):
        crops[t, 80 - h : 80 + h, 40:72] = rng.integers(10, 30, (2 * h, 32))  # the mouth opens
    op = mouth_opening(crops, percentile=8.0)
    assert list(op) == sorted(op) and op[-1] > op[0]


def test_sync_correlation_finds_a_lagged_match_and_ignores_noise() -> None:
    rng = np.random.default_rng(0)
    level = rng.normal(size=300)
    frames = np.r_[0:150, 200:350]  # two runs (a pause between them)
    opening = np.roll(level, 2) + 0.3 * rng.normal(size=300)  # the picture 2 frames behind the voice
    assert sync_correlation(opening, level, frames) > 0.8
    assert abs(sync_correlation(rng.normal(size=300), level, frames)) < 0.25
    assert sync_correlation(opening[:20], level[:20], frames[:20]) == 0.0  # too little to say


def test_the_stage_scores_visible_tracks_on_speech_frames_with_a_random_network(tmp_path: Path) -> None:
    path = tmp_path / "talk.mp4"
    make_video(path, seconds=4, size="1280x720", audio=False)
    vf = video_faces({0: (0.0, 20.0, (100, 100, 300, 300)), 1: (0.0, 1.5, (700, 100, 900, 300))})
    audio = np.random.default_rng(0).normal(scale=0.1, size=4 * 16000).astype(np.float32)
    act = analyse_speaking(path, probe(path), vf, audio, [(1.0, 2.0)], random_asd(0))
    assert act.tracks == [0, 1] and act.frames[0] == int((1.0 - 0.3) * ASD_FPS)
    assert act.visible[0].all() and act.visible[1, act.frames >= 1.6 * ASD_FPS].sum() == 0
    assert np.isnan(act.speaking[1, ~act.visible[1]]).all()
    inside = (act.frames >= 25) & (act.frames < 50)
    assert np.isfinite(act.asd[0]).all() and (act.speaking[0, ~inside] == 0).all()  # no voice: silent
    assert {"decode+crop", "score"} <= set(act.timing)
    assert act.track_share()[1] == 0.0 or act.track_share()[1] <= 1.0


# -- real clips and weights ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def asd_net():
    if not WEIGHTS.is_file():
        pytest.skip(f"Light-ASD weights not found at {WEIGHTS} (set EMOCLI_MODELS_DIR)")
    from emocli.faces.asd_net import load_asd

    return load_asd(WEIGHTS)


@pytest.mark.slow
def test_own_voice_speaks_and_another_voice_laid_under_the_picture_does_not(data_dir: Path, asd_net) -> None:
    from emocli.faces.analyze import FaceAnalyzer, FaceOptions
    from emocli.media import load_audio
    from emocli.results import Word
    from emocli.speakers import JoinOptions, join_speakers
    from emocli.speech.vad import SileroVAD

    vad = SileroVAD()
    clip = data_dir / "clips" / "face_2.mp4"
    info = probe(clip)
    vf = FaceAnalyzer(FaceOptions()).analyze(clip, info=info)
    own = load_audio(clip)
    other = np.resize(load_audio(data_dir / "clips" / "face_3.mp4"), len(own))  # another person's voice

    def on_face(audio: np.ndarray) -> tuple[float, float, float]:
        regions = vad(audio)
        act = analyse_speaking(clip, info, vf, audio, regions, asd_net)
        words = [
            Word(t, min(t + 0.4, e), "w", 0.9, "V") for s, e in regions for t in np.arange(s, e - 0.2, 0.5)
        ]
        joined = join_speakers(words, act, vf, audio, options=JoinOptions(dub_sync=0.15))  # opt-in check
        speech = np.zeros(len(act.frames), bool)
        for s, e in regions:
            speech |= (act.times >= s) & (act.times < e)
        decided = float(np.mean([k == 0 for k in joined.word_tracks]))
        return (
            decided,
            float((act.speaking[0, speech] >= 0.5).mean()),
            float((act.asd[0, speech] >= 0).mean()),
        )

    decided, speaking, _ = on_face(own)
    assert decided == 1.0 and speaking >= 0.9
    decided, _, lips_move = on_face(other)
    # Light-ASD alone still calls the moving mouth speaking; the synchrony check takes it off the voice.
    assert lips_move >= 0.9 and decided == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("name", CLIPS)
def test_single_person_clips_speak_in_their_speech_and_are_silent_in_pauses(
    data_dir: Path, asd_net, name: str
) -> None:
    from emocli.faces.analyze import FaceAnalyzer, FaceOptions
    from emocli.faces.asd import ASDOptions
    from emocli.media import load_audio
    from emocli.speech.vad import SileroVAD

    clip = data_dir / "clips" / f"{name}.mp4"
    info = probe(clip)
    vf = FaceAnalyzer(FaceOptions()).analyze(clip, info=info)
    audio = load_audio(clip)
    regions = SileroVAD()(audio)
    act = analyse_speaking(clip, info, vf, audio, regions, asd_net, ASDOptions(pad_s=2.0))
    row = act.row(vf.track_ids[0])
    speech = np.zeros(len(act.frames), bool)
    for s, e in regions:
        speech |= (act.times >= s) & (act.times < e)
    edges = [0.0, *[t for r in regions for t in r], info.duration]
    pause = np.zeros(len(act.frames), bool)
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= 0.5:
            pause |= (act.times >= a) & (act.times < b)
    v = act.visible[row]
    assert (act.speaking[row, v & speech] >= 0.5).mean() >= 0.9
    if (v & pause).any():
        assert (act.speaking[row, v & pause] < 0.5).mean() >= 0.9


def _side_by_side(data_dir: Path, out: Path) -> Path:
    """Two people side by side taking turns: face_2 speaks (face_4 frozen), then face_4 (face_2 frozen)."""
    a, b = data_dir / "clips" / "face_2.mp4", data_dir / "clips" / "face_4.mp4"
    da, db = probe(a).duration, probe(b).duration
    graph = (
        f"[0:v]fps=25,scale=320:320,setsar=1,split[a1][a2];[1:v]fps=25,scale=320:320,setsar=1,split[b1][b2];"
        f"[a2]trim=end_frame=1,loop={int(db * 25)}:1:0,setpts=N/25/TB[af];"
        f"[b1]trim=end_frame=1,loop={int(da * 25)}:1:0,setpts=N/25/TB[bf];"
        f"[a1][bf]hstack[top];[af][b2]hstack[bot];[top][bot]concat=n=2:v=1:a=0[v];"
        f"[0:a]aresample=16000[x];[1:a]aresample=16000[y];[x][y]concat=n=2:v=0:a=1[aout]"
    )
    cmd = [ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(a), "-i", str(b), "-filter_complex", graph,
           "-map", "[v]", "-map", "[aout]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
           str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


@pytest.mark.slow
def test_annotate_names_the_face_that_speaks_with_asd_and_says_so_without_it(
    data_dir: Path, asd_net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from emocli.cli import app

    video = _side_by_side(data_dir, tmp_path / "two.mp4")
    out = tmp_path / "two_out.mp4"
    monkeypatch.setenv("EMOCLI_ASD_WEIGHTS", str(WEIGHTS))
    res = CliRunner().invoke(
        app, ["annotate", str(video), "-o", str(out), "--no-video", "--output-format", "json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
    assert doc["speaker_count"]["n"] == 2 and doc["speaker_count"]["confidence"] == "high"
    assert doc["models"]["asd"]["name"] == "light-asd"
    half = probe(data_dir / "clips" / "face_2.mp4").duration
    for u in doc["utterances"]:
        assert u["face_rule"] == "asd" and u["speaking_score"] is not None
        assert u["speaker"] == ("SPEAKER_00" if u["end"] <= half + 0.3 else "SPEAKER_01")
    tracks = {p["speaker"]: [f["track"] for f in p["faces"]] for p in doc["speaker_profiles"]}
    assert len(tracks["SPEAKER_00"]) == 1 and tracks["SPEAKER_00"] != tracks["SPEAKER_01"]
    face = doc["speaker_profiles"][0]["faces"][0]
    assert face["box"][2] <= 320 + 5  # face_2 is the left tile
    assert "Speakers: 2 speakers" in res.output

    # --asd off: the mouth-motion rule, no ASD model; without weights (auto): the same, said once.
    out2 = tmp_path / "off.mp4"
    res = CliRunner().invoke(
        app, ["annotate", str(video), "-o", str(out2), "--no-video", "-f", "json", "--asd", "off"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out2.with_suffix(".json").read_text())
    assert "asd" not in doc["models"] and all(u["face_rule"] != "asd" for u in doc["utterances"])
    monkeypatch.delenv("EMOCLI_ASD_WEIGHTS")
    out3 = tmp_path / "none.mp4"
    res = CliRunner().invoke(app, ["annotate", str(video), "-o", str(out3), "--no-video", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert (
        res.output.count("Active speaker detection is off") == 1 and "emocli models install asd" in res.output
    )


def test_bad_asd_options_are_one_line_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from emocli.cli import app
    from tests.cli_helpers import assert_one_line_error
    from tests.media_factory import make_video

    video = make_video(tmp_path / "v.mp4", seconds=1.0)
    res = CliRunner().invoke(app, ["annotate", str(video), "-o", str(tmp_path / "o.mp4"), "--asd", "maybe"])
    assert_one_line_error(res.exit_code, res.output, "Unknown --asd mode")
    missing = tmp_path / "nope.model"
    res = CliRunner().invoke(
        app, ["annotate", str(video), "-o", str(tmp_path / "o.mp4"), "--asd-weights", str(missing)]
    )
    assert_one_line_error(res.exit_code, res.output, "No Light-ASD weights file")
    assert not (tmp_path / "o.mp4").exists()


def _one_face_talk(tmp_path: Path) -> tuple[Path, Any, np.ndarray, Any]:
    """A 6 s silent 640x360 video with one face track through it, 6 s of noise as its sound, and a
    Light-ASD network of random weights."""
    path = tmp_path / "talk.mp4"
    make_video(path, seconds=6, size="640x360", audio=False)
    vf = video_faces({0: (0.0, 20.0, (100, 100, 300, 300))})
    audio = np.random.default_rng(1).normal(scale=0.1, size=6 * 16000).astype(np.float32)
    return path, vf, audio, random_asd(0)


def test_long_videos_are_scored_in_chunks_with_the_same_evidence(tmp_path: Path) -> None:
    from emocli.faces.asd import ASDOptions

    path, vf, audio, net = _one_face_talk(tmp_path)
    whole = analyse_speaking(path, probe(path), vf, audio, [(0.0, 6.0)], net, ASDOptions(chunk=750))
    parts = analyse_speaking(path, probe(path), vf, audio, [(0.0, 6.0)], net, ASDOptions(chunk=50))
    assert whole.visible.all() and parts.visible.all() and len(whole.frames) == 150
    # Windows start at the same frames (chunks end on window boundaries here): the same logits,
    # but for the 5-frame smoothing at the two chunk ends (2 frames either side).
    near_end = np.zeros(150, bool)
    for b in (50, 100):
        near_end[b - 2 : b + 2] = True
    np.testing.assert_allclose(parts.asd[:, ~near_end], whole.asd[:, ~near_end], atol=1e-5)
    assert np.abs(parts.asd - whole.asd).max() < 0.2


@pytest.mark.slow
def test_faces_command_prints_each_tracks_speaking_share(
    data_dir: Path, asd_net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from emocli.cli import app

    monkeypatch.setenv("EMOCLI_ASD_WEIGHTS", str(WEIGHTS))
    monkeypatch.setenv("COLUMNS", "200")  # the whole table on one line
    out = tmp_path / "faces.json"
    res = CliRunner().invoke(app, ["faces", str(data_dir / "clips" / "face_1.mp4"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["tracks"] and doc["tracks"][0]["speaking"] >= 0.8  # the only face talks through its speech
    assert "speaking" in res.output and doc["models"]["asd"]["name"] == "light-asd"
    res = CliRunner().invoke(
        app, ["faces", str(data_dir / "clips" / "face_1.mp4"), "-o", str(out), "--no-asd"]
    )
    assert res.exit_code == 0 and "speaking" not in json.loads(out.read_text())["tracks"][0]
    monkeypatch.delenv("EMOCLI_ASD_WEIGHTS")
    res = CliRunner().invoke(app, ["faces", str(data_dir / "clips" / "face_1.mp4"), "-o", str(out)])
    assert res.exit_code == 0 and "no speaking share" in res.output


def test_network_windows_start_at_speech_onsets_and_share_out_the_stretches() -> None:
    from emocli.faces.asd import network_windows

    assert network_windows(150, [], 25) == [(0, 25), (25, 50), (50, 75), (75, 100), (100, 125), (125, 150)]
    assert network_windows(37, [], 25) == [(0, 37)] and network_windows(38, [], 25) == [(0, 19), (19, 38)]
    # Onsets 40 and 90 open windows; 45 (5 frames after 40) and 105 (5 before the end) do not.
    wins = network_windows(110, [40, 45, 90, 105], 25)
    assert [a for a, _ in wins] == [0, 20, 40, 65, 90] and wins[-1] == (90, 110)
    assert all(b == a2 for (_, b), (a2, _) in itertools.pairwise(wins))  # every frame, once


def test_what_the_network_saw_before_a_pause_does_not_leak_past_the_next_onset() -> None:
    # Two runs of crops and sound, the same from frame 40 (a speech onset) on and different before
    # it: one person stops, the other starts. On a fixed grid, frames 40-49 shared a window with
    # 25-39 and Light-ASD's GRUs carried the earlier frames into them.
    from emocli.faces.asd import ASDOptions, _asd_logits

    rng = np.random.default_rng(3)
    net = random_asd(0)
    crops_a = rng.integers(0, 255, (100, CROP, CROP), dtype=np.uint8)
    crops_b = crops_a.copy()
    crops_b[:40] = rng.integers(0, 255, (40, CROP, CROP), dtype=np.uint8)
    mfcc_a = rng.normal(size=(400, 13)).astype(np.float32)
    mfcc_b = mfcc_a.copy()
    mfcc_b[:160] = rng.normal(size=(160, 13))
    opts = ASDOptions()
    a = _asd_logits(net, crops_a, mfcc_a, 0, opts, [40])
    b = _asd_logits(net, crops_b, mfcc_b, 0, opts, [40])
    np.testing.assert_allclose(a[40:], b[40:], atol=1e-5)
    assert np.abs(a[:40] - b[:40]).max() > 1e-3


def test_speech_onsets_reach_the_network_and_chunks_end_at_them(tmp_path: Path) -> None:
    from emocli.faces.asd import ASDOptions

    path, vf, audio, net = _one_face_talk(tmp_path)
    two = [(0.0, 2.0), (2.4, 6.0)]  # one run of frames (pad 0.3 s), an onset at frame 60
    whole = analyse_speaking(path, probe(path), vf, audio, two, net, ASDOptions())
    # From the onset at 2.4 s on, nothing of the speech before it counts: the same logits as when
    # only that speech is analysed (2 frames of the 5-frame smoothing at the run's start aside).
    late = analyse_speaking(path, probe(path), vf, audio, two[1:], net, ASDOptions(pad_s=0.0))
    assert late.frames[0] == 60 and len(whole.frames) == 150
    np.testing.assert_allclose(whole.asd[:, 62:], late.asd[:, 2:], atol=1e-5)
    # 75-frame chunks end at the onsets (60, then 105), not mid-speech: the same logits but for the
    # smoothing across the two chunk ends.
    regions = [(0.0, 2.0), (2.4, 4.0), (4.2, 6.0)]
    whole = analyse_speaking(path, probe(path), vf, audio, regions, net, ASDOptions())
    parts = analyse_speaking(path, probe(path), vf, audio, regions, net, ASDOptions(chunk=75))
    near = np.zeros(150, bool)
    for b in (60, 105):
        near[b - 2 : b + 2] = True
    np.testing.assert_allclose(parts.asd[:, ~near], whole.asd[:, ~near], atol=1e-5)
