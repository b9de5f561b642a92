"""The training loop: losses, optimisation, prediction, early stopping on dev weighted F1."""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from emocli.hooks import ProgressHook, null_hook
from emocli.model.fusion import EmotionNet, Output
from emocli.training.data import Conversation, Item, batches, collate, pseudo_dialogues
from emocli.training.metrics import scores


@dataclass(frozen=True)
class FitOptions:
    epochs: int = 8
    patience: int = 3  # epochs without a better dev score before stopping
    lr: float = 1e-3  # dialogue encoders, heads, fusion
    lr_text: float = 1e-4  # fine-tuned top layers of the text encoder
    weight_decay: float = 0.01
    warmup: float = 0.06  # fraction of all steps
    batch_utterances: int = 64
    class_weight_power: float = 0.5  # class weights (n / n_c) ** power; 0 = none, 1 = inverse frequency
    label_smoothing: float = 0.1
    modality_dropout: float = 0.2
    aux_weight: float = 0.5  # per-modality heads (each must stand alone when others are missing)
    native_weight: float = 1.0  # the audio head's 8-class (calm) term on acted data
    triplet_weight: float = 0.0  # M2FNet's triplet term on fused representations (0 = off)
    sentiment_weight: float = 0.0  # auxiliary sentiment head on the text branch (MELD labels; 0 = off)
    triplet_margin: float = 0.2
    pseudo_dialogue_len: int = 8
    seed: int = 0
    trainable: tuple[str, ...] = ()  # branches to train; () = the whole network
    average_top: int = 1  # average the weights of the best k epochs (checkpoint averaging)


@dataclass
class Predictions:
    probs: np.ndarray  # (U, 7) fused
    labels: np.ndarray  # (U,)
    modality: dict[str, np.ndarray] = field(default_factory=dict)  # (U, 7), NaN rows where missing
    native: np.ndarray | None = None  # (U, 8) audio head, NaN rows where no audio
    native_labels: np.ndarray | None = None  # (U,) -1 where unknown
    uids: list[str] = field(default_factory=list)


def class_weights(labels: Sequence[int], k: int, power: float) -> torch.Tensor:
    """(n / n_c) ** power, normalised so the expected weight over the training labels is 1."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=k).astype(float)
    w = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    w = w / max((w * counts).sum() / counts.sum(), 1e-9)
    return torch.tensor(w, dtype=torch.float32)


def _nll(logp: torch.Tensor, y: torch.Tensor, w: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Class-weighted, label-smoothed NLL over rows with y >= 0 (mean weighted by class weight)."""
    keep = y >= 0
    if not keep.any():
        return logp.new_zeros(())
    lp, t = logp[keep], y[keep]
    wt = w[t]
    loss = -(1 - smoothing) * lp.gather(1, t[:, None])[:, 0] - smoothing * lp.mean(1)
    return (loss * wt).sum() / wt.sum()


def _triplet(rep: torch.Tensor, y: torch.Tensor, margin: float) -> torch.Tensor:
    """Batch-hard triplet loss on L2-normalised representations (M2FNet's extra term)."""
    z = F.normalize(rep, dim=-1)
    d = torch.cdist(z, z)
    same = y[:, None] == y[None, :]
    pos = d.masked_fill(~same, -1.0).amax(1)
    neg = d.masked_fill(same, 1e4).amin(1)
    ok = same.sum(1) > 1
    ok &= (~same).any(1)
    if not ok.any():
        return rep.new_zeros(())
    return F.relu(pos[ok] - neg[ok] + margin).mean()


