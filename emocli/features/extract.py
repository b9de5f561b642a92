"""Feature extraction for training and evaluation, one featurizer per modality, all cached on disk.

- ``TextFeaturizer``: token ids and the frozen bottom layers' token states (L, dim) float16.
- ``AudioFeaturizer``: pooled speech-encoder states (2 x dim) of a clip or a span of it.
- ``VisualFeaturizer``: per-frame expression probabilities (F, 7) of the speaker's face, from an
  injectable ``VisualSource`` (default: the faces stage, ``emocli.faces.analyze``).

Encoders load lazily: a run whose features are all cached never loads Whisper or the faces models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli.errors import DependencyMissingError, EmocliError, InputError
from emocli.features.audio import (
    AudioEncoder,
    make_audio_encoder,
    parse_whisper_layers,
    pool_stats,
    speed_perturb,
    whisper_version,
)
from emocli.features.cache import FeatureCache, file_digest, make_key
from emocli.features.text import pad_ids, text_key, tokenize, tokenize_pairs
from emocli.hooks import ProgressHook, null_hook
from emocli.media import SAMPLE_RATE, load_audio

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from emocli.model.text_encoder import TextEncoder

VisualSource = Callable[[Path], "np.ndarray | None"]
"""clip path -> (F, 7) per-frame expression probabilities of the speaker's face (EMOTIONS order),
or None when no face is seen. F may be 0 only by returning None."""


class TextFeaturizer:
    def __init__(self, encoder: TextEncoder, tokenizer: object, version: str, max_tokens: int = 64) -> None:
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.version = version
        self.max_tokens = max_tokens
        self.cache = FeatureCache("text")

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        return tokenize(self.tokenizer, texts, self.max_tokens)

    def states(
        self,
        texts: Sequence[str] | Sequence[tuple[str, str]],
        hook: ProgressHook = null_hook,
        step: str = "text features",
        batch: int = 64,
    ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Frozen token states (L_i, dim) float16 per text, with segment ids (L_i,) for context pairs
        ``(context, utterance)`` (None for plain texts); from the cache or computed in batches."""
        import torch

        pairs = bool(texts) and isinstance(texts[0], tuple)
        keys = [text_key(t, self.version, self.encoder.n_frozen, self.max_tokens) for t in texts]
        out: list[np.ndarray | None] = [self.cache.get(k) for k in keys]
        todo = [i for i, a in enumerate(out) if a is None]
        hook(step, completed=len(texts) - len(todo), total=len(texts))
        if todo:
            if pairs:
                ids, segs = tokenize_pairs(self.tokenizer, [texts[i] for i in todo], self.max_tokens)  # type: ignore[misc]
            else:
                ids, segs = self.ids([texts[i] for i in todo]), None  # type: ignore[misc]
            order = sorted(range(len(todo)), key=lambda j: len(ids[j]))  # similar lengths pad less
            done = len(texts) - len(todo)
            for s in range(0, len(order), batch):
                chunk = order[s : s + batch]
                arr, mask = pad_ids([ids[j] for j in chunk], self._pad_id())
                seg = None
                if segs is not None:
                    seg = torch.from_numpy(pad_ids([segs[j] for j in chunk], 0)[0])
                states = self.encoder.frozen_states(
                    torch.from_numpy(arr), torch.from_numpy(mask), seg
                ).numpy()
                for row, j in enumerate(chunk):
                    value = states[row, : len(ids[j])].astype(np.float16)
                    if segs is not None:
                        # The segment ids ride along as one extra column (0/1 exactly in float16).
                        value = np.concatenate([value, np.asarray(segs[j], np.float16)[:, None]], 1)
                    out[todo[j]] = value
                    self.cache.put(keys[todo[j]], value)
                done += len(chunk)
                hook(step, completed=done, total=len(texts))
        dim = self.encoder.dim
        result: list[tuple[np.ndarray, np.ndarray | None]] = []
        for a in out:
            assert a is not None
            result.append((a[:, :dim], a[:, dim].astype(np.int64)) if pairs else (a, None))
        return result

    def _pad_id(self) -> int:
        return int(getattr(self.tokenizer, "pad_token_id", 0) or 0)


