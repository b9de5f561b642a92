from __future__ import annotations

import time

import pytest
import torch

from emocli.errors import ModelUnavailableError
from emocli.features.text import (
    context_pairs,
    load_tokenizer,
    pad_ids,
    resolve_text_backbone,
    text_key,
    tokenize,
    tokenize_pairs,
)
from emocli.model.text_encoder import TextEncoder


@pytest.fixture(scope="module")
def minilm() -> tuple[TextEncoder, object, str]:
    torch.set_num_threads(1)
    path, _ = resolve_text_backbone("minilm")
    return TextEncoder(path, trainable_layers=2).eval(), load_tokenizer(path), path


def test_cached_frozen_states_plus_top_layers_equal_the_whole_encoder(minilm: tuple) -> None:
    from transformers import AutoModel

    enc, tok, path = minilm
    texts = ["Oh my God, you're getting married!", "What?", "I don't want to talk about it right now."]
    ids, mask = (torch.from_numpy(a) for a in pad_ids(tokenize(tok, texts)))
    ref = AutoModel.from_pretrained(path).eval()
    with torch.no_grad():
        h = ref(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        want = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        states = enc.frozen_states(ids, mask)  # what the cache stores
        got = enc.top(states.half().float(), mask)  # cached as float16
    assert enc.n_frozen == 4 and states.shape == (3, ids.shape[1], 384)
    assert torch.allclose(got, want, atol=2e-2)
    assert torch.nn.functional.cosine_similarity(got, want).min() > 0.999


def test_only_the_top_layers_train_and_deltas_round_trip(minilm: tuple) -> None:
    _, _, path = minilm
    enc = TextEncoder(path, trainable_layers=1)
    trainable = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert trainable and all(".layer.5." in n for n in trainable)
    with torch.no_grad():
        for p in enc.top_layers[0].parameters():
            p.add_(0.01 * torch.randn_like(p))
    deltas = enc.delta_state()
    assert all(v.dtype == torch.float16 for v in deltas.values())
    fresh = TextEncoder(path, trainable_layers=1)
    fresh.load_delta(deltas, enc.fingerprint())
    for k, v in enc.top_state().items():
        assert torch.allclose(fresh.top_state()[k], v, atol=1e-4)
    with pytest.raises(ModelUnavailableError, match="base weights differ"):
        fresh.load_delta(deltas, [x + 100.0 for x in enc.fingerprint()])


def test_context_pairs_keep_the_utterance_and_drop_old_context_first(minilm: tuple) -> None:
    _, tok, _ = minilm
    pairs = context_pairs(["Hi.", "How are you?", "Fine."], 2)
    assert pairs == [("", "Hi."), ("Hi.", "How are you?"), ("Hi. | How are you?", "Fine.")]
    long_ctx = " ".join(["word"] * 200)
    ids, segs = tokenize_pairs(tok, [(long_ctx, "I am so happy today")], max_tokens=16)
    assert len(ids[0]) == 16 and len(segs[0]) == 16
    n_utt = len(tok("I am so happy today", add_special_tokens=False)["input_ids"])
    assert sum(segs[0]) == n_utt + 1  # the utterance and its closing separator, never truncated
    assert ids[0][-1] == tok.sep_token_id and ids[0][0] == tok.cls_token_id
    assert text_key(("a", "b"), "v", 4) != text_key("a b", "v", 4) != text_key("a b", "v", 3)


def test_hub_text_encoder_fails_fast_offline() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="must be downloaded"):
        resolve_text_backbone("roberta-large-not-cached-here")
    assert time.perf_counter() - t0 < 1.0
