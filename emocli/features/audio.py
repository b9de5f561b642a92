"""Audio features: speech-encoder states pooled over an utterance, chosen by name.

- ``whisper`` (default): the encoder of the Whisper model the ASR already loads (CTranslate2, via
  faster-whisper). Each clip is encoded at its own length (no padding to 30 s: about 10x faster
  for similar accuracy); clips longer than 30 s are encoded in 30 s windows. States: 50 frames/s,
  512-d for Whisper base.
- ``whisper:L`` / ``whisper:L,M``: the states after encoder layer ``L`` (1 = the first; Whisper base
  has 6), several layers side by side, through a truncated copy of the model
  (``emocli.features.whisper_layers``).
- ``wav2vec2`` / ``hubert`` (or any Hugging Face audio encoder name): last hidden states of
  ``facebook/wav2vec2-base`` / ``facebook/hubert-base-ls960``; downloaded on machines with
  internet, failing in under a second offline (``models_registry.require_download``).

An utterance's vector is the mean and standard deviation of its frame states (2 x dim), then
standardised per speaker (``speaker_standardise``): the reference measurements show that removing
each speaker's own voice statistics matters more than the classifier.

The audio heads are trained on whole acted clips: the speech with the silence around it (RAVDESS
training clips: median 0.99 s before the speech, 0.85 s after). An utterance cut at its first and last
word reads differently (RAVDESS actors 17-18 through annotate, 7-class accuracy 0.667 against 0.858
for the whole clips, both standardised per actor), so ``context_spans`` widens each utterance by up to
``AUDIO_CONTEXT_SECONDS`` into the audio around it, never into another utterance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from emocli.errors import DependencyMissingError, EmocliError, ModelUnavailableError
from emocli.media import SAMPLE_RATE

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

# For new audio heads. RAVDESS 17-18, mean of 10 seeds (MODEL_CARD.md): 8-class accuracy 0.810 and
# 7-class 0.853 for layers 1 + 6, against 0.769 / 0.838 for the last layer alone, 0.804 / 0.835 layer 1.
DEFAULT_AUDIO_ENCODER = "whisper:1,6"
# Audio around an utterance read with it, each side (about the silence around the training clips' speech).
AUDIO_CONTEXT_SECONDS = 1.0
MIN_SECONDS = 0.5  # shorter clips are zero-padded: the encoder needs a few frames to say anything
WINDOW_SECONDS = 30.0  # Whisper's positional table covers 30 s (1500 states)


class AudioEncoder(Protocol):
    """One speech encoder. ``frames`` maps a 16 kHz mono clip to (T, dim) float32 states."""

    name: str
    version: str  # part of every cache key: change it when the features change
    dim: int

    def frames(self, audio: np.ndarray) -> np.ndarray: ...


def pool_stats(frames: np.ndarray) -> np.ndarray:
    """(T, dim) states -> (2 * dim,) mean then standard deviation over time, float32."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2 or len(frames) == 0:
        raise ValueError(f"expected (T, dim) frame states with T > 0, got shape {frames.shape}")
    return np.concatenate([frames.mean(0), frames.std(0)]).astype(np.float32)


