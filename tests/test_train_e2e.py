"""End to end: a tiny MELD-layout data set built here (CSV + mp4 clips with a tone and a drawn frame)
through ``emocli train`` and ``emocli evaluate`` with all three modalities, then the inference API.

The visual features come from an injected source (the colour of the drawn frame -> frame
probabilities), so the test does not depend on a face being found in a synthetic picture.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emocli import EMOTIONS
from emocli.cli import app
from emocli.errors import EmocliError
from tests.media_factory import ffmpeg

HEADER = (
    "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
)
# class -> (words, tone Hz, frame colour)
CLASSES = {
    "joy": ("That is wonderful, I love it!", 880, "yellow"),
    "anger": ("Get out of my apartment right now!", 220, "red"),
    "neutral": ("I am going to the store.", 440, "gray"),
}
COLOUR_TO_CLASS = {"yellow": "joy", "red": "anger", "gray": "neutral"}


def _clip(path: Path, hz: int, colour: str) -> None:
    ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:size=96x64:rate=10:duration=0.8",
           "-f", "lavfi", "-i", f"sine=frequency={hz}:duration=0.8:sample_rate=16000",
           "-vf", "drawbox=x=30:y=15:w=36:h=36:color=white:t=fill",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))  # fmt: skip


def _split(root: Path, csv_name: str, clips: str, dialogues: int, seed: int, missing: str = "") -> int:
    rng = np.random.default_rng(seed)
    (root / clips).mkdir(parents=True, exist_ok=True)
    rows, n = [], 0
    for d in range(dialogues):
        for u in range(4):
            label = list(CLASSES)[int(rng.integers(0, 3))]
            words, hz, colour = CLASSES[label]
            speaker = "Ross" if u % 2 == 0 else "Rachel"
            rows.append(
                f'{n},"{words}",{speaker},{label},neutral,{d},{u},1,1,"0:00:0{u},000","0:00:0{u},900"'
            )
            if f"dia{d}_utt{u}" != missing:
                _clip(root / clips / f"dia{d}_utt{u}.mp4", hz, colour)
            n += 1
    (root / csv_name).write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return n


def _colour_source(path: Path) -> np.ndarray:
    """Stand-in for the faces stage: frame colours -> (F, 7) expression probabilities."""
    from emocli.media import read_frames

    out = []
    for frame in read_frames(path, fps=5):
        r, g, b = frame.image[2, 2].astype(float)  # a corner pixel: outside the drawn box
        colour = "yellow" if r > 150 and g > 150 and b < 100 else "red" if r > 150 else "gray"
        p = np.full(7, 0.05, np.float32)
        p[EMOTIONS.index(COLOUR_TO_CLASS[colour])] = 0.7
        out.append(p / p.sum())
    return np.stack(out)


@pytest.fixture(scope="module")
def meld_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("meld")
    _split(root, "train_sent_emo.csv", "train_splits", dialogues=4, seed=0, missing="dia1_utt2")
    with (root / "train_sent_emo.csv").open("a", encoding="utf-8") as f:
        f.write("99,Broken row,Ross\n")
        f.write('98,"Odd label",Ross,happiness,positive,9,0,1,1,"0:00:00,000","0:00:01,000"\n')
    _split(root, "dev_sent_emo.csv", "dev_splits_complete", dialogues=2, seed=1)
    return root


@pytest.fixture(scope="module")
def trained(meld_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import emocli.features.extract as extract

    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()
    # Module-scoped: conftest's per-test cache/offline settings are not active yet, so set the same here.
    mp.setenv("EMOCLI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "emocli-cache"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("EMOCLI_OFFLINE", "1")
    mp.setattr(extract, "faces_visual_source", lambda: _colour_source)
    out = tmp_path_factory.mktemp("model") / "m"
    args = ["train", "--dataset", "meld", "--data-dir", str(meld_dir), "--modalities", "text,audio,visual",
            "--epochs", "2", "--seed", "0", "-o", str(out), "--threads", "1", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    mp.undo()
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_a_model_and_an_honest_report(trained: Path) -> None:
    assert (trained / "config.json").is_file() and (trained / "model.safetensors").is_file()
    assert (trained / "confusion_dev.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((trained / "training_report.json").read_text())
    assert report["modalities_trained"] == ["text", "audio", "visual"]
    assert report["fusion"] == "attention"
    assert len(report["history"]) == 2
    train_data = report["data"]["meld/train"]
    assert train_data["n_samples"] == 16
    assert train_data["missing_media"] == 1
    assert any("malformed row" in s for s in train_data["skipped"])
    assert any("unknown label 'happiness'" in s for s in train_data["skipped"])
    assert set(report["dev_per_modality"]) == {"text", "audio", "visual"}
    assert report["dev"]["n"] == 8
    assert report["timing_seconds"]["features"] >= 0


def test_same_seed_same_model_and_features_come_from_the_cache(
    meld_dir: Path, trained: Path, tmp_path: Path
) -> None:
    import emocli.features.extract as extract

    def no_faces() -> object:
        raise AssertionError("visual features should come from the cache")

    mp = pytest.MonkeyPatch()
    mp.setattr(extract, "faces_visual_source", no_faces)
    again = str(tmp_path / "again")
    args = ["train", "--dataset", "meld", "--data-dir", str(meld_dir), "--modalities", "text,audio,visual",
            "--epochs", "2", "--seed", "0", "-o", again, "--threads", "1", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    mp.undo()
    assert result.exit_code == 0, result.output
    assert "computed 0" in result.output
    from safetensors.torch import load_file

    a, b = (
        load_file(str(trained / "model.safetensors")),
        load_file(str(tmp_path / "again" / "model.safetensors")),
    )
    assert a.keys() == b.keys()
    # Same weights up to one float16 rounding step (CPU kernels may round a last bit differently).
    assert all(torch.allclose(a[k].float(), b[k].float(), rtol=1e-3, atol=1e-5) for k in a)
    first = json.loads((trained / "training_report.json").read_text())["history"]
    second = json.loads((tmp_path / "again" / "training_report.json").read_text())["history"]
    assert [h["loss"] for h in first] == pytest.approx([h["loss"] for h in second], rel=1e-6)
    assert [h["dev_weighted_f1"] for h in first] == [h["dev_weighted_f1"] for h in second]


def test_evaluate_writes_scores_table_json_and_png(meld_dir: Path, trained: Path, tmp_path: Path) -> None:
    import emocli.features.extract as extract

    mp = pytest.MonkeyPatch()
    mp.setattr(extract, "faces_visual_source", lambda: _colour_source)
    out = tmp_path / "scores.json"
    args = ["evaluate", "--dataset", "meld", "--data-dir", str(meld_dir), "--split", "dev",
            "--model", str(trained), "--json", str(out), "--threads", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    mp.undo()
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["n"] == 8
    assert 0.0 <= scores["weighted_f1"] <= 1.0 and 0.0 <= scores["accuracy"] <= 1.0
    assert set(scores["per_class"]) == set(EMOTIONS)
    assert sum(map(sum, scores["confusion_matrix"])) == 8
    assert scores["modalities"] == ["text", "audio", "visual"]
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert "confusion matrix" in result.output and "weighted F1" in result.output


def test_inference_api_handles_any_subset_of_modalities(trained: Path) -> None:
    from emocli.model.inference import UtteranceInput, load_emotion_model
    from tests.media_factory import tone

    rec = load_emotion_model(trained)
    assert rec.modalities == ("text", "audio", "visual")
    frames = np.full((3, 7), 1 / 7, np.float32)
    utts = [
        UtteranceInput("I love it!", "A", 0.0, 1.0, tone(1.0, 880), frames),
        UtteranceInput(None, "B", 1.0, 2.0, tone(1.0, 220), None),  # no words, no face
        UtteranceInput("Get out!", "A", 2.0, 3.0, None, None),  # text only
    ]
    preds = rec.predict_dialogue(utts)
    assert len(preds) == 3
    for p in preds:
        assert p.probs.shape == (7,) and abs(float(p.probs.sum()) - 1) < 1e-4
        assert set(p.scores()) == set(EMOTIONS)
    assert preds[0].modality_probs["visual"] is not None and preds[0].visual_importance is not None
    assert preds[1].modality_probs["text"] is None and preds[1].modality_probs["visual"] is None
    assert preds[1].modality_probs["audio"] is not None and preds[1].audio_native is not None
    assert preds[2].modality_probs["audio"] is None
    assert preds[2].fusion_weights["audio"] == 0.0 and preds[2].fusion_weights["text"] > 0
    assert rec.predict_dialogue([]) == []


def _tone_ravdess(root: Path) -> Path:
    """3 actors x 8 emotions x 2 repetitions of 0.6 s tones, named as RAVDESS names its clips."""
    from tests.media_factory import tone, write_wav

    for actor in (1, 2, 3):
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for emo in range(1, 9):
            for rep in (1, 2):
                hz = 150 + 90 * emo + 7 * actor
                write_wav(folder / f"03-01-{emo:02d}-01-01-{rep:02d}-{actor:02d}.wav", tone(0.6, hz))
    return root


def test_ravdess_train_and_evaluate_report_native_accuracy(tmp_path: Path) -> None:
    root = _tone_ravdess(tmp_path / "ravdess")
    model = tmp_path / "audio_model"
    runner = CliRunner()
    args = ["train", "--dataset", "ravdess", "--data-dir", str(root), "--train-actors", "1-2",
            "--dev-actors", "3", "--epochs", "3", "-o", str(model), "--threads", "1", "--quiet",
            "--speed-perturb", "0.9,1.1"]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    report = json.loads((model / "training_report.json").read_text())
    assert report["modalities_trained"] == ["audio"] and report["dev_audio_native"]["n"] == 16
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["audio_encoder"] == "whisper:1,6" and cfg["audio_dim"] == 2048  # default: layers 1 + 6
    # 2 training actors x 16 clips, each also at 0.9x and 1.1x speed; dev clips are not augmented.
    assert report["n_train_items"] == 3 * 32 and report["options"]["speed_perturb"] == [0.9, 1.1]
    bad = runner.invoke(app, [*args[:-2], "--speed-perturb", "1,fast"])
    assert bad.exit_code == 2 and "--speed-perturb" in bad.output
    out = tmp_path / "rav.json"
    r = runner.invoke(app, ["evaluate", "--dataset", "ravdess", "--data-dir", str(root), "--actors", "3",
                            "--model", str(model), "--json", str(out), "--quiet"])  # fmt: skip
    assert r.exit_code == 0, r.output
    scores = json.loads(out.read_text())
    assert scores["n"] == 16
    assert {"accuracy", "weighted_f1", "accuracy_native"} <= set(scores)
    assert len(scores["native"]["labels"]) == 8 and "calm" in scores["native"]["labels"]


def test_an_audio_head_on_inner_whisper_layers_of_another_width(tmp_path: Path) -> None:
    from emocli.model.inference import load_emotion_model
    from tests.media_factory import tone

    root = _tone_ravdess(tmp_path / "ravdess")
    model = tmp_path / "layers_model"
    runner = CliRunner()
    args = ["train", "--dataset", "ravdess", "--data-dir", str(root), "--train-actors", "1-2",
            "--dev-actors", "3", "--epochs", "2", "--threads", "1", "--quiet"]  # fmt: skip
    r = runner.invoke(app, [*args, "--audio-encoder", "whisper:2,4,6", "-o", str(model)])
    assert r.exit_code == 0, r.output
    cfg = json.loads((model / "config.json").read_text())
    # Three layers side by side: 3 x 512 states, mean and std pooled -> 3072.
    assert cfg["audio_encoder"] == "whisper:2,4,6" and cfg["audio_dim"] == 3072
    assert cfg["audio_encoder_version"].endswith("-L2+4+6")
    rec = load_emotion_model(model)
    rec.prepare()  # annotate loads the layer copies in its background thread, before any clip
    assert rec._audio is not None and rec._audio._encoder is not None
    assert rec.audio_features(tone(1.0, 400)).shape == (3072,)  # inference reads the same layers
    # Going on from that model with other features is refused in one line, before any training.
    again = runner.invoke(app, [*args, "--init", str(model), "--audio-encoder", "whisper", "-o",
                                str(tmp_path / "m2")])  # fmt: skip
    assert again.exit_code != 0 and "'whisper:2,4,6' features" in again.output
    assert not (tmp_path / "m2").exists()


@pytest.fixture(scope="module")
def context_model(meld_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ctx") / "m"
    mp = pytest.MonkeyPatch()
    mp.setenv("EMOCLI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "emocli-cache"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    args = ["train", "--dataset", "meld", "--data-dir", str(meld_dir), "--modalities", "text",
            "--text-context", "1", "--speaker-names", "--epochs", "1", "--seed", "1", "-o", str(out),
            "--threads", "1", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    mp.undo()
    assert result.exit_code == 0, result.output
    return out


def test_context_pairs_and_speaker_names_reach_the_model_and_inference(context_model: Path) -> None:
    from emocli.model.inference import UtteranceInput, load_emotion_model

    cfg = json.loads((context_model / "config.json").read_text())
    assert cfg["text_context"] == 1 and cfg["text_speaker_names"] is True
    rec = load_emotion_model(context_model)
    ids, segments = rec._token_ids(["Ross: Hi.", "Rachel: Hello there."])
    assert segments is not None  # a (context, utterance) pair, the utterance's tokens marked 1
    assert sum(segments[1]) < len(segments[1])  # the second carries the first as context
    assert segments[0].count(1) == len(ids[0]) - 2  # the first has no context: [CLS] [SEP] utt [SEP]
    utts = [UtteranceInput("I love it!", "A"), UtteranceInput("Get out!", "B")]
    assert len(rec.predict_dialogue(utts)) == 2


def test_a_text_member_pools_its_own_probabilities_with_the_models(
    trained: Path, context_model: Path, meld_dir: Path, tmp_path: Path
) -> None:
    from emocli.model.checkpoint import add_text_member, build_model, load_model, save_model
    from emocli.model.config import ModelConfig
    from emocli.model.inference import UtteranceInput, load_emotion_model

    utts = [UtteranceInput("I love it!", "A"), UtteranceInput("Get out of here!", "B"),
            UtteranceInput("Oh my God, really?", "A")]  # fmt: skip
    alone = [load_emotion_model(m).predict_dialogue(utts) for m in (trained, context_model)]
    merged = load_model(trained)
    add_text_member(merged, load_model(context_model))
    save_model(merged, tmp_path / "merged")
    cfg = json.loads((tmp_path / "merged" / "config.json").read_text())
    assert [m["text_context"] for m in cfg["text_members"]] == [1]
    from safetensors import safe_open

    from emocli.model.checkpoint import SPEAKER_MEAN

    with safe_open(str(trained / "model.safetensors"), "pt") as f:
        prior = SPEAKER_MEAN in set(f.keys())  # new audio heads carry the speaker prior (format 4)
    # older emocli versions say "upgrade" rather than misread it
    assert cfg["format_version"] == (4 if prior else 2)
    assert json.loads((trained / "config.json").read_text())["format_version"] == (4 if prior else 1)
    got = load_emotion_model(tmp_path / "merged").predict_dialogue(utts)
    for i in range(len(utts)):
        pa, pb = (a[i].modality_probs["text"] for a in alone)
        assert pa is not None and pb is not None and np.abs(pa - pb).max() > 1e-4  # two different views
        pooled = np.sqrt(pa * pb) / np.sqrt(pa * pb).sum()  # log-linear pooling of the two members
        assert got[i].modality_probs["text"] == pytest.approx(pooled, abs=2e-3)
    # evaluate reads each member's own view of the words
    import emocli.features.extract as extract

    out = tmp_path / "scores.json"
    args = ["evaluate", "--dataset", "meld", "--data-dir", str(meld_dir), "--split", "dev",
            "--model", str(tmp_path / "merged"), "--json", str(out), "--threads", "1", "--quiet"]  # fmt: skip
    mp = pytest.MonkeyPatch()
    mp.setattr(extract, "faces_visual_source", lambda: _colour_source)
    result = CliRunner().invoke(app, args)
    mp.undo()
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["n"] == 8
    # From the command line: the member joins, is kept as it was, and the report names it.
    from safetensors.torch import load_file

    cli = tmp_path / "cli"
    args = ["train", "--dataset", "meld", "--data-dir", str(meld_dir), "--modalities", "text",
            "--text-member", str(context_model), "--epochs", "1", "-o", str(cli), "--threads", "1",
            "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((cli / "training_report.json").read_text())["options"]["text_members"] == [
        str(context_model)
    ]
    new, old = load_file(str(cli / "model.safetensors")), load_file(str(context_model / "model.safetensors"))
    assert torch.equal(new["text_members.0.branch.head.weight"], old["branches.text.head.weight"])
    assert torch.equal(
        new["text1_delta_q.layer5.output.dense.weight"], old["text_delta_q.layer5.output.dense.weight"]
    )
    other = build_model(ModelConfig(modalities=("text",), hidden=64, text_trainable_layers=1))
    with pytest.raises(EmocliError, match="hidden"):
        add_text_member(merged, other)


def test_a_text_window_model_trains_saves_as_format_3_and_reads_neighbours_at_inference(
    meld_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from emocli.features.text import pad_ids
    from emocli.model import checkpoint
    from emocli.model.fusion import Batch
    from emocli.model.inference import UtteranceInput, load_emotion_model

    out = tmp_path / "win"
    args = ["train", "--dataset", "meld", "--data-dir", str(meld_dir), "--modalities", "text",
            "--text-window", "1", "--epochs", "1", "--seed", "1", "-o", str(out), "--threads", "1",
            "--quiet"]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["text_window"] == 1 and cfg["format_version"] == 3
    rec = load_emotion_model(out)
    assert tuple(rec.net.text_window_bias.shape) == (cfg["text_trainable_layers"], 3)
    # Inference (token ids, no cache) gives what the training path (cached frozen states) gives.
    utts = [UtteranceInput("I love it!", "A"), UtteranceInput("Get out!", "B"), UtteranceInput("Why?", "A")]
    preds = rec.predict_dialogue(utts)
    ids, _ = rec._token_ids([u.text for u in utts])
    tid, tmask = (torch.from_numpy(a) for a in pad_ids(ids))
    batch = Batch(mask=torch.ones(1, 3, dtype=torch.bool), speakers=torch.tensor([[0, 1, 0]]))
    batch.text_mask = torch.ones(1, 3, dtype=torch.bool)
    batch.text_tokens = tmask
    with torch.no_grad():
        batch.text_states = rec.net.text_encoder.frozen_states(tid, tmask)
        cached = rec.net._text(batch)[0]  # (3, 384)
        batch.text_states, batch.text_ids = None, tid
        live = rec.net._text(batch)[0]
    assert torch.allclose(cached, live, atol=1e-5) and len(preds) == 3
    # An emocli that reads format 2 at most refuses the model instead of misreading it.
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 2)
    with pytest.raises(Exception, match="newer emocli"):
        load_emotion_model(out)
