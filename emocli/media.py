"""Media I/O through the ffmpeg binary that ``imageio-ffmpeg`` ships (no system ffmpeg needed).

- ``probe``: duration, streams, displayed size, frame rate and rotation of any file ffmpeg reads.
- ``load_audio`` / ``stream_audio``: 16 kHz mono float32 in [-1, 1], streamed in chunks.
- ``read_frames``: RGB frames (autorotated to display orientation), optionally resampled/scaled.
- ``VideoWriter``: raw RGB frames piped into ffmpeg, muxed with the source's audio.

File names always go to ffmpeg as argument lists, never through a shell.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

from emocli.errors import InputError, OutputError

SAMPLE_RATE = 16_000
"""Every audio path in emocli runs at 16 kHz mono (what Whisper, Silero and Resemblyzer expect)."""

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".wma"})
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".3gp"}
)


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class MediaInfo:
    """What ``probe`` learns about a file. Sizes are as displayed (after rotation)."""

    path: Path
    duration: float  # seconds
    has_audio: bool
    has_video: bool
    width: int | None = None  # pixels, displayed orientation
    height: int | None = None
    fps: float | None = None  # average frame rate (frames/s)
    rotation: int = 0  # degrees the stored picture is turned for display: 0, 90, 180 or 270
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None  # Hz, of the source audio stream

    @property
    def is_portrait(self) -> bool:
        return bool(self.width and self.height and self.height > self.width)


_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+[^:]*:\s*(Video|Audio):\s*([^\s,]+)(.*)$")
_SIZE = re.compile(r"(?<![\dx])(\d{2,5})x(\d{2,5})(?![\dx])")
_FPS = re.compile(r"([\d.]+)\s*fps")
_TBR = re.compile(r"([\d.]+k?)\s*tbr")
_HZ = re.compile(r"(\d+)\s*Hz")
_ROT_MATRIX = re.compile(r"rotation of\s*(-?[\d.]+)\s*degrees")
_ROT_TAG = re.compile(r"^\s*rotate\s*:\s*(-?\d+)")


def _check_readable(path: Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"File not found: {path}.", "Check the path and the spelling.")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a media file.", "Give a video or audio file.")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as e:
        raise InputError(f"Cannot read {path}: {e.strerror}.", "Check its permissions.") from e
    if size == 0:
        raise InputError(f"{path} is empty (0 bytes).", "Give a complete video or audio file.")
    return path


def _looks_like_text(path: Path) -> bool:
    try:
        head = path.read_bytes()[:4096] if path.stat().st_size < 4096 else path.open("rb").read(4096)
    except OSError:
        return False
    if not head or b"\0" in head:
        return False
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return printable / len(head) > 0.95


def _explain_ffmpeg_failure(path: Path, stderr: str) -> InputError:
    """Turn ffmpeg's stderr into one line the user can act on."""
    low = stderr.lower()
    if _looks_like_text(path):
        return InputError(
            f"{path} is a text file, not a media file ffmpeg can read.",
            "Give a video (mp4, mov, mkv) or audio (wav, flac, mp3, m4a) file.",
        )
    if "moov atom not found" in low or "partial file" in low or "end of file" in low:
        return InputError(
            f"{path} is truncated or corrupt (the container is incomplete).",
            "Re-download or re-export the file.",
        )
    if "invalid data found" in low or "could not find codec parameters" in low:
        return InputError(
            f"{path} is not a media file ffmpeg can read.",
            "Give a video (mp4, mov, mkv) or audio (wav, flac, mp3, m4a) file.",
        )
    if "permission denied" in low:
        return InputError(f"Cannot read {path}: permission denied.", "Check its permissions.")
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "unknown error")
    return InputError(f"ffmpeg cannot read {path}: {last}.", "Check that the file plays in a media player.")


