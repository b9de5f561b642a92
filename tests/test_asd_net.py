"""Light-ASD: the network (random weights in the fast tests), its MFCC front end, and its weights.

The real weights are never committed: tests take them from ``$EMOCLI_MODELS_DIR/light-asd``
(default ``../shared/models``) and skip cleanly when they are absent.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from emocli.errors import ModelUnavailableError
from emocli.faces import asd_weights
from emocli.faces.asd_net import ASD_FPS, LightASD, align_audio, load_asd, mfcc, random_asd
from emocli.faces.asd_weights import ASD_FILE, ASD_SHA256, asd_available, cached_asd_path

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("EMOCLI_MODELS_DIR", ROOT.parent / "shared" / "models")).expanduser()


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test gets an empty model cache and no weights from the user's environment.
    monkeypatch.setenv("EMOCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("EMOCLI_ASD_WEIGHTS", raising=False)


@pytest.fixture(scope="module")
def real_weights() -> Path:
    path = MODELS_DIR / "light-asd" / ASD_FILE
    if not path.is_file():
        pytest.skip(f"Light-ASD weights not found at {path} (set EMOCLI_MODELS_DIR)")
    return path


def inputs(b: int, t: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(b, 4 * t, 13, generator=g) * 5
    video = torch.randint(0, 256, (b, t, 112, 112), generator=g, dtype=torch.uint8)
    return audio, video


# ---------------------------------------------------------------------------- network
def test_random_network_gives_one_logit_per_frame_and_is_deterministic() -> None:
    torch.set_num_threads(1)
    assert ASD_FPS == 25
    net = random_asd(seed=3)
    assert not net.training
    audio, video = inputs(2, 25)
    with torch.no_grad():
        out = net(audio, video)
        again = net(audio, video)
        same_seed = random_asd(seed=3)(audio, video)
        other_seed = random_asd(seed=4)(audio, video)
    assert out.shape == (2, 25) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert torch.equal(out, again) and torch.equal(out, same_seed)
    assert not torch.allclose(out, other_seed)
    assert out.std() > 0  # not a constant: the random BatchNorm statistics keep signals alive


def test_uint8_and_float_video_agree_and_batching_does_not_mix_tracks() -> None:
    net = random_asd()
    audio, video = inputs(3, 10, seed=1)
    with torch.no_grad():
        batched = net(audio, video)
        single = net(audio[1:2], video[1:2].float())
    torch.testing.assert_close(batched[1:2], single, rtol=1e-4, atol=1e-4)


def test_video_drives_the_score_of_each_frame_and_audio_matters() -> None:
    net = random_asd()
    audio, video = inputs(1, 12, seed=2)
    with torch.no_grad():
        base = net(audio, video)
        other_video = video.clone()
        other_video[:, 6:] = 255 - other_video[:, 6:]
        assert not torch.allclose(base, net(audio, other_video))
        assert not torch.allclose(base, net(audio * 0.1, video))


def test_audio_is_aligned_to_four_frames_per_video_frame() -> None:
    net = random_asd()
    audio, video = inputs(1, 8, seed=3)
    short = audio[:, :-1]  # what mfcc gives for exactly 8 / 25 s of sound: 4T - 1 frames
    padded = align_audio(short, 8)
    assert padded.shape == (1, 32, 13)
    torch.testing.assert_close(padded[:, -1], short[:, -1])
    with torch.no_grad():
        torch.testing.assert_close(net(short, video), net(padded, video))
        longer = torch.cat([audio, torch.randn(1, 7, 13)], dim=1)
        torch.testing.assert_close(net(longer, video), net(audio, video))


def test_temporal_convolutions_computed_in_2d_equal_conv3d() -> None:
    from emocli.faces.asd_net import _over_time

    g = torch.Generator().manual_seed(0)
    for k in (1, 3, 5):
        conv = torch.nn.Conv3d(8, 16, (k, 1, 1), padding=(k // 2, 0, 0), bias=False)
        x = torch.randn(2, 8, 9, 6, 7, generator=g)
        with torch.no_grad():
            torch.testing.assert_close(_over_time(conv, x), conv(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "audio_shape, video_shape",
    [((1, 32, 13), (1, 8, 64, 64)), ((1, 32, 12), (1, 8, 112, 112)), ((2, 32, 13), (1, 8, 112, 112))],
)
def test_wrong_shapes_are_refused(audio_shape: tuple[int, ...], video_shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        LightASD()(torch.zeros(audio_shape), torch.zeros(video_shape))


# ---------------------------------------------------------------------------- MFCC
def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    x = sum(np.sin(2 * np.pi * k * 130 * t) / k for k in range(1, 12)) * (
        0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    )
    x = 0.2 * x / np.abs(x).max() + 0.01 * rng.normal(size=t.size)
    return np.round(x * 32767).astype(np.int16)  # what upstream reads from a wav file


def test_mfcc_frames_and_scale() -> None:
    one_second = speechlike(1.0).astype(np.float32) / 32768
    m = mfcc(one_second)
    assert m.shape == (99, 13) and m.dtype == np.float32  # 1 + ceil((16000 - 400) / 160)
    assert mfcc(np.zeros(0, np.float32)).shape == (0, 13)
    assert mfcc(one_second[:100]).shape == (1, 13)  # shorter than a window: one zero-padded frame
    # Column 0 is the log energy: halving the amplitude lowers it by log(4); the rest is scale-free.
    half = mfcc(one_second * 0.5)
    np.testing.assert_allclose(m[:, 0] - half[:, 0], np.log(4.0), atol=1e-3)
    np.testing.assert_allclose(m[:, 1:], half[:, 1:], atol=1e-3)


def test_mfcc_equals_python_speech_features_on_int16_samples() -> None:
    psf = pytest.importorskip("python_speech_features")
    for seconds in (0.02, 0.5, 2.37):
        samples = speechlike(seconds, seed=1)
        ref = psf.mfcc(samples, 16000, numcep=13, winlen=0.025, winstep=0.010)
        ours = mfcc(samples.astype(np.float32) / 32768)
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4)


# ---------------------------------------------------------------------------- weights
def test_offline_without_weights_fails_fast_naming_the_fix() -> None:
    assert not asd_available()
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as e:
        load_asd()
    assert time.perf_counter() - t0 < 1.0
    assert "emocli models install asd --from" in str(e.value)
    assert "offline" in str(e.value)
    assert not cached_asd_path().exists()


def test_a_wrong_or_truncated_file_is_refused_before_unpickling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = tmp_path / "wrong.model"
    # A pickle that would run code if it were ever loaded without the checksum gate.
    wrong.write_bytes(b"\x80\x04cbuiltins\nexec\n" + os.urandom(4_175_289 - 16))
    loads: list[object] = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a))
    with pytest.raises(ModelUnavailableError, match="not the Light-ASD weights file"):
        load_asd(wrong)
    short = tmp_path / "short.model"
    short.write_bytes(b"PK\x03\x04" + os.urandom(1000))  # the start of a PyTorch (zip) file
    with pytest.raises(ModelUnavailableError, match="truncated"):
        load_asd(short)
    with pytest.raises(ModelUnavailableError, match="do not exist"):
        load_asd(tmp_path / "absent.model")
    monkeypatch.setenv("EMOCLI_ASD_WEIGHTS", str(tmp_path / "absent.model"))
    with pytest.raises(ModelUnavailableError, match="EMOCLI_ASD_WEIGHTS"):
        load_asd()
    assert loads == []
    assert not asd_available()


def test_a_download_with_the_wrong_content_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    bad = tmp_path / "bad.model"
    bad.write_bytes(os.urandom(100))
    with pytest.raises(ModelUnavailableError, match="not the Light-ASD weights file"):
        asd_weights.download_asd_weights(bad.as_uri())  # file:// exercises the download path offline
    assert not cached_asd_path().parent.exists()


def test_real_weights_load_strictly(real_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = torch.load(real_weights, map_location="cpu", weights_only=True)
    net = load_asd(real_weights)
    assert not net.training
    ours = net.state_dict()
    assert set(ours) == {k for k in state if not k.startswith("lossV.")}
    for k, v in ours.items():
        assert torch.equal(v, state[k]), k
    assert sum(p.numel() for p in net.parameters()) == 1_021_378
    # The same file found through the environment variable, and through the cache.
    monkeypatch.setenv("EMOCLI_ASD_WEIGHTS", str(real_weights))
    assert asd_available()
    monkeypatch.delenv("EMOCLI_ASD_WEIGHTS")
    assert not asd_available()
    path = asd_weights.download_asd_weights(real_weights.as_uri())
    assert path == cached_asd_path() and hashlib.sha256(path.read_bytes()).hexdigest() == ASD_SHA256
    assert asd_available()
    torch.testing.assert_close(load_asd().state_dict(), ours)


def test_real_weights_give_finite_scores_that_read_lip_motion(real_weights: Path) -> None:
    torch.set_num_threads(1)
    net = load_asd(real_weights)
    rng = np.random.default_rng(0)
    # A grey "face" whose dark "mouth" opens and closes 4 times a second, against the same face
    # frozen; the network mostly reads lip motion (see the weights' README).
    t = 50
    yy, xx = np.mgrid[:112, :112]
    face = 150 - 40 * (((yy - 50) / 45) ** 2 + ((xx - 56) / 38) ** 2 > 1)
    frames = []
    for i in range(t):
        opening = 3 + 9 * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * i / ASD_FPS))
        mouth = ((yy - 80) / opening) ** 2 + ((xx - 56) / 16) ** 2 <= 1
        frames.append(np.where(mouth, 40, face) + rng.normal(0, 2, face.shape))
    moving = torch.tensor(np.clip(frames, 0, 255), dtype=torch.float32)[None]
    still = moving[:, :1].expand(-1, t, -1, -1)
    audio = torch.from_numpy(mfcc(speechlike(t / ASD_FPS).astype(np.float32) / 32768))[None]
    with torch.no_grad():
        s_moving, s_still = net(audio, moving), net(audio, still)
    assert s_moving.shape == (1, t) and torch.isfinite(s_moving).all()
    assert s_still.mean() < 0  # a face that does not move does not speak
    assert s_moving.mean() > s_still.mean() + 1.5  # measured: about -0.0 against -3.0


def upstream_crop(grey: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Columbia_test.py's face crop: a square of side 2.8 bs (bs = half the box's longer side),
    its top bs above the box centre, on a frame padded with grey 110; 224 px, centre 112 px."""
    import cv2

    x0, y0, x1, y1 = box
    bs, cx, cy = max(x1 - x0, y1 - y0) / 2, (x0 + x1) / 2, (y0 + y1) / 2
    pad = int(bs * 1.8)
    g = np.pad(grey, pad, constant_values=110)
    my, mx = cy + pad, cx + pad
    face = g[int(my - bs) : int(my + bs * 1.8), int(mx - bs * 1.4) : int(mx + bs * 1.4)]
    return cv2.resize(face, (224, 224))[56:168, 56:168]


