"""Speaker embeddings: Resemblyzer's GE2E voice encoder, its weights vendored as safetensors.

The network (3-layer LSTM over 40 mel bands, 256-d output, ReLU, L2 norm) is re-implemented here
instead of using ``resemblyzer.VoiceEncoder`` because that class unpickles its checkpoint with a
plain ``torch.load``, prints on load, imports ``webrtcvad`` (which needs a C compiler to install
and ``pkg_resources`` to import) and librosa, and embeds one utterance at a time; here windows are
batched. The weights (``emocli/weights/speaker/ge2e.safetensors``, Apache-2.0, 5.7 MB: the model
state of Resemblyzer 0.1.4's ``pretrained.pt`` without its optimizer state) and the mel front-end
are identical, so the embeddings match Resemblyzer's (checked in tests/test_speech_embeddings.py
when resemblyzer is installed).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli.errors import ModelUnavailableError

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms step: one mel frame per 10 ms
N_MELS = 40
WINDOW_FRAMES = 160  # 1.6 s: the partial-utterance length GE2E was trained on
EMBED_DIM = 256


WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "speaker" / "ge2e.safetensors"
WEIGHTS_SHA256 = "a5d4776b403b69593e4a10212aeacf7d35b56e9d0a2022058c6d4f888202e069"
VERSION = "resemblyzer-0.1.4 (vendored)"


def ge2e_weights() -> Path:
    """The vendored GE2E weights, checked by SHA-256."""
    from emocli.models_registry import sha256_file

    if not WEIGHTS.is_file():
        raise ModelUnavailableError(
            f"The speaker-embedding weights {WEIGHTS} are missing.",
            "Reinstall emocli, or use --diarizer pyannote.",
        )
    if sha256_file(WEIGHTS) != WEIGHTS_SHA256:
        raise ModelUnavailableError(
            f"The speaker-embedding weights {WEIGHTS} are corrupt (checksum mismatch).", "Reinstall emocli."
        )
    return WEIGHTS


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    """(40, 201) Slaney-normalised triangular mel filterbank, 0-8 kHz.

    The numbers of ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)`` (Resemblyzer's
    front-end), computed here so that librosa and numba (about 1 s to import) are not needed.
    """
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]  # equal area per filter (Slaney norm)
    return weights.astype(np.float32)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(n_frames, 40) power mel spectrogram (not log), frames every 10 ms, centred, zero-padded.

    Same numbers as ``librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=400, hop_length=160,
    n_mels=40)``, which is Resemblyzer's front-end, computed with torch.stft for speed.
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    spec = torch.stft(
        x,
        N_FFT,
        hop_length=HOP,
        window=torch.hann_window(N_FFT, periodic=True),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )  # (201, n_frames) complex
    power = spec.real.square() + spec.imag.square()
    mel = torch.from_numpy(_mel_filters()) @ power  # (40, n_frames)
    return mel.T.contiguous().numpy()


class VoiceEncoder:
    """GE2E speaker encoder: 1.6 s of speech -> a 256-d L2-normalised embedding (all entries >= 0).

    Load once and reuse (about 0.05 s to load, 5.7 MB of weights).
    """

    name = "resemblyzer-ge2e"

    def __init__(self, device: str = "cpu", weights: Path | None = None) -> None:
        import torch
        from torch import nn

        self.device = torch.device(device)
        self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, EMBED_DIM)
        path = weights or ge2e_weights()
        try:
            from safetensors.torch import load_file

            state = load_file(path)
            self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
            self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        except Exception as e:  # corrupt file, wrong keys or shapes
            raise ModelUnavailableError(
                f"Cannot load the speaker-embedding weights {path}: {e}.", "Reinstall emocli."
            ) from e
        self.lstm.to(self.device).eval()
        self.linear.to(self.device).eval()
        self.version = VERSION

    def embed_mels(self, mels: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 40) mel windows -> (batch, 256) embeddings."""
        import torch

        with torch.inference_mode():
            _, (hidden, _) = self.lstm(mels.to(self.device))
            raw = torch.relu(self.linear(hidden[-1]))  # (batch, 256)
            return raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-8)

    def embed_windows(self, mel: np.ndarray, starts: Sequence[int], batch_size: int = 64) -> np.ndarray:
        """Embed 1.6 s windows of a mel spectrogram.

        ``mel``: (n_frames, 40) from ``mel_frames``; ``starts``: first frame of each window. A
        window running past the end is zero-padded (as Resemblyzer pads the waveform). Returns
        (len(starts), 256) float32. Batching keeps memory flat whatever the number of windows.
        """
        import torch

        out = np.zeros((len(starts), EMBED_DIM), dtype=np.float32)
        padded = np.pad(mel, ((0, WINDOW_FRAMES), (0, 0)))
        for b in range(0, len(starts), batch_size):
            chunk = np.stack([padded[s : s + WINDOW_FRAMES] for s in starts[b : b + batch_size]])
            out[b : b + len(chunk)] = self.embed_mels(torch.from_numpy(chunk)).cpu().numpy()
        return out

    def embed_utterance(self, wav: np.ndarray, hop_frames: int = 40) -> np.ndarray:
        """One 256-d embedding for a whole clip: the normalised mean of its window embeddings."""
        mel = mel_frames(wav)
        last = max(0, len(mel) - WINDOW_FRAMES)
        starts = list(range(0, last + 1, hop_frames)) or [0]
        e = self.embed_windows(mel, starts).mean(axis=0)
        return e / max(float(np.linalg.norm(e)), 1e-8)
