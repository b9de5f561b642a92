"""Active speaker detection: per face track, how likely it is speaking, on every 25 fps frame of speech.

Two signals per face, both from the lower face (nose to chin) cropped as Light-ASD expects:

- **Light-ASD** (``asd_net.py``; its weights are installed apart): a small audio-visual network that
  reads the crop sequence and the MFCCs together and gives a speaking logit per frame. It is
  excellent when listeners keep still, but it scores any moving mouth as speaking (shifting the
  audio by 5 s barely changes its scores), so it cannot say which of several moving mouths is heard.
- **Mouth opening** (always, ``emocli.faces.sync``): the share of dark pixels in the mouth area (the
  open mouth's inside is the darkest part of the lower face), per frame, beside the heard loudness.
  Their correlation over all the speech of one voice (``sync_correlation``; the voice may lead or lag
  the picture by a few frames) says which face that voice belongs to when several mouths move: the
  speaker's mouth opens with the voice's syllables, a face mouthing other words does not.
  ``emocli.speakers`` uses it.

Frames are decoded only around speech (``pad_s`` around each VAD region), as grey images at
``max_side`` pixels, and the boxes of the 5 samples/s face tracks are interpolated to every frame (as
good as detecting every frame in the feasibility run).
"""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli.faces.sync import ASD_FPS, frame_runs, loudness, mouth_opening
from emocli.faces.video import VideoFaces
from emocli.media import MediaInfo, ffmpeg_exe, scaled_size

if TYPE_CHECKING:
    from emocli.faces.asd_net import LightASD

CROP = 112  # side of the network's input crop, pixels
GREY_PAD = 110  # upstream pads the frame with this grey where the crop leaves it


@dataclass(frozen=True)
class ASDOptions:
    pad_s: float = 0.3  # seconds analysed either side of each speech region
    max_side: int = 640  # decoded frame size (longer side); faces are cropped from it
    # Network window, frames. 1 s: a face that stops talking reads as silent within 0.1-0.2 s; with
    # 2 s windows the GRU carried the speaking state about 1 s past the end of a turn.
    window: int = 25
    smooth: int = 5  # moving average of the logits over this many frames (upstream: 5)
    dark_percentile: float = 8.0  # a mouth pixel is "dark" below this percentile of its track's crops
    chunk: int = 750  # frames scored at a time (30 s): bounds the memory of long videos


@dataclass
class SpeakingActivity:
    """Speaking evidence per face track on the analysed frames (``frames / fps`` seconds).

    Arrays are (K, N) for the K tracks in ``tracks`` and the N analysed frames, NaN where the track is
    not on screen. ``speaking`` is the joined probability in [0, 1] used to pick the speaking face.
    """

    fps: float
    frames: np.ndarray  # (N,) frame indices at ``fps``
    tracks: list[int]
    visible: np.ndarray  # (K, N) bool
    opening: np.ndarray  # (K, N) mouth opening (share of dark mouth pixels, 0..1), NaN when not visible
    level: np.ndarray  # (N,) heard loudness, dB (RMS over each frame's 40 ms)
    asd: np.ndarray  # (K, N) smoothed Light-ASD logits (>= 0: speaking), NaN when not visible
    speaking: np.ndarray  # (K, N) sigmoid of ``asd`` in [0, 1], 0 outside speech; NaN when not visible
    timing: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    voiced: np.ndarray | None = None  # (N,) bool: inside the VAD's speech; None: every frame

    @property
    def times(self) -> np.ndarray:
        return self.frames / self.fps

    def row(self, track: int) -> int:
        return self.tracks.index(track)

    def at(self, times: np.ndarray) -> np.ndarray:
        """(K, len(times)) speaking probability at the nearest analysed frame; NaN where none is
        within half a frame."""
        t = np.asarray(times, np.float64)
        out = np.full((len(self.tracks), len(t)), np.nan, np.float32)
        if len(self.frames) == 0:
            return out
        want = np.round(t * self.fps).astype(np.int64)
        j = np.clip(np.searchsorted(self.frames, want), 0, len(self.frames) - 1)
        hit = self.frames[j] == want
        out[:, hit] = self.speaking[:, j[hit]]
        return out

    def track_share(self) -> dict[int, float]:
        """Per track: share of its visible frames during speech scored as speaking (p >= 0.5)."""
        share: dict[int, float] = {}
        for i, k in enumerate(self.tracks):
            v = self.visible[i] if self.voiced is None else self.visible[i] & self.voiced
            share[k] = float((self.speaking[i, v] >= 0.5).mean()) if v.any() else 0.0
        return share


