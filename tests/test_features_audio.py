from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from emocli.errors import EmocliError, ModelUnavailableError
from emocli.features.audio import (
    WhisperEncoder,
    make_audio_encoder,
    pool_stats,
    speaker_standardise,
    speed_perturb,
)
from emocli.features.extract import AudioFeaturizer
from tests.media_factory import tone, write_wav


@pytest.fixture(scope="module")
def whisper() -> WhisperEncoder:
    return WhisperEncoder()


def test_each_clip_is_encoded_at_its_own_length(whisper: WhisperEncoder) -> None:
    assert whisper.dim == 512
    two = whisper.frames(tone(2.0))
    assert two.shape == (100, 512)  # 50 states per second, not 1500 for a padded 30 s window
    short = whisper.frames(tone(0.1))
    assert short.shape == (25, 512)  # padded to MIN_SECONDS = 0.5 s only
    long = whisper.frames(np.concatenate([tone(30.0), tone(5.0, 300)]))
    assert long.shape == (1750, 512)  # two windows: 30 s + 5 s
    assert np.isfinite(long).all()
    # A different sound gives different states (the features are not a constant).
    assert np.abs(pool_stats(whisper.frames(tone(2.0, 1200))) - pool_stats(two)).max() > 0.1


def test_pool_stats_is_mean_then_std() -> None:
    frames = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    assert pool_stats(frames).tolist() == [2.0, 4.0, 1.0, 2.0]
    with pytest.raises(ValueError):
        pool_stats(np.zeros((0, 4)))


def test_speaker_standardisation_uses_each_speakers_own_statistics() -> None:
    rng = np.random.default_rng(0)
    gm, gs = np.zeros(3, np.float32), np.ones(3, np.float32)
    a = rng.normal(5.0, 2.0, (200, 3))
    b = rng.normal(-3.0, 0.5, (200, 3))
    z = speaker_standardise(np.concatenate([a, b]), ["A"] * 200 + ["B"] * 200, gm, gs, prior=4.0)
    for part in (z[:200], z[200:]):  # each speaker's voice offset is removed
        assert np.abs(part.mean(0)).max() < 0.2 and np.abs(part.std(0) - 1).max() < 0.15
    # One utterance: its mean is shrunk to the global one (2 -> 2/5) and its spread is the global
    # one (a single value has none), so the result stays finite: (2 - 0.4) / 1.
    one = speaker_standardise(np.array([[2.0, 2.0, 2.0]]), ["C"], gm, gs, prior=4.0)
    assert np.allclose(one, 1.6, atol=1e-4)


def test_clip_features_are_cached_by_content_and_span(whisper: WhisperEncoder, tmp_path: Path) -> None:
    clip = write_wav(tmp_path / "a.wav", tone(1.5, 500))
    feats = AudioFeaturizer()
    feats._encoder = whisper  # reuse the loaded model
    first = feats.clip(clip)
    assert first.shape == (1024,) and feats.cache.misses == 1
    again = AudioFeaturizer()  # a new run: nothing loaded, everything from the cache
    assert np.array_equal(again.clip(clip), first) and again._encoder is None and again.cache.hits == 1
    feats.clip(clip, 0.0, 0.7)  # another span is another entry
    assert feats.cache.misses == 2
    write_wav(clip, tone(1.5, 900))  # new content under the same name is not served stale
    assert not np.array_equal(feats.clip(clip), first)
    empty = write_wav(tmp_path / "b.wav", tone(0.2))
    with pytest.raises(EmocliError, match="no audio in the requested span"):
        feats.clip(empty, 5.0, 6.0)


def test_speed_perturbation_changes_duration_and_pitch_together() -> None:
    sr = 16000
    t = np.arange(sr, dtype=np.float64) / sr  # 1 s of 400 Hz
    x = np.sin(2 * np.pi * 400 * t).astype(np.float32)
    for factor in (0.9, 1.1):
        y = speed_perturb(x, factor)
        assert y.dtype == np.float32 and abs(len(y) - sr / factor) <= 2  # 0.9 -> 1.11 s, 1.1 -> 0.91 s
        spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(len(y) - 2000)))
        peak_hz = spectrum.argmax() * sr / (len(y) - 2000)
        assert abs(peak_hz - 400 * factor) < 5  # pitch moves with tempo, as in Kaldi
    assert np.array_equal(speed_perturb(x, 1.0), x)
    with pytest.raises(ValueError):
        speed_perturb(x, 0.0)


def test_speed_perturbed_features_are_cached_apart(whisper: WhisperEncoder, tmp_path: Path) -> None:
    clip = write_wav(tmp_path / "a.wav", tone(1.3, 610))  # content no other test caches
    feats = AudioFeaturizer()
    feats._encoder = whisper
    plain, fast = feats.clip(clip), feats.clip(clip, speed=1.1)
    assert feats.cache.misses == 2 and np.abs(plain - fast).max() > 0.01  # another entry, other states
    again = AudioFeaturizer()
    assert np.array_equal(again.clip(clip, speed=1.1), fast) and again.cache.hits == 1  # from the cache


def test_a_loaded_whisper_model_is_reused_not_loaded_again(whisper: WhisperEncoder) -> None:
    feats = AudioFeaturizer(whisper_model=whisper.model)
    assert feats.encoder.model is whisper.model  # type: ignore[attr-defined]


def test_hub_audio_encoders_fail_fast_offline() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="must be downloaded"):
        make_audio_encoder("wav2vec2")
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(EmocliError, match="Unknown audio encoder"):
        make_audio_encoder("nonsense")
