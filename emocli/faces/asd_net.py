"""Light-ASD (Liao et al., CVPR 2023, MIT): an audio-visual active speaker detection network.

Written here from the upstream description (Junhua-Liao/Light-ASD: ``model/Model.py``,
``model/Classifier.py``, ``loss.py``; the layers of ``model/Encoder.py`` as the shared README
describes them) so that the upstream state dict loads strictly into it: module names follow
upstream (``model.visualEncoder``, ``model.audioEncoder``, ``model.GRU``, ``lossAV.FC``); only the
training-time visual head ``lossV.*`` is dropped. 1.02 M parameters.

Inputs, per face track at 25 frames/s (``ASD_FPS``):
- video: (B, T, 112, 112) grey crops, raw values 0..255 (upstream: the face box enlarged, resized
  to 224x224, grey, the central 112x112);
- audio: (B, 4T, 13) MFCCs, 100 frames/s (``mfcc`` below: 4 audio frames per video frame).
Output: (B, T) speaking logits, one per video frame (>= 0 reads as speaking).

Cost, measured with 1 torch thread on 2 shared cores: about 5 ms of CPU per frame per face for
windows of 25 or 50 frames, one or two tracks per call (7-8 ms with 4 tracks: larger batches only
add memory traffic); nearly all of it is the visual encoder. The MFCCs cost 1-2 ms per second
of audio.

The weights are resolved and checked in ``emocli.faces.asd_weights``. Importing this module
imports torch; nothing is loaded until ``load_asd`` / ``random_asd`` is called.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from emocli.faces.asd_weights import asd_available, load_asd_state_dict

__all__ = ["ASD_FPS", "LightASD", "align_audio", "asd_available", "load_asd", "mfcc", "random_asd"]

ASD_FPS: int = 25  # video frames per second the network was trained on
AUDIO_PER_VIDEO = 4  # MFCC frames (10 ms) per video frame (40 ms)
N_MFCC = 13
CROP = 112  # side of the grey face crop, pixels
_MEAN, _STD = 0.4161, 0.1688  # upstream's normalisation of x / 255


# ---------------------------------------------------------------------------- the network
def _bn(channels: int, dims: int) -> nn.Module:
    # Upstream's BatchNorm settings; they matter only for training, but eps matters at inference.
    cls = nn.BatchNorm3d if dims == 3 else nn.BatchNorm2d
    return cls(channels, momentum=0.01, eps=0.001)


class _VisualBlock(nn.Module):
    """Two branches (1x3x3 then 3x1x1; 1x5x5 then 5x1x1 over (T, H, W)), summed, then 1x1x1.

    Every convolution is bias-free and followed by BatchNorm and ReLU. (B, Cin, T, H, W) ->
    (B, Cout, T, H', W') with H' = H / 2 when ``down`` (stride 2 in the spatial convolutions)."""

    def __init__(self, cin: int, cout: int, down: bool = False) -> None:
        super().__init__()
        stride = (1, 2, 2) if down else (1, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        self.s_3 = nn.Conv3d(cin, cout, (1, 3, 3), stride=stride, padding=(0, 1, 1), bias=False)
        self.bn_s_3 = _bn(cout, 3)
        self.t_3 = nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn_t_3 = _bn(cout, 3)
        self.s_5 = nn.Conv3d(cin, cout, (1, 5, 5), stride=stride, padding=(0, 2, 2), bias=False)
        self.bn_s_5 = _bn(cout, 3)
        self.t_5 = nn.Conv3d(cout, cout, (5, 1, 1), padding=(2, 0, 0), bias=False)
        self.bn_t_5 = _bn(cout, 3)
        self.last = nn.Conv3d(cout, cout, 1, bias=False)
        self.bn_last = _bn(cout, 3)

    def forward(self, x: Tensor) -> Tensor:
        a = self.relu(self.bn_s_3(self.s_3(x)))
        a = self.relu(self.bn_t_3(_over_time(self.t_3, a)))
        b = self.relu(self.bn_s_5(self.s_5(x)))
        b = self.relu(self.bn_t_5(_over_time(self.t_5, b)))
        return self.relu(self.bn_last(_over_time(self.last, a + b)))


def _over_time(conv: nn.Conv3d, x: Tensor) -> Tensor:
    """A (k, 1, 1) Conv3d computed as a Conv2d over (T, H * W): the same result (to float
    rounding), faster on CPU (1 thread: a 5x1x1 conv on 32 x 25 x 56 x 56 takes 51 ms as a Conv3d,
    8 ms this way)."""
    b, c, t, h, w = x.shape
    y = F.conv2d(x.reshape(b, c, t, h * w), conv.weight[..., 0], padding=(conv.padding[0], 0))
    return y.reshape(b, -1, t, h, w)


class _AudioBlock(nn.Module):
    """Like the visual block over (MFCC, time): 3x1 then 1x3; 5x1 then 1x5; summed; then 1x1."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=True)
        self.m_3 = nn.Conv2d(cin, cout, (3, 1), padding=(1, 0), bias=False)
        self.bn_m_3 = _bn(cout, 2)
        self.t_3 = nn.Conv2d(cout, cout, (1, 3), padding=(0, 1), bias=False)
        self.bn_t_3 = _bn(cout, 2)
        self.m_5 = nn.Conv2d(cin, cout, (5, 1), padding=(2, 0), bias=False)
        self.bn_m_5 = _bn(cout, 2)
        self.t_5 = nn.Conv2d(cout, cout, (1, 5), padding=(0, 2), bias=False)
        self.bn_t_5 = _bn(cout, 2)
        self.last = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_last = _bn(cout, 2)

    def forward(self, x: Tensor) -> Tensor:
        a = self.relu(self.bn_m_3(self.m_3(x)))
        a = self.relu(self.bn_t_3(self.t_3(a)))
        b = self.relu(self.bn_m_5(self.m_5(x)))
        b = self.relu(self.bn_t_5(self.t_5(b)))
        return self.relu(self.bn_last(self.last(a + b)))


class _VisualEncoder(nn.Module):
    """(B, 1, T, 112, 112) normalised grey -> (B, T, 128): 112 -> 56 -> 28 -> 28 -> 14 -> 14, max."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = _VisualBlock(1, 32, down=True)
        self.pool1 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.block2 = _VisualBlock(32, 64)
        self.pool2 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.block3 = _VisualBlock(64, 128)

    def forward(self, x: Tensor) -> Tensor:
        x = self.block3(self.pool2(self.block2(self.pool1(self.block1(x)))))  # (B, 128, T, 14, 14)
        return x.amax(dim=(3, 4)).transpose(1, 2)  # global spatial max per frame


class _AudioEncoder(nn.Module):
    """(B, 1, 13, 4T) MFCC x time -> (B, T, 128): two stride-2 pools over time, mean over MFCC."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = _AudioBlock(1, 32)
        self.pool1 = nn.MaxPool2d((1, 3), stride=(1, 2), padding=(0, 1))
        self.block2 = _AudioBlock(32, 64)
        self.pool2 = nn.MaxPool2d((1, 3), stride=(1, 2), padding=(0, 1))
        self.block3 = _AudioBlock(64, 128)

    def forward(self, x: Tensor) -> Tensor:
        x = self.block3(self.pool2(self.block2(self.pool1(self.block1(x)))))  # (B, 128, 13, T)
        return x.mean(dim=2).transpose(1, 2)


class _BGRU(nn.Module):
    """Upstream's back end: a forward GRU, GELU, a second GRU over reversed time, GELU."""

    def __init__(self, channels: int = 128) -> None:
        super().__init__()
        self.gru_forward = nn.GRU(channels, channels, num_layers=1, batch_first=True)
        self.gru_backward = nn.GRU(channels, channels, num_layers=1, batch_first=True)
        self.gelu = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.gelu(self.gru_forward(x)[0])
        x = torch.flip(self.gru_backward(torch.flip(x, dims=[1]))[0], dims=[1])
        return self.gelu(x)


class _Backbone(nn.Module):
    """Upstream's ``ASD_Model`` (the ``model.*`` keys)."""

    def __init__(self) -> None:
        super().__init__()
        self.visualEncoder = _VisualEncoder()
        self.audioEncoder = _AudioEncoder()
        self.GRU = _BGRU(128)


class _Head(nn.Module):
    """Upstream's ``lossAV`` without its loss: ``FC`` 128 -> 2; output 1 is the speaking logit."""

    def __init__(self) -> None:
        super().__init__()
        self.FC = nn.Linear(128, 2)


def align_audio(audio: Tensor, frames: int) -> Tensor:
    """Make (B, N, 13) MFCCs exactly (B, 4 * frames, 13).

    Upstream (Columbia_test.py) trims audio and video to a common length; here the video sets the
    length, because a score is wanted for every frame: extra audio frames are dropped and missing
    ones repeat the last frame. MFCCs of exactly ``frames / 25`` s of audio come out one frame
    short (the 25 ms window does not fit past the end), so one repeated frame is the usual case.
    """
    want = AUDIO_PER_VIDEO * frames
    n = audio.shape[1]
    if n == 0:
        raise ValueError("align_audio needs at least one MFCC frame")
    if n >= want:
        return audio[:, :want]
    return torch.cat([audio, audio[:, -1:].expand(-1, want - n, -1)], dim=1)


class LightASD(nn.Module):
    """The Light-ASD network; ``forward(audio, video)`` -> (B, T) speaking logits."""

    def __init__(self) -> None:
        super().__init__()
        self.model = _Backbone()
        self.lossAV = _Head()

    def forward(self, audio: Tensor, video: Tensor) -> Tensor:
        """audio (B, 4T, 13) MFCC; video (B, T, 112, 112) grey 0..255 -> (B, T) logits.

        Audio of another length is trimmed or padded to 4T (``align_audio``)."""
        if video.dim() != 4 or tuple(video.shape[-2:]) != (CROP, CROP) or video.shape[1] == 0:
            raise ValueError(f"video must be (B, T>0, {CROP}, {CROP}), got {tuple(video.shape)}")
        if audio.dim() != 3 or audio.shape[0] != video.shape[0] or audio.shape[2] != N_MFCC:
            raise ValueError(
                f"audio must be (B, 4T, {N_MFCC}) with B = {video.shape[0]}, got {tuple(audio.shape)}"
            )
        t = video.shape[1]
        audio = align_audio(audio.float(), t)
        x = (video.float() / 255.0 - _MEAN) / _STD
        v = self.model.visualEncoder(x.unsqueeze(1))  # (B, T, 128)
        a = self.model.audioEncoder(audio.unsqueeze(1).transpose(2, 3))  # (B, 1, 13, 4T) -> (B, T, 128)
        h = self.model.GRU(v + a)  # the two embeddings are added, not concatenated (upstream)
        return self.lossAV.FC(h)[..., 1]


def load_asd(path: Path | str | None = None, device: str = "cpu") -> LightASD:
    """The network with the Light-ASD weights (resolved and checked as in ``asd_weights``), eval()."""
    state = load_asd_state_dict(path)
    state = {k: v for k, v in state.items() if not k.startswith("lossV.")}
    net = LightASD()
    net.load_state_dict(state, strict=True)
    return net.to(device).eval()


def random_asd(seed: int = 0) -> LightASD:
    """The network with random weights (and non-trivial BatchNorm statistics), eval(): for tests."""
    gen = torch.Generator().manual_seed(seed)
    net = LightASD()
    with torch.no_grad():
        for name, p in net.state_dict().items():
            if not p.is_floating_point():
                continue
            if name.endswith("running_var"):
                p.copy_(0.5 + torch.rand(p.shape, generator=gen))
            elif name.endswith("running_mean"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:  # conv / GRU / linear weights, BatchNorm scale and shift
                fan_in = max(1, math.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
    return net.eval()


# ---------------------------------------------------------------------------- MFCC front end
_WINLEN, _WINSTEP = 0.025, 0.010  # seconds
_NFFT, _NFILT, _PREEMPH, _LIFTER = 512, 26, 0.97, 22
_CHUNK = 6000  # frames per FFT batch (1 min of audio, about 25 MB of float64)


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


@lru_cache(maxsize=4)
def _mel_filterbank(sample_rate: int) -> np.ndarray:
    """(26, 257) triangular filters on FFT bins, as python_speech_features.get_filterbanks."""
    high_mel = 2595 * np.log10(1 + (sample_rate / 2) / 700.0)
    mel = np.linspace(0.0, high_mel, _NFILT + 2)
    bins = np.floor((_NFFT + 1) * (700 * (10 ** (mel / 2595.0) - 1)) / sample_rate)
    fb = np.zeros((_NFILT, _NFFT // 2 + 1))
    for j in range(_NFILT):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        for i in range(int(lo), int(mid)):
            fb[j, i] = (i - lo) / (mid - lo)
        for i in range(int(mid), int(hi)):
            fb[j, i] = (hi - i) / (hi - mid)
    return fb


@lru_cache(maxsize=1)
def _dct_lifter() -> np.ndarray:
    """(26, 13): orthonormal DCT-II (scipy's ``dct(norm='ortho')``), first 13, times the lifter."""
    n = np.arange(_NFILT)
    k = np.arange(N_MFCC)[:, None]
    d = np.cos(np.pi * k * (2 * n + 1) / (2 * _NFILT)) * np.sqrt(2.0 / _NFILT)
    d[0] *= np.sqrt(0.5)
    lift = 1 + (_LIFTER / 2.0) * np.sin(np.pi * np.arange(N_MFCC) / _LIFTER)
    return (d * lift[:, None]).T


def mfcc(audio: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """Mono float samples in [-1, 1] -> (N, 13) float32 MFCCs, one per 10 ms (25 ms windows).

    Equal to ``python_speech_features.mfcc(int16_samples, sample_rate, numcep=13, winlen=0.025,
    winstep=0.010)``, which is what Light-ASD was trained on: the samples are scaled to the int16
    range first (the energy coefficient, column 0, depends on the scale). N = 1 + ceil((S - 400) /
    160) for S samples at 16 kHz (the last window zero-padded), so 4T - 1 for T video frames'
    worth; an empty input gives (0, 13). The model expects 16 kHz.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    x = np.asarray(audio, dtype=np.float64).reshape(-1) * 32768.0
    if x.size == 0:
        return np.zeros((0, N_MFCC), dtype=np.float32)
    x = np.concatenate([x[:1], x[1:] - _PREEMPH * x[:-1]])
    win, hop = _round_half_up(_WINLEN * sample_rate), _round_half_up(_WINSTEP * sample_rate)
    n = 1 if x.size <= win else 1 + math.ceil((x.size - win) / hop)
    x = np.concatenate([x, np.zeros((n - 1) * hop + win - x.size)])
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]  # (n, win), a view
    fb, dct = _mel_filterbank(sample_rate), _dct_lifter()
    eps = np.finfo(float).eps
    out = np.empty((n, N_MFCC), dtype=np.float32)
    for s in range(0, n, _CHUNK):
        # rfft(., 512) truncates frames longer than 512 samples, as python_speech_features does.
        pspec = np.abs(np.fft.rfft(frames[s : s + _CHUNK], _NFFT)) ** 2 / _NFFT  # (n, 257)
        energy = pspec.sum(axis=1)
        feat = pspec @ fb.T
        cep = np.log(np.where(feat == 0, eps, feat)) @ dct
        cep[:, 0] = np.log(np.where(energy == 0, eps, energy))
        out[s : s + _CHUNK] = cep
    return out