@pytest.mark.slow
@pytest.mark.data
def test_real_weights_on_a_real_talking_head(real_weights: Path, data_dir: Path) -> None:
    from emocli.faces.detect import create_detector
    from emocli.media import load_audio, read_frames

    clip = data_dir / "clips" / "face_1.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    torch.set_num_threads(1)
    detector = create_detector("blazeface")
    crops, box = [], None
    for i, frame in enumerate(read_frames(clip, fps=ASD_FPS)):
        if i == 75:  # 3 s
            break
        if i % 5 == 0:  # boxes at 5 fps are enough (the weights' README)
            found = detector.detect(frame.image)
            box = found.boxes[int(np.argmax(found.scores))] if len(found) else box
        assert box is not None
        grey = (frame.image @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
        crops.append(upstream_crop(grey, box))
    video = torch.from_numpy(np.stack(crops))[None]
    t = video.shape[1]
    audio = torch.from_numpy(mfcc(load_audio(clip)[: t * 640]))[None]
    net = load_asd(real_weights)
    with torch.no_grad():
        talking = net(audio, video)[0]
        frozen = net(audio, video[:, :1].expand(-1, t, -1, -1))[0]
    # Measured: every frame >= 0 (mean about 4) while the person talks; every frame < 0 when the
    # same face is frozen.
    assert (talking >= 0).float().mean() > 0.9
    assert (frozen < 0).float().mean() > 0.9
