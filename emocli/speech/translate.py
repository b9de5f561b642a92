"""English translations of the utterances that are not in English, by Whisper itself.

emocli's text model (MiniLM fine-tuned on MELD) reads English only: Cyrillic or Chinese words reach
it as noise, and the emotion then comes from nonsense tokens with a confident face. Whisper was
trained to translate any of its languages into English (``task="translate"``), so each non-English
utterance's audio is decoded once more with that task, by the same model (no second model), and the
text branch reads the translation (``Utterance.text_en``). Voice and face are read as before.

Each utterance is translated alone, from its own audio (``PAD`` seconds either side), so the
translation lines up with the utterance whatever the diarization and the sentence splits did. The
decoding goes straight to CTranslate2's Whisper with an encoder window fitted to the utterance
(``WINDOW`` s, or the utterance and 1 s when longer; a full window is 30 s): on 8 espeak Spanish
sentences faster-whisper's 30 s windows took 28 s and looped on two ("wait, wait, wait, ...") where
10 s windows took 2.3 s, with translations as good (one better, one worse; bench_languages.py
measures the emotions read from them). The output is capped at ``TOKENS_PER_SECOND`` tokens per
second of speech (a loop stops there), beam search at temperature 0 (never sampling: asr.py's
notes), and a translation that still loops is decoded again with a repetition penalty.

Cost: one short encoder window and a beam search per non-English utterance, several side by side
on several cores; nothing for English.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli.hooks import ProgressHook, null_hook
from emocli.results import Utterance, Word
from emocli.speech.languages import FRAMES_PER_SECOND, WINDOW, window_features
from emocli.speech.repetition import LOOP_RETRY, word_loops

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
PAD = 0.2  # s of audio either side of the utterance
MIN_TOKENS, TOKENS_PER_SECOND = 16, 8.0  # output cap: English speech is about 3-4 tokens per second
ENGLISH = "en"


def needs_translation(u: Utterance) -> bool:
    """Whether the text model should read a translation of ``u``: its language is known and not English."""
    return bool(u.text.strip()) and u.language is not None and u.language != ENGLISH


def translate_text(
    model: WhisperModel, audio: np.ndarray, lo: float, hi: float, language: str, beam_size: int = 5
) -> str:
    """Whisper's English translation of ``audio[lo:hi]`` (seconds), spoken in ``language``."""
    clip = audio[max(0, int(lo * SAMPLE_RATE)) : int(hi * SAMPLE_RATE)]
    text = generate(model, clip, language, beam_size)
    if word_loops(_pseudo_words(text)):
        text = generate(model, clip, language, beam_size, **LOOP_RETRY) or text
    return text


def generate(model: WhisperModel, clip: np.ndarray, language: str, beam_size: int = 5, **options: Any) -> str:
    """One beam-search translation of ``clip`` (16 kHz) in an encoder window fitted to it."""
    from faster_whisper.tokenizer import Tokenizer

    seconds = len(clip) / SAMPLE_RATE
    frames = int(min(30.0, max(WINDOW, seconds + 1.0)) * FRAMES_PER_SECOND)
    frames += frames % 2  # the encoder's stride-2 convolution
    tok = Tokenizer(model.hf_tokenizer, True, task="translate", language=language)
    prompt = [*tok.sot_sequence, tok.no_timestamps]
    result = model.model.generate(
        window_features(model, clip, frames),
        [prompt],
        beam_size=beam_size,
        max_length=len(prompt) + int(MIN_TOKENS + TOKENS_PER_SECOND * seconds),
        suppress_blank=True,
        suppress_tokens=[-1],  # Whisper's default set (non-speech symbols)
        **options,
    )[0]
    return tok.decode([t for t in result.sequences_ids[0] if t < tok.eot]).strip()


def translate_utterances(
    model: WhisperModel,
    audio: np.ndarray,
    utterances: Sequence[Utterance],
    beam_size: int = 5,
    hook: ProgressHook = null_hook,
    workers: int = 1,
) -> int:
    """Fill ``text_en`` of every utterance that is not in English (in place); how many.

    ``workers``: translations decoded side by side (the ASR's decoders, ``asr.py``); each depends
    only on its utterance's audio, and they are stored in the utterances' order."""
    todo = [u for u in utterances if needs_translation(u)]
    duration = len(audio) / SAMPLE_RATE

    def one(u: Utterance) -> str:
        assert u.language is not None  # needs_translation
        lo, hi = max(0.0, u.start - PAD), min(duration, u.end + PAD)
        return translate_text(model, audio, lo, hi, u.language, beam_size)

    hook("translate", completed=0, total=len(todo))
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="emocli-translate") as pool:
        for i, (u, text) in enumerate(zip(todo, pool.map(one, todo), strict=True)):
            u.text_en = text or u.text  # nothing came out: the text model reads the words as spoken
            hook("translate", completed=i + 1, total=len(todo))
    return len(todo)


def _pseudo_words(text: str) -> list[Word]:
    """Text -> words with made-up times, for the loop detector (it only reads their order)."""
    return [Word(float(i), float(i) + 0.5, w) for i, w in enumerate(text.split())]
