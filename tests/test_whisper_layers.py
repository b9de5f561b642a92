"""Inner Whisper encoder layers through truncated CTranslate2 copies of the bundled base model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emocli.errors import EmocliError, ModelUnavailableError
from emocli.features.audio import WhisperEncoder, make_audio_encoder, parse_whisper_layers, whisper_version
from emocli.features.whisper_layers import (
    _check_header,
    _variables,
    encoder_layer_count,
    truncated_whisper_dir,
)
from emocli.speech.whisper_model import bundled_whisper_dir
from tests.media_factory import tone


def _weights(model_bin: Path) -> dict[str, bytes]:
    with model_bin.open("rb") as f:
        _check_header(f, model_bin)
        spans = [(name, offset, n) for name, _, offset, n in _variables(f)]
        out = {}
        for name, offset, n in spans:
            f.seek(offset)
            out[name] = f.read(n)
    return out


@pytest.fixture(scope="module")
def base() -> Path:
    return bundled_whisper_dir()


def test_a_truncated_copy_keeps_the_first_layers_byte_for_byte(base: Path) -> None:
    assert encoder_layer_count(base / "model.bin") == 6
    cut = truncated_whisper_dir(base, 2)
    assert encoder_layer_count(cut / "model.bin") == 2
    src, dst = _weights(base / "model.bin"), _weights(cut / "model.bin")
    assert any(k.startswith("encoder/layer_1/") for k in dst)
    assert not any(k.startswith(("encoder/layer_2/", "decoder/layer_1/")) for k in dst)
    assert "encoder/layer_norm/gamma" in dst and "decoder/embeddings/weight" in dst
    assert all(dst[k] == src[k] for k in dst)  # nothing kept is altered
    assert (cut / "tokenizer.json").read_bytes() == (base / "tokenizer.json").read_bytes()
    assert truncated_whisper_dir(base, 2) == cut  # derived once, then reused


def test_a_copy_with_every_encoder_layer_encodes_exactly_like_the_model(base: Path) -> None:
    # Checks the writer: a wrong byte anywhere in the rewritten file would change the states.
    from faster_whisper import WhisperModel

    full = WhisperEncoder()
    copy = WhisperEncoder(model=WhisperModel(str(truncated_whisper_dir(base, 6)), compute_type="int8"))
    clip = tone(1.5, 330)
    np.testing.assert_array_equal(copy.frames(clip), full.frames(clip))


def test_inner_layers_give_other_states_side_by_side() -> None:
    full = WhisperEncoder()
    first = make_audio_encoder("whisper:1")
    both = make_audio_encoder("whisper:1,6")
    clip = tone(2.0, 250)
    f1, f6, f16 = first.frames(clip), full.frames(clip), both.frames(clip)
    assert f1.shape == f6.shape == (100, 512) and f16.shape == (100, 1024)
    assert both.dim == 1024
    np.testing.assert_array_equal(f16[:, :512], f1)
    np.testing.assert_array_equal(f16[:, 512:], f6)
    assert np.abs(f1 - f6).mean() > 0.1  # layer 1 is not the last layer under another name
    assert first.version == whisper_version("base", (1,)) != full.version


def test_layer_names_are_checked() -> None:
    assert parse_whisper_layers("whisper") == ()
    assert parse_whisper_layers("whisper:1,6") == (1, 6)
    assert parse_whisper_layers("hubert") is None
    for bad in ("whisper:", "whisper:0", "whisper:a", "whisper:2,2"):
        with pytest.raises(EmocliError, match="without repeats"):
            parse_whisper_layers(bad)
    with pytest.raises(ModelUnavailableError, match="layers 1-6"):
        make_audio_encoder("whisper:7")
