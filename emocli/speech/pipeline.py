"""The speech front-end as one reusable object: audio -> VAD -> ASR -> diarization -> utterances.

Models load once in ``SpeechPipeline.__init__`` and are reused for every ``run`` (batch workers
keep one pipeline per process). ``emocli transcribe`` is a thin wrapper around it; ``annotate``
uses the returned audio, turns, per-speaker embeddings and the loaded Whisper model (its encoder
gives the emotion model's audio features, so no second speech model is loaded).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli.errors import NoSpeechError
from emocli.hooks import ProgressHook, null_hook
from emocli.media import SAMPLE_RATE, MediaInfo, probe, stream_audio
from emocli.results import ModelInfo, Result, Utterance, Word
from emocli.speech.asr import load_asr
from emocli.speech.diarize import check_speaker_bounds, load_diarizer, speaker_name
from emocli.speech.languages import seconds_by_language
from emocli.speech.utterances import (
    Turn,
    assign_speakers,
    build_utterances,
    fit_to_speech,
    smooth_sentence_edges,
    start_after_pauses,
)
from emocli.speech.vad import Region, load_vad, speech_duration

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

MIN_SPEECH_SECONDS = 0.25  # less voice than this (VAD) counts as "no speech"


@dataclass(frozen=True)
class SpeechOptions:
    """Everything the speech front-end can be told; filled once from the CLI or a config."""

    asr_model: str = "base"  # faster-whisper name, hub id or local CTranslate2 folder
    asr_backend: str = "faster-whisper"
    language: str | None = None  # ISO code; None = detect from the first speech block
    beam_size: int = 5
    compute_type: str | None = None  # None: int8 on CPU, float16 on CUDA
    cpu_threads: int = 0  # 0: all cores (up to 8)
    vad: str = "silero"
    diarizer: str = "embedded"
    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 8
    hf_token: str | None = field(default=None, repr=False)  # for --diarizer pyannote
    max_pause: float = 1.0  # seconds of silence that end an utterance
    max_utterance: float = 20.0  # seconds; longer utterances are cut
    split_sentences: bool = True  # a sentence end ends an utterance


@dataclass
class SpeechResult:
    result: Result  # utterances (words, speakers), speakers, language, duration, models, timing
    audio: np.ndarray  # (n_samples,) float32, 16 kHz mono: the decoded input
    speech: list[Region]  # VAD speech regions, seconds
    turns: list[Turn]  # diarization turns, speakers named as in result.speakers
    speaker_embeddings: dict[str, np.ndarray]  # speaker -> (dim,) unit vector (GE2E: 256-d)
    sample_rate: int = SAMPLE_RATE
    count_range: tuple[int, int] | None = None  # speaker counts the voice evidence allows

    @property
    def words(self) -> list[Word]:
        return [w for u in self.result.utterances for w in u.words]


class SpeechPipeline:
    """Load the VAD, ASR and diarizer once; ``run`` them on any number of inputs."""

    def __init__(self, options: SpeechOptions | None = None, device: str = "cpu") -> None:
        self.options = options = options or SpeechOptions()
        check_speaker_bounds(options.num_speakers, options.min_speakers, options.max_speakers)
        self.device = device
        # The diarizer first: --diarizer pyannote is the load most likely to fail (extra, token).
        self.diarizer = load_diarizer(options.diarizer, device=device, hf_token=options.hf_token)
        self.vad = load_vad(options.vad)
        self.asr = load_asr(
            options.asr_backend,
            model=options.asr_model,
            device=device,
            compute_type=options.compute_type,
            cpu_threads=options.cpu_threads,
            beam_size=options.beam_size,
        )
        check = getattr(self.asr, "check_language", None)
        if options.language is not None and check is not None:
            check(options.language)  # a bad --language fails now, not after decoding

    @property
    def whisper(self) -> WhisperModel:
        """The loaded faster-whisper model (``whisper.model.encode`` gives encoder states)."""
        model = getattr(self.asr, "model", None)
        if model is None:
            raise AttributeError(f"ASR backend {self.asr.name!r} has no Whisper model")
        return model

    def models(self) -> dict[str, ModelInfo]:
        return {
            "asr": ModelInfo(f"{self.asr.name}:{self.asr.model_name}", self.asr.version),
            "vad": ModelInfo(self.vad.name, self.vad.version),
            "diarizer": ModelInfo(self.diarizer.name, self.diarizer.version),
        }

    def run(
        self,
        source: Path | str | np.ndarray,
        hook: ProgressHook = null_hook,
        info: MediaInfo | None = None,
        name: str | None = None,
    ) -> SpeechResult:
        """Transcribe and diarize one input: a media file, or a 16 kHz mono float32 array."""
        opts = self.options
        timing: dict[str, float] = {}
        t = time.perf_counter()
        if isinstance(source, np.ndarray):
            audio = np.ascontiguousarray(source, dtype=np.float32).reshape(-1)
            label = name or "<audio>"
        else:
            audio, label = _decode(Path(source), info, hook)
        duration = len(audio) / SAMPLE_RATE
        timing["decode"] = time.perf_counter() - t

        t = time.perf_counter()
        speech = self.vad(audio, hook)
        timing["vad"] = time.perf_counter() - t
        if speech_duration(speech) < MIN_SPEECH_SECONDS:
            raise _no_speech(label)

        t = time.perf_counter()
        asr = self.asr.transcribe(audio, speech, opts.language, hook)
        timing["asr"] = time.perf_counter() - t
        timing["asr.identify language"] = asr.identify_seconds  # included in "asr"
        if not asr.words:
            raise _no_speech(label)

        t = time.perf_counter()
        diar = self.diarizer(
            audio, speech, opts.num_speakers, opts.min_speakers, opts.max_speakers, hook=hook
        )
        timing["diarize"] = time.perf_counter() - t

        words = start_after_pauses(asr.words, speech, diar.turns)  # before the turns decide
        words = smooth_sentence_edges(assign_speakers(words, diar.turns))
        utterances = build_utterances(
            words, opts.max_pause, opts.max_utterance, opts.split_sentences, asr.language
        )
        utterances = fit_to_speech(utterances, speech)  # captions cover the voice, not just the words
        # Final names follow the order in which speakers first say a word.
        order = list(dict.fromkeys([u.speaker for u in utterances] + diar.speakers))
        rename = {old: speaker_name(i) for i, old in enumerate(order)}
        utterances = [_rename_utterance(u, rename) for u in utterances]
        turns = [Turn(x.start, x.end, rename.get(x.speaker, x.speaker)) for x in diar.turns]
        embeddings = {rename[k]: v for k, v in diar.embeddings.items() if k in rename}
        speakers = [rename[s] for s in dict.fromkeys(u.speaker for u in utterances)]
        result = Result(
            source=label,
            duration=round(duration, 3),
            utterances=utterances,
            speakers=[rename[s] for s in order if rename[s] in speakers],
            turns=turns,
            language=asr.language,
            languages=seconds_by_language(asr.languages),
            models=self.models(),
            speech_duration=round(speech_duration(speech), 3),
            untranscribed=asr.untranscribed,  # speech the ASR found no words in, and why
            repetitions=asr.repetitions,
            timing={k: round(v, 3) for k, v in timing.items()},
        )
        return SpeechResult(result, audio, speech, turns, embeddings, count_range=diar.count_range)

    def voice_embedder(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """16 kHz samples -> unit voice embedding, from the diarizer's encoder (None for pyannote)."""
        encoder = getattr(self.diarizer, "encoder", None)
        return None if encoder is None else encoder.embed_utterance


def _rename_utterance(u: Utterance, rename: dict[str, str]) -> Utterance:
    speaker = rename.get(u.speaker, u.speaker)
    return replace(u, speaker=speaker, words=[replace(w, speaker=speaker) for w in u.words])


def _decode(path: Path, info: MediaInfo | None, hook: ProgressHook) -> tuple[np.ndarray, str]:
    info = info or probe(path)
    if not info.has_audio:
        raise NoSpeechError(
            f"{path} has no audio track.", "Give a video with sound, or an audio file (wav, flac, mp3, m4a)."
        )
    chunks: list[np.ndarray] = []
    done = 0
    total = max(info.duration, 1e-3)
    for chunk in stream_audio(path):
        chunks.append(chunk)
        done += len(chunk)
        hook("decode audio", completed=min(done / SAMPLE_RATE, total), total=total)
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return audio, str(path)


def _no_speech(label: str) -> NoSpeechError:
    return NoSpeechError(
        f"No speech found in {label}.",
        "The audio is silent or holds no voice; check the file (or its audio track) and the volume.",
    )
