"""Every non-empty subset of text, audio and visual (issue 15: ``--modalities audio`` crashed).

Why no test caught it: the inference tests always gave at least one utterance words, and the real
clip tests ran annotate with all three modalities (or text alone). Leaving text out hands the model
a dialogue without any words, and the tokenizer was then called on an empty list (IndexError). The
fast tests below build a small model and check each subset against the same utterances with the
other modalities missing; the slow ones run the shipped model on a real clip and a small folder.
"""

from __future__ import annotations

import copy
import csv
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emocli import EMOTIONS
from emocli.errors import InputError
from emocli.model.checkpoint import build_model
from emocli.model.config import MODALITIES, ModelConfig
from emocli.model.inference import EmotionRecognizer, UtteranceInput
from emocli.pipeline import AnnotateOptions, Annotator, clip_summary
from emocli.results import Result

SUBSETS: list[tuple[str, ...]] = [
    s for k in range(1, len(MODALITIES) + 1) for s in itertools.combinations(MODALITIES, k)
]
AUDIO_DIM = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _recognizer(fusion: str) -> EmotionRecognizer:
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=32, heads=2, audio_dim=AUDIO_DIM, fusion=fusion)
    net = build_model(cfg)
    for p in net.parameters():  # untrained heads are near-uniform: spread them so subsets differ
        p.data.add_(0.3 * torch.randn_like(p))
    return EmotionRecognizer(net)


def _utterances(subset: tuple[str, ...] = MODALITIES) -> list[UtteranceInput]:
    """Three utterances with words, pooled audio states and face frames (those of ``subset`` only)."""
    rng = np.random.default_rng(0)
    texts = ["I can't believe you did that!", "Oh, that's wonderful news.", "Leave me alone."]
    out = []
    for i, text in enumerate(texts):
        frames = rng.dirichlet(np.ones(7), size=5).astype(np.float32)
        states = rng.normal(size=AUDIO_DIM).astype(np.float32)  # drawn always: same data per subset
        out.append(
            UtteranceInput(
                text=text if "text" in subset else None,
                speaker=f"S{i % 2}",
                start=float(i),
                end=float(i + 1),
                audio_features=states if "audio" in subset else None,
                visual=frames if "visual" in subset else None,
            )
        )
    return out


def test_an_empty_list_of_texts_tokenizes_to_nothing() -> None:
    from emocli.features.text import load_tokenizer, packaged_minilm_dir, tokenize

    tok = load_tokenizer(str(packaged_minilm_dir()))
    assert tokenize(tok, []) == []
    assert len(tokenize(tok, ["hello there"])[0]) == 4  # [CLS] hello there [SEP]


@pytest.mark.parametrize("fusion", ["attention", "late"])
def test_each_subset_is_masked_exactly_like_missing_modalities(fusion: str) -> None:
    rec = _recognizer(fusion)
    full = _utterances()
    fused = {}
    for subset in SUBSETS:
        preds = rec.predict_dialogue(full, modalities=subset)
        # The same utterances with the left-out modalities absent from the inputs themselves.
        ref = rec.predict_dialogue(_utterances(subset))
        assert len(preds) == 3
        for p, r in zip(preds, ref, strict=True):
            assert set(p.modality_probs) == set(subset) and set(p.fusion_weights) == set(subset)
            assert all(p.modality_probs[m] is not None for m in subset)
            assert float(p.probs.sum()) == pytest.approx(1.0, abs=1e-5)
            np.testing.assert_allclose(p.probs, r.probs, atol=1e-5)
            for m in subset:
                np.testing.assert_allclose(p.modality_probs[m], r.modality_probs[m], atol=1e-5)
            assert sum(p.fusion_weights.values()) == pytest.approx(1.0, abs=1e-4)
            assert (p.audio_native is not None) == ("audio" in subset)
            assert (p.visual_importance is not None) == ("visual" in subset)
            if len(subset) == 1 and fusion == "late":  # one modality: the fused scores are its own
                np.testing.assert_allclose(p.probs, p.modality_probs[subset[0]], atol=1e-5)
        fused[subset] = np.stack([p.probs for p in preds])
    # Each subset really reads different inputs: no two give the same fused scores.
    for a, b in itertools.combinations(SUBSETS, 2):
        assert not np.allclose(fused[a], fused[b], atol=1e-4), (a, b)


