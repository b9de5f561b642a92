"""Prepared utterances (features attached) and their collation into model batches."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from emocli.model.fusion import Batch


@dataclass
class Item:
    """One utterance with its features; a missing modality is None (masked, never zeros)."""

    label: int
    speaker: str
    native: int | None = None  # index in AUDIO_NATIVE (the 7 classes + calm) or None
    text_states: np.ndarray | None = None  # (L, text_dim) float16 frozen token states
    text_segments: np.ndarray | None = None  # (L,) 1 on the utterance's tokens, 0 on its context
    # The same words as each extra text member sees them: (states (L', text_dim), segments or None).
    member_text: list[tuple[np.ndarray, np.ndarray | None]] = field(default_factory=list)
    sentiment: int | None = None  # auxiliary target (MELD sentiment) or None
    audio: np.ndarray | None = None  # (audio_dim,) raw pooled states (standardised at collation)
    visual: np.ndarray | None = None  # (F, 7) frame probabilities
    uid: str = ""
    group: str = ""


@dataclass
class Conversation:
    did: str
    items: list[Item] = field(default_factory=list)


def speaker_numbers(speakers: Sequence[str]) -> list[int]:
    """Speakers numbered by first appearance within the dialogue: ['B', 'A', 'B'] -> [0, 1, 0]."""
    seen: dict[str, int] = {}
    return [seen.setdefault(s, len(seen)) for s in speakers]


def pseudo_dialogues(
    items: Sequence[Item], rng: random.Random, max_len: int = 8, prefix: str = "pseudo"
) -> list[Conversation]:
    """Acted clips -> conversations of one speaker with random lengths 1..max_len.

    The clips' emotions are independent, so the context encoders learn to lean on each utterance
    itself, while seeing several utterances as they will in a real conversation.
    """
    by_speaker: dict[str, list[Item]] = {}
    for it in items:
        by_speaker.setdefault(f"{it.group}/{it.speaker}", []).append(it)
    out: list[Conversation] = []
    for spk in sorted(by_speaker):
        pool = list(by_speaker[spk])
        rng.shuffle(pool)
        i = 0
        while i < len(pool):
            n = rng.randint(1, max_len)
            out.append(Conversation(f"{prefix}{len(out)}", pool[i : i + n]))
            i += n
    return out


def batches(
    convs: Sequence[Conversation], max_utterances: int, rng: random.Random | None = None
) -> Iterator[list[Conversation]]:
    """Group whole conversations into batches of about ``max_utterances`` utterances."""
    order = list(range(len(convs)))
    if rng is not None:
        rng.shuffle(order)
    cur: list[Conversation] = []
    n = 0
    for i in order:
        cur.append(convs[i])
        n += len(convs[i].items)
        if n >= max_utterances:
            yield cur
            cur, n = [], 0
    if cur:
        yield cur


def _fill_text(batch: Batch, views: Sequence[tuple[np.ndarray, np.ndarray | None]]) -> None:
    """Pad (states (L, dim), segments or None) of U utterances into batch.text_states (U, L, dim),
    text_tokens (U, L) bool and text_segments (U, L) long (only when some view has segments)."""
    width = max((len(st) for st, _ in views), default=1)
    dim = views[0][0].shape[-1] if views else 1
    ts = torch.zeros(len(views), width, dim)
    tt = torch.zeros(len(views), width, dtype=torch.bool)
    for r, (st, _) in enumerate(views):
        ts[r, : len(st)] = torch.from_numpy(st.astype(np.float32))
        tt[r, : len(st)] = True
    batch.text_states, batch.text_tokens = ts, tt
    if any(sg is not None for _, sg in views):
        seg = torch.zeros(len(views), width, dtype=torch.long)
        for r, (st, sg) in enumerate(views):
            seg[r, : len(st)] = 1 if sg is None else torch.from_numpy(np.asarray(sg, dtype=np.int64))
        batch.text_segments = seg


def collate(
    convs: Sequence[Conversation], modalities: Sequence[str], audio_dim: int = 0
) -> tuple[Batch, torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> (Batch, labels, native labels, sentiment labels): each (B, N) long, -1 where padded or unknown."""
    b = len(convs)
    n = max(len(c.items) for c in convs)
    mask = torch.zeros(b, n, dtype=torch.bool)
    speakers = torch.zeros(b, n, dtype=torch.long)
    labels = torch.full((b, n), -1, dtype=torch.long)
    native = torch.full((b, n), -1, dtype=torch.long)
    sentiment = torch.full((b, n), -1, dtype=torch.long)
    for i, c in enumerate(convs):
        k = len(c.items)
        mask[i, :k] = True
        speakers[i, :k] = torch.tensor(speaker_numbers([it.speaker for it in c.items]))
        labels[i, :k] = torch.tensor([it.label for it in c.items])
        native[i, :k] = torch.tensor([-1 if it.native is None else it.native for it in c.items])
        sentiment[i, :k] = torch.tensor([-1 if it.sentiment is None else it.sentiment for it in c.items])
    batch = Batch(mask=mask, speakers=speakers)
    flat = [(i, j, it) for i, c in enumerate(convs) for j, it in enumerate(c.items)]
    if "text" in modalities:
        tm = torch.zeros(b, n, dtype=torch.bool)
        with_text = []
        for i, j, it in flat:  # row-major order, as masked_scatter fills
            if it.text_states is not None:
                tm[i, j] = True
                with_text.append(it)
        batch.text_mask = tm
        _fill_text(batch, [(it.text_states, it.text_segments) for it in with_text])  # type: ignore[misc]
        for k in range(len(with_text[0].member_text) if with_text else 0):
            sub = Batch(mask=mask, speakers=speakers, text_mask=tm)
            _fill_text(sub, [it.member_text[k] for it in with_text])
            batch.text_members.append(sub)
    if "audio" in modalities:
        am = torch.zeros(b, n, dtype=torch.bool)
        au = torch.zeros(b, n, audio_dim)
        for i, j, it in flat:
            if it.audio is not None:
                am[i, j] = True
                au[i, j] = torch.from_numpy(np.asarray(it.audio, dtype=np.float32))
        batch.audio, batch.audio_mask = au, am
    if "visual" in modalities:
        vm = torch.zeros(b, n, dtype=torch.bool)
        f = max((len(it.visual) for _, _, it in flat if it.visual is not None), default=1)
        vis = torch.full((b, n, f, 7), 1.0 / 7)
        vf = torch.zeros(b, n, f, dtype=torch.bool)
        for i, j, it in flat:
            if it.visual is not None and len(it.visual):
                vm[i, j] = True
                vis[i, j, : len(it.visual)] = torch.from_numpy(np.asarray(it.visual, dtype=np.float32))
                vf[i, j, : len(it.visual)] = True
        batch.visual, batch.visual_frames, batch.visual_mask = vis, vf, vm
    return batch, labels, native, sentiment