def probe(path: Path | str) -> MediaInfo:
    """Read duration, streams, size, fps and rotation without decoding the whole file."""
    path = _check_readable(Path(path))
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    err = proc.stderr
    if "Input #0" not in err:
        raise _explain_ffmpeg_failure(path, err)
    m = _DURATION.search(err)
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else 0.0

    has_audio = has_video = False
    width = height = None
    fps = None
    rotation = 0
    vcodec = acodec = None
    sr = None
    in_video = False
    for line in err.splitlines():
        s = _STREAM.match(line)
        if s:
            kind, codec, rest = s.groups()
            in_video = False
            if kind == "Video" and "attached pic" not in rest and not has_video:
                has_video, in_video, vcodec = True, True, codec
                if sz := _SIZE.search(rest):
                    width, height = int(sz.group(1)), int(sz.group(2))
                if f := _FPS.search(rest):
                    fps = float(f.group(1))
                elif t := _TBR.search(rest):
                    fps = float(t.group(1).rstrip("k")) * (1000 if t.group(1).endswith("k") else 1)
            elif kind == "Audio" and not has_audio:
                has_audio, acodec = True, codec
                if hz := _HZ.search(rest):
                    sr = int(hz.group(1))
            continue
        if in_video and (r := _ROT_MATRIX.search(line) or _ROT_TAG.match(line)):
            # ffmpeg reports the display matrix as counter-clockwise; store it clockwise in [0, 360).
            deg = float(r.group(1))
            deg = -deg if "rotation of" in line else deg
            rotation = round(deg) % 360
    if not has_audio and not has_video:
        raise InputError(f"{path} has neither an audio nor a video stream.", "Give a video or audio file.")
    if rotation in (90, 270) and width and height:
        width, height = height, width
    if duration <= 0 and has_audio:
        duration = len(load_audio(path)) / SAMPLE_RATE
    return MediaInfo(path, duration, has_audio, has_video, width, height, fps, rotation, vcodec, acodec, sr)