def test_left_out_modalities_are_never_read() -> None:
    class NoTokenizer:
        pad_token_id = 0

        def __call__(self, *args: object, **kwargs: object) -> object:
            raise AssertionError("the tokenizer was called with text left out")

    rec = _recognizer("attention")
    rec._tokenizer = NoTokenizer()
    utts = _utterances()
    for u in utts:
        u.audio = np.zeros(16000, np.float32)  # would need the Whisper encoder: never loaded
        u.audio_features = None
    preds = rec.predict_dialogue(utts, modalities=("visual",))
    assert all(set(p.modality_probs) == {"visual"} for p in preds)
    assert rec._audio is None


def test_a_modality_the_model_lacks_is_one_clear_error() -> None:
    torch.manual_seed(0)
    rec = EmotionRecognizer(build_model(ModelConfig(modalities=("text", "audio"), hidden=32, heads=2)))
    with pytest.raises(InputError, match="no branch for visual") as e:
        rec.predict_dialogue(_utterances(), modalities=("visual",))
    assert "--modalities" in (e.value.hint or "")
    preds = rec.predict_dialogue(_utterances(("text",)), modalities=("text", "visual"))
    assert set(preds[0].modality_probs) == {"text"}


# -- the shipped model on real media ------------------------------------------------------------


def _memo(run: Callable[..., Any]) -> Callable[..., Any]:
    """The stage's own output for a path, computed once and handed out as fresh copies: speech and
    faces do not depend on the modalities, so each clip runs them once for all seven subsets."""
    seen: dict[str, Any] = {}

    def wrapped(path: Path, **kwargs: Any) -> Any:
        key = str(path)
        if key not in seen:
            seen[key] = run(path, **kwargs)
        return copy.deepcopy(seen[key])

    return wrapped


@pytest.fixture(scope="module")
def shared_models(data_dir: Path) -> Annotator:
    """One Annotator's loaded models, lent to an Annotator per subset (loading is the slow part)."""
    base = Annotator(AnnotateOptions())
    base.load()
    base.speech.run = _memo(base.speech.run)  # type: ignore[method-assign]
    base.faces.analyze = _memo(base.faces.analyze)  # type: ignore[method-assign]
    return base


def _annotator(base: Annotator, subset: tuple[str, ...]) -> Annotator:
    ann = Annotator(AnnotateOptions(modalities=subset))
    ann._speech, ann._faces, ann._model = base._speech, base._faces, base._model
    return ann


@pytest.fixture(scope="module")
def face_2_by_subset(data_dir: Path, shared_models: Annotator) -> dict[tuple[str, ...], Result]:
    src = data_dir / "clips" / "face_2.mp4"
    return {s: _annotator(shared_models, s).analyze(src).result for s in SUBSETS}


def _late_fusion(scores: dict[str, dict[str, float] | None], weights: dict[str, float]) -> np.ndarray:
    """The shipped model's late fusion: weighted log-linear pooling of the modality scores."""
    logp = sum(weights[m] * np.log([s[e] for e in EMOTIONS]) for m, s in scores.items() if s)
    p = np.exp(logp / sum(weights[m] for m, s in scores.items() if s))
    return p / p.sum()


@pytest.mark.slow
def test_annotate_a_real_clip_with_every_subset(
    face_2_by_subset: dict[tuple[str, ...], Result], shared_models: Annotator
) -> None:
    cfg = shared_models.model.net.cfg
    labels = set()
    for subset, result in face_2_by_subset.items():
        assert result.models["modalities"].name == ",".join(subset)
        assert result.utterances
        for u in result.utterances:
            assert u.emotion in EMOTIONS and u.scores is not None
            assert sum(u.scores.values()) == pytest.approx(1.0, abs=1e-3)
            assert set(u.modality_scores) == set(subset)
            assert all(u.modality_scores[m] is not None for m in subset)  # face_2 has all three
            if cfg.fusion == "late":  # the fused scores come from the modalities used, and only those
                want = _late_fusion(u.modality_scores, cfg.late_weights)
                np.testing.assert_allclose([u.scores[e] for e in EMOTIONS], want, atol=2e-3)
            labels.add(tuple(round(u.scores[e], 3) for e in EMOTIONS))
    assert len(labels) >= 5  # the subsets see different things (7 distinct on face_2)


