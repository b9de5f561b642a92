"""The helpers of benchmarks/bench_diarize.py and make_conversation.py (no data, no models; tiny
media made here with ffmpeg)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from emocli.speech.metrics import der
from tests.benchmark_modules import load_benchmark

bench = load_benchmark("bench_diarize")
conv = load_benchmark("make_conversation")


def test_der_frames_matches_the_library_der_when_nothing_is_left_out() -> None:
    rng = random.Random(1)
    for _ in range(5):
        ref = [
            (t, t + rng.uniform(0.2, 3), rng.choice("AB"))
            for t in sorted(rng.uniform(0, 30) for _ in range(12))
        ]
        hyp = [
            (t, t + rng.uniform(0.2, 3), rng.choice("xyz"))
            for t in sorted(rng.uniform(0, 30) for _ in range(9))
        ]
        got = bench.der_frames(ref, hyp)
        want = der(ref, hyp)
        assert got["der"] == pytest.approx(want.der)
        assert got["total"] == pytest.approx(want.total)
        assert got["mapping"] == want.mapping


def test_der_without_overlap_drops_only_the_overlapped_frames() -> None:
    ref = [(0.0, 4.0, "A"), (3.0, 6.0, "B")]  # 3-4 s: both talk
    hyp = [(0.0, 3.5, "x"), (3.5, 6.0, "y")]  # right except for half the overlap
    with_ovl = bench.der_frames(ref, hyp)
    assert with_ovl["missed"] == pytest.approx(1.0)  # one voice of the two is missed in 3-4 s
    assert with_ovl["der"] == pytest.approx(1.0 / 7.0)
    no_ovl = bench.der_frames(ref, hyp, skip_overlap=True)
    assert no_ovl["der"] == 0.0
    assert no_ovl["total"] == pytest.approx(5.0)


def test_der_is_scored_inside_the_uem_only() -> None:
    ref = [(1.0, 5.0, "A")]
    hyp = [(0.0, 5.0, "x"), (8.0, 9.0, "x")]  # false alarms at 0-1 s and 8-9 s
    assert bench.der_frames(ref, hyp)["false_alarm"] == pytest.approx(2.0)
    inside = bench.der_frames(ref, hyp, uem=(1.0, 6.0))
    assert inside["der"] == 0.0


def test_spread_counts_split_turns_and_mixed_utterances() -> None:
    ref = [(0.0, 4.0, "A"), (4.0, 8.0, "B")]
    hyp = [(0.0, 2.0, "x"), (2.0, 6.0, "y"), (6.0, 8.0, "y")]
    assert bench.spread(ref, hyp) == 1  # A's turn is shared by x and y
    assert bench.spread(hyp, ref) == 1  # the 2-6 s utterance runs over A and B
    assert bench.spread(ref, [(0.0, 3.9, "x"), (3.9, 8.0, "y")]) == 0  # 0.1 s is under MIN_SPLIT


def test_face_right_checks_the_box_centre_against_the_speakers_tile() -> None:
    tiles = {"A": (0, 0, 100, 100), "B": (100, 0, 200, 100)}
    ref = [(0.0, 2.0, "A"), (2.0, 4.0, "B"), (4.0, 5.0, "A"), (5.0, 6.0, "B"), (6.0, 7.0, "A")]
    utts = [
        {"start": 0.0, "end": 2.0, "face_track": 0},  # right: track 0 sits in A's tile
        {"start": 2.0, "end": 4.0, "face_track": 0},  # wrong tile: B speaks
        {"start": 4.0, "end": 5.0, "face_track": None},  # no track
        {"start": 5.0, "end": 6.0, "face_track": 7},  # a track with no box anywhere
    ]  # 6-7 s: no utterance
    frames = [
        {"time": t, "faces": [{"box": [10, 10, 90, 90], "track": 0}, {"box": [110, 10, 190, 90], "track": 1}]}
        for t in (0.0, 1.0, 2.0, 3.0)
    ]
    fs = bench.face_right(ref, utts, frames, tiles)
    assert fs.right == pytest.approx(2.0)
    assert fs.wrong_tile == pytest.approx(2.0)
    assert fs.no_track == pytest.approx(1.0)
    assert fs.no_box == pytest.approx(1.0)
    assert fs.no_utterance == pytest.approx(1.0)
    assert fs.share == pytest.approx(2.0 / 7.0)


def test_face_right_ignores_overlapped_reference_time() -> None:
    tiles = {"A": (0, 0, 100, 100), "B": (100, 0, 200, 100)}
    ref = [(0.0, 2.0, "A"), (1.0, 3.0, "B")]  # 1-2 s: both speak, not scored
    utts = [{"start": 0.0, "end": 3.0, "face_track": 1}]
    frames = [{"time": 0.5, "faces": [{"box": [110, 0, 190, 80], "track": 1}]}]
    fs = bench.face_right(ref, utts, frames, tiles)
    assert fs.total == pytest.approx(2.0)
    assert fs.right == pytest.approx(1.0) and fs.wrong_tile == pytest.approx(1.0)


def test_count_info_reads_optional_fields_leniently() -> None:
    assert bench.count_info({"speakers": ["S0"]}) == ("", None, None)
    sc = {"n": 1, "confidence": "low", "low": 1, "high": 3, "evidence": "voice only"}
    text, lohi, uncertain = bench.count_info({"speaker_count": sc})
    assert (text, lohi, uncertain) == ("n=1 confidence=low range=1-3", (1, 3), True)
    sc = {"n": 2, "confidence": "high", "low": 2, "high": 2}
    assert bench.count_info({"speaker_count": sc})[2] is False
    assert bench.count_info({"speaker_count": {"range": [2, 4], "uncertain": True}})[1:] == ((2, 4), True)
    assert bench.count_info({"speaker_count": {"min": 1, "max": 3}})[1:] == ((1, 3), None)


def test_reference_turns_bridge_short_pauses_and_tiles_fit_the_canvas() -> None:
    regions = [(0.0, 1.0), (1.2, 2.0), (2.5, 3.0)]
    assert conv.speech_inside(regions, 0.5, 2.8) == [(0.5, 2.0), (2.5, 2.8)]
    for layout in ("side", "grid"):
        for n in (2, 3, 4):
            tile, rects = conv.tile_layout(layout, n)
            assert tile <= 512 and tile % 2 == 0 and len(rects) == n
            assert max(r[2] for r in rects) <= 1280
            assert len({(r[0], r[1]) for r in rects}) == n  # no two people share a tile
    assert conv.tile_layout("grid", 4)[1][3] == (512, 512, 1024, 1024)


def test_silent_stretch_takes_the_longest_pause_or_a_still_frame() -> None:
    a, b = conv.silent_stretch([(0.0, 2.0), (3.5, 5.0)], 5.0)  # the pause 2-3.5 s (>= STILL_MIN)
    assert 2.0 < a < b < 3.5 and b - a <= conv.STILL_MAX
    a, b = conv.silent_stretch([(0.0, 2.0), (2.6, 5.0)], 5.0)  # a 0.6 s pause: one still frame
    assert a == b and 2.0 < a < 2.6
    a, b = conv.silent_stretch([(0.0, 4.95)], 5.0)  # no pause long enough: one frame
    assert a == b


def test_a_turn_gets_as_much_sound_as_picture_even_at_its_clips_end(tmp_path: Path) -> None:
    # A clip whose sound stops 0.1 s before its picture (as a clip cut to whole frames does): the
    # turn cut to its last frames must still carry sound for all of them, or every later turn's sound
    # comes early (and a loop adds that per cycle).
    from emocli.media import ffmpeg_exe, load_audio

    clip = tmp_path / "clip.mkv"
    ffmpeg = [ffmpeg_exe(), "-loglevel", "error", "-y"]
    subprocess.run(
        [*ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25:duration=2", "-f", "lavfi", "-i",
         "sine=frequency=300:sample_rate=16000:duration=1.9", "-c:v", "libx264", "-c:a", "pcm_s16le",
         str(clip)],
        check=True,
    )  # fmt: skip
    a0, a1 = 25 * 16000 // 25, 50 * 16000 // 25  # frames 25-50: 1.0-2.0 s
    out = tmp_path / "piece.wav"
    graph = f"[0:a]{conv.piece_audio(a0, a1)}[a]"
    subprocess.run([*ffmpeg, "-i", str(clip), "-filter_complex", graph, "-map", "[a]", str(out)], check=True)
    assert len(load_audio(out)) == a1 - a0
    with pytest.raises(SystemExit, match="expected 50 frames"):
        conv.check_length(clip, 50)  # 50 frames of picture, 1.9 s of sound
    whole = tmp_path / "whole.mkv"
    graph = f"[0:a]{conv.piece_audio(0, a1)}[a]"
    cmd = [*ffmpeg, "-i", str(clip), "-filter_complex", graph, "-map", "0:v", "-map", "[a]", "-c:v", "copy"]
    subprocess.run([*cmd, "-c:a", "pcm_s16le", str(whole)], check=True)
    conv.check_length(whole, 50)  # the sound padded to the picture's 2 s


def test_held_out_videos_hold_different_people_the_rules_were_not_tuned_on() -> None:
    for name, people, layout, listeners in conv.HELD_OUT:
        persons = [conv.SAME_PERSON.get(p, p) for p in people]
        assert len(set(persons)) == len(people), name  # face_3 and the AOC clip are one voice
        assert layout in ("side", "grid") and listeners in ("still", "muted")
        assert (layout == "grid") == (len(people) == 4), name
        assert tuple(people) != tuple(conv.DEFAULT_CLIPS[: len(people)]), name
