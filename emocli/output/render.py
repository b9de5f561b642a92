"""Burn emotion captions, the speaker's face box and per-frame probability bars into a video copy.

Speed matters (every frame of the input is decoded, drawn and re-encoded), so text is rendered with
Pillow once per caption / label into RGBA sprites and alpha-blended with integer NumPy arithmetic
on the small region it covers; bars and boxes are plain array fills. Sizes scale with the shorter
side of the frame, so 360p, 720p, portrait and 4K read the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from emocli import EMOTIONS
from emocli.fileio import atomic_output
from emocli.hooks import ProgressHook, null_hook
from emocli.media import MediaInfo, VideoWriter, probe, read_frames
from emocli.output import fonts
from emocli.output.canvas import I420Canvas
from emocli.results import Result, Utterance

# RGB per emotion: distinct hues, each readable on the dark caption panel.
EMOTION_COLOURS: dict[str, tuple[int, int, int]] = {
    "neutral": (190, 190, 190),
    "joy": (255, 205, 40),
    "surprise": (255, 140, 30),
    "anger": (235, 55, 55),
    "sadness": (70, 130, 240),
    "disgust": (80, 185, 80),
    "fear": (170, 95, 225),
}
PANEL = (16, 16, 20)  # dark panel behind text; with white text this reads on any background


@dataclass(frozen=True)
class FaceOverlay:
    """One face to draw on one frame (display pixels)."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    probs: np.ndarray | None = None  # (7,) frame-level expression probabilities, EMOTIONS order
    is_speaker: bool = False
    label: str | None = None  # e.g. the speaker's name


OverlayAt = Callable[[float], list[FaceOverlay]]
"""time in seconds -> faces to draw at that instant (the pipeline adapts the faces stage to this)."""


@dataclass(frozen=True)
class RenderOptions:
    preset: str = "veryfast"  # x264 preset: speed/size trade-off of the re-encode
    crf: int = 21
    smoothing: float = 0.5  # weight of the previous frame's bars (0 = raw per-frame values)
    draw_other_faces: bool = True
    captions: str = "spoken"  # "spoken": the words as said; "english": Whisper's translation


@dataclass
class Sprite:
    """Pre-rendered RGBA image for fast alpha blending onto uint8 frames.

    ``rgb``: (h, w, 3) uint8, the colour premultiplied by alpha / 255 (rounded);
    ``inv``: (h, w, 3) uint8, 255 - alpha, repeated over the channels so OpenCV blends in one call.
    """

    rgb: np.ndarray
    inv: np.ndarray

    @classmethod
    def from_image(cls, img: Image.Image) -> Sprite:
        a = np.asarray(img.convert("RGBA"), dtype=np.uint16)
        alpha = a[..., 3:4]
        rgb = ((a[..., :3] * alpha + 127) // 255).astype(np.uint8)
        inv = np.repeat((255 - alpha).astype(np.uint8), 3, axis=2)
        return cls(rgb=np.ascontiguousarray(rgb), inv=np.ascontiguousarray(inv))

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def blit(self, frame: np.ndarray, x: int, y: int) -> None:
        """Alpha-blend onto ``frame`` (H, W, 3) uint8 in place, clipped to the frame.

        frame = frame * (255 - alpha) / 255 + colour * alpha / 255, each term rounded (at most 1
        level from the exact blend). OpenCV's saturating uint8 arithmetic is about 5x faster than
        numpy's uint16 round trip, and the caption covers a tenth of every frame."""
        h, w = self.rgb.shape[:2]
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(frame.shape[1], x + w), min(frame.shape[0], y + h)
        if x1 <= x0 or y1 <= y0:
            return
        sx, sy = x0 - x, y0 - y
        rgb = self.rgb[sy : sy + y1 - y0, sx : sx + x1 - x0]
        inv = self.inv[sy : sy + y1 - y0, sx : sx + x1 - x0]
        region = frame[y0:y1, x0:x1]
        region[:] = cv2.add(cv2.multiply(region, inv, scale=1 / 255), rgb)


def text_sprite(
    text: str, size: int, colour: tuple[int, int, int], bold: bool = False, outline: int = 0
) -> Sprite:
    return Sprite.from_image(fonts.text_image(text, size, (*colour, 255), bold, outline))


def _fill(
    frame: np.ndarray, x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int], alpha: float = 1.0
) -> None:
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(frame.shape[1], x1), min(frame.shape[0], y1)
    if x1 <= x0 or y1 <= y0:
        return
    region = frame[y0:y1, x0:x1]
    if alpha >= 1.0:
        region[:] = colour
    else:
        a = int(alpha * 256)
        region[:] = ((region.astype(np.uint16) * (256 - a) + np.array(colour, np.uint16) * a) >> 8).astype(
            np.uint8
        )


