"""``--text-window K``: the fine-tuned text layers read a dialogue's utterances as one sequence."""

from __future__ import annotations

import pytest
import torch

from emocli.errors import InputError
from emocli.features.text import load_tokenizer, pad_ids, resolve_text_backbone, tokenize
from emocli.model.config import ModelConfig
from emocli.model.text_encoder import TextEncoder

TALK = [
    "Oh my God, you're getting married!",
    "What?",
    "I don't want to talk about it right now.",
    "Fine. Then let's get coffee.",
    "You always do this to me!",
    "No I don't.",
    "Yes, you do, every single time.",
    "Okay, okay, I'm sorry.",
    "Thank you.",
]


@pytest.fixture(scope="module")
def minilm() -> tuple[TextEncoder, object]:
    torch.set_num_threads(1)
    path, _ = resolve_text_backbone("minilm")
    return TextEncoder(path, trainable_layers=2).eval(), load_tokenizer(path)


def _states(enc: TextEncoder, tok: object, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = (torch.from_numpy(a) for a in pad_ids(tokenize(tok, texts)))
    return enc.frozen_states(ids, mask), mask  # (m, L, 384), (m, L)


def test_a_very_negative_bias_is_reading_each_utterance_alone(minilm: tuple) -> None:
    enc, tok = minilm
    states, mask = _states(enc, tok, TALK[:5])
    bias = torch.tensor([[-1e4, 0.0, -1e4]] * 2)  # (n_top, 2K + 1), K = 1
    with torch.no_grad():
        together = enc.top_dialogue(states, mask, bias)
        alone = enc.top(states, mask)
    assert together.shape == (5, 384)
    assert torch.allclose(together, alone, atol=1e-4)
    with torch.no_grad():  # with a real share of attention the neighbours change the vectors
        mixed = enc.top_dialogue(states, mask, torch.zeros(2, 3))
    assert (mixed - alone).norm(dim=1).min() > 0.1


def test_each_layer_reaches_k_utterances_further(minilm: tuple) -> None:
    # 2 fine-tuned layers, K = 1: utterance 0 depends on utterances 0-2 only, utterance 1 on 0-3.
    enc, tok = minilm
    other = [*TALK[:3], "A completely different sentence about trains.", *TALK[4:6]]
    with torch.no_grad():
        a = enc.top_dialogue(*_states(enc, tok, TALK[:6]), torch.zeros(2, 3))
        b = enc.top_dialogue(*_states(enc, tok, other), torch.zeros(2, 3))
    assert torch.allclose(a[0], b[0], atol=1e-5)
    assert (a[1] - b[1]).norm() > 1e-3 and (a[2] - b[2]).norm() > 1e-3


def test_long_talks_are_read_in_exact_chunks(minilm: tuple) -> None:
    enc, tok = minilm
    states, mask = _states(enc, tok, TALK)
    bias = torch.tensor([[-1.0, 0.0, -2.0]] * 2)
    with torch.no_grad():
        whole = enc.top_dialogue(states, mask, bias, chunk=1000)
        chunked = enc.top_dialogue(states, mask, bias, chunk=2)  # 2 utterances + 2 of context a side
    assert torch.allclose(whole, chunked, atol=1e-5)


def test_a_window_and_pair_context_are_not_combined() -> None:
    assert ModelConfig(text_window=2).text_window == 2
    with pytest.raises(InputError, match="one way"):
        ModelConfig(text_window=1, text_context=1)
