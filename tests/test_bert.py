"""bert.py: the bundled MiniLM and its tokenizer without ``transformers``, bit for bit the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from emocli.errors import ModelUnavailableError
from emocli.features.text import load_tokenizer, packaged_minilm_dir, pad_ids, tokenize, tokenize_pairs
from emocli.model.bert import BertConfig, BertEncoder, FastTokenizer, load_bert, readable
from emocli.model.text_encoder import TextEncoder, additive_mask

TEXTS = [
    "Oh my God, I can't believe you did that!",
    "",
    "I'm fine.",
    "Wait... what?! No way. That's — unbelievable; really?",
    "Café naïve façade, 1,234.56 dollars & 7% off",
    "word " * 90,  # longer than the 64-token limit: truncated the same way
    "他说：“你好！” Привет, мир. مرحبا",
]


@pytest.fixture(scope="module")
def minilm() -> str:
    return str(packaged_minilm_dir())


def test_the_bundled_minilm_is_read_here_and_other_encoders_are_not(minilm: str, tmp_path: Path) -> None:
    cfg = readable(minilm)
    assert cfg is not None and cfg.hidden_size == 384 and cfg.num_hidden_layers == 6
    roberta = tmp_path / "roberta"
    roberta.mkdir()
    (roberta / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_size": 8}))
    (roberta / "model.safetensors").write_bytes(b"")
    (roberta / "tokenizer.json").write_text("{}")
    assert readable(roberta) is None  # goes through transformers' AutoModel
    assert readable(tmp_path / "missing") is None


def test_the_tokenizer_gives_transformers_ids(minilm: str) -> None:
    from transformers import AutoTokenizer

    ref, mine = AutoTokenizer.from_pretrained(minilm), FastTokenizer(minilm)
    assert isinstance(load_tokenizer(minilm), FastTokenizer)
    assert tokenize(mine, TEXTS) == tokenize(ref, TEXTS)
    assert max(len(t) for t in tokenize(mine, TEXTS)) == 64
    pairs = [("", TEXTS[0]), (TEXTS[0] + " | " + TEXTS[3], TEXTS[2]), (TEXTS[5], TEXTS[4])]
    assert tokenize_pairs(mine, pairs) == tokenize_pairs(ref, pairs)
    assert (mine.cls_token_id, mine.sep_token_id, mine.pad_token_id) == (
        ref.cls_token_id,
        ref.sep_token_id,
        ref.pad_token_id,
    )
    alone = [t("I'm fine.", add_special_tokens=False)["input_ids"] for t in (mine, ref)]
    assert alone[0] == alone[1]


def test_the_encoder_equals_transformers_bert_bit_for_bit(minilm: str) -> None:
    from transformers import AutoModel

    ref = AutoModel.from_pretrained(minilm).eval()
    mine = load_bert(minilm, readable(minilm))  # type: ignore[arg-type]
    ids, mask = pad_ids(tokenize(FastTokenizer(minilm), TEXTS))
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    am = additive_mask(mask_t, torch.float32)
    segments = torch.zeros_like(ids_t)
    segments[:, 4:] = 1
    with torch.no_grad():
        for seg in (None, segments):
            a = ref.embeddings(input_ids=ids_t, token_type_ids=seg)
            b = mine.embeddings(ids_t, seg)
            assert torch.equal(a, b)
            for la, lb in zip(ref.encoder.layer, mine.encoder.layer, strict=True):
                out = la(a, attention_mask=am)
                a = out[0] if isinstance(out, tuple) else out
                b = lb(b, attention_mask=am)
            assert torch.equal(a, b)
    # Fine-tuning: dropout draws the same masks in the same order.
    ref.train()
    mine.train()
    h = torch.randn(3, 12, 384)
    torch.manual_seed(3)
    out = ref.encoder.layer[5](h, attention_mask=am[:3, :, :, :12])
    torch.manual_seed(3)
    assert torch.equal(out[0] if isinstance(out, tuple) else out, mine.encoder.layer[5](h, am[:3, :, :, :12]))


def test_text_encoder_parameter_names_are_the_checkpoints(minilm: str) -> None:
    """The shipped deltas are keyed by transformers' names; they must all exist here."""
    enc = TextEncoder(minilm, trainable_layers=2)
    assert isinstance(enc.backbone, BertEncoder)
    names = set(enc.top_state())
    assert "layer5.attention.self.query.weight" in names and "layer4.output.LayerNorm.bias" in names
    assert len(names) == 2 * 16  # 16 tensors per BERT layer


def test_a_damaged_folder_is_one_clear_error(minilm: str, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    cfg = BertConfig(
        vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16
    )
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", **cfg.__dict__}))
    (folder / "tokenizer.json").write_text((Path(minilm) / "tokenizer.json").read_text())
    state = BertEncoder(cfg).state_dict()
    broken = {k: v for k, v in state.items() if "layer.0.output.dense" not in k}
    save_file(broken, str(folder / "model.safetensors"))
    with pytest.raises(ModelUnavailableError, match="lacks"):
        TextEncoder(str(folder))
    save_file(dict(state), str(folder / "model.safetensors"))
    assert TextEncoder(str(folder), trainable_layers=1).dim == 8  # a whole one loads


def test_loading_the_shipped_text_branch_does_not_import_transformers() -> None:
    """The point of bert.py: ``annotate`` loads the emotion model without transformers (2-3 s)."""
    code = (
        "import sys\n"
        "from emocli.model.inference import UtteranceInput, load_emotion_model\n"
        "m = load_emotion_model()\n"
        "p = m.predict_dialogue([UtteranceInput('I am so happy today!', 'A')], modalities=['text'])\n"
        "print(p[0].emotion, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    emotion, imported = out.stdout.split()
    assert emotion == "joy" and imported == "False"
