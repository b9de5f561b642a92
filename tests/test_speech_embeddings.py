from __future__ import annotations

import numpy as np
import pytest

from emocli.speech.embeddings import EMBED_DIM, WINDOW_FRAMES, VoiceEncoder, mel_frames


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder()


def voice(seconds: float, f0: float, seed: int) -> np.ndarray:
    """A crude buzzy 'voice': harmonics of f0 with a slow vibrato and some noise, 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))) / 16000
    x = sum(np.sin(k * phase) / k for k in range(1, 15))
    return (0.1 * x + 0.005 * rng.normal(size=t.size)).astype(np.float32)


def test_mel_matches_librosa_which_resemblyzer_uses() -> None:
    librosa = pytest.importorskip("librosa")

    wav = voice(2.0, 140, 0)
    ref = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=400, hop_length=160, n_mels=40).T
    ours = mel_frames(wav)
    assert ours.shape == ref.shape == (201, 40)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_embeddings_are_unit_nonnegative_and_batch_invariant(encoder: VoiceEncoder) -> None:
    mel = mel_frames(voice(4.0, 120, 1))
    starts = [0, 40, 80, 120, 160, len(mel) - WINDOW_FRAMES]
    e = encoder.embed_windows(mel, starts, batch_size=4)
    assert e.shape == (6, EMBED_DIM) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert (e >= 0).all()
    one = encoder.embed_windows(mel, starts[2:3])
    np.testing.assert_allclose(one[0], e[2], atol=1e-5)  # same window, other batch: same vector


def test_same_as_resemblyzer_voice_encoder(encoder: VoiceEncoder) -> None:
    resemblyzer = pytest.importorskip("resemblyzer")
    wav = voice(5.0, 180, 2)
    theirs = resemblyzer.VoiceEncoder("cpu", verbose=False)
    _, partials, slices = theirs.embed_utterance(wav, return_partials=True, rate=4)
    ours = encoder.embed_windows(mel_frames(np.pad(wav, (0, 16000))), [s.start // 160 for s in slices])
    np.testing.assert_allclose(ours, partials, atol=2e-4)


def test_different_voices_are_less_alike_than_one_voice(encoder: VoiceEncoder) -> None:
    a1, a2 = encoder.embed_utterance(voice(3, 110, 3)), encoder.embed_utterance(voice(3, 112, 4))
    b = encoder.embed_utterance(voice(3, 260, 5))
    assert float(a1 @ a2) > float(a1 @ b)
