from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from emocli import EMOTIONS
from emocli.cli import app
from emocli.errors import InputError, ModelUnavailableError
from emocli.model.checkpoint import build_model, default_model_dir, load_model, resolve_model_dir, save_model
from emocli.model.config import ModelConfig
from emocli.model.fusion import Batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch() -> Batch:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 5000, (4, 7), generator=g)
    return Batch(
        mask=torch.ones(1, 4, dtype=torch.bool),
        speakers=torch.tensor([[0, 1, 0, 1]]),
        text_mask=torch.ones(1, 4, dtype=torch.bool),
        text_ids=ids,
        text_tokens=torch.ones(4, 7, dtype=torch.bool),
        audio=torch.randn(1, 4, 16, generator=g),
        audio_mask=torch.tensor([[True, False, True, True]]),
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    torch.manual_seed(0)
    net = build_model(ModelConfig(modalities=("text", "audio"), hidden=32, heads=2, audio_dim=16))
    with torch.no_grad():  # stand in for fine-tuning: move the top layers and the heads
        for p in net.parameters():
            if p.requires_grad:
                p.add_(0.02 * torch.randn_like(p))
    folder = tmp_path_factory.mktemp("ckpt") / "model"
    save_model(net, folder)
    with torch.no_grad():
        ref = net.eval()(_batch()).logp
    return folder, ref


def test_round_trip_gives_the_same_predictions_and_ships_no_base_weights(saved: tuple) -> None:
    from safetensors.torch import load_file

    folder, ref = saved
    net = load_model(folder)
    with torch.no_grad():
        got = net(_batch()).logp
    assert torch.allclose(got, ref, atol=2e-2)
    assert (got.argmax(-1) == ref.argmax(-1)).all()
    keys = load_file(str(folder / "model.safetensors")).keys()
    assert not any(k.startswith("text_encoder.") for k in keys)  # the 90 MB base is never copied
    assert any(k.startswith("text_delta_q.") for k in keys)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["modalities"] == ["text", "audio"] and cfg["text_base_fingerprint"]


def test_pickles_and_other_non_checkpoints_are_refused(saved: tuple, tmp_path: Path) -> None:
    pt = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, pt)
    with pytest.raises(InputError, match="pickles"):
        resolve_model_dir(pt)
    only_bin = tmp_path / "hf_like"
    only_bin.mkdir()
    (only_bin / "config.json").write_text("{}")
    (only_bin / "pytorch_model.bin").write_bytes(pickle.dumps({"w": 1}))
    with pytest.raises(InputError, match=r"model.safetensors is missing \(found pickle"):
        resolve_model_dir(only_bin)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "config.json").write_text((saved[0] / "config.json").read_text())
    (fake / "model.safetensors").write_bytes(pickle.dumps({"w": 1}))  # a pickle under the right name
    with pytest.raises(InputError, match="not a readable safetensors file"):
        load_model(fake)
    bad_cfg = tmp_path / "bad_cfg"
    bad_cfg.mkdir()
    (bad_cfg / "config.json").write_text("[1, 2]")
    (bad_cfg / "model.safetensors").write_bytes((saved[0] / "model.safetensors").read_bytes())
    with pytest.raises(InputError, match="not a valid model configuration"):
        load_model(bad_cfg)


def test_weights_that_do_not_match_the_config_are_refused(saved: tuple, tmp_path: Path) -> None:
    folder = tmp_path / "mismatch"
    folder.mkdir()
    cfg = json.loads((saved[0] / "config.json").read_text())
    cfg["hidden"] = 64
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "model.safetensors").write_bytes((saved[0] / "model.safetensors").read_bytes())
    with pytest.raises(InputError, match="shape"):
        load_model(folder)
    cfg["hidden"] = 32
    cfg["text_base_fingerprint"] = [x + 10 for x in cfg["text_base_fingerprint"]]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelUnavailableError, match="base weights differ"):
        load_model(folder)


def test_evaluate_with_a_pickle_checkpoint_fails_with_one_clear_line(tmp_path: Path) -> None:
    pt = tmp_path / "emotion.ckpt"
    torch.save({"w": torch.zeros(2)}, pt)
    (tmp_path / "dev_sent_emo.csv").write_text("x\n")
    result = CliRunner().invoke(
        app, ["evaluate", "--dataset", "meld", "--data-dir", str(tmp_path), "--model", str(pt), "--quiet"]
    )
    assert result.exit_code == 2
    assert "never loads pickled" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not (default_model_dir() / "model.safetensors").is_file(), reason="no shipped model yet")
def test_the_shipped_default_loads_small_and_reads_plain_emotions() -> None:
    from emocli.model.inference import UtteranceInput, load_emotion_model

    files = list(default_model_dir().iterdir())
    assert sum(f.stat().st_size for f in files) < 12e6 and all(f.stat().st_size < 20e6 for f in files)
    assert not any(f.suffix in (".pt", ".pth", ".bin", ".ckpt") for f in files)
    rec = load_emotion_model()
    assert {"text", "audio"} <= set(rec.trained_modalities)
    texts = [
        "Oh my God, this is the best day of my life, I love you!",
        "Get out! I hate you, you ruined everything!",
    ]
    preds = rec.predict_dialogue([UtteranceInput(t, s) for t, s in zip(texts, ["A", "B"], strict=True)])
    assert [p.emotion for p in preds] == ["joy", "anger"]
    assert preds[0].modality_probs["audio"] is None and preds[0].fusion_weights["text"] == 1.0
    assert list(preds[0].scores()) == list(EMOTIONS)
