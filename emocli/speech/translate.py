"""English translations of the utterances that are not in English, by Whisper itself.

emocli's text model (MiniLM fine-tuned on MELD) reads English only: Cyrillic or Chinese words reach
it as noise, and the emotion then comes from nonsense tokens with a confident face. Whisper was
trained to translate any of its languages into English (``task="translate"``), so each non-English
utterance's audio is decoded once more with that task, by the same model (no second model), and the
text branch reads the translation (``Utterance.text_en``). Voice and face are read as before.

Each utterance is translated alone, from its own audio (``PAD`` seconds either side), so the
translation lines up with the utterance whatever the diarization and the sentence splits did.
Decoding is the transcription's: beam search at temperature 0, never sampling (asr.py's notes),
and a translation that loops is decoded again with a repetition penalty.

Cost: one Whisper decoding (an encoder window and a beam search without word timestamps) per
non-English utterance; nothing for English speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.hooks import ProgressHook, null_hook
from emocli.results import Utterance, Word
from emocli.speech.repetition import word_loops

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
PAD = 0.2  # s of audio either side of the utterance
ENGLISH = "en"
LOOP_RETRY: dict[str, Any] = {"repetition_penalty": 1.3, "no_repeat_ngram_size": 3}


def needs_translation(u: Utterance) -> bool:
    """Whether the text model should read a translation of ``u``: its language is known and not English."""
    return bool(u.text.strip()) and u.language is not None and u.language != ENGLISH


def translate_text(
    model: WhisperModel, audio: np.ndarray, lo: float, hi: float, language: str, beam_size: int = 5
) -> str:
    """Whisper's English translation of ``audio[lo:hi]`` (seconds), spoken in ``language``."""
    clip = audio[max(0, int(lo * SAMPLE_RATE)) : int(hi * SAMPLE_RATE)]
    text = _decode(model, clip, language, beam_size)
    if word_loops(_pseudo_words(text)):
        text = _decode(model, clip, language, beam_size, **LOOP_RETRY) or text
    return text


def translate_utterances(
    model: WhisperModel,
    audio: np.ndarray,
    utterances: Sequence[Utterance],
    beam_size: int = 5,
    hook: ProgressHook = null_hook,
) -> int:
    """Fill ``text_en`` of every utterance that is not in English (in place); how many."""
    todo = [u for u in utterances if needs_translation(u)]
    duration = len(audio) / SAMPLE_RATE
    for i, u in enumerate(todo):
        hook("translate", completed=i, total=len(todo))
        assert u.language is not None  # needs_translation
        text = translate_text(
            model, audio, max(0.0, u.start - PAD), min(duration, u.end + PAD), u.language, beam_size
        )
        u.text_en = text or u.text  # nothing came out: the text model reads the words as spoken
    hook("translate", completed=len(todo), total=len(todo))
    return len(todo)


def _decode(model: WhisperModel, clip: np.ndarray, language: str, beam_size: int, **options: Any) -> str:
    segments, _ = model.transcribe(
        clip,
        language=language,
        task="translate",
        beam_size=beam_size,
        temperature=0.0,  # never sample: same input, same translation
        word_timestamps=False,
        without_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,
        **options,
    )
    return " ".join(s.text.strip() for s in segments if s.text.strip()).strip()


def _pseudo_words(text: str) -> list[Word]:
    """Text -> words with made-up times, for the loop detector (it only reads their order)."""
    return [Word(float(i), float(i) + 0.5, w) for i, w in enumerate(text.split())]
