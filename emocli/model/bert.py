"""A BERT encoder and its tokenizer without ``transformers``: the bundled MiniLM loads in a blink.

Why: importing ``transformers``' BERT costs about 2.3 s of CPU on this project's 2-core reference
machine (and its tokenizer 0.7 s more), held under the GIL in the thread that loads the emotion model
beside the speech stage of ``annotate``, where it slowed voice activity detection and decoding. The
network is small; this module builds the same modules with the same parameter names, so the
packaged ``model.safetensors`` and the checkpoints' fine-tuned deltas load unchanged, and computes
the same functions in the same order (``transformers`` 5: absolute positions, GELU (erf), post-norm
residuals, ``scaled_dot_product_attention`` with the additive mask) - the outputs are bit for bit
those of ``transformers.BertModel`` (``tests/test_bert.py``).

Only ``model_type == "bert"`` with absolute position embeddings and a ``model.safetensors`` is
read here; every other encoder (RoBERTa, XLM-R, ...) goes through ``transformers`` as before.
Weights are read with ``safetensors`` (no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    hidden_dropout_prob: float = 0.1  # used when the top layers are fine-tuned
    attention_probs_dropout_prob: float = 0.1

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BertConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def readable(path: str | Path) -> BertConfig | None:
    """The config of a folder this module can load, else None (then ``transformers`` loads it)."""
    folder = Path(path)
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    plain = (
        cfg.get("model_type") == "bert"
        and cfg.get("position_embedding_type", "absolute") == "absolute"
        and cfg.get("hidden_act", "gelu") == "gelu"
        and not cfg.get("is_decoder", False)
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )
    return BertConfig.from_dict(cfg) if plain else None


class _Embeddings(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        # Capitalised as in the checkpoints' parameter names.
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L) ids (+ segment ids) -> (B, L, hidden)."""
        length = input_ids.shape[1]
        positions = torch.arange(length, device=input_ids.device)[None]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        h = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        h = h + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(h))


class _SelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.attention_probs_dropout_prob)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """(B, L, hidden), additive mask broadcastable to (B, heads, L, L) -> (B, L, hidden)."""
        shape = (*h.shape[:-1], -1, self.head_dim)
        q = self.query(h).view(*shape).transpose(1, 2)  # (B, heads, L, head_dim)
        k = self.key(h).view(*shape).transpose(1, 2)
        v = self.value(h).view(*shape).transpose(1, 2)
        p = self.dropout.p if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, scale=self.head_dim**-0.5)
        out = out.transpose(1, 2).contiguous()
        return out.reshape(*h.shape[:-1], -1).contiguous()


class _Residual(nn.Module):
    """dense -> dropout -> LayerNorm(x + input): BERT's SelfOutput and Output."""

    def __init__(self, d_in: int, cfg: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class _Attention(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.self = _SelfAttention(cfg)
        self.output = _Residual(cfg.hidden_size, cfg)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(h, mask), h)


class _Intermediate(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(h))


class BertLayer(nn.Module):
    """One post-norm transformer layer; ``layer(h, attention_mask=am)`` as ``transformers``' is called."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attention = _Attention(cfg)
        self.intermediate = _Intermediate(cfg)
        self.output = _Residual(cfg.intermediate_size, cfg)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, L, hidden), additive mask (B or 1, 1, 1 or L, L) -> (B, L, hidden)."""
        a = self.attention(hidden_states, attention_mask)
        return self.output(self.intermediate(a), a)


class _Encoder(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_hidden_layers))


class BertEncoder(nn.Module):
    """``.embeddings`` + ``.encoder.layer`` + ``.config``: what ``TextEncoder`` uses of a backbone."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = _Embeddings(cfg)
        self.encoder = _Encoder(cfg)


def load_bert(path: str | Path, cfg: BertConfig) -> BertEncoder:
    """The encoder of a ``readable`` folder, its weights from ``model.safetensors`` (the pooler and
    any other head are not used and not loaded). Missing or misshapen weights raise ValueError."""
    from safetensors.torch import load_file

    model = BertEncoder(cfg)
    state = load_file(str(Path(path) / "model.safetensors"))
    state = {k.removeprefix("bert."): v for k, v in state.items()}
    wanted = model.state_dict()
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise ValueError(f"model.safetensors lacks {missing[:3]}")
    bad = [k for k in wanted if tuple(state[k].shape) != tuple(wanted[k].shape)]
    if bad:
        raise ValueError(f"model.safetensors has other shapes for {bad[:3]}")
    model.load_state_dict({k: state[k] for k in wanted})
    return model.eval()


class FastTokenizer:
    """The folder's ``tokenizer.json`` through the ``tokenizers`` library: what the project calls of
    a ``transformers`` fast tokenizer (``tok(texts, truncation=True, max_length=N)["input_ids"]``,
    ``tok(text, add_special_tokens=False)``, ``cls_token_id``, ``sep_token_id``, ``pad_token_id``),
    with the same ids (the 11,098 MELD utterances gave the same ids when this was written;
    ``tests/test_bert.py`` checks hard cases: punctuation, accents, other scripts, truncation)."""

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer

        folder = Path(path)
        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()
        special = _special_tokens(folder)
        self.cls_token_id = self._id(special.get("cls_token", "[CLS]"))
        self.sep_token_id = self._id(special.get("sep_token", "[SEP]"))
        self.pad_token_id = self._id(special.get("pad_token", "[PAD]"))

    def _id(self, token: str) -> int:
        found = self._tok.token_to_id(token)
        if found is None:
            raise ValueError(f"tokenizer.json has no {token!r}")
        return int(found)

    def __call__(
        self,
        texts: str | Sequence[str],
        truncation: bool = False,
        max_length: int | None = None,
        add_special_tokens: bool = True,
    ) -> dict[str, Any]:
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        if truncation and max_length is not None:
            self._tok.enable_truncation(max_length)
        try:
            enc = self._tok.encode_batch(batch, add_special_tokens=add_special_tokens)
        finally:
            self._tok.no_truncation()
        ids = [list(e.ids) for e in enc]
        return {"input_ids": ids[0] if single else ids}


def _special_tokens(folder: Path) -> dict[str, str]:
    """cls/sep/pad token strings from ``special_tokens_map.json`` (strings or {"content": ...})."""
    try:
        raw = json.loads((folder / "special_tokens_map.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: v["content"] if isinstance(v, dict) else str(v) for k, v in raw.items() if v}