class AudioFeaturizer:
    """Pooled encoder states of clips (cached) or of in-memory audio (not cached)."""

    def __init__(
        self, encoder_name: str = "whisper", whisper_model: WhisperModel | None = None, device: str = "cpu"
    ) -> None:
        self.encoder_name = encoder_name
        self._whisper = whisper_model
        self._device = device
        self._encoder: AudioEncoder | None = None
        layers = parse_whisper_layers(encoder_name)
        self.version = whisper_version("base", layers) if layers is not None else f"{encoder_name}-v1"
        self.cache = FeatureCache("audio")

    @property
    def encoder(self) -> AudioEncoder:
        if self._encoder is None:
            kwargs: dict[str, object] = {"device": self._device}
            if parse_whisper_layers(self.encoder_name) is not None and self._whisper is not None:
                kwargs["model"] = self._whisper
            self._encoder = make_audio_encoder(self.encoder_name, **kwargs)
            self.version = self._encoder.version
        return self._encoder

    def array(self, audio: np.ndarray) -> np.ndarray:
        """A 16 kHz mono clip -> (2 x dim,) pooled states."""
        return pool_stats(self.encoder.frames(audio))

    def clip(
        self, path: Path, start: float | None = None, end: float | None = None, speed: float = 1.0
    ) -> np.ndarray:
        """A media file (or its [start, end] span, seconds) -> pooled states, cached by content.

        ``speed`` != 1 plays the clip that much faster first (training augmentation)."""
        parts: tuple[object, ...] = (file_digest(path), start, end, self.version)
        if speed != 1.0:
            parts += (f"speed{speed:g}",)  # plain clips keep their original keys
        key = make_key(*parts)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        audio = load_audio(path)
        if start is not None or end is not None:
            a = int((start or 0.0) * SAMPLE_RATE)
            b = int(end * SAMPLE_RATE) if end is not None else len(audio)
            audio = audio[a:b]
        if len(audio) == 0:
            raise InputError(f"{path} has no audio in the requested span.", "Check the clip.")
        if speed != 1.0:
            audio = speed_perturb(audio, speed)
        value = self.array(audio)
        self.cache.put(key, value)
        return value


def faces_visual_source() -> VisualSource:
    """The faces stage on a whole clip taken as one utterance: the speaker's face (``only_face`` or
    the mouth-motion rule of ``emocli.faces.speaker``) and its per-frame expression probabilities."""
    try:
        from emocli.faces.analyze import FaceAnalyzer
        from emocli.faces.speaker import utterance_visuals
    except ImportError as e:
        raise DependencyMissingError(
            "The faces stage (emocli.faces) is not available, so visual features cannot be extracted.",
            "Train without visual (--modalities text,audio) or install an emocli with the faces stage.",
        ) from e
    from emocli.media import probe
    from emocli.results import Utterance

    analyzer = FaceAnalyzer()

    def source(path: Path) -> np.ndarray | None:
        info = probe(path)
        if not info.has_video:
            return None
        faces = analyzer.analyze(path, info=info)
        visual = utterance_visuals(faces, [Utterance(0.0, info.duration, "speaker", "")])[0]
        if not visual.has_face or len(visual.frame_probs) == 0:
            return None
        return np.asarray(visual.frame_probs, dtype=np.float32)

    return source


class VisualFeaturizer:
    def __init__(self, source: VisualSource | None = None, version: str = "faces-v1") -> None:
        self._source = source
        self.version = version
        self.cache = FeatureCache("visual")

    def clip(self, path: Path) -> np.ndarray | None:
        """(F, 7) float32 frame probabilities, or None when the clip shows no face (cached too)."""
        key = make_key(file_digest(path), self.version)
        hit = self.cache.get(key)
        if hit is not None:
            return hit if len(hit) else None
        if self._source is None:
            self._source = faces_visual_source()
        probs = self._source(path)
        if probs is not None:
            probs = np.asarray(probs, dtype=np.float32)
            if probs.ndim != 2 or probs.shape[1] != 7:
                raise EmocliError(f"visual source returned shape {probs.shape} for {path}; expected (F, 7)")
        self.cache.put(key, probs if probs is not None else np.zeros((0, 7), np.float32))
        return probs