def compute_loss(
    out: Output,
    labels: torch.Tensor,
    native: torch.Tensor,
    w: torch.Tensor,
    o: FitOptions,
    sentiment: torch.Tensor | None = None,
) -> torch.Tensor:
    y = labels.reshape(-1)
    loss = _nll(out.logp.reshape(-1, out.logp.shape[-1]), y, w, o.label_smoothing)
    for m, lp in out.modality_logp.items():
        ym = torch.where(out.modality_mask[m].reshape(-1), y, -1)
        loss = loss + o.aux_weight * _nll(lp.reshape(-1, lp.shape[-1]), ym, w, o.label_smoothing)
    if out.audio_native is not None and o.native_weight > 0:
        yn = torch.where(out.modality_mask["audio"].reshape(-1), native.reshape(-1), -1)
        if (yn >= 0).any():
            wn = torch.ones(out.audio_native.shape[-1])
            # Each ensemble member learns on its own (diverse members), else the single head.
            heads = out.audio_members or [out.audio_native]
            for h in heads:
                nl = h.reshape(-1, h.shape[-1]).log_softmax(-1)
                loss = loss + o.native_weight * _nll(nl, yn, wn, o.label_smoothing) / len(heads)
    if sentiment is not None and out.sentiment is not None and o.sentiment_weight > 0:
        ys = torch.where(out.modality_mask["text"].reshape(-1), sentiment.reshape(-1), -1)
        if (ys >= 0).any():
            ls = out.sentiment.reshape(-1, 3).log_softmax(-1)
            loss = loss + o.sentiment_weight * _nll(ls, ys, torch.ones(3), o.label_smoothing)
    if o.triplet_weight > 0 and out.fused_rep is not None:
        keep = y >= 0
        loss = loss + o.triplet_weight * _triplet(
            out.fused_rep.reshape(-1, out.fused_rep.shape[-1])[keep], y[keep], o.triplet_margin
        )
    return loss


@torch.no_grad()
def predict(net: EmotionNet, convs: Sequence[Conversation], batch_utterances: int = 128) -> Predictions:
    net.eval()
    mods = net.cfg.modalities
    probs, labels, natives, nlabels, uids = [], [], [], [], []
    per_mod: dict[str, list[np.ndarray]] = {m: [] for m in mods}
    for group in batches(convs, batch_utterances):
        batch, y, yn, _ = collate(group, mods, net.cfg.audio_dim)
        out = net(batch)
        keep = batch.mask
        probs.append(out.logp[keep].exp().numpy())
        labels.append(y[keep].numpy())
        nlabels.append(yn[keep].numpy())
        uids += [it.uid for c in group for it in c.items]
        for m in mods:
            if m in out.modality_logp:
                p = out.modality_logp[m].exp().masked_fill(~out.modality_mask[m][..., None], float("nan"))
                per_mod[m].append(p[keep].numpy())
            else:
                per_mod[m].append(np.full((int(keep.sum()), len(net.cfg.labels)), np.nan, np.float32))
        if out.audio_native is not None:
            p = out.audio_native.softmax(-1).masked_fill(~out.modality_mask["audio"][..., None], float("nan"))
            natives.append(p[keep].numpy())
    return Predictions(
        probs=np.concatenate(probs),
        labels=np.concatenate(labels),
        modality={m: np.concatenate(v) for m, v in per_mod.items()},
        native=np.concatenate(natives) if natives else None,
        native_labels=np.concatenate(nlabels),
        uids=uids,
    )


def selection_score(pred: Predictions, labels: Sequence[str]) -> float:
    """Dev weighted F1: on the audio head's 8 native classes when the dev set has them (RAVDESS),
    else on the fused 7 classes."""
    if pred.native is not None and pred.native_labels is not None and (pred.native_labels >= 0).all():
        ok = ~np.isnan(pred.native).any(1)
        if ok.all():
            return scores(
                pred.native_labels, pred.native.argmax(1), [str(i) for i in range(pred.native.shape[1])]
            )["weighted_f1"]
    return scores(pred.labels, pred.probs.argmax(1), labels)["weighted_f1"]


def _owner(name: str) -> str | None:
    """The branch (modality) a parameter belongs to; None for shared parts (fusion)."""
    for m in ("text", "audio", "visual"):
        if name.startswith((f"branches.{m}.", f"{m}_")):
            return m  # text_encoder., text_members., audio_extra. included
    if name.startswith("visual_pool."):
        return "visual"
    return None


