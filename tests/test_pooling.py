from __future__ import annotations

import numpy as np
import pytest
import torch

from emocli.model.pooling import TemporalSoftmaxPooling, mean_pool, pool_frame_probs, temporal_softmax_pool


def _frames() -> np.ndarray:
    # 5 neutral-looking frames and one frame that clearly shows joy: (F=6, C=3)
    p = np.array([[0.7, 0.2, 0.1]] * 5 + [[0.05, 0.9, 0.05]], dtype=np.float32)
    return p


def test_tau_one_on_log_probs_equals_frame_averaging() -> None:
    p = torch.from_numpy(_frames())
    pooled = temporal_softmax_pool(p.log(), tau=1.0)
    assert torch.allclose(pooled.classes, mean_pool(p), atol=1e-6)


def test_low_temperature_lets_the_expressive_frame_win_and_marks_it_important() -> None:
    avg = _frames().mean(0)
    assert avg.argmax() == 0  # averaging is biased to neutral
    classes, importance = pool_frame_probs(_frames(), tau=0.1)
    assert classes.argmax() == 1
    assert importance.argmax() == 5
    assert classes.sum() == pytest.approx(1.0, abs=1e-5) and importance.sum() == pytest.approx(1.0, abs=1e-5)


def test_mask_excludes_frames_and_empty_sequences_pool_to_zero() -> None:
    scores = torch.randn(2, 4, 7)
    mask = torch.tensor([[True, True, False, False], [False, False, False, False]])
    pooled = temporal_softmax_pool(scores, mask)
    assert torch.all(pooled.importance[0, 2:] == 0)
    assert pooled.classes[0].sum().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.all(pooled.classes[1] == 0) and not torch.isnan(pooled.classes).any()


def test_trainable_module_starts_as_plain_pooling_and_learns() -> None:
    torch.manual_seed(0)
    mod = TemporalSoftmaxPooling(7, tau=0.5)
    scores = torch.randn(3, 5, 7)
    assert torch.allclose(mod(scores).classes, temporal_softmax_pool(scores, tau=0.5).classes, atol=1e-6)
    target = torch.tensor([1, 1, 1])
    opt = torch.optim.SGD(mod.parameters(), lr=0.5)
    before = -mod(scores).classes[:, 1].log().mean().item()
    for _ in range(20):
        loss = -mod(scores).classes[torch.arange(3), target].clamp_min(1e-9).log().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < before