def _rect(
    frame: np.ndarray, box: tuple[float, float, float, float], colour: tuple[int, int, int], t: int
) -> None:
    x0, y0, x1, y1 = (round(v) for v in box)
    _fill(frame, x0, y0, x1, y0 + t, colour)
    _fill(frame, x0, y1 - t, x1, y1, colour)
    _fill(frame, x0, y0, x0 + t, y1, colour)
    _fill(frame, x1 - t, y0, x1, y1, colour)


def caption_text(u: Utterance, captions: str = "spoken") -> tuple[str, str | None, str | None]:
    """The caption to draw, its language, and a note when letters had to be left out.

    The words as chosen (``captions``: "spoken" or "english"); where no font here draws them (or a
    script needs raqm, which is missing), Whisper's English translation; failing both, the letters
    that can be drawn and a note: never boxes in place of letters."""
    english = captions == "english" and u.text_en is not None
    text, language = " ".join(u.caption_text(captions).split()), "en" if english else u.language
    if fonts.can_draw(text, language):
        return text, language, None
    if u.text_en and fonts.can_draw(u.text_en, "en"):
        return " ".join(u.text_en.split()), "en", None
    kept = fonts.drawable(text, fonts.plan(text, language))
    return kept, language, f"(caption not drawable: {u.language or 'unknown script'})"


@dataclass
class Layout:
    """All sizes in pixels, derived from the frame's shorter side (720 -> scale 1)."""

    width: int
    height: int
    scale: float = field(init=False)

    def __post_init__(self) -> None:
        self.scale = max(0.45, min(self.width, self.height) / 720)

    def px(self, v: float) -> int:
        return max(1, round(v * self.scale))


