"""Media the tests build themselves with the bundled ffmpeg (no test data is committed)."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

from emocli.media import ffmpeg_exe


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_video(
    path: Path,
    seconds: float = 2.0,
    size: str = "320x240",
    fps: float = 25,
    audio: bool = True,
    tone_hz: float = 440.0,
    vcodec: str = "libx264",
    extra: tuple[str, ...] = (),
) -> Path:
    """A test-pattern video with an optional sine tone (AAC)."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:duration={seconds}:sample_rate=44100"]
        args += ["-c:a", "aac"]
    args += ["-c:v", vcodec, "-pix_fmt", "yuv420p", *extra, "-shortest", str(path)]
    ffmpeg(*args)
    return Path(path)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = 16000) -> Path:
    """Mono PCM16 WAV from float samples in [-1, 1]."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return Path(path)


def tone(seconds: float, hz: float = 440.0, sample_rate: int = 16000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)
