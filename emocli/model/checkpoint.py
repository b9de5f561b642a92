"""Checkpoints: a folder with ``config.json`` and ``model.safetensors``; pickles are refused.

The text encoder's pretrained base is not saved: only the fine-tuned top layers' deltas
(``text_delta*``: matrices as int8 per row with float16 scales, vectors float16), applied on load
to the base from its own package. Other weights are saved in
float16 (inference precision is unchanged in practice and the shipped files stay small); the audio
normalisation statistics stay float32.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from emocli.errors import InputError, ModelUnavailableError
from emocli.fileio import atomic_output
from emocli.model.config import CONFIG_NAME, FORMAT_VERSION, MODALITIES, WEIGHTS_NAME, ModelConfig
from emocli.model.fusion import EmotionNet

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".joblib")
KEEP_FP32 = ("audio_mean", "audio_std")


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
        cfg.text_backbone_version = cfg.text_backbone_version or version
        cfg.text_dim = text_encoder.dim
    return EmotionNet(cfg, text_encoder)


def save_model(net: EmotionNet, folder: Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` into ``folder`` (created if needed), each atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state: dict[str, torch.Tensor] = {}
    for k, v in net.state_dict().items():
        if k.startswith("text_encoder."):
            continue
        keep = v.is_floating_point() and not k.endswith(KEEP_FP32)
        state[k] = (v.to(torch.float16) if keep else v).contiguous().cpu()
    if net.text_encoder is not None:
        for k, v in net.text_encoder.delta_state().items():
            if v.dim() == 2:
                # Matrices: int8 per output row (absmax / 127 scale in float16): half the bytes of
                # float16, and the rounding error stays below 0.4% of each row's largest change.
                scale = v.float().abs().amax(1, keepdim=True).clamp_min(1e-12) / 127.0
                state[f"text_delta_q.{k}"] = (v.float() / scale).round().to(torch.int8).contiguous().cpu()
                state[f"text_delta_s.{k}"] = scale.to(torch.float16).contiguous().cpu()
            else:
                state[f"text_delta.{k}"] = v.contiguous().cpu()
        net.cfg.text_base_fingerprint = net.text_encoder.fingerprint()
    with atomic_output(folder / WEIGHTS_NAME) as tmp:
        save_file(
            state, str(tmp), metadata={"format": "emocli-emotion", "format_version": str(FORMAT_VERSION)}
        )
    with atomic_output(folder / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(net.cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    return folder


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
    deltas = {k[len("text_delta.") :]: v for k, v in state.items() if k.startswith("text_delta.")}
    for k, q in state.items():
        if k.startswith("text_delta_q."):
            name = k[len("text_delta_q.") :]
            deltas[name] = q.float() * state[f"text_delta_s.{name}"].float()
    rest = {
        k: v for k, v in state.items() if not k.startswith(("text_delta.", "text_delta_q.", "text_delta_s."))
    }
    own = {k: v for k, v in net.state_dict().items() if not k.startswith("text_encoder.")}
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
    if net.text_encoder is not None:
        net.text_encoder.load_delta(deltas, cfg.text_base_fingerprint)
    return net.to(device).eval()