class CaptionRenderer:
    """Draws one frame's overlays; caches sprites so per-frame work is a few array operations."""

    def __init__(self, width: int, height: int, options: RenderOptions = RenderOptions()) -> None:
        self.L = Layout(width, height)
        self.options = options
        self._caption_cache: dict[int, tuple[Sprite, int]] = {}
        self._labels = {e: text_sprite(e, self.L.px(15), (235, 235, 235)) for e in EMOTIONS}
        # "untranscribed": speech without words (Result.untranscribed), where a caption would be.
        quiet = {"no_face": "no face", "no_speech": "no speech", "untranscribed": "(speech not transcribed)"}
        self._quiet = {
            k: text_sprite(v, self.L.px(16), (200, 200, 200), outline=max(1, self.L.px(1.5)))
            for k, v in quiet.items()
        }
        self._tags: dict[str, Sprite] = {}
        self._smoothed: np.ndarray | None = None

    # -- caption -----------------------------------------------------------------------------
    def _caption(self, idx: int, u: Utterance) -> tuple[Sprite, int]:
        if idx in self._caption_cache:
            return self._caption_cache[idx]
        L = self.L
        size = L.px(26)
        pad = L.px(12)
        max_w = int(L.width * 0.92)
        text, language, note = caption_text(u, self.options.captions)
        plan = fonts.plan(text, language)
        # Wrapped by shaped width: between words, or between characters in Chinese and Japanese.
        lines = fonts.wrap(text or ("" if note else "…"), plan, size, max_w - 3 * pad)
        if len(lines) > 3:  # long utterances: keep the end, which is what is being said now-ish
            lines = [fonts.layout("…" + lines[-3].text, plan, size), *lines[-2:]]
        body = [(line, (255, 255, 255, 255)) for line in lines]
        if note:
            body.append((fonts.layout(note, fonts.plan(note), size), (200, 200, 200, 255)))
        colour = EMOTION_COLOURS.get(u.emotion or "", (235, 235, 235))
        head = u.speaker
        if u.emotion:
            head += f"  ·  {u.emotion.upper()}"
            if u.confidence is not None:
                head += f" {u.confidence:.0%}"
        head_plan = fonts.plan(head, bold=True)
        head_line = fonts.layout(fonts.drawable(head, head_plan), head_plan, size)
        up, line_h = fonts.spacing([head_line, *(ln for ln, _c in body)])
        text_w = max(ln.width for ln in [head_line, *(ln for ln, _c in body)])
        w = min(max_w, int(text_w) + 3 * pad)
        h = pad * 2 + line_h * (1 + len(body))
        img = Image.new("RGBA", (w, h), (*PANEL, 175))
        d = ImageDraw.Draw(img)
        stripe = L.px(6)
        d.rectangle((0, 0, stripe, h), fill=(*colour, 255))
        fonts.draw_line(d, head_line, pad + stripe, pad + up, (*colour, 255))
        right = w - 2 * pad + stripe  # as far from the right edge as the text starts from the left
        for i, (line, fill) in enumerate(body):
            x = right - line.width if line.plan.rtl else pad + stripe  # right to left: right-aligned
            fonts.draw_line(d, line, x, pad + line_h * (i + 1) + up, fill)
        sprite = Sprite.from_image(img)
        self._caption_cache = {idx: (sprite, h)}  # captions are visited in order: keep one
        return sprite, h

    # -- bars ---------------------------------------------------------------------------------
    def _bars(
        self, frame: np.ndarray, probs: np.ndarray, box: tuple[float, float, float, float], bottom: int
    ) -> None:
        L = self.L
        row = L.px(22)
        label_w = max(s.size[0] for s in self._labels.values()) + L.px(8)
        bar_w = L.px(110)
        pad = L.px(8)
        pw, ph = label_w + bar_w + 2 * pad, row * len(EMOTIONS) + 2 * pad
        x0, y0, x1, _ = box
        gap = L.px(10)
        # Beside the face, on whichever side has room; clamped inside the frame and above the caption.
        x = int(x1 + gap) if x1 + gap + pw <= L.width else int(x0 - gap - pw)
        x = min(max(0, x), L.width - pw)
        y = min(max(0, int(y0)), max(0, bottom - ph))
        _fill(frame, x, y, x + pw, y + ph, PANEL, 0.62)
        top = int(np.argmax(probs))
        for i, e in enumerate(EMOTIONS):
            ry = y + pad + i * row
            lab = self._labels[e]
            lab.blit(frame, x + pad, ry + (row - lab.size[1]) // 2)
            bx = x + pad + label_w
            bh = max(2, round(row * 0.55))
            by = ry + (row - bh) // 2
            _fill(frame, bx, by, bx + bar_w, by + bh, (70, 70, 76))
            fill_w = round(bar_w * float(np.clip(probs[i], 0, 1)))
            _fill(frame, bx, by, bx + fill_w, by + bh, EMOTION_COLOURS[e], 1.0 if i == top else 0.8)

    def _tag(self, text: str) -> Sprite:
        if text not in self._tags:
            self._tags[text] = text_sprite(
                text, self.L.px(16), (255, 255, 255), bold=True, outline=max(1, self.L.px(1.5))
            )
        return self._tags[text]

    # -- one frame ----------------------------------------------------------------------------
    def draw(
        self,
        frame: np.ndarray,
        utt_index: int | None,
        utt: Utterance | None,
        faces: list[FaceOverlay],
        untranscribed: bool = False,
    ) -> None:
        """Draw overlays on ``frame`` (H, W, 3) uint8 RGB in place. ``untranscribed``: the frame lies
        in speech that got no words (it says so where a caption would be)."""
        L = self.L
        margin = L.px(14)
        caption_top = L.height
        if utt is not None and utt_index is not None:
            sprite, h = self._caption(utt_index, utt)
            cx = (L.width - sprite.size[0]) // 2
            cy = L.height - h - margin
            sprite.blit(frame, cx, cy)
            caption_top = cy
        else:
            q = self._quiet["untranscribed" if untranscribed else "no_speech"]
            q.blit(frame, (L.width - q.size[0]) // 2, L.height - q.size[1] - margin)
            caption_top = L.height - q.size[1] - 2 * margin

        speaker = next((f for f in faces if f.is_speaker), None)
        if speaker is None and faces and not any(f.is_speaker for f in faces) and len(faces) == 1:
            speaker = faces[0]
        if self.options.draw_other_faces:
            for f in faces:
                if f is not speaker:
                    _rect(frame, f.box, (150, 150, 150), max(1, L.px(1.5)))
        if speaker is None:
            self._smoothed = None
            q = self._quiet["no_face"]
            q.blit(frame, margin, margin)
            return
        probs = speaker.probs
        if probs is not None:
            probs = np.asarray(probs, dtype=np.float32)
            k = self.options.smoothing
            if self._smoothed is not None and k > 0:
                probs = k * self._smoothed + (1 - k) * probs
            self._smoothed = probs
        colour = EMOTION_COLOURS[EMOTIONS[int(np.argmax(probs))]] if probs is not None else (255, 255, 255)
        _rect(frame, speaker.box, colour, max(2, L.px(3)))
        if speaker.label:
            tag = self._tag(speaker.label)
            tag.blit(frame, int(speaker.box[0]), int(speaker.box[1]) - tag.size[1] - L.px(4))
        if probs is not None:
            self._bars(frame, probs, speaker.box, caption_top - margin)


def active_utterance(utterances: list[Utterance], t: float, start_index: int = 0) -> int | None:
    """Index of the utterance covering time ``t``, scanning forward from ``start_index`` (times ascend)."""
    for i in range(start_index, len(utterances)):
        u = utterances[i]
        if u.start <= t < u.end:
            return i
        if u.start > t:
            return None
    return None


def render_video(
    source: Path,
    out: Path,
    result: Result,
    overlay_at: OverlayAt | None = None,
    info: MediaInfo | None = None,
    options: RenderOptions = RenderOptions(),
    hook: ProgressHook = null_hook,
) -> int:
    """Write an annotated copy of ``source`` to ``out`` (atomically); returns the number of frames.

    Same resolution, frame count, orientation and audio as the input; every decoded frame is drawn.
    """
    info = info or probe(source)
    utts = sorted(result.utterances, key=lambda u: u.start)
    gaps = [(x.start, x.end) for x in result.untranscribed]
    fps = info.fps or 25.0
    total = max(1, round(info.duration * fps))
    n = 0
    with atomic_output(out) as tmp:
        writer: VideoWriter | None = None
        try:
            renderer: CaptionRenderer | None = None
            cursor = 0
            canvas: I420Canvas | None = None
            # Frames stay I420 from decoder to encoder; only the tiles drawn on become RGB.
            for fr in read_frames(source, info=info, pix_fmt="yuv420p"):
                if writer is None:
                    w, h = fr.image.shape[1], fr.image.shape[0] * 2 // 3
                    writer = VideoWriter(
                        tmp,
                        w,
                        h,
                        fps,
                        audio_source=source if info.has_audio else None,
                        preset=options.preset,
                        crf=options.crf,
                    )
                    renderer = CaptionRenderer(w, h, options)
                    canvas = I420Canvas(w, h)
                assert renderer is not None and canvas is not None
                canvas.load(fr.image)  # writable and ours: read_frames gives each frame its own buffer
                idx = active_utterance(utts, fr.time, cursor)
                if idx is not None:
                    cursor = idx
                else:  # keep the cursor at the first utterance that has not ended yet
                    while cursor < len(utts) and utts[cursor].end <= fr.time:
                        cursor += 1
                renderer.draw(
                    canvas,  # type: ignore[arg-type]  # quacks like an (H, W, 3) RGB array
                    idx,
                    utts[idx] if idx is not None else None,
                    overlay_at(fr.time) if overlay_at else [],
                    untranscribed=any(s <= fr.time < e for s, e in gaps),
                )
                canvas.flush()
                writer.write_i420(fr.image)
                n += 1
                if n % 25 == 0:
                    hook("render", completed=min(n, total), total=total)
            if writer is not None:
                writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    hook("render", completed=total, total=total)
    return n
