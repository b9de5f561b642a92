"""Batch reads a clip as ``emocli evaluate`` scores one: a clip of one utterance is read whole, and a
speaker grouped over several clips is standardised against evaluate's reference statistics."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from emocli.clip_labeler import WHOLE_CLIP_MARGIN_SECONDS, _Capture, evaluate_reference
from emocli.features.audio import SpeakerStats, context_spans, speaker_standardise
from emocli.media import SAMPLE_RATE
from emocli.model.inference import UtteranceInput

SR = SAMPLE_RATE


class _Model:
    """The part of ``EmotionRecognizer`` that ``_Capture`` uses; features say which samples they read."""

    def __init__(self) -> None:
        self.given: list[UtteranceInput] = []

    def used_modalities(self, asked: Any = None) -> tuple[str, ...]:
        return ("audio",)

    def audio_features(self, audio: np.ndarray) -> np.ndarray:
        return np.array([len(audio), float(np.sum(audio))], np.float32)

    def predict_dialogue(self, utterances: Any, hook: Any = None, modalities: Any = None,
                         audio_stats: Any = None) -> list:  # fmt: skip
        self.given = list(utterances)
        return []


def _inputs(recording: np.ndarray, spans: list[tuple[float, float]]) -> list[UtteranceInput]:
    """Utterances as annotate gives them: each with its audio widened by context (``context_spans``)."""
    wide = context_spans(spans, len(recording) / SR)
    return [
        UtteranceInput(None, "SPEAKER_00", s, e, audio=recording[int(a * SR) : int(b * SR)])
        for (s, e), (a, b) in zip(spans, wide, strict=True)
    ]


def _capture(recording: np.ndarray, spans: list[tuple[float, float]]) -> tuple[_Capture, _Model]:
    model = _Model()
    capture = _Capture(model, None)  # type: ignore[arg-type]
    capture.audio = recording
    capture(_inputs(recording, spans), modalities=("audio",))
    return capture, model


def test_a_clip_of_one_utterance_is_read_whole_its_voice_around_the_words() -> None:
    rng = np.random.default_rng(0)
    recording = rng.normal(size=int(4.2 * SR)).astype(np.float32)  # an acted clip: 0.7-2.6 s of speech
    capture, model = _capture(recording, [(0.7, 2.6)])
    whole = model.audio_features(recording)
    np.testing.assert_array_equal(capture.inputs[0].audio_features, whole)  # the record keeps these
    assert model.given[0].audio is None and model.given[0].audio_features is not None
    # The utterance with its context (0-3.6 s, not the whole clip) stays for the voice embedding.
    assert capture.inputs[0].audio is not None and len(capture.inputs[0].audio) == int(3.6 * SR)


def test_several_utterances_or_a_long_recording_are_read_around_each_utterance() -> None:
    rng = np.random.default_rng(1)
    recording = rng.normal(size=int(9.0 * SR)).astype(np.float32)
    capture, model = _capture(recording, [(0.7, 2.6), (5.0, 7.0)])
    for u in capture.inputs:
        np.testing.assert_array_equal(u.audio_features, model.audio_features(u.audio))  # type: ignore[arg-type]
    far = WHOLE_CLIP_MARGIN_SECONDS + 1.0  # speech this far in: no acted clip, read as annotate does
    long = rng.normal(size=int((far + 5.0) * SR)).astype(np.float32)
    capture, model = _capture(long, [(far, far + 2.0)])
    u = capture.inputs[0]
    assert u.audio is not None and len(u.audio) == int((far + 3.0) * SR) - int((far - 1.0) * SR)
    np.testing.assert_array_equal(u.audio_features, model.audio_features(u.audio))


def test_grouped_speakers_are_standardised_as_evaluate_standardises_an_actor() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    d, prior = 6, 4.0
    x = rng.normal(2.0, 1.5, size=(5, d)).astype(np.float32)  # one actor's 5 clips, raw features
    clips_mean, speakers_mean = rng.normal(size=d), rng.normal(size=d)
    std = np.abs(rng.normal(1.0, 0.2, size=d)).astype(np.float32)
    # evaluate: every clip of the actor at once, shrunk towards the training clips' mean.
    want = speaker_standardise(x, ["actor"] * 5, clips_mean, std, prior)
    net = SimpleNamespace(
        audio_mean=torch.tensor(clips_mean, dtype=torch.float32),
        audio_speaker_mean=torch.tensor(speakers_mean, dtype=torch.float32),
        cfg=SimpleNamespace(speaker_norm=True, speaker_norm_prior=prior),
    )
    group = {"SPEAKER_00": SpeakerStats.of(x)}
    stats = evaluate_reference(SimpleNamespace(net=net), group)  # type: ignore[arg-type]
    for i in range(5):  # batch: each clip alone, as predict_dialogue reads it (the speakers' prior)
        got = speaker_standardise(x[i : i + 1], ["SPEAKER_00"], speakers_mean, std, prior, stats)
        np.testing.assert_allclose(got[0], want[i], atol=1e-5)
    plain = speaker_standardise(x[:1], ["SPEAKER_00"], speakers_mean, std, prior, group)
    assert not np.allclose(plain[0], want[0], atol=1e-3)
    assert evaluate_reference(SimpleNamespace(net=net), None) is None  # type: ignore[arg-type]


@pytest.mark.slow
def test_batch_reads_a_real_clip_as_evaluate_does(data_dir: Path) -> None:
    """A RAVDESS clip whose speech ends 1.6 s before the clip does (annotate's context stops short):
    batch's record holds evaluate's features of the whole clip, and one pass gives pass 2's rows."""
    from emocli.clip_labeler import AnnotatorLabelerFactory
    from emocli.features.extract import AudioFeaturizer
    from emocli.media import load_audio
    from emocli.pipeline import AnnotateOptions

    clip = next((data_dir / "ravdess").rglob("03-01-05-02-02-02-18.flac"), None)
    if clip is None:
        pytest.skip("RAVDESS actor 18 not found")
    labeler = AnnotatorLabelerFactory(AnnotateOptions(modalities=("audio",)))()
    rec = labeler.extract(clip, clip.name, render=False)
    assert len(rec.utterances) == 1 and rec.utterances[0].audio is not None
    model = labeler.annotator.model
    evaluate_features = AudioFeaturizer(model.net.cfg.audio_encoder, None, "cpu").clip(clip)
    np.testing.assert_allclose(rec.utterances[0].audio, evaluate_features, atol=1e-5)
    u = rec.utterances[0]
    (a, b), audio = context_spans([(u.start, u.end)], rec.duration)[0], load_audio(clip)
    annotate_features = model.audio_features(audio[int(a * SR) : int(b * SR)])
    assert np.abs(annotate_features - evaluate_features).max() > 0.1  # the test would see the difference
    assert labeler(clip, clip.name) == labeler.finish(rec)
