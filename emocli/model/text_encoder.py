"""The text branch's utterance encoder: a pretrained transformer split into a frozen bottom and a
fine-tuned top.

Why split: on 2 CPU cores, fine-tuning all of MiniLM costs about 7 minutes an epoch; the frozen
bottom's token states are computed once and cached, so an epoch only runs the top layers. It also
keeps the shipped weights small: only the top layers' differences from the packaged base are
saved (float16 deltas, ``delta_state``), and the base loads from its own package.
"""

from __future__ import annotations

import torch
from torch import nn

from emocli.errors import ModelUnavailableError


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(U, L) bool token mask -> (U, 1, 1, L) additive attention mask (0 keep, -big drop)."""
    return (~mask)[:, None, None, :].to(dtype) * torch.finfo(dtype).min


def load_backbone(path: str) -> nn.Module:
    """A plain BERT folder (the bundled MiniLM) through ``bert.py``, anything else through
    ``transformers``' AutoModel."""
    from emocli.model.bert import load_bert, readable

    try:
        cfg = readable(path)
        if cfg is not None:
            return load_bert(path, cfg)
        from transformers import AutoModel

        return AutoModel.from_pretrained(path)
    except (OSError, ValueError) as e:
        raise ModelUnavailableError(f"Cannot load the text encoder from {path}: {e}.") from e


