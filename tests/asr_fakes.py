"""A scripted stand-in for faster_whisper.WhisperModel, for the ASR's repair passes (no model loads)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace as NS
from typing import Any

import numpy as np

SR = 16_000
Seg = tuple  # (start, end, text, no_speech_prob[, avg_logprob]) in seconds from the chunk's start


class ScriptedWhisper:
    """``script``: per decoding, in call order, the segments to return; the words are the text's
    words, evenly spread over the segment. Records each call's chunk length and options, and answers
    ``detect_language`` with ``language``."""

    supported_languages = ("en", "ru", "pt", "es")

    def __init__(
        self,
        script: list[list[Seg]],
        language: tuple[str, float] = ("en", 0.98),
        language_of: Callable[[np.ndarray], tuple[str, float]] | None = None,
    ) -> None:
        self.script = list(script)
        self.language = language
        self.calls: list[tuple[float, dict[str, Any]]] = []
        self.detected = 0
        # The language identification of speech/languages.py, through CTranslate2's Whisper
        # (``model.model``): ``language_of(clip)`` answers for each stretch (default: English).
        self.model = FakeCT2(language_of or (lambda clip: ("en", 0.98)))
        self.stretches: list[float] = []  # seconds of each clip identified

    def feature_extractor(self, clip: np.ndarray) -> np.ndarray:
        self.stretches.append(len(clip) / SR)
        self.model.last = clip
        return np.zeros((80, max(1, len(clip) // 160)), np.float32)

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Any], Any]:
        self.calls.append((len(audio) / SR, options))
        segs = []
        for start, end, text, nsp, *lp in self.script.pop(0) if self.script else []:
            toks = text.split()
            step = (end - start) / max(1, len(toks))
            words = [
                NS(start=start + i * step, end=start + (i + 0.8) * step, word=" " + t, probability=0.9)
                for i, t in enumerate(toks)
            ]
            logprob = lp[0] if lp else -0.4
            segs.append(
                NS(start=start, end=end, text=text, words=words, no_speech_prob=nsp, avg_logprob=logprob)
            )
        return segs, NS(language="en", language_probability=0.98)

    def detect_language(self, audio: np.ndarray) -> tuple[str, float, list[Any]]:
        self.detected += 1
        return self.language[0], self.language[1], []


class FakeCT2:
    """``WhisperModel.model``: encode + detect_language over the clip last given to the features."""

    is_multilingual = True

    def __init__(self, language_of: Callable[[np.ndarray], tuple[str, float]]) -> None:
        self.language_of = language_of
        self.last = np.zeros(0, np.float32)

    def encode(self, features: Any, to_cpu: bool = False) -> np.ndarray:
        return self.last

    def detect_language(self, states: np.ndarray) -> list[list[tuple[str, float]]]:
        lang, p = self.language_of(states)
        return [[(f"<|{lang}|>", p), ("<|xx|>", 1.0 - p)]]


def scripted_asr(
    script: list[list[Seg]],
    language: tuple[str, float] = ("en", 0.98),
    language_of: Callable[[np.ndarray], tuple[str, float]] | None = None,
) -> Any:
    """A FasterWhisperASR around a ScriptedWhisper (its ``model``)."""
    from emocli.speech.asr import FasterWhisperASR

    asr = object.__new__(FasterWhisperASR)  # no model loading: the fake decodes
    asr.model = ScriptedWhisper(script, language, language_of)
    asr.beam_size, asr.condition_on_previous_text, asr.max_block = 5, False, 240.0
    asr.workers = 1  # the script answers decodings in call order: one at a time
    return asr