def stream_audio(
    path: Path | str, chunk_seconds: float = 30.0, sample_rate: int = SAMPLE_RATE
) -> Iterator[np.ndarray]:
    """Yield the first audio track as mono float32 chunks of ``chunk_seconds`` (the last may be shorter).

    Memory stays bounded by one chunk whatever the input length. Raises ``InputError`` when the
    file has no audio track or ffmpeg fails before producing any samples.
    """
    path = _check_readable(Path(path))
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
        "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    errs: list[bytes] = []
    reader = threading.Thread(target=lambda: errs.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    chunk_bytes = int(chunk_seconds * sample_rate) * 4
    produced = False
    try:
        while True:
            buf = proc.stdout.read(chunk_bytes)
            if not buf:
                break
            usable = len(buf) - len(buf) % 4
            produced = True
            yield np.frombuffer(buf[:usable], dtype=np.float32).copy()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(timeout=5)
    stderr = b"".join(errs).decode("utf-8", "replace")
    if not produced:
        if "matches no streams" in stderr or "Stream map" in stderr:
            raise InputError(
                f"{path} has no audio track.", "Give a file with sound, or a separate audio file."
            )
        raise _explain_ffmpeg_failure(path, stderr)


def load_audio(path: Path | str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The whole first audio track as mono float32 at ``sample_rate`` Hz, shape (n_samples,)."""
    chunks = list(stream_audio(path, sample_rate=sample_rate))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class Frame:
    index: int  # 0-based index in the decoded (possibly resampled) stream
    time: float  # seconds from the start of the file
    image: np.ndarray  # (height, width, 3) uint8 RGB, display orientation (or I420, see read_frames)


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Size that fits ``max_side`` keeping the aspect ratio, rounded to even pixels (for yuv420p)."""
    if not max_side or max(width, height) <= max_side:
        return width - width % 2, height - height % 2
    k = max_side / max(width, height)
    return max(2, round(width * k / 2) * 2), max(2, round(height * k / 2) * 2)


def read_frames(
    path: Path | str,
    fps: float | None = None,
    max_side: int | None = None,
    info: MediaInfo | None = None,
    pix_fmt: str = "rgb24",
) -> Iterator[Frame]:
    """Decode frames in display orientation.

    ``fps=None`` yields every decoded frame once (variable frame rate kept, times from the stream);
    a number resamples to that constant rate. ``max_side`` downscales (e.g. 4K analysed at 1280).
    ``pix_fmt="yuv420p"`` gives I420 frames, (H * 3 / 2, W) uint8 (Y plane, then U, then V: what
    decoders produce, so no colour conversion and half the bytes of RGB).
    """
    if pix_fmt not in ("rgb24", "yuv420p"):
        raise ValueError(f"unsupported pix_fmt {pix_fmt!r}")
    info = info or probe(path)
    if not info.has_video or not info.width or not info.height:
        raise InputError(f"{info.path} has no video track.", "Give a video file for this step.")
    w, h = scaled_size(info.width, info.height, max_side)
    # round=up: output frame i is the last input frame with pts <= i/fps, i.e. the frame on screen at
    # the time we label it with (the default rounding picked a frame up to half an interval later).
    filters = [f"fps={fps}:round=up"] if fps else []
    # showinfo gives each frame's pts; its per-plane checksums (on by default) cost 40% of decoding.
    filters += [f"scale={w}:{h}", "showinfo=checksum=0"]
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(info.path), "-an", "-sn", "-dn",
        "-vf", ",".join(filters), "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    times: queue.Queue[float | None] = queue.Queue()
    tail: list[str] = []
    pts = re.compile(rb"pts_time:\s*(-?[\d.]+)")

    def pump_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            m = pts.search(line)
            if m:
                times.put(float(m.group(1)))
            else:
                tail.append(line.decode("utf-8", "replace"))
                del tail[:-50]
        times.put(None)

    threading.Thread(target=pump_stderr, daemon=True).start()
    shape = (h, w, 3) if pix_fmt == "rgb24" else (h * 3 // 2, w)
    frame_bytes = shape[0] * shape[1] * (3 if pix_fmt == "rgb24" else 1)
    i = 0
    t0: float | None = None
    try:
        while True:
            # A fresh writable buffer per frame, filled in place: callers may draw on the image
            # without copying it, and may keep it.
            buf = bytearray(frame_bytes)
            if _read_exact(proc.stdout, buf) < frame_bytes:
                break
            try:
                t = times.get(timeout=10)
            except queue.Empty:
                t = None
            if t is None:
                t = i / (fps or info.fps or 25.0)
            t0 = t if t0 is None else t0
            # Times are relative to the first frame: containers often start at a small offset.
            yield Frame(
                i, (i / fps) if fps else max(0.0, t - t0), np.frombuffer(buf, np.uint8).reshape(shape)
            )
            i += 1
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if i == 0:
        raise _explain_ffmpeg_failure(info.path, "".join(tail))


def _read_exact(stream: BinaryIO, buf: bytearray) -> int:
    """Fill ``buf`` from ``stream``; returns the bytes read (less than len(buf) only at the end)."""
    view = memoryview(buf)
    got = 0
    while got < len(buf):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


class VideoWriter:
    """Encode RGB frames to H.264 mp4 through an ffmpeg pipe, muxing the audio of ``audio_source``.

    Use as a context manager; frames are (height, width, 3) uint8 RGB (write) or I420 (write_i420)
    at a constant ``fps``.
    On an exception the ffmpeg process is killed (the caller's atomic_output removes the file).
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        audio_source: Path | None = None,
        preset: str = "veryfast",
        crf: int = 21,
        threads: int = 0,
    ) -> None:
        self.path = Path(path)
        self.size = (width, height)
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", f"{fps:.6f}", "-i", "-",
        ]  # fmt: skip
        if audio_source is not None:
            # Audio is copied untouched when mp4 can hold it; otherwise re-encoded to AAC.
            cmd += ["-i", str(audio_source), "-map", "0:v:0", "-map", "1:a:0?"]
        cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
        cmd += [
            "-threads",
            str(threads),
            "-c:a",
            "aac",
            "-b:a",
            "160k",
            "-movflags",
            "+faststart",
            str(self.path),
        ]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.frames_written = 0

    def write(self, image: np.ndarray) -> None:
        if image.shape[1::-1] != self.size or image.dtype != np.uint8:
            raise ValueError(f"frame {image.shape} {image.dtype} does not match {self.size} uint8")
        import cv2

        # RGB -> I420 here with OpenCV's SIMD code (0.5 ms at 720p) rather than in ffmpeg's
        # swscale, and half the bytes through the pipe; written without an extra copy.
        self._send(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420))

    def write_i420(self, yuv: np.ndarray) -> None:
        """Write one frame already in I420: (height * 3 / 2, width) uint8, as read_frames gives."""
        w, h = self.size
        if yuv.dtype != np.uint8 or yuv.size != w * h * 3 // 2:
            raise ValueError(f"I420 frame {yuv.shape} {yuv.dtype} does not match {w}x{h}")
        self._send(np.ascontiguousarray(yuv))

    def _send(self, yuv: np.ndarray) -> None:
        try:
            self._proc.stdin.write(memoryview(yuv).cast("B"))  # type: ignore[union-attr]
        except BrokenPipeError as e:
            raise OutputError(f"ffmpeg stopped while writing {self.path}: {self._stderr()}") from e
        self.frames_written += 1

    def _stderr(self) -> str:
        try:
            return (self._proc.stderr.read() or b"").decode("utf-8", "replace").strip()  # type: ignore[union-attr]
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        rc = self._proc.wait()
        if rc != 0:
            raise OutputError(f"ffmpeg could not write {self.path}: {self._stderr() or f'exit code {rc}'}")

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
