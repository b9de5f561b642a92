"""``--diarizer pyannote`` without its weights: the errors, and the conversion of its output."""

from __future__ import annotations

import sys
import time
import types
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

from emocli.errors import DependencyMissingError, ModelUnavailableError
from emocli.speech import pyannote_backend
from emocli.speech.diarize import load_diarizer
from emocli.speech.pyannote_backend import PyannoteDiarizer, diarization_from_pyannote


@dataclass
class Seg:
    start: float
    end: float


class FakeAnnotation:
    """The two methods of pyannote.core.Annotation that the backend uses."""

    def __init__(self, tracks: list[tuple[float, float, str]]) -> None:
        self.tracks = tracks

    def itertracks(self, yield_label: bool = False) -> Any:
        for i, (s, e, lab) in enumerate(sorted(self.tracks)):
            yield Seg(s, e), i, lab

    def labels(self) -> list[str]:
        return sorted({lab for *_, lab in self.tracks})


class FakeOutput:  # pyannote.audio 4 DiarizeOutput
    def __init__(self, annotation: FakeAnnotation, embeddings: np.ndarray) -> None:
        self.speaker_diarization = annotation
        self.speaker_embeddings = embeddings


class FakePipeline:
    calls: ClassVar[list[dict[str, Any]]] = []

    @classmethod
    def from_pretrained(cls, name: str, token: str | None = None) -> FakePipeline:
        cls.loaded = (name, token)
        return cls()

    def __call__(self, file: dict[str, Any], hook: Any = None, **kwargs: Any) -> FakeOutput:
        FakePipeline.calls.append({"shape": tuple(file["waveform"].shape), **kwargs})
        hook("segmentation", None, completed=1, total=1)
        ann = FakeAnnotation([(3.0, 5.0, "B"), (0.5, 2.0, "A"), (5.5, 6.0, "A")])
        return FakeOutput(ann, np.array([[3.0, 4.0], [1.0, 0.0]]))  # rows follow labels(): A, B


@pytest.fixture
def fake_pyannote(monkeypatch: pytest.MonkeyPatch) -> type[FakePipeline]:
    audio = types.ModuleType("pyannote.audio")
    audio.Pipeline = FakePipeline  # type: ignore[attr-defined]
    root = types.ModuleType("pyannote")
    root.audio = audio  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyannote", root)
    monkeypatch.setitem(sys.modules, "pyannote.audio", audio)
    FakePipeline.calls = []
    return FakePipeline


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyannote.audio", None)  # import fails
    with pytest.raises(DependencyMissingError, match=r"pip install 'emocli\[pyannote\]'"):
        load_diarizer("pyannote")


def test_missing_token_fails_fast_with_the_fix(
    fake_pyannote: type[FakePipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(pyannote_backend, "_is_cached", lambda repo: False)
    t = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="--hf-token or set HF_TOKEN"):
        PyannoteDiarizer()
    assert time.perf_counter() - t < 1.0


def test_token_but_offline_fails_fast(
    fake_pyannote: type[FakePipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pyannote_backend, "_is_cached", lambda repo: False)
    t = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="must be downloaded"):
        PyannoteDiarizer(hf_token="hf_dummy")  # the test session sets offline mode
    assert time.perf_counter() - t < 1.0


def test_cached_pipeline_runs_and_converts(
    fake_pyannote: type[FakePipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pyannote_backend, "_is_cached", lambda repo: True)
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    d = load_diarizer("pyannote")
    assert fake_pyannote.loaded == (pyannote_backend.DEFAULT_PIPELINE, "hf_env")
    steps: list[str] = []
    out = d(
        np.zeros(16000 * 7, np.float32),
        [],
        min_speakers=1,
        max_speakers=3,
        hook=lambda s, **k: steps.append(s),
    )
    assert fake_pyannote.calls[-1] == {"shape": (1, 16000 * 7), "min_speakers": 1, "max_speakers": 3}
    assert steps == ["diarize (segmentation)"]
    # labels renamed by first appearance: A -> SPEAKER_00, B -> SPEAKER_01
    assert [(t.start, t.end, t.speaker) for t in out.turns] == [
        (0.5, 2.0, "SPEAKER_00"),
        (3.0, 5.0, "SPEAKER_01"),
        (5.5, 6.0, "SPEAKER_00"),
    ]
    np.testing.assert_allclose(out.embeddings["SPEAKER_00"], [0.6, 0.8])
    np.testing.assert_allclose(out.embeddings["SPEAKER_01"], [1.0, 0.0])
    d(np.zeros(16000, np.float32), [], num_speakers=2)
    assert fake_pyannote.calls[-1] == {"shape": (1, 16000), "num_speakers": 2}


def test_pyannote3_style_outputs_convert() -> None:
    ann = FakeAnnotation([(1.0, 2.0, "x"), (0.0, 1.0, "y")])
    out = diarization_from_pyannote(ann)
    assert out.speakers == ["SPEAKER_00", "SPEAKER_01"] and out.turns[0].speaker == "SPEAKER_00"
    out = diarization_from_pyannote((ann, np.eye(2)))
    np.testing.assert_allclose(out.embeddings["SPEAKER_00"], [0.0, 1.0])  # y is row 1 of sorted labels
