"""Temporal aggregation of per-frame class scores (the thesis's temporal softmax pooling, eq. 2.5).

Given frame scores ``o[f, c]`` (F frames x C classes), softmax pooling normalises jointly over
frames AND classes::

    p(c, f) = exp(o[f, c] / tau) / sum_{j,k} exp(o[j, k] / tau)
    p(c)    = sum_f p(c, f)        # the utterance's visual class scores
    p(f)    = sum_c p(c, f)        # each frame's importance
    p(c|f)  = p(c, f) / p(f)       # each frame's own class probabilities (drawn as bars)

With ``o = log(frame probabilities)`` and ``tau = 1`` this is exactly frame averaging (the student
system's baseline, biased to neutral because most talking frames look neutral); ``tau < 1``
moves towards max pooling, so the few frames that show an expression clearly dominate. ``tau`` is
learnable inside the fusion model, together with an affine map of the frame scores.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

DEFAULT_TAU = 0.5
"""Temperature used when the pooling is not trained (faces stage, annotate without a model)."""


class Pooled(NamedTuple):
    classes: torch.Tensor  # (..., C) p(c), sums to 1 over C (0 where every frame is masked)
    importance: torch.Tensor  # (..., F) p(f), sums to 1 over valid frames
    frame_probs: torch.Tensor  # (..., F, C) p(c|f)


def temporal_softmax_pool(
    scores: torch.Tensor, mask: torch.Tensor | None = None, tau: float | torch.Tensor = DEFAULT_TAU
) -> Pooled:
    """Pool ``scores`` (..., F, C) over frames; ``mask`` (..., F) is True for valid frames."""
    z = scores / tau
    if mask is not None:
        z = z.masked_fill(~mask[..., None], float("-inf"))
    flat = z.flatten(-2)  # (..., F*C)
    # A sequence with no valid frame gives all -inf: softmax would be NaN, so pool zeros instead.
    empty = torch.isinf(flat).all(-1, keepdim=True)
    joint = torch.softmax(flat.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0).view_as(z)
    classes = joint.sum(-2)
    importance = joint.sum(-1)
    frame_probs = torch.softmax(scores, dim=-1)
    return Pooled(classes, importance, frame_probs)


def mean_pool(probs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Frame averaging of probabilities (..., F, C) -> (..., C): the baseline softmax pooling generalises."""
    if mask is None:
        return probs.mean(-2)
    w = mask.to(probs.dtype)[..., None]
    return (probs * w).sum(-2) / w.sum(-2).clamp_min(1.0)


class TemporalSoftmaxPooling(nn.Module):
    """Trainable softmax pooling: an affine map of frame scores, then joint softmax with learnt tau.

    Input: frame log-probabilities or logits (B, F, C) and a mask (B, F). The affine map starts as
    the identity (so an untrained module equals ``temporal_softmax_pool`` at ``tau``) and can learn
    to correct a frame classifier's biases (e.g. talking mouths read as fear).
    """

    def __init__(self, n_classes: int, tau: float = DEFAULT_TAU) -> None:
        super().__init__()
        self.calibrate = nn.Linear(n_classes, n_classes)
        nn.init.eye_(self.calibrate.weight)
        nn.init.zeros_(self.calibrate.bias)
        self.log_tau = nn.Parameter(torch.tensor(float(np.log(tau))))

    @property
    def tau(self) -> torch.Tensor:
        return self.log_tau.exp().clamp(0.05, 5.0)

    def forward(self, scores: torch.Tensor, mask: torch.Tensor | None = None) -> Pooled:
        return temporal_softmax_pool(self.calibrate(scores), mask, self.tau)


def pool_frame_probs(frame_probs: np.ndarray, tau: float = DEFAULT_TAU) -> tuple[np.ndarray, np.ndarray]:
    """NumPy convenience: (F, C) frame probabilities -> (utterance probs (C,), frame importance (F,))."""
    if len(frame_probs) == 0:
        raise ValueError("no frames to pool")
    logp = torch.from_numpy(np.log(np.clip(np.asarray(frame_probs, dtype=np.float32), 1e-6, 1.0)))
    pooled = temporal_softmax_pool(logp, tau=tau)
    return pooled.classes.numpy(), pooled.importance.numpy()