def _prepare(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.isfinite(audio).all():
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    need = int(MIN_SECONDS * SAMPLE_RATE)
    if len(audio) < need:
        audio = np.pad(audio, (0, need - len(audio)))
    return audio


def speed_perturb(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play a 16 kHz clip ``factor`` times faster (tempo and pitch together, as Kaldi's speed
    perturbation): (n,) -> (about n / factor,) float32. A training augmentation: each factor acts
    like a new speaker with a shifted voice, which per-speaker standardisation then removes."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    if abs(factor - 1.0) < 1e-9:
        return np.asarray(audio, dtype=np.float32)
    ratio = Fraction(factor).limit_denominator(100)  # 0.9 -> 9/10: resample by 10/9
    out = resample_poly(np.asarray(audio, dtype=np.float64), ratio.denominator, ratio.numerator)
    return out.astype(np.float32)


def whisper_version(model_name: str, layers: tuple[int, ...] = ()) -> str:
    """Cache-key version of Whisper features, known without loading the model."""
    suffix = "-L" + "+".join(map(str, layers)) if layers else ""
    if model_name == "base":
        from emocli.speech.whisper_model import BUNDLED_SHA256

        return f"whisper-ct2-base-{BUNDLED_SHA256[:12]}-v1{suffix}"
    return f"whisper-ct2-{model_name}-v1{suffix}"


def parse_whisper_layers(name: str) -> tuple[int, ...] | None:
    """``whisper`` -> () (the last layer), ``whisper:1,6`` -> (1, 6); None for other encoders."""
    if name == "whisper":
        return ()
    if not name.startswith("whisper:"):
        return None
    try:
        layers = tuple(int(x) for x in name[len("whisper:") :].split(","))
    except ValueError:
        layers = ()
    if not layers or min(layers) < 1 or len(set(layers)) != len(layers):
        raise EmocliError(
            f"Bad audio encoder {name!r}.",
            "Name Whisper encoder layers from 1 up, without repeats: whisper:1 or whisper:1,6.",
        )
    return layers


class WhisperEncoder:
    """Encoder states of a faster-whisper ``WhisperModel`` (pass the ASR's to avoid loading twice)."""

    def __init__(
        self,
        model: WhisperModel | None = None,
        model_name: str = "base",
        device: str = "cpu",
        layers: tuple[int, ...] = (),
    ) -> None:
        from emocli.speech.whisper_model import load_whisper, resolve_whisper

        if model is None:
            model = load_whisper(resolve_whisper(model_name), device=device)
        from faster_whisper.feature_extractor import FeatureExtractor

        self.model = model
        # One CTranslate2 model per requested layer: the full model for the last (or for none
        # given), a truncated copy for an inner one.
        self._models = [model.model]
        if layers:
            from emocli.features.whisper_layers import encoder_layer_count, truncated_whisper_dir
            from emocli.speech.whisper_model import WhisperSource

            source = resolve_whisper(model_name)
            total = encoder_layer_count(Path(source.path) / "model.bin")
            self._models = []
            for layer in layers:
                if layer == total:
                    self._models.append(model.model)
                    continue
                cut = truncated_whisper_dir(Path(source.path), layer)  # raises for a layer > total
                self._models.append(load_whisper(WhisperSource(source.name, str(cut), "local"), device).model)
        n_mels = int(getattr(model.model, "n_mels", 80) or 80)
        self._features = FeatureExtractor(feature_size=n_mels)
        self.name = "whisper" + (":" + ",".join(map(str, layers)) if layers else "")
        self.version = whisper_version(model_name, layers)
        # Width of the encoder output, read once from a tiny probe so other sizes work too.
        self.dim = int(self._encode(np.zeros(int(MIN_SECONDS * SAMPLE_RATE), np.float32)).shape[-1])

    def _encode(self, audio: np.ndarray) -> np.ndarray:
        import ctranslate2

        mel = self._features(audio, padding=0)  # (n_mels, n_frames) at 100 frames/s
        n = mel.shape[-1] - mel.shape[-1] % 2  # the encoder's stride-2 convolution wants even lengths
        mel = np.ascontiguousarray(mel[:, : max(n, 2)][None], dtype=np.float32)  # (1, n_mels, n)
        view = ctranslate2.StorageView.from_array(mel)
        # Each model: (1, n / 2, dim) at 50 states/s; layers side by side -> (n / 2, dim x layers).
        outs = [np.asarray(m.encode(view, to_cpu=True), dtype=np.float32)[0] for m in self._models]
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=1)

    def frames(self, audio: np.ndarray) -> np.ndarray:
        audio = _prepare(audio)
        step = int(WINDOW_SECONDS * SAMPLE_RATE)
        parts = [self._encode(audio[i : i + step]) for i in range(0, len(audio), step)]
        # A last window shorter than MIN_SECONDS would give one or two noisy states: drop it.
        if len(parts) > 1 and len(audio) % step < MIN_SECONDS * SAMPLE_RATE:
            parts = parts[:-1]
        return np.concatenate(parts, axis=0)


HF_AUDIO_NAMES = {"wav2vec2": "facebook/wav2vec2-base", "hubert": "facebook/hubert-base-ls960"}


class HFAudioEncoder:
    """Last hidden states of a Hugging Face speech encoder (wav2vec2, HuBERT, WavLM...)."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        repo = HF_AUDIO_NAMES.get(name, name)
        from emocli.features.text import hf_local_or_download

        path = hf_local_or_download(repo, what=f"audio encoder {repo!r}")
        try:
            import torch
            from transformers import AutoFeatureExtractor, AutoModel
        except ImportError as e:  # pragma: no cover - transformers is a core dependency
            raise DependencyMissingError("transformers is needed for --audio-encoder " + name) from e
        try:
            self._fe = AutoFeatureExtractor.from_pretrained(path)
            self._model = AutoModel.from_pretrained(path).to(device).eval()
        except (OSError, ValueError) as e:
            raise ModelUnavailableError(f"Cannot load audio encoder {repo!r}: {e}.") from e
        self._torch = torch
        self._device = device
        self.name = name
        self.dim = int(self._model.config.hidden_size)
        self.version = f"hf-{repo}-v1"

    def frames(self, audio: np.ndarray) -> np.ndarray:
        audio = _prepare(audio)
        inputs = self._fe(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        with self._torch.inference_mode():
            out = self._model(**{k: v.to(self._device) for k, v in inputs.items()})
        return out.last_hidden_state[0].float().cpu().numpy()


AUDIO_ENCODERS: dict[str, Callable[..., AudioEncoder]] = {
    "whisper": WhisperEncoder,
    "wav2vec2": lambda **kw: HFAudioEncoder("wav2vec2", device=kw.get("device", "cpu")),
    "hubert": lambda **kw: HFAudioEncoder("hubert", device=kw.get("device", "cpu")),
}


def make_audio_encoder(name: str = "whisper", **kwargs: object) -> AudioEncoder:
    """An encoder by registry name (``whisper:L`` for inner Whisper layers), or any Hugging Face
    audio model id (``org/name``)."""
    layers = parse_whisper_layers(name)
    if layers:
        return WhisperEncoder(layers=layers, **kwargs)  # type: ignore[arg-type]
    if name in AUDIO_ENCODERS:
        return AUDIO_ENCODERS[name](**kwargs)
    if "/" in name:
        return HFAudioEncoder(name, device=str(kwargs.get("device", "cpu")))
    raise EmocliError(
        f"Unknown audio encoder {name!r}.",
        f"Use one of: {', '.join(AUDIO_ENCODERS)}, whisper:L (Whisper encoder layer L), "
        "or a Hugging Face model id (org/name).",
    )


def speaker_standardise(
    features: np.ndarray,
    speakers: Sequence[str],
    global_mean: np.ndarray,
    global_std: np.ndarray,
    prior: float = 4.0,
    stats: Mapping[str, SpeakerStats] | None = None,
) -> np.ndarray:
    """Standardise (N, D) utterance features by each speaker's own mean and std.

    With few utterances a speaker's statistics are noisy (and one utterance has no spread), so
    they are shrunk towards population statistics as if ``prior`` utterances at those values had
    been seen: ``mean_s = (n * mean_obs + prior * mean_g) / (n + prior)``, the same for the
    variance. Training and inference use this same rule. Training and ``evaluate`` pass the training
    utterances' mean as ``global_mean``, as the shipped heads were trained; annotate passes the mean
    over training speakers (``speaker_means_mean``) where the model has it: its speakers often have
    one or a few utterances, where that prior is what the utterance is read against (see
    ``emocli.model.inference``).

    ``stats``: a speaker's statistics over more utterances than the N given (``SpeakerStats``, e.g.
    over every clip of a folder by that speaker, ``emocli batch``); that speaker's rows are read
    against them instead of against their own mean and spread.
    """
    x = np.asarray(features, dtype=np.float64)
    out = np.empty_like(x)
    gm = np.asarray(global_mean, dtype=np.float64)
    gv = np.asarray(global_std, dtype=np.float64) ** 2
    spk = np.asarray(list(speakers), dtype=object)
    for s in dict.fromkeys(spk.tolist()):
        idx = np.flatnonzero(spk == s)
        if stats is not None and s in stats:
            n, m_obs, v_obs = stats[s].n, stats[s].mean, stats[s].var
        else:
            n, m_obs, v_obs = len(idx), x[idx].mean(0), x[idx].var(0)
        v_obs = v_obs if n > 1 else gv
        mean = (n * m_obs + prior * gm) / (n + prior)
        var = (n * v_obs + prior * gv) / (n + prior)
        out[idx] = (x[idx] - mean) / np.sqrt(var + 1e-6)
    return out.astype(np.float32)


@dataclass(frozen=True)
class SpeakerStats:
    """A speaker's raw pooled audio features summed up: ``n`` utterances, their (D,) mean and (D,)
    variance (population, as ``np.var``), float64."""

    n: int
    mean: np.ndarray
    var: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray) -> SpeakerStats:
        """(N, D) raw pooled vectors -> their statistics."""
        x = np.asarray(features, dtype=np.float64)
        return cls(len(x), x.mean(0), x.var(0))


def context_spans(
    spans: Sequence[tuple[float, float]], duration: float, pad: float = AUDIO_CONTEXT_SECONDS
) -> list[tuple[float, float]]:
    """The audio to encode for each utterance (seconds): its (start, end) widened by up to ``pad`` on
    each side, as the audio heads' training clips carry silence around their speech, but never into
    another utterance (an overlapping one leaves that side as it is) nor outside [0, duration].

    Sorted sweeps, O(n log n) for n utterances: each side stops at the latest end of the utterances
    that start earlier, and at the earliest start of those that end later.
    """
    n = len(spans)
    lo = [min(s, max(0.0, s - pad)) for s, _ in spans]
    hi = [max(e, min(duration, e + pad)) for _, e in spans]
    by_start = sorted(range(n), key=lambda i: spans[i][0])
    latest_end, k = float("-inf"), 0
    for pos, i in enumerate(by_start):
        while k < pos and spans[by_start[k]][0] < spans[i][0]:  # those that start strictly earlier
            latest_end = max(latest_end, spans[by_start[k]][1])
            k += 1
        lo[i] = max(lo[i], min(latest_end, spans[i][0]))
    by_end = sorted(range(n), key=lambda i: -spans[i][1])
    earliest_start, k = float("inf"), 0
    for pos, i in enumerate(by_end):
        while k < pos and spans[by_end[k]][1] > spans[i][1]:  # those that end strictly later
            earliest_start = min(earliest_start, spans[by_end[k]][0])
            k += 1
        hi[i] = min(hi[i], max(earliest_start, spans[i][1]))
    return list(zip(lo, hi, strict=True))


def speaker_means_mean(features: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
    """(N, D) raw pooled vectors -> (D,) the mean over speakers of each speaker's mean vector.

    The prior mean of a speaker heard for the first time: every speaker weighs the same, where the
    mean over utterances leans to the speakers with the most clips (TESS's two speakers give 700 of
    the shipped audio head's 1,660 training clips)."""
    x = np.asarray(features, dtype=np.float64)
    spk = np.asarray(list(speakers), dtype=object)
    means = [x[spk == s].mean(0) for s in dict.fromkeys(spk.tolist())]
    return np.mean(means, axis=0).astype(np.float32)
