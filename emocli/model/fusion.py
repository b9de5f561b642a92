"""The multimodal emotion network (M2FNet-inspired, with the thesis's pooling and context gating).

Per modality m (text, audio, visual), for B dialogues of up to N utterances:

    utterance vector u_m (B, N, D_m) --embed--> e_m (B, N, H)
    e_m + speaker embedding --transformer over the dialogue's utterances--> c_m (B, N, H)
    r_m = MLP(ContextGating([e_m; c_m]))  (B, N, H)   -> per-modality head -> log p_m (B, N, 7)

then fusion:
- ``attention``: text-led Fusion Attention (M2FNet's FAM): the text representation queries the
  available modality representations of the same utterance, block after block -> fused head;
- ``late``: weighted log-linear pooling of the available per-modality probabilities (for branches
  trained on different data sets, e.g. text on MELD and audio on RAVDESS).

A missing modality is a mask everywhere (context attention, fusion, losses), never zeros that pretend
to be data. Training drops available modalities at random (modality dropout) so that any subset works.
The audio head has 8 outputs (the 7 classes + RAVDESS's calm); calm folds into neutral for the 7.
The visual branch pools per-frame expression probabilities with the thesis's temporal softmax
pooling; its head is a zero-initialised correction, so an untrained branch returns the pooled
frame probabilities themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from emocli.model.config import MODALITIES, ModelConfig
from emocli.model.pooling import TemporalSoftmaxPooling

NEG = -1e4  # additive mask value: large enough to zero a softmax weight, finite to avoid NaN


@dataclass
class Batch:
    """Model input for B dialogues of up to N utterances (padded; ``mask`` marks real ones)."""

    mask: torch.Tensor  # (B, N) bool
    speakers: torch.Tensor  # (B, N) long, speaker number within the dialogue (first seen = 0)
    text_mask: torch.Tensor | None = None  # (B, N) bool: the utterance has words
    text_states: torch.Tensor | None = None  # (U, L, text_dim) frozen token states, U = text_mask.sum()
    text_ids: torch.Tensor | None = None  # (U, L) token ids (used when text_states is None)
    text_tokens: torch.Tensor | None = None  # (U, L) bool token mask
    text_segments: torch.Tensor | None = None  # (U, L) long: 1 on the utterance's tokens, 0 on context
    audio: torch.Tensor | None = None  # (B, N, audio_dim) speaker-standardised pooled states
    audio_mask: torch.Tensor | None = None  # (B, N) bool
    visual: torch.Tensor | None = None  # (B, N, F, 7) per-frame expression probabilities
    visual_frames: torch.Tensor | None = None  # (B, N, F) bool valid frames
    visual_mask: torch.Tensor | None = None  # (B, N) bool
    # One batch per extra text member: its own view of the words (text_* fields only).
    text_members: list[Batch] = field(default_factory=list)

    def to(self, device: str | torch.device) -> Batch:
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in vars(self).items()}
        moved["text_members"] = [b.to(device) for b in self.text_members]
        return Batch(**moved)


@dataclass
class Output:
    logp: torch.Tensor  # (B, N, 7) fused log-probabilities
    modality_logp: dict[str, torch.Tensor] = field(default_factory=dict)  # m -> (B, N, 7)
    modality_mask: dict[str, torch.Tensor] = field(default_factory=dict)  # m -> (B, N) bool (after dropout)
    audio_native: torch.Tensor | None = None  # (B, N, 8) logits: EMOTIONS + calm
    fusion_weights: torch.Tensor | None = None  # (B, N, 3) weight of each modality, MODALITIES order
    visual_importance: torch.Tensor | None = None  # (B, N, F) frame importance p(f)
    fused_rep: torch.Tensor | None = None  # (B, N, H) for the triplet term
    sentiment: torch.Tensor | None = None  # (B, N, 3) text-branch sentiment logits (auxiliary task)
    audio_members: list[torch.Tensor] = field(default_factory=list)  # each audio head's (B, N, 8) logits


class ContextGating(nn.Module):
    """The thesis's eq. 3.8: s = sigmoid(W2 relu(W1 x)) * x, reduction ratio r."""

    def __init__(self, dim: int, reduction: int = 4) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.Linear(dim, dim // reduction), nn.ReLU(), nn.Linear(dim // reduction, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.gate(x)) * x


class ContextLayer(nn.Module):
    """A pre-norm transformer layer taking an additive attention bias (B, heads, N, N).

    Written out (rather than nn.TransformerEncoderLayer) because the latter's inference fast path
    mishandles a per-head float mask and returns NaN.
    """

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.p = dropout
        self.norm1 = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * hidden, hidden)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.p if self.training else 0.0
        )
        x = x + self.drop(self.out(a.transpose(1, 2).reshape(b, n, h)))
        return x + self.drop(self.ffn(self.norm2(x)))


