from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emocli.errors import InputError
from emocli.media import load_audio, probe, read_frames, scaled_size, stream_audio
from tests.media_factory import ffmpeg, make_video, tone, write_wav


def test_probe_video_reports_size_fps_duration_and_audio(tmp_path: Path) -> None:
    v = make_video(tmp_path / "v.mp4", seconds=2.0, size="320x240", fps=25)
    info = probe(v)
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(25)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.has_video and info.has_audio and info.rotation == 0


def test_rotation_metadata_swaps_displayed_size_and_frames_come_out_upright(tmp_path: Path) -> None:
    src = make_video(tmp_path / "landscape.mp4", size="320x180")
    rotated = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(src), "-c", "copy", str(rotated))
    info = probe(rotated)
    assert info.rotation == 270  # 90 degrees counter-clockwise stored, i.e. 270 clockwise
    assert (info.width, info.height) == (180, 320) and info.is_portrait
    first = next(read_frames(rotated, info=info))
    assert first.image.shape == (320, 180, 3)


def test_hevc_and_audio_only_files_decode(tmp_path: Path) -> None:
    hevc = make_video(tmp_path / "h.mp4", vcodec="libx265", seconds=1.0)
    assert probe(hevc).video_codec == "hevc"
    assert sum(1 for _ in read_frames(hevc)) == 25
    for ext in ("flac", "mp3", "m4a"):
        wav = write_wav(tmp_path / "a.wav", tone(1.5, sample_rate=44100), 44100)
        out = tmp_path / f"a.{ext}"
        ffmpeg("-i", str(wav), str(out))
        info = probe(out)
        assert info.has_audio and not info.has_video
        audio = load_audio(out)
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert len(audio) / 16000 == pytest.approx(1.5, abs=0.06)


def test_audio_is_16k_mono_and_keeps_the_signal(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "t.wav", tone(2.0, hz=1000, sample_rate=44100, amp=0.5), 44100)
    audio = load_audio(wav)
    assert len(audio) == pytest.approx(32000, abs=50)
    spectrum = np.abs(np.fft.rfft(audio))
    peak_hz = np.argmax(spectrum) * 16000 / len(audio)
    assert peak_hz == pytest.approx(1000, abs=5)
    assert float(np.abs(audio).max()) == pytest.approx(0.5, abs=0.02)


def test_stream_audio_chunks_cover_the_file(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "t.wav", tone(5.0))
    chunks = list(stream_audio(wav, chunk_seconds=2.0))
    assert [len(c) for c in chunks] == [32000, 32000, 16000]


def test_read_frames_resamples_and_scales(tmp_path: Path) -> None:
    v = make_video(tmp_path / "v.mp4", seconds=2.0, size="640x480", fps=25)
    frames = list(read_frames(v, fps=5, max_side=320))
    assert len(frames) == 10
    assert frames[0].image.shape == (240, 320, 3)
    assert [round(f.time, 2) for f in frames[:3]] == [0.0, 0.2, 0.4]


def test_passthrough_frame_times_follow_the_stream(tmp_path: Path) -> None:
    v = make_video(tmp_path / "v.mp4", seconds=1.0, fps=10)
    times = [f.time for f in read_frames(v)]
    assert len(times) == 10
    assert times[-1] == pytest.approx(0.9, abs=0.01)


def test_scaled_size_keeps_aspect_and_even_pixels() -> None:
    assert scaled_size(3840, 2160, 1280) == (1280, 720)
    assert scaled_size(1080, 1920, 640) == (360, 640)
    assert scaled_size(641, 479, None) == (640, 478)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p, "File not found"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty (0 bytes)"),
        (lambda p: (p.write_text("hello, I am not a video\n" * 20), p)[1], "text file, not a media file"),
    ],
)
def test_bad_inputs_raise_one_clear_input_error(tmp_path: Path, make, fragment: str) -> None:
    path = make(tmp_path / "bad.mp4")
    with pytest.raises(InputError) as e:
        probe(path)
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_truncated_mp4_is_reported_as_truncated(tmp_path: Path) -> None:
    v = make_video(tmp_path / "v.mp4", seconds=2.0)
    data = v.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        probe(cut)


def test_video_without_audio_track(tmp_path: Path) -> None:
    v = make_video(tmp_path / "mute.mp4", audio=False)
    assert not probe(v).has_audio
    with pytest.raises(InputError, match="no audio track"):
        load_audio(v)


def test_video_writer_keeps_colours_frames_and_size(tmp_path: Path) -> None:
    from emocli.media import VideoWriter

    img = np.zeros((64, 96, 3), np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 205, 40), (128, 128, 128), (235, 55, 55)]
    for i, c in enumerate(colours):
        img[:, i * 16 : (i + 1) * 16] = c
    out = tmp_path / "colours.mp4"
    with VideoWriter(out, 96, 64, 10, crf=10) as w:
        for _ in range(7):
            w.write(img)
    frames = list(read_frames(out))
    assert len(frames) == 7 and frames[0].image.shape == (64, 96, 3)
    assert frames[0].image.flags.writeable  # callers may draw on decoded frames without a copy
    for i, c in enumerate(colours):
        assert np.abs(frames[3].image[32, i * 16 + 8].astype(int) - c).max() <= 4
