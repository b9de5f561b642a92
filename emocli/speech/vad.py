"""Voice activity detection: where in the audio someone speaks.

One small interface (a callable returning speech regions in seconds), chosen by name from
``VAD_BACKENDS``. The default, ``silero``, is the Silero VAD ONNX model that ships inside the
``silero-vad`` package (RTF under 0.01 on one core; on sample.wav it misses 0.25 s of 22.5 s of
speech and adds 0.19 s).

Silero is unsure of shouted speech: on 13 of the 1,080 RAVDESS clips (strong angry, happy or
fearful; 11 of them actor 06's) no 32 ms window reaches 0.5, so the whole clip came out as "no
speech". When a first pass finds less than ``RETRY_BELOW_SECONDS`` of speech in the whole input, a
second pass at ``RETRY_THRESHOLD`` runs: it finds speech in all 13, and still none in room noise,
white noise or tones; the ASR then decides whether there are words. Inputs where the first pass
finds speech are left exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

import numpy as np

from emocli.errors import ModelUnavailableError
from emocli.hooks import ProgressHook, null_hook

Region = tuple[float, float]
"""(start, end) in seconds from the start of the input."""

SAMPLE_RATE = 16_000
RETRY_BELOW_SECONDS = 0.25  # a first pass finding less speech than this in the input is retried ...
RETRY_THRESHOLD = 0.15  # ... at this speech probability (shouted speech scores about 0.2-0.5)


class VAD(Protocol):
    name: str
    version: str

    def __call__(self, audio: np.ndarray, hook: ProgressHook = null_hook) -> list[Region]:
        """Speech regions of 16 kHz mono float32 ``audio``, sorted, non-overlapping."""


def _import_silero() -> object:
    """Import silero_vad without letting it change torch's global thread count.

    ``silero_vad/model.py`` calls ``torch.set_num_threads(1)`` at import time, which would slow
    every later torch op in the process (the speaker encoder, the emotion model) by 2x or more.
    """
    import torch

    threads = torch.get_num_threads()
    try:
        import silero_vad
    except ImportError as e:
        raise ModelUnavailableError(
            "The voice activity detector is missing (package silero-vad is not installed).",
            "Reinstall emocli (pip install emocli).",
        ) from e
    finally:
        torch.set_num_threads(threads)
    return silero_vad


class SileroVAD:
    """Silero VAD (ONNX, CPU) with padding and minimum durations suited to diarization and ASR."""

    name = "silero"

    def __init__(
        self,
        threshold: float = 0.5,
        min_speech_ms: int = 250,
        min_silence_ms: int = 100,
        speech_pad_ms: int = 30,
        retry_threshold: float | None = RETRY_THRESHOLD,
    ) -> None:
        self._silero = _import_silero()
        try:
            self._model = self._silero.load_silero_vad(onnx=True)  # type: ignore[attr-defined]
        except Exception as e:  # missing onnxruntime or a damaged package
            raise ModelUnavailableError(
                f"Cannot load the Silero VAD model: {e}.", "Reinstall silero-vad and onnxruntime."
            ) from e
        self.threshold = threshold
        self.min_speech_ms = min_speech_ms
        self.min_silence_ms = min_silence_ms
        self.speech_pad_ms = speech_pad_ms
        self.retry_threshold = retry_threshold  # None: no second pass
        try:
            self.version = version("silero-vad")
        except PackageNotFoundError:
            self.version = "unknown"

    def __call__(self, audio: np.ndarray, hook: ProgressHook = null_hook) -> list[Region]:
        if len(audio) < 512:  # shorter than one 32 ms VAD window
            return []
        total = len(audio) / SAMPLE_RATE

        def progress(percent: float) -> None:
            hook("voice activity", completed=total * percent / 100.0, total=total)

        probs = self._probs(audio, progress)
        regions = self._regions(probs, len(audio), self.threshold)
        retry = self.retry_threshold
        if retry is not None and retry < self.threshold and speech_duration(regions) < RETRY_BELOW_SECONDS:
            regions = self._regions(probs, len(audio), retry)  # shouted speech (module notes)
        return regions

    def _probs(self, audio: np.ndarray, progress: Callable[[float], None]) -> list[float]:
        """Silero's speech probability per 32 ms window (512 samples), as its
        ``get_speech_timestamps`` computes them, but calling the ONNX session directly.

        Same model, same inputs (each window with the previous 64 samples as context, the recurrent
        state carried), so the same probabilities and regions (checked against silero's own on the
        shared clips, sample.wav and shouted RAVDESS clips); without silero's per-window torch
        conversions (10-25% faster), and computed once for both passes."""
        session = self._model.session  # type: ignore[attr-defined]
        win, ctx = 512, 64
        n = len(audio)
        padded = np.zeros(-(-n // win) * win, np.float32)
        padded[:n] = audio
        state = np.zeros((2, 1, 128), np.float32)
        context = np.zeros((1, ctx), np.float32)
        rate = np.array(SAMPLE_RATE, dtype=np.int64)
        probs: list[float] = []
        step = max(1, len(padded) // win // 100)  # progress about every 1%
        for k, i in enumerate(range(0, len(padded), win)):
            x = np.concatenate([context, padded[None, i : i + win]], axis=1)  # (1, 576)
            out, state = session.run(None, {"input": x, "state": state, "sr": rate})
            probs.append(float(out[0, 0]))
            context = x[:, -ctx:]
            if k % step == 0:
                progress(100.0 * min(n, i + win) / n)
        progress(100.0)
        return probs

    def _regions(self, probs: list[float], n_samples: int, threshold: float) -> list[Region]:
        stamps = self._silero.get_speech_timestamps_from_probs(  # type: ignore[attr-defined]
            probs,
            sampling_rate=SAMPLE_RATE,
            threshold=threshold,
            min_speech_duration_ms=self.min_speech_ms,
            min_silence_duration_ms=self.min_silence_ms,
            speech_pad_ms=self.speech_pad_ms,
            return_seconds=False,
            audio_length_samples=n_samples,
        )
        return merge_regions([(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps])


VAD_BACKENDS: dict[str, Callable[[], VAD]] = {"silero": SileroVAD}


def load_vad(name: str = "silero") -> VAD:
    try:
        factory = VAD_BACKENDS[name]
    except KeyError:
        raise ModelUnavailableError(
            f"Unknown voice activity detector {name!r}.", f"Choose from {', '.join(VAD_BACKENDS)}."
        ) from None
    return factory()


def merge_regions(regions: Sequence[Region], max_gap: float = 0.0) -> list[Region]:
    """Sort regions and merge those that overlap or are separated by at most ``max_gap`` seconds."""
    out: list[list[float]] = []
    for s, e in sorted((float(a), float(b)) for a, b in regions if b > a):
        if out and s - out[-1][1] <= max_gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def speech_duration(regions: Sequence[Region]) -> float:
    return float(sum(e - s for s, e in regions))


def plan_blocks(
    regions: Sequence[Region],
    duration: float,
    max_gap: float = 2.0,
    max_block: float = 240.0,
    pad: float = 0.3,
    target: float | None = None,
    min_block: float = 10.0,
) -> list[Region]:
    """Group speech regions into blocks that ASR decodes independently (one at a time, or several
    side by side on several cores).

    Blocks cut at silences longer than ``max_gap`` (skipped entirely: no decoding of silence, no
    hallucinated words there) and are at most ``max_block`` seconds long, so ASR memory does not
    grow with the input's length. A single region longer than ``max_block`` is cut into pieces.
    With ``target`` (seconds), speech longer than that is also cut between regions: at the longest
    pause that leaves the block between ``min_block`` and ``target`` seconds long (the longest pause
    is the likeliest end of a sentence), else at the last pause before ``target``; a single region
    longer than ``target`` stays whole (up to ``max_block``). Each block is padded by ``pad``
    seconds (never past its neighbours or the input).
    """
    limit = max_block if target is None else min(target, max_block)
    pieces: list[Region] = []
    for s, e in merge_regions(regions):
        while e - s > max_block:  # continuous speech longer than a block: hard cuts
            pieces.append((s, s + max_block))
            s += max_block
        pieces.append((s, e))
    blocks: list[Region] = []
    i = 0
    while i < len(pieces):
        start = pieces[i][0]
        last, best, best_gap, full = i, None, -1.0, False
        while last + 1 < len(pieces):
            gap = pieces[last + 1][0] - pieces[last][1]
            if gap > max_gap:
                break
            if pieces[last][1] - start >= min_block and gap > best_gap:
                best, best_gap = last, gap  # the block could end after piece ``last``
            if pieces[last + 1][1] - start > limit:
                full = True
                break
            last += 1
        # Stopped by the length limit (not by silence or the end): cut at the longest pause.
        cut = best if full and target is not None and best is not None else last
        blocks.append((start, pieces[cut][1]))
        i = cut + 1
    padded: list[Region] = []
    for i, (s, e) in enumerate(blocks):
        lo = max(0.0, s - pad, padded[-1][1] if padded else 0.0)
        hi = min(duration, e + pad)
        if i + 1 < len(blocks):
            hi = min(hi, (e + blocks[i + 1][0]) / 2)
        padded.append((lo, max(lo, hi)))
    return padded
