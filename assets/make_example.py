"""Build ``assets/example.mp4``: a talking portrait with synthetic speech in several emotions.

Licence-clean inputs only (see assets/README.md):
- the face: ``skimage/data/astronaut.png`` from the scikit-image wheel (NASA portrait of Eileen
  Collins, public domain);
- the voice: espeak-ng (GPL-3.0 program; the speech it produces is ours to license, CC0 here).

The portrait is animated so that it talks: the jaw opens with the loudness of the speech (a smooth
displacement field below the lip line plus a dark mouth gap), the head sways a little, and the smile
relaxes on the annoyed and sad lines (the mouth corners are pulled down), so the face's expression
bars move. Everything is deterministic: the same inputs give the same file.

Usage (needs ``apt-get install espeak-ng`` and ``pip install scikit-image``; ffmpeg comes from
imageio-ffmpeg, an emocli dependency):

    .venv/bin/python assets/make_example.py [-o assets/example.mp4]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import wave
from dataclasses import astuple, dataclass
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

SR = 16_000  # Hz, mono
FPS = 25
SIZE = (640, 360)  # output width, height
CROP = (22, 20, 422, 245)  # x0, y0, x1, y1 in the 512x512 portrait: the face with room for captions
MOUTH = (223.0, 147.5)  # x, y of the lip line's centre in the portrait (pixels)
CORNERS = ((203.0, 144.0), (244.0, 144.0))  # mouth corners in the portrait
BROWS = ((214.0, 192.0), (236.0, 262.0))  # x of the inner and outer ends of each eyebrow (at y 92)
PAUSE = 0.8  # seconds of silence between lines


@dataclass(frozen=True)
class Face:
    """An expression as a warp of the smiling portrait (pixels of the 512x512 portrait)."""

    close: float = 0.0  # 0 = the portrait's open smile, 1 = lips closed
    corners: float = 0.0  # mouth corners pulled down by this many pixels
    brows: float = 0.0  # inner brows pulled down (+, a frown) or up (-, worry / surprise)
    lift: float = 0.0  # outer brows raised by this many pixels (surprise)
    cheeks: float = 0.0  # cheeks lowered by this many pixels
    folds: float = 0.0  # 0-1: how much the smile lines beside the nose are smoothed away
    narrow: float = 0.0  # mouth narrowed by this many pixels each side

    def mix(self, other: Face, w: float) -> Face:
        a, b = astuple(self), astuple(other)
        return Face(*((1 - w) * x + w * y for x, y in zip(a, b, strict=True)))


@dataclass(frozen=True)
class Line:
    text: str
    mood: str  # what the line is written to sound like (the model decides what it hears)
    speed: int  # espeak-ng words per minute
    pitch: int  # 0-99
    amplitude: int  # 0-200
    face: Face


LINES = (
    Line("Oh my gosh, we did it! This is the best day ever. I am so happy!", "joy", 165, 75, 120, Face()),
    Line("Wait, what? Are you serious? No way!", "surprise", 170, 85, 130, Face(close=0.3, brows=-4, lift=4)),
    Line("No! You broke it again? This is ridiculous. I am so annoyed with you!", "anger", 160, 35, 170,
         Face(close=1, corners=8, brows=6, cheeks=6, folds=1)),
    Line("I'm sorry. I really miss her. Everything just feels so empty now.", "sadness", 115, 25, 80,
         Face(close=1, corners=10, brows=-5, cheeks=6, folds=1, narrow=5)),
)  # fmt: skip
VOICE = "en-us+Annie"


def speak(line: Line, workdir: Path) -> np.ndarray:
    """One line as float32 samples at SR (espeak-ng writes 22.05 kHz; ffmpeg resamples)."""
    raw = workdir / "line.wav"
    subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(line.speed), "-p", str(line.pitch), "-a", str(line.amplitude),
         "-w", str(raw), line.text],
        check=True,
    )  # fmt: skip
    pcm = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(raw), "-ac", "1", "-ar", str(SR),
         "-f", "s16le", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0


def build_audio(workdir: Path) -> tuple[np.ndarray, list[tuple[float, float, Line]]]:
    """All lines with pauses between them; returns the samples and each line's (start, end) in s."""
    gap = np.zeros(round(PAUSE * SR), np.float32)
    parts, spans, t = [gap[: SR // 2]], [], 0.5
    for line in LINES:
        x = speak(line, workdir)
        x = x / max(1e-6, float(np.abs(x).max())) * 0.8 * min(1.0, line.amplitude / 150)
        spans.append((t, t + len(x) / SR, line))
        parts += [x, gap]
        t += (len(x) + len(gap)) / SR
    return np.concatenate(parts), spans


def envelope(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """Mouth opening per video frame in [0, 1]: RMS loudness over each frame, smoothed a little."""
    hop = SR // FPS
    rms = np.array([np.sqrt(np.mean(audio[i * hop : (i + 1) * hop] ** 2) + 1e-12) for i in range(n_frames)])
    rms = np.convolve(rms, [0.25, 0.5, 0.25], mode="same")
    return np.clip(rms / max(1e-6, float(np.percentile(rms, 95))), 0.0, 1.0)


def face_at(t: float, spans: list[tuple[float, float, Line]]) -> Face:
    """The expression at time t: each line's, eased in over the 0.6 s before it starts."""
    face = LINES[0].face
    for start, _, line in spans:
        w = float(np.clip((t - (start - 0.6)) / 0.6, 0.0, 1.0))
        face = face.mix(line.face, w * w * (3 - 2 * w))
    return face


def _bump(gx: np.ndarray, gy: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-(((gx - cx) / sx) ** 2 + ((gy - cy) / sy) ** 2))


def expression_map(grid: tuple[np.ndarray, np.ndarray], f: Face, jaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each output pixel samples the portrait (cv2.remap maps) for expression ``f``, the jaw
    dropped by ``jaw`` pixels."""
    gx, gy = grid
    mx, my = MOUTH
    sx, sy = gx.copy(), gy.copy()
    # Lips close: an output pixel at distance r from the lip line samples r + s * (1 - r / 15) away,
    # so the teeth band shrinks to nothing (monotonic while s < 15).
    r = gy - my
    near = np.abs(r) < 15
    pull = 6.5 * f.close * np.clip(1 - np.abs(r) / 15, 0, 1) * np.exp(-(((gx - mx) / 20.0) ** 2))
    sy = np.where(near, my + np.sign(r) * (np.abs(r) + pull), sy)
    wx = np.exp(-(((gy - my) / 8.0) ** 2)) * np.clip(1 - np.abs(gx - mx) / 35, 0, 1)
    sx += f.narrow * np.sign(gx - mx) * wx * np.clip(np.abs(gx - mx) / 20, 0, 1)
    for cx, cy in CORNERS:
        b = _bump(gx, gy, cx, cy, 9.0, 8.0)
        sy -= f.corners * b
        sx -= 0.4 * f.corners * np.sign(mx - cx) * b
    for inner, outer in BROWS:
        sy -= f.brows * _bump(gx, gy, inner, 92.0, 7.0, 6.0)
        sy += f.lift * _bump(gx, gy, outer, 92.0, 10.0, 6.0)
    for cx in (198.0, 250.0):
        sy -= f.cheeks * _bump(gx, gy, cx, 128.0, 12.0, 12.0)
    # Jaw: below the lip line the chin moves down rigidly, fading out over the neck and past the
    # cheeks.
    down = np.clip((gy - my) / 3.0, 0, 1) * np.clip((200.0 - gy) / 25.0, 0, 1)
    sy -= jaw * down * np.exp(-(((gx - mx) / 30.0) ** 2))
    return sx.astype(np.float32), sy.astype(np.float32)


def talking_frame(
    face: np.ndarray, grid: tuple[np.ndarray, np.ndarray], opening: float, f: Face, t: float
) -> np.ndarray:
    """One frame: expression ``f``, the jaw opened by ``opening`` (0-1), a slight head sway."""
    mx, my = MOUTH
    jaw = 6.0 * opening  # pixels the chin drops at full loudness
    sx, sy = expression_map(grid, f, jaw)
    out = cv2.remap(face, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if f.folds > 0:  # the smile lines beside the nose fade as the smile goes
        m = np.zeros(face.shape[:2], np.float32)
        for cx in (196, 252):
            cv2.ellipse(m, (cx, 138), (9, 14), 0, 0, 360, 1.0, -1)
        m = cv2.GaussianBlur(m, (15, 15), 4)[..., None] * f.folds
        out = out * (1 - m) + cv2.GaussianBlur(out, (0, 0), 3.0) * m
    if jaw > 0.5:  # the open mouth: a soft dark ellipse between the upper and the lower lip
        m = np.zeros(face.shape[:2], np.float32)
        half_w = (15.0 - 0.6 * f.narrow - 3.0 * f.close) * 4
        cv2.ellipse(m, (round(mx * 4), round((my + jaw / 2) * 4)), (round(half_w), round(jaw / 2 * 4)),
                    0, 0, 360, 1.0, -1, shift=2)  # fmt: skip
        m = cv2.GaussianBlur(m, (5, 5), 1.2)[..., None]
        out = out * (1 - m) + np.array([45, 16, 14], np.float32) * m
    # Head sway: a small rotation and shift about the neck, slow and smooth.
    angle = 1.2 * np.sin(2 * np.pi * t / 5.3) + 0.4 * np.sin(2 * np.pi * t / 1.9)
    shift = (2.0 * np.sin(2 * np.pi * t / 4.1), 1.0 * np.sin(2 * np.pi * t / 3.1))
    rot = cv2.getRotationMatrix2D((mx, 230.0), angle, 1.0)
    rot[:, 2] += shift
    out = cv2.warpAffine(out, rot, (out.shape[1], out.shape[0]), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)  # fmt: skip
    x0, y0, x1, y1 = CROP
    return cv2.resize(out[y0:y1, x0:x1], SIZE, interpolation=cv2.INTER_CUBIC)


def load_portrait() -> np.ndarray:
    try:
        from skimage import data
    except ImportError as e:
        raise SystemExit("This script needs scikit-image for the portrait: pip install scikit-image") from e
    return np.ascontiguousarray(data.astronaut()[..., :3])  # (512, 512, 3) uint8 RGB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("example.mp4"))
    args = ap.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("This script needs espeak-ng: apt-get install espeak-ng")
    face = load_portrait().astype(np.float32)
    grid = np.meshgrid(np.arange(face.shape[1], dtype=np.float32), np.arange(face.shape[0], dtype=np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        audio, spans = build_audio(work)
        wav = work / "speech.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
        n_frames = int(len(audio) / SR * FPS)
        opening = envelope(audio, n_frames)
        ffmpeg = subprocess.Popen(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{SIZE[0]}x{SIZE[1]}", "-r", str(FPS), "-i", "-",
             "-i", str(wav), "-c:v", "libx264", "-preset", "slow", "-crf", "26", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "48k", "-ac", "1", "-shortest", "-movflags", "+faststart",
             "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
             str(args.output)],
            stdin=subprocess.PIPE,
        )  # fmt: skip
        assert ffmpeg.stdin is not None
        for i in range(n_frames):
            t = i / FPS
            frame = talking_frame(face, grid, float(opening[i]), face_at(t, spans), t)
            ffmpeg.stdin.write(np.clip(frame, 0, 255).astype(np.uint8).tobytes())
        ffmpeg.stdin.close()
        if ffmpeg.wait() != 0:
            raise SystemExit("ffmpeg failed")
    for start, end, line in spans:
        print(f"{start:5.1f}-{end:5.1f}s  {line.mood:8s}  {line.text}")
    print(f"Wrote {args.output} ({args.output.stat().st_size} bytes, {len(audio) / SR:.1f} s)")


if __name__ == "__main__":
    main()
