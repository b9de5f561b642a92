"""Checkpoints: a folder with ``config.json`` and ``model.safetensors``; pickles are refused.

The text encoder's pretrained base is not saved: only the fine-tuned top layers' deltas
(``text_delta*``: matrices as int8 per row with float16 scales, vectors float16), applied on load
to the base from its own package; extra text members' deltas are saved alike (``text{i}_delta*``).
Other weights are saved in float16 (inference precision is unchanged in practice and the shipped
files stay small); the audio normalisation statistics stay float32.

``audio_speaker_mean`` (optional, format 4): the mean over the training speakers of each speaker's
mean pooled audio vector, the prior annotate standardises a little-heard speaker against
(``emocli.model.inference``). A model without it (written before) uses ``audio_mean`` there. An
emocli older than format 4 refuses a model with it ("newer emocli") rather than failing on an
unexpected tensor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from emocli.errors import InputError, ModelUnavailableError
from emocli.fileio import atomic_output
from emocli.model.config import CONFIG_NAME, FORMAT_VERSION, MODALITIES, WEIGHTS_NAME, ModelConfig
from emocli.model.fusion import EmotionNet

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".joblib")
SPEAKER_MEAN = "audio_speaker_mean"  # optional buffer, attached by set_speaker_mean / load_model
KEEP_FP32 = ("audio_mean", "audio_std", SPEAKER_MEAN)


def default_model_dir() -> Path:
    """The shipped default weights inside the package."""
    return Path(__file__).resolve().parents[1] / "weights" / "emotion"


def build_model(cfg: ModelConfig) -> EmotionNet:
    """A fresh network for ``cfg`` (loads the text encoder's pretrained base when text is used)."""
    text_encoder = None
    if "text" in cfg.modalities:
        from emocli.features.text import resolve_text_backbone
        from emocli.model.text_encoder import TextEncoder

        path, version = resolve_text_backbone(cfg.text_backbone)
        text_encoder = TextEncoder(path, cfg.text_trainable_layers)
        members = tuple(TextEncoder(path, int(m["text_trainable_layers"])) for m in cfg.text_members)
        cfg.text_backbone_version = cfg.text_backbone_version or version
        cfg.text_dim = text_encoder.dim
        return EmotionNet(cfg, text_encoder, members)
    return EmotionNet(cfg, text_encoder)


def _text_encoders(net: EmotionNet) -> list[tuple[str, torch.nn.Module]]:
    """(delta key prefix, encoder) of the main text encoder and of each extra text member."""
    out = [("text", net.text_encoder)] if net.text_encoder is not None else []
    return out + [(f"text{i + 1}", t.encoder) for i, t in enumerate(net.text_members)]


def _is_encoder_key(k: str) -> bool:
    """Weights of a text encoder (its pretrained base is never saved; its deltas are)."""
    return k.startswith("text_encoder.") or (k.startswith("text_members.") and ".encoder." in k)


def _is_delta_key(k: str) -> bool:
    return re.match(r"text\d*_delta(_q|_s)?\.", k) is not None


def save_model(net: EmotionNet, folder: Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` into ``folder`` (created if needed), each atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state: dict[str, torch.Tensor] = {}
    for k, v in net.state_dict().items():
        if _is_encoder_key(k):
            continue
        keep = v.is_floating_point() and not k.endswith(KEEP_FP32)
        state[k] = (v.to(torch.float16) if keep else v).contiguous().cpu()
    for prefix, encoder in _text_encoders(net):
        for k, v in encoder.delta_state().items():
            if v.dim() == 2:
                # Matrices: int8 per output row (absmax / 127 scale in float16): half the bytes of
                # float16, and the rounding error stays below 0.4% of each row's largest change.
                scale = v.float().abs().amax(1, keepdim=True).clamp_min(1e-12) / 127.0
                state[f"{prefix}_delta_q.{k}"] = (v.float() / scale).round().to(torch.int8).contiguous().cpu()
                state[f"{prefix}_delta_s.{k}"] = scale.to(torch.float16).contiguous().cpu()
            else:
                state[f"{prefix}_delta.{k}"] = v.contiguous().cpu()
    if net.text_encoder is not None:
        net.cfg.text_base_fingerprint = net.text_encoder.fingerprint()
    for member, t in zip(net.cfg.text_members, net.text_members, strict=True):
        member["text_base_fingerprint"] = t.encoder.fingerprint()
    # Older emocli versions cannot run text members: format 2 makes them say "upgrade" instead.
    net.cfg.format_version = format_version(net.cfg, SPEAKER_MEAN in state)
    with atomic_output(folder / WEIGHTS_NAME) as tmp:
        meta = {"format": "emocli-emotion", "format_version": str(net.cfg.format_version)}
        save_file(state, str(tmp), metadata=meta)
    with atomic_output(folder / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(net.cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    return folder


def format_version(cfg: ModelConfig, speaker_mean: bool) -> int:
    """The oldest checkpoint format that holds what this model needs: 4 with ``audio_speaker_mean``,
    3 with a text window, 2 with text members, else 1."""
    return 4 if speaker_mean else 3 if cfg.text_window else 2 if cfg.text_members else 1


def set_speaker_mean(net: EmotionNet, mean: torch.Tensor) -> None:
    """Attach (or replace) the model's ``audio_speaker_mean`` buffer, (audio_dim,) float32."""
    mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
    if mean.shape[0] != net.cfg.audio_dim:
        raise ValueError(f"speaker mean has {mean.shape[0]} values, the audio head reads {net.cfg.audio_dim}")
    net.register_buffer(SPEAKER_MEAN, mean.to(net.audio_mean.device))


def _not_a_checkpoint(path: Path, why: str) -> InputError:
    return InputError(
        f"{path} is not an emocli model: {why}.",
        "Give a folder with config.json and model.safetensors (as written by emocli train); "
        "emocli never loads pickled checkpoints (.pt, .pth, .bin, .ckpt).",
    )


def resolve_model_dir(path: Path | None) -> Path:
    """Check a model location without loading it; None -> the shipped default."""
    if path is None:
        folder = default_model_dir()
        if not (folder / WEIGHTS_NAME).is_file():
            raise ModelUnavailableError(
                f"The shipped emotion model is missing from {folder}.", "Reinstall emocli, or pass --model."
            )
        return folder
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"Model not found: {path}.", "Check the path, or leave --model out for the default.")
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise _not_a_checkpoint(path, f"{path.suffix} files are pickles, which can run arbitrary code")
        if path.name != WEIGHTS_NAME:
            raise _not_a_checkpoint(path, "a model is a folder, not a single file")
        path = path.parent
    if not (path / CONFIG_NAME).is_file():
        raise _not_a_checkpoint(path, f"{CONFIG_NAME} is missing")
    if not (path / WEIGHTS_NAME).is_file():
        pickles = sorted(p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        why = f"{WEIGHTS_NAME} is missing" + (
            f" (found pickle file(s) {', '.join(pickles)})" if pickles else ""
        )
        raise _not_a_checkpoint(path, why)
    return path


def read_config(folder: Path) -> ModelConfig:
    try:
        raw = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        if int(raw.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelUnavailableError(
                f"{folder} was written by a newer emocli (format {raw['format_version']}).", "Upgrade emocli."
            )
        return ModelConfig.from_dict(raw)
    except (ValueError, TypeError) as e:
        raise _not_a_checkpoint(folder, f"{CONFIG_NAME} is not a valid model configuration ({e})") from e


def load_model(
    path: Path | None = None,
    device: str = "cpu",
    modalities: tuple[str, ...] | None = None,
    fusion: str | None = None,
    new_branch_context: dict[str, int] | None = None,
    audio_members: int | None = None,
) -> EmotionNet:
    """Load a checkpoint folder (None -> shipped default) in eval mode on ``device``.

    ``modalities`` may add branches to the saved ones (fresh weights, e.g. to train an audio branch
    on top of a text model with ``train --init``); ``fusion`` overrides the fusion mode.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = resolve_model_dir(path)
    cfg = read_config(folder)
    saved = set(cfg.modalities)
    if modalities:
        cfg.modalities = tuple(m for m in MODALITIES if m in saved or m in modalities)
    if fusion:
        cfg.fusion = fusion
    for m, layers in (new_branch_context or {}).items():
        if m not in saved:
            cfg.branch_context_layers[m] = layers
    if audio_members and "audio" not in saved:
        cfg.audio_members = audio_members
    try:
        state = load_file(str(folder / WEIGHTS_NAME))
    except (SafetensorError, OSError, ValueError) as e:
        raise _not_a_checkpoint(folder / WEIGHTS_NAME, f"not a readable safetensors file ({e})") from e
    net = build_model(cfg)
    rest = {k: v for k, v in state.items() if not _is_delta_key(k)}
    speaker_mean = rest.pop(SPEAKER_MEAN, None) if "audio" in saved else None
    own = {k: v for k, v in net.state_dict().items() if not _is_encoder_key(k)}
    new = tuple(f"branches.{m}." for m in cfg.modalities if m not in saved)
    new += ("audio_mean", "audio_std", "audio_extra.") if "audio" not in saved else ()
    new += ("visual_pool.",) if "visual" not in saved else ()
    new += ("sentiment_head.",)  # a training-only auxiliary head: optional
    missing = sorted(k for k in set(own) - set(rest) if not k.startswith(new))
    unexpected = sorted(set(rest) - set(own))
    if missing or unexpected:
        raise _not_a_checkpoint(
            folder, f"weights do not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for k, v in rest.items():
        if v.shape != own[k].shape:
            raise _not_a_checkpoint(
                folder, f"weight {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
            )
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in rest.items()}, strict=False)
    if speaker_mean is not None:
        if tuple(speaker_mean.shape) != (cfg.audio_dim,):
            raise _not_a_checkpoint(
                folder, f"{SPEAKER_MEAN} has shape {tuple(speaker_mean.shape)}, expected ({cfg.audio_dim},)"
            )
        set_speaker_mean(net, speaker_mean)
    if net.text_encoder is not None:
        prints = [cfg.text_base_fingerprint] + [m.get("text_base_fingerprint", []) for m in cfg.text_members]
        for (prefix, encoder), fingerprint in zip(_text_encoders(net), prints, strict=True):
            encoder.load_delta(_deltas(state, prefix), fingerprint)
    return net.to(device).eval()


def _deltas(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """One text encoder's saved deltas (int8 matrices dequantised) keyed by its top-layer names."""
    out = {k[len(prefix) + 7 :]: v for k, v in state.items() if k.startswith(f"{prefix}_delta.")}
    for k, q in state.items():
        if k.startswith(f"{prefix}_delta_q."):
            name = k[len(prefix) + 9 :]
            out[name] = q.float() * state[f"{prefix}_delta_s.{name}"].float()
    return out


def add_text_member(net: EmotionNet, other: EmotionNet) -> None:
    """Add ``other``'s text branch (and its own members) to ``net`` as extra text members.

    Both must read the same text backbone with the same dialogue-encoder shape; the member keeps
    its own view of the words (context, speaker names) and its weights."""
    from emocli.model.fusion import TextMember

    a, b = net.cfg, other.cfg
    if "text" not in a.modalities or "text" not in b.modalities or other.text_encoder is None:
        raise InputError("A text member needs two models with a text branch.", "Train both with text.")
    if b.text_window:
        raise InputError(
            "A model trained with --text-window cannot be a text member (members read utterances alone).",
            "Use it as the main model (--init) and add the other model as the member.",
        )
    same = ("text_backbone", "text_dim", "hidden", "heads", "context_layers", "max_speakers", "max_distance")
    diff = [k for k in same if getattr(a, k) != getattr(b, k)]
    if diff or b.branch_context_layers.get("text", b.context_layers) != a.branch_context_layers.get(
        "text", a.context_layers
    ):
        raise InputError(
            f"The text member differs from the model in {', '.join(diff) or 'text context layers'}.",
            "Train the member with the same --text-encoder and --hidden as the model.",
        )
    view = {
        "text_context": b.text_context,
        "text_speaker_names": b.text_speaker_names,
        "text_trainable_layers": b.text_trainable_layers,
        "text_base_fingerprint": other.text_encoder.fingerprint(),
    }
    net.text_members.append(TextMember(other.text_encoder, other.branches["text"]))
    a.text_members.append(view)
    for extra, t in zip(b.text_members, other.text_members, strict=True):
        net.text_members.append(t)
        a.text_members.append(dict(extra))