def frames_around(regions: Sequence[tuple[float, float]], duration: float, pad_s: float) -> np.ndarray:
    """Sorted unique frame indices at ``ASD_FPS`` within ``pad_s`` of any speech region."""
    n = max(0, int(np.floor(duration * ASD_FPS)))
    keep = np.zeros(n, bool)
    for s, e in regions:
        a = max(0, int(np.floor((s - pad_s) * ASD_FPS)))
        b = min(n, int(np.ceil((e + pad_s) * ASD_FPS)))
        keep[a:b] = True
    return np.flatnonzero(keep)


def read_grey_frames(
    path: Path | str, info: MediaInfo, frames: np.ndarray, max_side: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode only ``frames`` (indices at 25 fps) as grey images: yields (frame index, (H, W) uint8).

    One ffmpeg process; the frames are chosen by index after resampling to 25 fps (``select``), so
    nothing else crosses the pipe. Indices past the end of the video are simply not yielded.
    """
    if len(frames) == 0:
        return
    w, h = scaled_size(int(info.width or 0), int(info.height or 0), max_side)
    ranges = [(int(frames[a]), int(frames[b - 1])) for a, b in frame_runs(frames)]
    expr = "+".join(f"between(n\\,{a}\\,{b})" for a, b in ranges)
    vf = f"fps={ASD_FPS}:round=up,select={expr},scale={w}:{h},format=gray"
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(info.path),
        "-an", "-sn", "-dn", "-vf", vf, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-",
    ]  # fmt: skip
    # ``select`` keeps frames in order of their index ``n`` after resampling (the same numbering as
    # ``read_frames(fps=25)``: frame n is at n / 25 s), so the i-th frame out is ``frames[i]``.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    size = w * h
    try:
        for f in frames:
            buf = proc.stdout.read(size)
            if not buf or len(buf) < size:
                break
            yield int(f), np.frombuffer(buf, np.uint8).reshape(h, w)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def track_boxes(vf: VideoFaces, track: int, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4, display pixels) of ``track`` at ``times`` by linear interpolation between its
    detections, and (N,) bool: on screen (within its span, no gap longer than 0.5 s)."""
    rows = vf._track_rows()[track]
    td = vf.sample_times[vf.det_sample[rows]]
    box = np.stack([np.interp(times, td, vf.det_box[rows, j]) for j in range(4)], axis=1)
    lo, hi = vf._span(rows)
    on = (times >= lo) & (times <= hi)
    j = np.clip(np.searchsorted(td, times), 1, max(1, len(td) - 1))
    if len(td) > 1:
        on &= (td[j] - td[j - 1] <= 0.5 + 1e-6) | (
            np.minimum(np.abs(td[j] - times), np.abs(td[j - 1] - times)) < 0.2
        )
    return box.astype(np.float32), on


def mouth_crop(grey: np.ndarray, box: np.ndarray, scale: float) -> np.ndarray:
    """The 112 x 112 lower-face crop Light-ASD reads, from a grey frame and a display-pixel box.

    Upstream crops a 2.8 bs square (bs = half the box's longer side) whose top is bs above the box
    centre, resizes it to 224 and keeps the central 112: that is the square of side 1.4 bs from
    0.3 bs above the centre down to 1.1 bs below it. Outside the frame: grey 110, as upstream pads.
    """
    import cv2

    x0, y0, x1, y1 = (float(v) * scale for v in box)
    bs = max(x1 - x0, y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(1.4 * bs, 1.0)
    k = CROP / side
    # dst = k * (src - origin): origin at the crop's top-left corner.
    m = np.array([[k, 0.0, -k * (cx - 0.7 * bs)], [0.0, k, -k * (cy - 0.3 * bs)]], np.float32)
    return cv2.warpAffine(
        grey, m, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=GREY_PAD
    )


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(x) < 2:
        return x
    pad = np.pad(x, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(pad, np.ones(width) / width, mode="valid").astype(np.float32)


def network_windows(n: int, onsets: Sequence[int], window: int) -> list[tuple[int, int]]:
    """The (start, end) frames of the network windows over a run of ``n`` consecutive frames.

    A window starts at every speech onset in ``onsets`` (positions in the run where a VAD region
    begins), and each stretch between onsets is cut into windows of equal length, about ``window``
    frames. Light-ASD carries what it saw through a window (its GRUs run both ways), so on a grid that
    ignored the speech the face that had just stopped talking kept "speaking" into the next person's
    turn by how far into its window the switch fell: on a 600 s two-person loop, where the switches
    slide through all the grid's phases, the listener scored 0.22 over the first 0.4 s of the other's
    turn with the switch 0-4 frames into a window and 0.55 with it 15-19 frames in (20 of 27 over 0.5).
    An onset closer than half a window to the stretch's start opens no window of its own."""
    edges = [0]
    for b in sorted(int(x) for x in onsets):
        if b - edges[-1] >= window // 2 and n - b >= window // 2:
            edges.append(b)
    edges.append(n)
    out: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(edges):
        cuts = a + np.linspace(0, b - a, max(1, round((b - a) / window)) + 1).round().astype(int)
        out += [(int(x), int(y)) for x, y in itertools.pairwise(cuts) if y > x]
    return out


def _asd_logits(
    net: LightASD,
    crops: np.ndarray,
    mfcc: np.ndarray,
    first_frame: int,
    opts: ASDOptions,
    onsets: Sequence[int] = (),
) -> np.ndarray:
    """(T,) Light-ASD logits of one run of crops (T, 112, 112) starting at ``first_frame``, in the
    windows of ``network_windows`` (``onsets``: positions in the run where speech begins)."""
    import torch

    t = len(crops)
    out = np.zeros(t, np.float32)
    with torch.inference_mode():
        for s, e in network_windows(t, onsets, opts.window):
            a0 = 4 * (first_frame + s)
            audio = mfcc[a0 : a0 + 4 * (e - s)]
            if len(audio) < 4 * (e - s):  # the audio ends before the picture: pad with its last row
                fill = np.repeat(
                    audio[-1:] if len(audio) else np.zeros((1, 13), np.float32), 4 * (e - s) - len(audio), 0
                )
                audio = np.concatenate([audio, fill]) if len(audio) else fill
            a = torch.from_numpy(np.ascontiguousarray(audio, np.float32))[None]
            v = torch.from_numpy(np.ascontiguousarray(crops[s:e], np.float32))[None]
            out[s:e] = net(a, v)[0].numpy()
    return out


def analyse_speaking(
    path: Path | str,
    info: MediaInfo,
    video_faces: VideoFaces,
    audio: np.ndarray,
    regions: Sequence[tuple[float, float]],
    net: LightASD,
    opts: ASDOptions = ASDOptions(),
    sample_rate: int = 16_000,
) -> SpeakingActivity:
    """Speaking evidence for every face track around the speech ``regions`` (seconds).

    Frames are decoded once, in order, and scored in chunks of ``chunk`` frames (30 s): memory holds
    one chunk's crops (12.5 KB per face and frame), not the whole video's. Network windows start at
    the speech onsets (``network_windows``); a chunk ends at its last onset past its middle (else a
    new window starts at the chunk's end), and the mouth-opening threshold (a percentile) is per
    track and chunk; the same input always gives the same scores.
    """
    t0 = time.perf_counter()
    frames = frames_around(regions, min(info.duration, len(audio) / sample_rate), opts.pad_s)
    tracks = video_faces.track_ids
    k, n = len(tracks), len(frames)
    times = frames / ASD_FPS
    visible = np.zeros((k, n), bool)
    boxes = np.zeros((k, n, 4), np.float32)
    for i, tr in enumerate(tracks):
        boxes[i], visible[i] = track_boxes(video_faces, tr, times)
    onset = np.zeros(n, bool)  # the first frame of each speech region
    first = np.searchsorted(frames, np.ceil(np.array([s for s, _ in regions]) * ASD_FPS - 1e-6))
    onset[first[first < n]] = True
    opening = np.full((k, n), np.nan, np.float32)
    logits = np.full((k, n), np.nan, np.float32)
    got = np.zeros(n, bool)
    t_score = 0.0
    if k and n:
        from emocli.faces.asd_net import mfcc

        mfcc_all = mfcc(audio, sample_rate)  # (M, 13), 100 per second: 4 per video frame
        w, _ = scaled_size(int(info.width or 0), int(info.height or 0), opts.max_side)
        scale = w / max(1, int(info.width or w))
        chunk = max(opts.window, opts.chunk // opts.window * opts.window)
        crops = np.zeros((k, min(chunk, n), CROP, CROP), np.uint8)  # (K, chunk, 112, 112)
        lo = 0

        def flush(hi: int) -> float:
            t = time.perf_counter()
            _score_chunk(
                net, crops[:, : hi - lo], frames, visible, onset, lo, hi, mfcc_all, opening, logits, opts
            )
            return time.perf_counter() - t

        for j, (_frame, grey) in enumerate(read_grey_frames(path, info, frames, opts.max_side)):
            if j - lo >= chunk:  # end the chunk at its last speech onset past its middle
                ons = np.flatnonzero(onset[lo + chunk // 2 : j])
                cut = lo + chunk // 2 + int(ons[-1]) if len(ons) else j
                t_score += flush(cut)
                crops[:, : j - cut] = crops[:, cut - lo : j - lo]  # the frames after it start the next
                lo = cut
            got[j] = True
            for i in np.flatnonzero(visible[:, j]):
                crops[i, j - lo] = mouth_crop(grey, boxes[i, j], scale)
        hi = int(got.sum())
        visible[:, hi:] = False  # frames past the end of the video
        t_score += flush(hi)
    visible &= got[None, :]
    opening[~visible] = np.nan
    logits[~visible] = np.nan
    # Speaking needs a voice: outside the VAD's speech (pauses, the padding) nobody speaks, whatever
    # the lips do (Light-ASD keeps scoring a moving mouth through the pauses between phrases).
    voiced = np.zeros(n, bool)
    for s, e in regions:
        voiced |= (times >= s) & (times < e)
    speaking = (1.0 / (1.0 + np.exp(-np.nan_to_num(logits, nan=0.0)))).astype(np.float32)
    speaking[:, ~voiced] = 0.0
    speaking[~visible] = np.nan
    total = time.perf_counter() - t0
    level = loudness(audio, frames, sample_rate)
    timing = {"decode+crop": round(total - t_score, 3), "score": round(t_score, 3)}
    return SpeakingActivity(
        float(ASD_FPS), frames, tracks, visible, opening, level, logits, speaking, timing, voiced
    )


def _score_chunk(
    net: LightASD,
    crops: np.ndarray,
    frames: np.ndarray,
    visible: np.ndarray,
    onset: np.ndarray,
    lo: int,
    hi: int,
    mfcc_all: np.ndarray,
    opening: np.ndarray,
    logits: np.ndarray,
    opts: ASDOptions,
) -> None:
    """Mouth opening and Light-ASD logits of columns ``lo:hi`` for every track (in place);
    ``onset`` (N,) marks the columns where speech begins."""
    for i in range(visible.shape[0]):
        cols = np.flatnonzero(visible[i, lo:hi])  # positions within the chunk
        if len(cols) == 0:
            continue
        track_crops = crops[i, cols]
        opening[i, lo + cols] = mouth_opening(track_crops, opts.dark_percentile)
        for a, b in frame_runs(frames[lo + cols]):
            c = lo + cols[a:b]
            raw = _asd_logits(
                net, track_crops[a:b], mfcc_all, int(frames[c[0]]), opts, np.flatnonzero(onset[c])
            )
            logits[i, c] = _smooth(raw, opts.smooth)
