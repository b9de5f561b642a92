"""A scripted stand-in for faster_whisper.WhisperModel, for the ASR's repair passes (no model loads)."""

from __future__ import annotations

from types import SimpleNamespace as NS
from typing import Any

import numpy as np

SR = 16_000
Seg = tuple  # (start, end, text, no_speech_prob[, avg_logprob]) in seconds from the chunk's start


class ScriptedWhisper:
    """``script``: per decoding, in call order, the segments to return; the words are the text's
    words, evenly spread over the segment. Records each call's chunk length and options, and answers
    ``detect_language`` with ``language``."""

    supported_languages = ("en", "ru", "pt")

    def __init__(self, script: list[list[Seg]], language: tuple[str, float] = ("en", 0.98)) -> None:
        self.script = list(script)
        self.language = language
        self.calls: list[tuple[float, dict[str, Any]]] = []
        self.detected = 0

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


def scripted_asr(script: list[list[Seg]], language: tuple[str, float] = ("en", 0.98)) -> Any:
    """A FasterWhisperASR around a ScriptedWhisper (its ``model``)."""
    from emocli.speech.asr import FasterWhisperASR

    asr = object.__new__(FasterWhisperASR)  # no model loading: the fake decodes
    asr.model = ScriptedWhisper(script, language)
    asr.beam_size, asr.condition_on_previous_text, asr.max_block = 5, False, 240.0
    return asr
