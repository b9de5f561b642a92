"""Inner-layer states of a CTranslate2 Whisper encoder, through a truncated copy of the model.

CTranslate2 returns only the encoder's last layer. Its encoder is built from as many layers as the
model file holds (``encoder/layer_0``, ``encoder/layer_1``, ... until one is missing), so a copy of
``model.bin`` without the layers from ``L`` on is a model whose encoder output is the states after
layer ``L`` (then the encoder's final layer norm). Lower layers keep more of how a thing is said
(pitch, energy, voice quality); the last layers are tuned to what is said. The decoder is cut to
its first layer: the copy is only ever used to encode, and CTranslate2 needs one layer to load it.

The copy is derived once into the emocli cache (for Whisper base: about 80 MB, two seconds) and
keyed by the source file's size and modification time; a stamp file marks it complete.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from emocli.errors import ModelUnavailableError
from emocli.fileio import atomic_output
from emocli.models_registry import cache_dir

_BINARY_VERSION = 6  # CTranslate2's model.bin layout version this reader understands


def _read(f: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    raw = f.read(size)
    if len(raw) != size:
        raise ValueError("truncated model.bin")
    return int(struct.unpack(fmt, raw)[0])


def _read_str(f: BinaryIO) -> str:
    n = _read(f, "<H")  # length including the trailing NUL
    return f.read(n)[:-1].decode("utf-8")


def _write_str(out: BinaryIO, s: str) -> None:
    raw = s.encode("utf-8")
    out.write(struct.pack("<H", len(raw) + 1) + raw + b"\0")


def _variables(f: BinaryIO) -> Iterator[tuple[str, bytes, int, int]]:
    """Yield (name, header bytes after the name, data offset, data size) of each variable."""
    for _ in range(_read(f, "<I")):
        name = _read_str(f)
        rank = _read(f, "<B")
        dims = [_read(f, "<I") for _ in range(rank)]
        dtype = _read(f, "<B")
        nbytes = _read(f, "<I")
        header = struct.pack(f"<B{rank}IBI", rank, *dims, dtype, nbytes)
        offset = f.tell()
        f.seek(nbytes, 1)
        yield name, header, offset, nbytes


def _layer_index(name: str, stack: str) -> int | None:
    """``encoder/layer_3/ffn/...`` -> 3 for stack ``encoder``; None for other variables."""
    parts = name.split("/")
    if len(parts) > 1 and parts[0] == stack and parts[1].startswith("layer_") and parts[1][6:].isdigit():
        return int(parts[1][6:])
    return None


def _keep(name: str, encoder_layers: int) -> bool:
    enc = _layer_index(name, "encoder")
    dec = _layer_index(name, "decoder")
    return (enc is None or enc < encoder_layers) and (dec is None or dec < 1)


def encoder_layer_count(model_bin: Path) -> int:
    """Number of encoder layers in a CTranslate2 Whisper ``model.bin``."""
    with Path(model_bin).open("rb") as f:
        _check_header(f, model_bin)
        found = {_layer_index(name, "encoder") for name, *_ in _variables(f)}
    found.discard(None)
    return len(found)


def _check_header(f: BinaryIO, path: Path) -> tuple[str, int]:
    version = _read(f, "<I")
    if version != _BINARY_VERSION:
        raise ModelUnavailableError(
            f"{path} is a CTranslate2 model file of layout version {version}; inner Whisper layers "
            f"can be read from version {_BINARY_VERSION} only.",
            "Use --audio-encoder whisper (the last layer), or convert the model with a current ctranslate2.",
        )
    return _read_str(f), _read(f, "<I")


def write_truncated(src: Path, dst: Path, encoder_layers: int) -> None:
    """Copy CTranslate2 ``src`` model.bin to ``dst`` keeping encoder layers ``< encoder_layers``."""
    with Path(src).open("rb") as f:
        name, revision = _check_header(f, src)
        start = f.tell()
        kept = [v for v in _variables(f) if _keep(v[0], encoder_layers)]
        f.seek(start)
        for _ in _variables(f):  # skip to the aliases, which follow the last variable
            pass
        aliases = [(_read_str(f), _read_str(f)) for _ in range(_read(f, "<I"))]
        with atomic_output(dst) as tmp, tmp.open("wb") as out:
            out.write(struct.pack("<I", _BINARY_VERSION))
            _write_str(out, name)
            out.write(struct.pack("<II", revision, len(kept)))
            for var, header, offset, nbytes in kept:
                _write_str(out, var)
                out.write(header)
                f.seek(offset)
                out.write(f.read(nbytes))
            kept_names = {v[0] for v in kept}
            live = [(a, b) for a, b in aliases if b in kept_names]
            out.write(struct.pack("<I", len(live)))
            for alias, target in live:
                _write_str(out, alias)
                _write_str(out, target)


def truncated_whisper_dir(model_dir: Path, encoder_layers: int) -> Path:
    """A CTranslate2 Whisper folder whose encoder stops after ``encoder_layers`` layers (cached)."""
    model_dir = Path(model_dir)
    model_bin = model_dir / "model.bin"
    total = encoder_layer_count(model_bin)
    if not 1 <= encoder_layers <= total:
        raise ModelUnavailableError(
            f"Whisper layer {encoder_layers} does not exist: {model_dir.name} has encoder layers 1-{total}.",
            f"Choose a layer from 1 to {total} (for example --audio-encoder whisper:1).",
        )
    st = model_bin.stat()
    key = f"{model_dir.name}-{st.st_size}-{st.st_mtime_ns}-L{encoder_layers}"
    target = cache_dir() / "whisper-layers" / key
    stamp = target / ".complete"
    if stamp.is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for f in model_dir.iterdir():
        if f.is_file() and f.name != "model.bin" and not f.name.startswith("."):
            shutil.copyfile(f, target / f.name)
    write_truncated(model_bin, target / "model.bin", encoder_layers)
    stamp.write_text("ok\n")
    return target