def _param_groups(net: EmotionNet, o: FitOptions) -> list[dict]:
    """Optimiser groups; with ``o.trainable`` every other branch and the fusion are frozen."""
    text, other = [], []
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        if o.trainable and _owner(name) not in o.trainable:
            p.requires_grad = False
            continue
        encoder = name.startswith("text_encoder.") or (
            name.startswith("text_members.") and ".encoder." in name
        )
        (text if encoder else other).append(p)
    groups = [{"params": other, "lr": o.lr}]
    if text:
        groups.append({"params": text, "lr": o.lr_text})
    return groups


def fit(
    net: EmotionNet,
    train: Sequence[Conversation] | Sequence[Item],
    dev: Sequence[Conversation],
    o: FitOptions,
    acted: bool = False,
    hook: ProgressHook = null_hook,
    log: Callable[[str], None] = lambda s: None,
) -> list[dict]:
    """Train ``net`` in place; leaves it holding the best (or top-k averaged) dev weights."""
    rng = random.Random(o.seed)
    torch.manual_seed(o.seed)
    np.random.seed(o.seed)
    items = [it for c in train for it in c.items] if not acted else list(train)  # type: ignore[union-attr]
    w = class_weights([it.label for it in items], len(net.cfg.labels), o.class_weight_power)
    opt = torch.optim.AdamW(_param_groups(net, o), weight_decay=o.weight_decay)
    steps_per_epoch = math.ceil(len(items) / o.batch_utterances) + 1
    total = max(1, o.epochs * steps_per_epoch)
    warm = max(1, int(o.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.02, (total - s) / max(1, total - warm)))
    )
    history: list[dict] = []
    kept: list[tuple[float, int, dict]] = []  # (score, epoch, state) of the best epochs
    best, since = -1.0, 0
    for epoch in range(o.epochs):
        t0 = time.perf_counter()
        convs = pseudo_dialogues(items, rng, o.pseudo_dialogue_len) if acted else list(train)  # type: ignore[arg-type]
        net.train()
        total_loss, n_batches = 0.0, 0
        groups = list(batches(convs, o.batch_utterances, rng))
        for k, group in enumerate(groups):
            batch, y, yn, ys = collate(group, net.cfg.modalities, net.cfg.audio_dim)
            out = net(batch, modality_dropout=o.modality_dropout)
            loss = compute_loss(out, y, yn, w, o, ys)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
            opt.step()
            sched.step()
            total_loss += float(loss.detach())
            n_batches += 1
            hook(f"epoch {epoch + 1}/{o.epochs}", completed=k + 1, total=len(groups))
        train_s = time.perf_counter() - t0
        pred = predict(net, dev)
        score = selection_score(pred, net.cfg.labels)
        dev_scores = scores(pred.labels, pred.probs.argmax(1), net.cfg.labels)
        row = {
            "epoch": epoch + 1,
            "loss": total_loss / max(1, n_batches),
            "dev_selection_score": score,
            "dev_weighted_f1": dev_scores["weighted_f1"],
            "dev_accuracy": dev_scores["accuracy"],
            "train_seconds": round(train_s, 1),
            "eval_seconds": round(time.perf_counter() - t0 - train_s, 1),
        }
        history.append(row)
        log(
            f"epoch {epoch + 1}: loss {row['loss']:.3f}, dev weighted F1 {row['dev_weighted_f1']:.4f}, "
            f"accuracy {row['dev_accuracy']:.4f}, selection {score:.4f} ({train_s:.0f} s)"
        )
        kept.append((score, epoch, copy.deepcopy(net.state_dict())))
        kept = sorted(kept, key=lambda t: -t[0])[: max(1, o.average_top)]
        if score > best + 1e-6:
            best, since = score, 0
        else:
            since += 1
            if since >= o.patience:
                log(f"early stopping: no better dev score for {o.patience} epoch(s)")
                break
    states = [s for _, _, s in kept]
    if len(states) == 1:
        net.load_state_dict(states[0])
    else:
        avg = {
            k: (sum(s[k].float() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v
            for k, v in states[0].items()
        }
        net.load_state_dict(avg)
    for row in history:
        row["kept"] = any(row["epoch"] == e + 1 for _, e, _ in kept)
    return history