class TextEncoder(nn.Module):
    """A BERT-like encoder (``.embeddings`` + ``.encoder.layer``): token ids -> (U, dim) mean-pooled."""

    def __init__(self, path: str, trainable_layers: int = 2) -> None:
        super().__init__()
        backbone = load_backbone(path)
        layers = getattr(getattr(backbone, "encoder", None), "layer", None)
        if layers is None or not hasattr(backbone, "embeddings"):
            raise ModelUnavailableError(
                f"Text encoder {path} has an unsupported architecture ({type(backbone).__name__}).",
                "Use a BERT/RoBERTa-style encoder (bert-*, roberta-*, xlm-roberta-*, MiniLM).",
            )
        self.backbone = backbone
        self.n_layers = len(layers)
        self.trainable_layers = max(0, min(int(trainable_layers), self.n_layers))
        self.n_frozen = self.n_layers - self.trainable_layers
        self.dim = int(backbone.config.hidden_size)
        for p in backbone.parameters():
            p.requires_grad = False
        for layer in self.top_layers:
            for p in layer.parameters():
                p.requires_grad = True
        # The base values of the trainable part: deltas are saved against these.
        self._base = {k: v.detach().clone() for k, v in self.top_state().items()}

    @property
    def top_layers(self) -> list[nn.Module]:
        return list(self.backbone.encoder.layer[self.n_frozen :])

    def train(self, mode: bool = True) -> TextEncoder:
        super().train(mode)
        # The frozen bottom always runs without dropout, so that cached states equal live ones.
        self.backbone.embeddings.eval()
        for layer in self.backbone.encoder.layer[: self.n_frozen]:
            layer.eval()
        return self

    def _run(self, layers: list[nn.Module], h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        am = additive_mask(mask, h.dtype)
        for layer in layers:
            out = layer(h, attention_mask=am)
            h = out[0] if isinstance(out, tuple) else out
        return h

    @torch.no_grad()
    def frozen_states(
        self, ids: torch.Tensor, mask: torch.Tensor, segments: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(U, L) ids + bool mask (+ segment ids for context pairs) -> (U, L, dim) frozen-layer states."""
        was = self.training
        self.train(False)
        if segments is not None and getattr(self.backbone.config, "type_vocab_size", 1) > 1:
            h = self.backbone.embeddings(input_ids=ids, token_type_ids=segments)
        else:
            h = self.backbone.embeddings(input_ids=ids)
        h = self._run(list(self.backbone.encoder.layer[: self.n_frozen]), h, mask)
        self.train(was)
        return h

    def top(
        self, states: torch.Tensor, mask: torch.Tensor, pool: torch.Tensor | None = None, chunk: int = 16
    ) -> torch.Tensor:
        """Frozen token states (U, L, dim) -> (U, dim): the trainable layers, then mean pooling
        (over ``pool`` (U, L) bool when given: the utterance's own tokens of a context pair).

        Utterances are sorted by length and run in chunks padded only to their own longest
        (MELD: mean 14 tokens, but a batch pads to about 40): about 2.5x less work per epoch.
        """
        lengths = mask.sum(1)
        order = torch.argsort(lengths, stable=True)
        pooled = states.new_zeros(states.shape[0], states.shape[-1])
        for s in range(0, len(order), chunk):
            idx = order[s : s + chunk]
            width = max(1, int(lengths[idx].max()))
            m = mask[idx, :width]
            h = self._run(self.top_layers, states[idx, :width], m)
            w = (m if pool is None else pool[idx, :width] & m)[..., None].to(h.dtype)
            pooled = pooled.index_copy(0, idx, (h * w).sum(1) / w.sum(1).clamp_min(1.0))
        return pooled

    def top_dialogue(
        self, states: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor, chunk: int = 48
    ) -> torch.Tensor:
        """One dialogue's utterances read together: frozen token states (m, L, dim) and bool mask
        (m, L) -> (m, dim). The real tokens of the m utterances form one sequence; a token attends to
        the tokens of utterances at most K away, with the additive bias ``bias[layer, d + K]``
        ((n_top, 2K + 1), 0 at d = 0) for an utterance d away; each utterance's own tokens are then
        mean pooled. The frozen layers' position embeddings restart in each utterance.

        Long talks are read ``chunk`` utterances at a time with n_top x K utterances of context on
        each side, which is exactly what those outputs depend on (each layer reaches K further):
        memory grows with the talk's length, not with its square."""
        m = states.shape[0]
        k = (bias.shape[1] - 1) // 2
        halo = len(self.top_layers) * k
        if m <= chunk + 2 * halo:
            return self._read_together(states, mask, bias)
        parts = []
        for a in range(0, m, chunk):
            lo, hi = max(0, a - halo), min(m, a + chunk + halo)
            out = self._read_together(states[lo:hi], mask[lo:hi], bias)
            parts.append(out[a - lo : a - lo + min(chunk, m - a)])
        return torch.cat(parts, 0)

    def _read_together(self, states: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        m = states.shape[0]
        k = (bias.shape[1] - 1) // 2
        counts = mask.sum(1)
        tokens = states[mask]  # (T, dim), utterance after utterance
        who = torch.arange(m, device=states.device).repeat_interleave(counts)  # (T,) utterance index
        dist = who[:, None] - who[None, :]  # (T, T) query's utterance minus key's
        inside = dist.abs() <= k
        col = dist.clamp(-k, k) + k
        h = tokens[None]  # (1, T, dim)
        for i, layer in enumerate(self.top_layers):
            am = torch.where(inside, bias[i][col], torch.finfo(h.dtype).min)[None, None]  # (1, 1, T, T)
            out = layer(h, attention_mask=am)
            h = out[0] if isinstance(out, tuple) else out
        summed = h.new_zeros(m, h.shape[-1]).index_add(0, who, h[0])
        return summed / counts.clamp_min(1)[:, None].to(h.dtype)

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, segments: torch.Tensor | None = None
    ) -> torch.Tensor:
        pool = None if segments is None else segments.bool()
        return self.top(self.frozen_states(ids, mask, segments), mask, pool)

    # --- shipping only what changed -------------------------------------------------------

    def top_state(self) -> dict[str, torch.Tensor]:
        return {
            f"layer{self.n_frozen + i}.{k}": v
            for i, layer in enumerate(self.top_layers)
            for k, v in layer.state_dict().items()
        }

    def fingerprint(self) -> list[float]:
        """Cheap identity check of the base weights the deltas apply to (sum of |w| per tensor)."""
        return [round(float(v.float().abs().sum()), 2) for v in self._base.values()]

    def delta_state(self) -> dict[str, torch.Tensor]:
        """Fine-tuned minus base, float16 (deltas are small, so half precision keeps them exact enough)."""
        return {k: (v.detach() - self._base[k]).to(torch.float16) for k, v in self.top_state().items()}

    def load_delta(self, deltas: dict[str, torch.Tensor], fingerprint: list[float] | None = None) -> None:
        if fingerprint:
            mine = self.fingerprint()
            if len(mine) != len(fingerprint) or any(
                abs(a - b) > 1e-3 * max(1.0, abs(b)) for a, b in zip(mine, fingerprint, strict=False)
            ):
                raise ModelUnavailableError(
                    "The text encoder's base weights differ from those the checkpoint was trained on.",
                    "Install the text-encoder package version named in the model's config.json.",
                )
        targets = self.top_state()
        missing = sorted(set(targets) - set(deltas))
        if missing:
            raise ModelUnavailableError(f"Checkpoint lacks text-encoder weights {missing[:3]}.")
        with torch.no_grad():
            for k, t in targets.items():
                t.copy_(self._base[k] + deltas[k].to(t.dtype))