@pytest.mark.slow
def test_no_modality_present_is_one_clear_error_not_a_uniform_guess(
    data_dir: Path, shared_models: Annotator
) -> None:
    flac = sorted((data_dir / "ravdess").rglob("*.flac"))[0]  # audio only: no face to read
    with pytest.raises(InputError, match="no utterance has any of the modalities used"):
        _annotator(shared_models, ("visual",)).analyze(flac)


def _folder(data_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("face_2.mp4", "face_5.mp4"):  # the two shortest (about 5 s)
        (folder / name).symlink_to(data_dir / "clips" / name)
    return folder


@pytest.mark.slow
def test_batch_a_small_folder_with_every_subset(
    data_dir: Path,
    tmp_path: Path,
    shared_models: Annotator,
    face_2_by_subset: dict[tuple[str, ...], Result],
) -> None:
    from emocli.batch import BatchOptions, run_batch
    from emocli.clip_labeler import AnnotatorLabeler, AnnotatorLabelerFactory

    folder = _folder(data_dir, tmp_path)
    for subset in SUBSETS:
        labeler = AnnotatorLabeler.__new__(AnnotatorLabeler)  # the real labeler, with shared models
        labeler.annotator = _annotator(shared_models, subset)
        labeler.spec = AnnotatorLabelerFactory(labeler.annotator.options)
        out = tmp_path / f"{'_'.join(subset)}.csv"
        summary = run_batch(folder, out, lambda lab=labeler: lab, BatchOptions())
        rows = list(csv.DictReader(out.open()))
        assert summary.ok == 2 and [r["status"] for r in rows] == ["ok", "ok"], rows
        for r in rows:
            assert r["emotion"] in EMOTIONS and sum(float(r[e]) for e in EMOTIONS) == pytest.approx(
                1, abs=1e-3
            )
        # face_2's row is the clip summary of annotate with the same modalities, not of all three.
        _, _, want = clip_summary(face_2_by_subset[subset])
        assert want is not None and rows[0]["file"] == "face_2.mp4"
        for e in EMOTIONS:
            assert float(rows[0][e]) == pytest.approx(want[e], abs=2e-4), (subset, e)


@pytest.mark.slow
def test_batch_cli_with_the_voice_alone(data_dir: Path, tmp_path: Path) -> None:
    from emocli.cli import app

    folder = _folder(data_dir, tmp_path)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(app, ["batch", str(folder), "-o", str(out), "--modalities", "audio", "-q"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows] == ["ok", "ok"] and not any(r["error"] for r in rows)
    assert all(sum(float(r[e]) for e in EMOTIONS) == pytest.approx(1, abs=1e-3) for r in rows)


@pytest.mark.slow
def test_evaluate_scores_the_branches_asked_for(data_dir: Path, tmp_path: Path) -> None:
    from emocli.cli import app
    from tests.cli_helpers import assert_one_line_error

    folder = tmp_path / "ravdess"
    folder.mkdir()
    for emo in range(1, 9):  # one clip of each of the 8 emotions, actor 17
        name = f"03-01-{emo:02d}-01-01-01-17.flac"
        (folder / name).symlink_to(data_dir / "ravdess" / "flac" / "Actor_17" / name)
    args = ["evaluate", "--dataset", "ravdess", "--data-dir", str(folder), "--threads", "1", "-q"]
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(app, [*args, "--modalities", "audio", "--json", str(out)])
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["modalities"] == ["audio"] and set(scores["per_modality"]) == {"audio"}
    assert scores["n"] == 8 and 0 <= scores["accuracy_native"] <= 1
    result = CliRunner().invoke(app, [*args, "--modalities", "text,audio"])
    assert_one_line_error(result.exit_code, result.output, "cannot score text")
