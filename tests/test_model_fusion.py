"""The fusion network on random features (no pretrained weights: audio and visual branches only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emocli.model.config import ModelConfig
from emocli.model.fusion import Batch, EmotionNet, _drop_modalities
from emocli.model.pooling import temporal_softmax_pool

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _net(fusion: str = "attention", seed: int = 0) -> EmotionNet:
    torch.manual_seed(seed)
    cfg = ModelConfig(modalities=("audio", "visual"), hidden=32, heads=2, audio_dim=12, fusion=fusion)
    return EmotionNet(cfg).eval()


def _batch(b: int = 2, n: int = 5, f: int = 4, seed: int = 1) -> Batch:
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(b, n, f, 7, generator=g), -1)
    return Batch(
        mask=torch.ones(b, n, dtype=torch.bool),
        speakers=torch.randint(0, 2, (b, n), generator=g),
        audio=torch.randn(b, n, 12, generator=g),
        audio_mask=torch.ones(b, n, dtype=torch.bool),
        visual=probs,
        visual_frames=torch.ones(b, n, f, dtype=torch.bool),
        visual_mask=torch.ones(b, n, dtype=torch.bool),
    )


@pytest.mark.parametrize("fusion", ["attention", "late"])
def test_a_missing_modality_is_a_mask_not_data(fusion: str) -> None:
    net = _net(fusion)
    batch = _batch()
    batch.audio_mask[0, 2] = False
    with torch.no_grad():
        ref = net(batch)
        # Whatever sits in a masked slot must not change any output: it is not data.
        batch.audio[0, 2] = 1e3
        again = net(batch)
    assert torch.allclose(ref.logp, again.logp, atol=1e-5)
    assert torch.allclose(ref.modality_logp["visual"], again.modality_logp["visual"], atol=1e-5)
    assert not ref.modality_mask["audio"][0, 2]
    # The fusion gives the missing modality no weight.
    assert ref.fusion_weights is not None and ref.fusion_weights[0, 2, 1] == 0  # audio slot
    # An utterance with only one modality: late fusion returns that modality's probabilities.
    if fusion == "late":
        assert torch.allclose(ref.logp[0, 2].exp(), ref.modality_logp["visual"][0, 2].exp(), atol=1e-5)


def test_padding_and_batch_mates_do_not_change_a_dialogue() -> None:
    net = _net()
    batch = _batch(b=2, n=6)
    short = Batch(**{k: (v[:1, :3] if isinstance(v, torch.Tensor) else v) for k, v in vars(batch).items()})
    batch.mask[0, 3:] = False
    with torch.no_grad():
        both = net(batch).logp[0, :3]
        alone = net(short).logp[0]
    assert torch.allclose(both, alone, atol=1e-5)


def test_long_dialogues_run_without_nan() -> None:
    # Relative positions are clipped, so a 300-utterance video is in range for a MELD-trained model.
    with torch.no_grad():
        out = _net()(_batch(b=1, n=300, f=2))
    assert torch.isfinite(out.logp).all()
    assert torch.allclose(out.logp.exp().sum(-1), torch.ones(1, 300), atol=1e-4)


def test_audio_head_folds_calm_into_neutral() -> None:
    net = _net()
    with torch.no_grad():
        out = net(_batch())
    assert out.audio_native is not None and out.audio_native.shape[-1] == 8
    p8 = out.audio_native.softmax(-1)
    p7 = out.modality_logp["audio"].exp()
    assert torch.allclose(p7[..., 0], p8[..., 0] + p8[..., 7], atol=1e-5)
    assert torch.allclose(p7[..., 1:], p8[..., 1:7], atol=1e-5)


def test_untrained_visual_branch_returns_softmax_pooled_frame_probabilities() -> None:
    net = _net()
    batch = _batch()
    batch.visual_frames[1, 1, 2:] = False  # frames beyond 2 are padding for this utterance
    with torch.no_grad():
        out = net(batch)
    ref = temporal_softmax_pool(batch.visual.log(), batch.visual_frames, tau=net.cfg.visual_tau)
    assert torch.allclose(out.modality_logp["visual"].exp(), ref.classes, atol=1e-4)
    assert out.visual_importance is not None
    assert out.visual_importance[1, 1, 2:].abs().max() == 0


def test_modality_dropout_keeps_at_least_one_available_modality() -> None:
    torch.manual_seed(0)
    a = torch.rand(50, 20) < 0.7
    v = torch.rand(50, 20) < 0.5
    kept = _drop_modalities({"audio": a, "visual": v}, p=0.9)
    had = a | v
    has = kept["audio"] | kept["visual"]
    assert torch.equal(has, had)  # nothing with data ends up with none
    assert not (kept["audio"] & ~a).any() and not (kept["visual"] & ~v).any()  # never invents data
    assert kept["audio"].sum() < a.sum()  # and it does drop


def test_training_step_reduces_loss_and_dropout_is_train_only() -> None:
    from emocli.training.loop import FitOptions, compute_loss

    net = _net()
    batch = _batch(b=4, n=6)
    y = torch.randint(0, 7, (4, 6), generator=torch.Generator().manual_seed(3))
    native = torch.full((4, 6), -1)
    w = torch.ones(7)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    net.train()
    first = None
    for _ in range(40):
        loss = compute_loss(net(batch, modality_dropout=0.3), y, native, w, FitOptions(label_smoothing=0.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.5 * first
    net.eval()
    with torch.no_grad():
        a = net(batch, modality_dropout=0.9).logp
        b = net(batch, modality_dropout=0.9).logp
    assert torch.equal(a, b)  # no dropout of any kind at inference
    assert np.isfinite(a.numpy()).all()


def test_audio_ensemble_averages_its_members_probabilities() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(modalities=("audio",), hidden=16, heads=2, audio_dim=12, fusion="late", audio_members=3)
    net = EmotionNet(cfg).eval()
    with torch.no_grad():
        out = net(_batch())
    assert len(out.audio_members) == 3
    mean = torch.stack([m.softmax(-1) for m in out.audio_members]).mean(0)
    assert out.audio_native is not None
    assert torch.allclose(out.audio_native.softmax(-1), mean, atol=1e-5)
