"""The emotion model's configuration: saved as ``config.json`` beside the safetensors weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from emocli import EMOTIONS
from emocli.errors import InputError

MODALITIES: tuple[str, ...] = ("text", "audio", "visual")
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 4  # the newest checkpoint format read; 2: text members; 3: text window; 4: speaker prior

AUDIO_NATIVE: tuple[str, ...] = (*EMOTIONS, "calm")
"""The audio head's 8 outputs: the seven classes plus calm (RAVDESS), which folds into neutral."""


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network (weights excluded). JSON-able."""

    modalities: tuple[str, ...] = MODALITIES
    labels: tuple[str, ...] = EMOTIONS
    hidden: int = 256  # width of the dialogue-level encoders and the fusion
    heads: int = 4
    context_layers: int = 2  # transformer layers over the utterances of a dialogue, per modality
    branch_context_layers: dict[str, int] = field(default_factory=dict)  # per-modality override
    max_speakers: int = 8  # speaker embeddings: speakers numbered by first appearance, clipped
    max_distance: int = 12  # relative-position buckets between utterances (+-12, farther clipped)
    dropout: float = 0.1
    # text branch
    text_backbone: str = "minilm"
    text_backbone_version: str = ""
    text_dim: int = 384
    text_trainable_layers: int = 2  # top layers fine-tuned (and shipped as deltas); the rest frozen
    text_max_tokens: int = 64
    text_context: int = 0  # previous utterances given to the text encoder with each one (a text pair)
    text_speaker_names: bool = False  # prefix each utterance with its speaker's label ("Ross: ...")
    # > 0: the fine-tuned top layers read a dialogue's utterances as one token sequence, each token
    # attending to the utterances up to this many away (a learned bias per layer and distance).
    text_window: int = 0
    text_base_fingerprint: list[float] = field(default_factory=list)  # checks deltas meet their base
    # Extra text members (an ensemble): each has its own fine-tuned top layers and text branch over
    # its own view of the words; keys text_context, text_speaker_names, text_trainable_layers,
    # text_base_fingerprint. Their probabilities are pooled log-linearly with the main text branch's.
    text_members: list[dict[str, Any]] = field(default_factory=list)
    # audio branch
    audio_encoder: str = "whisper"
    audio_encoder_version: str = ""
    audio_dim: int = 1024  # pooled utterance vector (mean + std of 512-d Whisper base states)
    audio_members: int = 1  # audio heads averaged (an ensemble; each trained on its own loss)
    speaker_norm: bool = True
    speaker_norm_prior: float = 4.0  # pseudo-count shrinking a speaker's stats to the global ones
    # visual branch: per-frame expression probabilities in EMOTIONS order
    visual_classes: int = 7
    visual_tau: float = 0.5
    # fusion: "attention" (text-led fusion attention, trained jointly) or "late" (weighted
    # log-linear pooling of the per-modality probabilities, for branches trained apart)
    fusion: str = "attention"
    fusion_layers: int = 2
    late_weights: dict[str, float] = field(
        default_factory=lambda: {"text": 1.0, "audio": 0.35, "visual": 0.25}
    )
    trained_modalities: tuple[str, ...] = ()  # which branches have seen labelled data
    format_version: int = 1  # set on save: checkpoint.format_version (1 to 4)

    def __post_init__(self) -> None:
        self.modalities = tuple(self.modalities)
        self.labels = tuple(self.labels)
        self.trained_modalities = tuple(self.trained_modalities)
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities:
            raise InputError(
                f"Unknown modality {', '.join(bad) or '(none)'}.",
                f"Use a subset of: {', '.join(MODALITIES)}.",
            )
        if self.fusion not in ("attention", "late"):
            raise InputError(f"Unknown fusion {self.fusion!r}.", "Use 'attention' or 'late'.")
        if self.text_window < 0 or (self.text_window and self.text_context):
            raise InputError(
                f"Text window {self.text_window} with text context {self.text_context} cannot be used.",
                "Give the text encoder its neighbours one way: --text-window K (K >= 1) or --text-context K.",
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def save(self, folder: Path) -> Path:
        path = Path(folder) / CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path
