"""The inference API that ``annotate`` and ``batch`` call: a dialogue of utterances in, emotions out.

    recognizer = load_emotion_model()                      # the shipped default
    recognizer = load_emotion_model(whisper_model=asr.model)  # reuse the ASR's loaded Whisper
    preds = recognizer.predict_dialogue([UtteranceInput(text="Hi!", speaker="SPEAKER_00", ...), ...])
    preds[0].scores()            # {"neutral": 0.1, "joy": 0.8, ...} fused
    preds[0].modality_scores()   # {"text": {...}, "audio": {...}, "visual": None}
    recognizer.predict_dialogue(utterances, modalities=("audio",))  # the voice alone

``modalities`` picks the branches to use (default: all the model has). A branch left out is masked
for every utterance, exactly like a modality that is missing (no words, no audio, no face): it is
never fed empty inputs, has no weight in the fusion, and is absent from ``modality_probs``.

Give all the utterances of one video in one call: the dialogue context (who speaks, what came before
and after) is part of the model, and each speaker's audio is standardised by that speaker's own
statistics over the call's utterances, shrunk towards population statistics when a speaker has few
of them: the training utterances' spread, and as the mean the average of the training speakers'
own means (``audio_speaker_mean``, where the model has it), the best guess of an unknown speaker's
voice. A single utterance is read against that mean: ``emocli batch --modalities audio`` on RAVDESS
actors 17-18 (each clip alone) gives 7-class accuracy 0.775 with it, 0.717 with the training
utterances' mean, which leans to TESS's two speakers (700 of the 1,660 clips;
``benchmarks/bench_batch_vs_evaluate.py``).

Give each utterance's ``audio`` with the audio around it (``emocli.features.audio.context_spans``):
the audio heads were trained on whole clips, silence around the speech included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli import EMOTIONS
from emocli.errors import InputError
from emocli.hooks import ProgressHook, null_hook
from emocli.media import SAMPLE_RATE
from emocli.model.config import AUDIO_NATIVE, MODALITIES
from emocli.results import Scores, scores_from_probs

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from emocli.features.audio import SpeakerStats
    from emocli.features.extract import AudioFeaturizer
    from emocli.model.fusion import Batch, EmotionNet

MIN_AUDIO_SECONDS = 0.2  # shorter clips carry no usable prosody: the audio modality is masked


@dataclass
class UtteranceInput:
    text: str | None  # the words (None or "" when unknown)
    speaker: str  # speaker label; utterances of one speaker share audio normalisation
    start: float = 0.0  # seconds in the input (informational)
    end: float = 0.0
    audio: np.ndarray | None = None  # 16 kHz mono float32 samples of the utterance (with context), or None
    visual: np.ndarray | None = None  # (F, 7) per-frame expression probabilities (EMOTIONS order), or None
    audio_features: np.ndarray | None = None  # precomputed pooled encoder states, instead of ``audio``


@dataclass
class UtterancePrediction:
    probs: np.ndarray  # (7,) fused probabilities, EMOTIONS order
    modality_probs: dict[str, np.ndarray | None] = field(default_factory=dict)  # None: modality missing
    fusion_weights: dict[str, float] = field(default_factory=dict)  # how much each modality weighed
    audio_native: np.ndarray | None = None  # (8,) audio head: EMOTIONS + calm
    visual_importance: np.ndarray | None = None  # (F,) frame importance from temporal softmax pooling

    @property
    def emotion(self) -> str:
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))

    def scores(self) -> Scores:
        return scores_from_probs(self.probs)

    def modality_scores(self) -> dict[str, Scores | None]:
        return {m: (None if p is None else scores_from_probs(p)) for m, p in self.modality_probs.items()}


class EmotionRecognizer:
    """A loaded emotion model plus the feature extractors its modalities need (loaded lazily)."""

    def __init__(
        self, net: EmotionNet, device: str = "cpu", whisper_model: WhisperModel | None = None
    ) -> None:
        self.net = net.eval()
        self.device = device
        self.modalities: tuple[str, ...] = tuple(net.cfg.modalities)
        self.trained_modalities: tuple[str, ...] = tuple(net.cfg.trained_modalities)
        self._whisper = whisper_model
        self._audio: AudioFeaturizer | None = None
        self._tokenizer = None

    @property
    def config(self) -> dict:
        return self.net.cfg.to_dict()

    def used_modalities(self, asked: Sequence[str] | None = None) -> tuple[str, ...]:
        """The model's branches among ``asked`` (None: all of them), in the model's order."""
        if asked is None:
            return self.modalities
        used = tuple(m for m in self.modalities if m in asked)
        if not used:
            raise InputError(
                f"The emotion model has no branch for {', '.join(asked) or '(no modality)'}: "
                f"it reads {', '.join(self.modalities)}.",
                f"Choose --modalities among {', '.join(self.modalities)}, or pass --model with "
                "a model trained on the modalities you want.",
            )
        return used

    def audio_featurizer(self) -> AudioFeaturizer:
        if self._audio is None:
            from emocli.features.extract import AudioFeaturizer

            self._audio = AudioFeaturizer(self.net.cfg.audio_encoder, self._whisper, self.device)
        return self._audio

    def prepare(self) -> None:
        """Load the feature extractors now (e.g. in a background thread) rather than at first use:
        the audio encoder may be a second CTranslate2 model (inner Whisper layers, about 0.3 s)."""
        if "audio" in self.modalities:
            _ = self.audio_featurizer().encoder

    def audio_features(self, audio: np.ndarray) -> np.ndarray:
        """Raw pooled encoder states (before speaker standardisation) of a 16 kHz clip."""
        return self.audio_featurizer().array(audio)

    def _token_ids(
        self, texts: Sequence[str], context: int | None = None
    ) -> tuple[list[list[int]], list[list[int]] | None]:
        """Token ids of a dialogue's texts (with the ``context`` previous ones as a text pair;
        None: as the model's main text branch reads them)."""
        from emocli.features.text import (
            context_pairs,
            load_tokenizer,
            resolve_text_backbone,
            tokenize,
            tokenize_pairs,
        )

        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(resolve_text_backbone(self.net.cfg.text_backbone)[0])
        cfg = self.net.cfg
        context = cfg.text_context if context is None else context
        if context > 0:
            return tokenize_pairs(self._tokenizer, context_pairs(texts, context), cfg.text_max_tokens)
        return tokenize(self._tokenizer, texts, cfg.text_max_tokens), None

    def _fill_text(self, batch: Batch, words: Sequence[tuple[str, str]], context: int, names: bool) -> None:
        """Token ids of (speaker, words) pairs, seen with ``context`` and ``names``, into ``batch``."""
        import torch

        from emocli.features.text import pad_ids

        if not words:  # no utterance has words: the text branch is masked, nothing to tokenize
            batch.text_ids = torch.zeros(1, 1, dtype=torch.long)
            batch.text_tokens = torch.zeros(1, 1, dtype=torch.bool)
            return
        ids, segs = self._token_ids([f"{spk}: {w}" if names else w for spk, w in words], context)
        arr, tok = pad_ids(ids, int(getattr(self._tokenizer, "pad_token_id", 0) or 0))
        batch.text_ids, batch.text_tokens = torch.from_numpy(arr), torch.from_numpy(tok)
        if segs is not None:
            batch.text_segments = torch.from_numpy(pad_ids(segs or [[1]], 0)[0])

    def predict_dialogue(
        self,
        utterances: Sequence[UtteranceInput],
        hook: ProgressHook = null_hook,
        modalities: Sequence[str] | None = None,
        audio_stats: Mapping[str, SpeakerStats] | None = None,
    ) -> list[UtterancePrediction]:
        """Emotions of every utterance of one conversation (in time order), from the ``modalities``
        given (None: every branch of the model); the others are masked as missing.

        ``audio_stats``: for some speakers (by label), their raw audio features' statistics over
        more than this call's utterances (``emocli batch``: over every clip of the folder by that
        speaker); their audio is standardised by those instead of by this call's utterances."""
        import torch

        from emocli.features.audio import speaker_standardise
        from emocli.model.fusion import Batch
        from emocli.training.data import speaker_numbers

        used = self.used_modalities(modalities)
        n = len(utterances)
        if n == 0:
            return []
        cfg = self.net.cfg
        batch = Batch(
            mask=torch.ones(1, n, dtype=torch.bool),
            speakers=torch.tensor([speaker_numbers([u.speaker for u in utterances])]),
        )
        if "text" in self.modalities:
            has = [bool("text" in used and u.text and u.text.strip()) for u in utterances]
            batch.text_mask = torch.tensor([has])
            words = [
                (u.speaker, u.text.strip()) for u, h in zip(utterances, has, strict=True) if h and u.text
            ]
            self._fill_text(batch, words, cfg.text_context, cfg.text_speaker_names)
            for view in cfg.text_members:  # each extra text member reads the words its own way
                sub = Batch(mask=batch.mask, speakers=batch.speakers, text_mask=batch.text_mask)
                self._fill_text(sub, words, int(view["text_context"]), bool(view["text_speaker_names"]))
                batch.text_members.append(sub)
        if "audio" in self.modalities:
            feats: list[np.ndarray | None] = []
            for k, u in enumerate(utterances):
                if "audio" not in used:
                    feats.append(None)
                    continue
                if u.audio_features is not None:
                    feats.append(np.asarray(u.audio_features, dtype=np.float32))
                elif u.audio is not None and len(u.audio) >= MIN_AUDIO_SECONDS * SAMPLE_RATE:
                    feats.append(self.audio_features(u.audio))
                else:
                    feats.append(None)
                hook("audio features", completed=k + 1, total=n)
            have = [i for i, f in enumerate(feats) if f is not None]
            audio = torch.zeros(1, n, cfg.audio_dim)
            if have:
                x = np.stack([feats[i] for i in have])  # type: ignore[misc]
                mean, std = self.net.audio_mean.cpu().numpy(), self.net.audio_std.cpu().numpy()
                if cfg.speaker_norm:
                    prior_mean = getattr(self.net, "audio_speaker_mean", None)  # None: written before it
                    x = speaker_standardise(
                        x,
                        [utterances[i].speaker for i in have],
                        mean if prior_mean is None else prior_mean.cpu().numpy(),
                        std,
                        cfg.speaker_norm_prior,
                        audio_stats,
                    )
                else:
                    x = (x - mean) / std
                audio[0, have] = torch.from_numpy(x.astype(np.float32))
            batch.audio = audio
            batch.audio_mask = torch.tensor([[f is not None for f in feats]])
        frames = []
        if "visual" in self.modalities:
            vis = [
                None
                if "visual" not in used or u.visual is None or len(u.visual) == 0
                else np.asarray(u.visual, np.float32)
                for u in utterances
            ]
            f = max((len(v) for v in vis if v is not None), default=1)
            batch.visual = torch.full((1, n, f, 7), 1.0 / 7)
            batch.visual_frames = torch.zeros(1, n, f, dtype=torch.bool)
            for i, v in enumerate(vis):
                if v is not None:
                    batch.visual[0, i, : len(v)] = torch.from_numpy(v)
                    batch.visual_frames[0, i, : len(v)] = True
            batch.visual_mask = torch.tensor([[v is not None for v in vis]])
            frames = [0 if v is None else len(v) for v in vis]
        with torch.inference_mode():
            out = self.net(batch.to(self.device))
        fused = out.logp[0].exp().float().cpu().numpy()
        preds = []
        for i in range(n):
            mp: dict[str, np.ndarray | None] = {}
            for m in used:
                ok = m in out.modality_logp and bool(out.modality_mask[m][0, i])
                mp[m] = out.modality_logp[m][0, i].exp().float().cpu().numpy() if ok else None
            weights = {}
            if out.fusion_weights is not None:
                w = out.fusion_weights[0, i].float().cpu().numpy()
                weights = {m: float(w[j]) for j, m in enumerate(MODALITIES) if m in used}
            native = None
            if out.audio_native is not None and mp.get("audio") is not None:
                native = out.audio_native[0, i].softmax(-1).float().cpu().numpy()
            importance = None
            if out.visual_importance is not None and mp.get("visual") is not None:
                importance = out.visual_importance[0, i, : frames[i]].float().cpu().numpy()
            preds.append(UtterancePrediction(fused[i], mp, weights, native, importance))
        return preds


def load_emotion_model(
    path: Path | None = None, device: str = "cpu", whisper_model: WhisperModel | None = None
) -> EmotionRecognizer:
    """Load a model folder (None -> the shipped default). Pass the ASR's ``WhisperModel`` so that
    the audio features reuse it instead of loading Whisper a second time."""
    from emocli.model.checkpoint import load_model

    return EmotionRecognizer(load_model(path, device), device, whisper_model)


__all__ = ["AUDIO_NATIVE", "EmotionRecognizer", "UtteranceInput", "UtterancePrediction", "load_emotion_model"]