class DialogueEncoder(nn.Module):
    """Transformer over utterances with speaker embeddings and learnt relative-position biases.

    Relative (not absolute) positions, clipped to +-max_distance, let a model trained on MELD's
    short dialogues (at most 24 utterances) run on long videos.
    """

    def __init__(self, cfg: ModelConfig, layers: int) -> None:
        super().__init__()
        h = cfg.hidden
        self.heads = cfg.heads
        self.max_distance = cfg.max_distance
        self.speaker = nn.Embedding(cfg.max_speakers, h)
        nn.init.normal_(self.speaker.weight, std=0.02)
        self.rel = nn.Parameter(torch.zeros(cfg.heads, 2 * cfg.max_distance + 1))
        self.layers = nn.ModuleList(ContextLayer(h, cfg.heads, cfg.dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(h)

    def forward(self, x: torch.Tensor, speakers: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        if not self.layers:
            return x
        pos = torch.arange(n, device=x.device)
        dist = (pos[None, :] - pos[:, None]).clamp(-self.max_distance, self.max_distance) + self.max_distance
        keys_off = ~avail
        keys_off = keys_off & ~keys_off.all(
            1, keepdim=True
        )  # a dialogue without this modality: outputs unused
        bias = self.rel[:, dist][None].expand(b, -1, -1, -1)  # (B, heads, N, N)
        bias = bias.masked_fill(keys_off[:, None, None, :], NEG).to(x.dtype)
        h = x + self.speaker(speakers.clamp(0, self.speaker.num_embeddings - 1))
        for layer in self.layers:
            h = layer(h, bias)
        return self.norm(h)


class Branch(nn.Module):
    """One modality: utterance vectors -> dialogue context -> representation and head logits."""

    def __init__(self, cfg: ModelConfig, in_dim: int, n_out: int, modality: str) -> None:
        super().__init__()
        h = cfg.hidden
        self.embed = nn.Sequential(
            nn.LayerNorm(in_dim), nn.Dropout(cfg.dropout), nn.Linear(in_dim, h), nn.GELU()
        )
        # Acted clips (the audio branch's training data) have no conversation: 0 layers there.
        self.context = DialogueEncoder(cfg, cfg.branch_context_layers.get(modality, cfg.context_layers))
        self.gating = ContextGating(2 * h)
        self.rep = nn.Sequential(nn.Linear(2 * h, h), nn.GELU(), nn.Dropout(cfg.dropout))
        self.head = nn.Linear(h, n_out)

    def forward(
        self, u: torch.Tensor, speakers: torch.Tensor, avail: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.embed(u)
        c = self.context(e, speakers, avail)
        r = self.rep(self.gating(torch.cat([e, c], -1)))
        return r, self.head(r)


class TextMember(nn.Module):
    """An extra text member of the ensemble: its own fine-tuned encoder top and text branch."""

    def __init__(self, encoder: nn.Module, branch: Branch) -> None:
        super().__init__()
        self.encoder = encoder
        self.branch = branch


class FusionAttention(nn.Module):
    """Text-led fusion (M2FNet's FAM): a query per utterance attends to its modality tokens."""

    def __init__(self, cfg: ModelConfig, n_modalities: int) -> None:
        super().__init__()
        h = cfg.hidden
        self.kind = nn.Parameter(torch.zeros(n_modalities, h))  # which modality a token is
        self.attn = nn.ModuleList(
            nn.MultiheadAttention(h, cfg.heads, dropout=cfg.dropout, batch_first=True)
            for _ in range(cfg.fusion_layers)
        )
        self.ffn = nn.ModuleList(
            nn.Sequential(nn.Linear(h, 2 * h), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(2 * h, h))
            for _ in range(cfg.fusion_layers)
        )
        self.norm1 = nn.ModuleList(nn.LayerNorm(h) for _ in range(cfg.fusion_layers))
        self.norm2 = nn.ModuleList(nn.LayerNorm(h) for _ in range(cfg.fusion_layers))

    def forward(
        self, query: torch.Tensor, tokens: torch.Tensor, avail: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, m, h = tokens.shape
        q = query.reshape(b * n, 1, h)
        kv = (tokens + self.kind[None, None]).reshape(b * n, m, h)
        off = ~avail.reshape(b * n, m)
        off = off & ~off.all(1, keepdim=True)  # utterances with nothing at all: outputs unused
        weights = torch.zeros(b * n, m, device=tokens.device, dtype=tokens.dtype)
        for attn, ffn, n1, n2 in zip(self.attn, self.ffn, self.norm1, self.norm2, strict=True):
            a, w = attn(q, kv, kv, key_padding_mask=off, need_weights=True)
            q = n1(q + a)
            q = n2(q + ffn(q))
            weights = w[:, 0]
        return q.reshape(b, n, h), weights.reshape(b, n, m)


class EmotionNet(nn.Module):
    def __init__(
        self,
        cfg: ModelConfig,
        text_encoder: nn.Module | None = None,
        member_encoders: tuple[nn.Module, ...] = (),
    ) -> None:
        super().__init__()
        self.cfg = cfg
        k = len(cfg.labels)
        self.text_encoder = text_encoder
        self.branches = nn.ModuleDict()
        self.text_members = nn.ModuleList()
        if "text" in cfg.modalities:
            if text_encoder is None:
                raise ValueError("a text encoder is needed for the text modality")
            self.branches["text"] = Branch(cfg, cfg.text_dim, k, "text")
            # Models trained apart on other views of the words (e.g. with the previous utterance as
            # context) make errors of their own: pooled, about +0.005 MELD dev F1 (MODEL_CARD.md).
            for enc in member_encoders:
                self.text_members.append(TextMember(enc, Branch(cfg, cfg.text_dim, k, "text")))
            # Auxiliary training target where the data has one (MELD: neutral/positive/negative).
            self.sentiment_head = nn.Linear(cfg.hidden, 3)
            if cfg.text_window > 0:
                # Attention bias to tokens of other utterances, per top layer and distance -K..K
                # (the own utterance's, at K, is the reference); -2 starts near the utterance read
                # alone (neighbours get a small share of the attention).
                n_top = int(getattr(text_encoder, "trainable_layers", 0))
                bias = torch.full((n_top, 2 * cfg.text_window + 1), -2.0)
                bias[:, cfg.text_window] = 0.0
                self.text_window_bias = nn.Parameter(bias)
        if "audio" in cfg.modalities:
            self.branches["audio"] = Branch(cfg, cfg.audio_dim, k + 1, "audio")  # + calm
            # More audio heads of the same shape, averaged: the audio head is small and trained on
            # few speakers, so single runs vary by several points; an ensemble is steadier.
            self.audio_extra = nn.ModuleList(
                Branch(cfg, cfg.audio_dim, k + 1, "audio") for _ in range(max(0, cfg.audio_members - 1))
            )
            # Training-set statistics of the raw pooled audio vectors (speaker-standardisation prior).
            self.register_buffer("audio_mean", torch.zeros(cfg.audio_dim))
            self.register_buffer("audio_std", torch.ones(cfg.audio_dim))
        if "visual" in cfg.modalities:
            self.visual_pool = TemporalSoftmaxPooling(cfg.visual_classes, tau=cfg.visual_tau)
            self.branches["visual"] = Branch(cfg, 3 * cfg.visual_classes, k, "visual")
            nn.init.zeros_(self.branches["visual"].head.weight)
            nn.init.zeros_(self.branches["visual"].head.bias)
        self.fusion = FusionAttention(cfg, len(MODALITIES))
        self.fused_head = nn.Linear(cfg.hidden, k)

    def resize_audio(self, dim: int) -> None:
        """Rebuild the (untrained) audio heads for ``dim``-wide pooled vectors: the width is known
        only once an encoder has run (e.g. 2 x 1024 for ``whisper:1,6``, 2 x 768 for wav2vec2)."""
        k = len(self.cfg.labels)
        device = self.audio_mean.device
        self.cfg.audio_dim = dim
        self.branches["audio"] = Branch(self.cfg, dim, k + 1, "audio").to(device)
        self.audio_extra = nn.ModuleList(
            Branch(self.cfg, dim, k + 1, "audio").to(device) for _ in range(len(self.audio_extra))
        )
        self.audio_mean = torch.zeros(dim, device=device)  # buffers: replaced, still buffers
        self.audio_std = torch.ones(dim, device=device)

    def _text(self, batch: Batch, encoder: nn.Module | None = None) -> torch.Tensor:
        """Pooled utterance text vectors scattered into (B, N, text_dim) (``encoder``: a member's)."""
        b, n = batch.mask.shape
        out = torch.zeros(b, n, self.cfg.text_dim, device=batch.mask.device)
        encoder = encoder or self.text_encoder
        assert batch.text_mask is not None and batch.text_tokens is not None and encoder is not None
        if batch.text_mask.any():
            seg = batch.text_segments
            if self.cfg.text_window > 0 and encoder is self.text_encoder:
                pooled = self._text_dialogues(batch)
            elif batch.text_states is not None:
                pooled = encoder.top(
                    batch.text_states, batch.text_tokens, None if seg is None else seg.bool()
                )
            else:
                pooled = encoder(batch.text_ids, batch.text_tokens, seg)
            out = out.masked_scatter(batch.text_mask[..., None], pooled.to(out.dtype))
        return out

    def _text_dialogues(self, batch: Batch) -> torch.Tensor:
        """(U, text_dim) pooled vectors, each dialogue's utterances read together (``text_window``)."""
        assert batch.text_mask is not None and batch.text_tokens is not None
        enc = self.text_encoder
        states = batch.text_states
        if states is None:
            states = enc.frozen_states(batch.text_ids, batch.text_tokens, batch.text_segments)
        k = self.cfg.text_window
        bias = self.text_window_bias - self.text_window_bias[:, k : k + 1]  # 0 for the own utterance
        parts, start = [], 0
        for count in batch.text_mask.sum(1).tolist():  # utterances with words, dialogue by dialogue
            if count:
                sl = slice(start, start + count)
                parts.append(enc.top_dialogue(states[sl], batch.text_tokens[sl], bias))
                start += count
        return torch.cat(parts, 0)

    def _visual(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> branch input (B, N, 21), pooled log-probs (B, N, 7), frame importance (B, N, F)."""
        assert batch.visual is not None and batch.visual_frames is not None
        probs = batch.visual.clamp(1e-6, 1.0)
        frames = batch.visual_frames
        pooled = self.visual_pool(probs.log(), frames)
        w = frames[..., None].to(probs.dtype)
        mean = (probs * w).sum(-2) / w.sum(-2).clamp_min(1.0)
        peak = probs.masked_fill(~frames[..., None], 0.0).amax(-2)
        logp = pooled.classes.clamp_min(1e-6).log()
        return torch.cat([logp, mean, peak], -1), logp, pooled.importance

    def forward(self, batch: Batch, modality_dropout: float = 0.0) -> Output:
        cfg = self.cfg
        masks: dict[str, torch.Tensor] = {}
        inputs: dict[str, torch.Tensor] = {}
        visual_prior = visual_importance = None
        for m in cfg.modalities:
            avail = getattr(batch, f"{m}_mask")
            if avail is None:
                continue
            masks[m] = avail & batch.mask
        if self.training and modality_dropout > 0 and len(masks) > 1:
            masks = _drop_modalities(masks, modality_dropout)
        if "text" in masks:
            inputs["text"] = self._text(batch)
        if "audio" in masks:
            assert batch.audio is not None
            inputs["audio"] = batch.audio
        if "visual" in masks:
            inputs["visual"], visual_prior, visual_importance = self._visual(batch)

        reps: dict[str, torch.Tensor] = {}
        logp: dict[str, torch.Tensor] = {}
        native = None
        members: list[torch.Tensor] = []
        for m, u in inputs.items():
            r, logits = self.branches[m](u, batch.speakers, masks[m])
            if m == "text" and len(self.text_members):
                subs = batch.text_members
                if not subs and batch.text_mask is not None and not batch.text_mask.any():
                    subs = [batch] * len(self.text_members)  # no words anywhere: nothing to view
                outs = [(r, logits)] + [
                    t.branch(self._text(sub, t.encoder), batch.speakers, masks[m])
                    for t, sub in zip(self.text_members, subs, strict=True)
                ]
                r = torch.stack([o[0] for o in outs]).mean(0)
                # Log-linear pooling of the members (as the late fusion of modalities).
                logits = torch.stack([o[1].log_softmax(-1) for o in outs]).mean(0)
            if m == "audio" and len(self.audio_extra):
                outs = [(r, logits)] + [b(u, batch.speakers, masks[m]) for b in self.audio_extra]
                r = torch.stack([o[0] for o in outs]).mean(0)
                members = [o[1] for o in outs]
                # Mean of the members' probabilities, kept as log-probabilities (valid logits).
                logits = torch.logsumexp(torch.stack([x.log_softmax(-1) for x in members]), 0) - math.log(
                    len(members)
                )
            reps[m] = r
            if m == "audio":
                native = logits
                # P(neutral) of the 7 classes = P(neutral) + P(calm) of the 8.
                lp8 = logits.log_softmax(-1)
                logp[m] = torch.cat([torch.logaddexp(lp8[..., :1], lp8[..., -1:]), lp8[..., 1:-1]], -1)
            elif m == "visual":
                assert visual_prior is not None
                logp[m] = (visual_prior + logits).log_softmax(-1)
            else:
                logp[m] = logits.log_softmax(-1)
        if not reps:
            raise ValueError("the batch carries none of the model's modalities")

        order = [m for m in cfg.modalities if m in reps]
        avail = torch.stack([masks[m] for m in order], -1)  # (B, N, M)
        if cfg.fusion == "late":
            w = torch.tensor([cfg.late_weights.get(m, 1.0) for m in order], device=avail.device)
            w = avail.to(w.dtype) * w
            w = w / w.sum(-1, keepdim=True).clamp_min(1e-6)  # (B, N, M)
            fused = (torch.stack([logp[m] for m in order], -2) * w[..., None]).sum(-2).log_softmax(-1)
            fused_rep = None
            weights = torch.zeros(*w.shape[:2], len(MODALITIES), device=w.device)
            for i, m in enumerate(order):
                weights[..., MODALITIES.index(m)] = w[..., i]
        else:
            tokens = torch.stack([reps[m] for m in order], -2)  # (B, N, M, H)
            tokens = tokens.masked_fill(~avail[..., None], 0.0)
            first = avail.float() / avail.float().sum(-1, keepdim=True).clamp_min(1.0)
            query = (tokens * first[..., None]).sum(-2)  # mean of what is there ...
            if "text" in reps:  # ... but led by text wherever the words are known
                query = torch.where(masks["text"][..., None], reps["text"], query)
            # Tokens sit at fixed slots (MODALITIES order), so a checkpoint's fusion weights do
            # not depend on which modalities a model was built with.
            all_tokens = torch.zeros(
                *tokens.shape[:2], len(MODALITIES), tokens.shape[-1], device=tokens.device
            )
            all_avail = torch.zeros(
                *tokens.shape[:2], len(MODALITIES), dtype=torch.bool, device=tokens.device
            )
            for i, m in enumerate(order):
                j = MODALITIES.index(m)
                all_tokens[..., j, :] = tokens[..., i, :]
                all_avail[..., j] = avail[..., i]
            fused_rep, weights = self.fusion(query, all_tokens, all_avail)
            fused = self.fused_head(fused_rep).log_softmax(-1)
        sentiment = self.sentiment_head(reps["text"]) if "text" in reps else None
        return Output(fused, logp, masks, native, weights, visual_importance, fused_rep, sentiment, members)


def _drop_modalities(masks: dict[str, torch.Tensor], p: float) -> dict[str, torch.Tensor]:
    """Hide each available modality of each utterance with probability p, keeping at least one."""
    names = list(masks)
    stacked = torch.stack([masks[m] for m in names], -1)  # (B, N, M)
    keep = stacked & (torch.rand(stacked.shape, device=stacked.device) >= p)
    lost = stacked.any(-1) & ~keep.any(-1)
    if lost.any():
        # Restore one available modality at random for utterances that lost all of theirs.
        score = torch.rand(stacked.shape, device=stacked.device).masked_fill(~stacked, -1.0)
        pick = F.one_hot(score.argmax(-1), len(names)).bool()
        keep = torch.where(lost[..., None], pick & stacked, keep)
    return {m: keep[..., i] for i, m in enumerate(names)}
