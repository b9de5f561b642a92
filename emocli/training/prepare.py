"""From data-set folders to featurised conversations: which data, which modalities, cached features.

Splits used for training and model selection:
- ``meld``: train on ``train``, select on ``dev`` (``test`` is only ever read by ``evaluate``).
- ``ravdess``: speaker-independent, train on actors 01-16, select on actors 17-18.
- ``tess``: alone, train on the older speaker (OAF) and select on the younger (YAF); together with
  RAVDESS (``--dataset ravdess,tess``) all of TESS is training data and selection stays on RAVDESS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli.errors import DataError, EmocliError
from emocli.features.audio import speaker_means_mean, speaker_standardise
from emocli.features.extract import AudioFeaturizer, TextFeaturizer, VisualFeaturizer, VisualSource
from emocli.hooks import ProgressHook, null_hook
from emocli.model.config import AUDIO_NATIVE
from emocli.training.data import Conversation, Item
from emocli.training.datasets import (
    RAVDESS_NATIVE,
    DatasetReport,
    Dialogue,
    Sample,
    parse_actors,
    read_meld,
    read_ravdess,
    read_tess,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from emocli.model.fusion import EmotionNet

DATASETS = ("meld", "ravdess", "tess")
ACTED = ("ravdess", "tess")


@dataclass(frozen=True)
class DataSpec:
    datasets: tuple[str, ...]
    data_dirs: tuple[Path, ...]
    train_actors: str = "1-16"
    dev_actors: str = "17-18"


@dataclass
class Splits:
    train: list[Dialogue]
    dev: list[Dialogue]
    reports: list[DatasetReport] = field(default_factory=list)
    acted: bool = False  # acted clips: train on pseudo-dialogues, evaluate clip by clip
    has_media: bool = False


def dataset_dirs(spec: DataSpec) -> list[Path]:
    if len(spec.data_dirs) == len(spec.datasets):
        return list(spec.data_dirs)
    if len(spec.data_dirs) == 1:
        return [spec.data_dirs[0]] * len(spec.datasets)
    raise DataError(
        f"{len(spec.datasets)} data sets but {len(spec.data_dirs)} --data-dir values.",
        "Give one --data-dir per data set, or one folder holding meld/, ravdess/, tess/.",
    )


def load_splits(spec: DataSpec) -> Splits:
    names = list(spec.datasets)
    bad = [n for n in names if n not in DATASETS]
    if bad or not names:
        raise DataError(
            f"Unknown data set {', '.join(bad) or '(none)'}.", f"Use one of: {', '.join(DATASETS)}."
        )
    if "meld" in names and len(names) > 1:
        raise DataError(
            "MELD cannot be mixed with acted data sets in one run.",
            "Train on MELD first, then add RAVDESS/TESS with --init MODEL_DIR.",
        )
    dirs = dict(zip(names, dataset_dirs(spec), strict=True))
    if "meld" in names:
        train, r1 = read_meld(dirs["meld"], "train")
        dev, r2 = read_meld(dirs["meld"], "dev")
        out = Splits(train, dev, [r1, r2], acted=False)
        out.has_media = any(s.media is not None for d in train for s in d.samples)
    else:
        out = Splits([], [], [], acted=True, has_media=True)
        if "ravdess" in names:
            tr, r1 = read_ravdess(dirs["ravdess"], parse_actors(spec.train_actors))
            dv, r2 = read_ravdess(dirs["ravdess"], parse_actors(spec.dev_actors))
            out.train += tr
            out.dev += dv
            out.reports += [r1, r2]
        if "tess" in names:
            if "ravdess" in names:
                tr, r = read_tess(dirs["tess"])
                out.train += tr
                out.reports.append(r)
            else:
                tr, r1 = read_tess(dirs["tess"], {"OAF"})
                dv, r2 = read_tess(dirs["tess"], {"YAF"})
                out.train += tr
                out.dev += dv
                out.reports += [r1, r2]
    for split, dialogues in (("train", out.train), ("dev", out.dev)):
        if not any(d.samples for d in dialogues):
            raise DataError(
                f"The {split} split of {'+'.join(names)} is empty (no usable utterances).",
                "Check --data-dir and the files' contents.",
            )
    return out


def _native(sample_native: int | None) -> int | None:
    """RAVDESS-order native label -> index in the audio head's outputs (EMOTIONS + calm)."""
    if sample_native is None:
        return None
    from emocli.training.datasets import NATIVE_TO_EMOTION

    name = RAVDESS_NATIVE[sample_native]
    return AUDIO_NATIVE.index("calm") if name == "calm" else AUDIO_NATIVE.index(NATIVE_TO_EMOTION[name])


def make_featurizers(
    net: EmotionNet,
    modalities: Sequence[str],
    device: str,
    whisper_model: WhisperModel | None = None,
    visual_source: VisualSource | None = None,
) -> tuple[TextFeaturizer | None, AudioFeaturizer | None, VisualFeaturizer | None]:
    """The feature extractors ``net`` needs for ``modalities`` (None where a modality is not used)."""
    cfg = net.cfg
    text_f = audio_f = visual_f = None
    if "text" in modalities:
        from emocli.features.text import load_tokenizer, resolve_text_backbone

        path, version = resolve_text_backbone(cfg.text_backbone)
        assert net.text_encoder is not None
        text_f = TextFeaturizer(net.text_encoder, load_tokenizer(path), version, cfg.text_max_tokens)
    if "audio" in modalities:
        audio_f = AudioFeaturizer(cfg.audio_encoder, whisper_model, device)
    if "visual" in modalities:
        visual_f = VisualFeaturizer(visual_source)
    return text_f, audio_f, visual_f


def featurize(
    dialogues: Sequence[Dialogue],
    modalities: Sequence[str],
    report: DatasetReport,
    text: TextFeaturizer | None,
    audio: AudioFeaturizer | None,
    visual: VisualFeaturizer | None,
    hook: ProgressHook = null_hook,
    split: str = "",
    text_context: int = 0,
    speaker_names: bool = False,
    speeds: Sequence[float] = (),
    text_members: Sequence[tuple[TextFeaturizer, int, bool]] = (),
) -> list[Conversation]:
    """Attach cached features to every sample; a failing clip loses that modality, not the sample.

    ``speeds`` (training augmentation, audio only): each clip also played at these speeds (e.g.
    0.9, 1.1; tempo and pitch together) becomes an extra item of the same label, spoken by a new
    speaker ``"<speaker>@x0.9"``, so per-speaker standardisation sees each shifted voice apart.
    """
    samples = [s for d in dialogues for s in d.samples]
    states: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    member_states: list[dict[str, tuple[np.ndarray, np.ndarray | None]]] = []
    if "text" in modalities and text is not None:
        states = _text_states(dialogues, text, text_context, speaker_names, hook, f"text features ({split})")
        member_states = [
            _text_states(dialogues, f, k, names, hook, f"text features, member {i + 1} ({split})")
            for i, (f, k, names) in enumerate(text_members)
        ]
    audio_vec: dict[str, np.ndarray] = {}
    speed_vec: dict[tuple[str, float], np.ndarray] = {}
    visual_vec: dict[str, np.ndarray] = {}
    media = [s for s in samples if s.media is not None]
    for k, s in enumerate(media):
        assert s.media is not None
        if "audio" in modalities and audio is not None:
            try:
                audio_vec[s.uid] = audio.clip(s.media)
                for f in speeds:
                    speed_vec[(s.uid, f)] = audio.clip(s.media, speed=f)
            except EmocliError as e:
                report.skipped.append(f"{s.uid}: audio skipped ({e.message})")
        if "visual" in modalities and visual is not None:
            try:
                v = visual.clip(s.media)
                if v is not None:
                    visual_vec[s.uid] = v
            except EmocliError as e:
                report.skipped.append(f"{s.uid}: visual skipped ({e.message})")
        hook(f"audio/visual features ({split})", completed=k + 1, total=len(media))
    convs = []
    for d in dialogues:
        items = []
        for s in d.samples:
            it = Item(
                label=s.label,
                speaker=s.speaker,
                native=_native(s.native),
                text_states=states[s.uid][0] if s.uid in states else None,
                text_segments=states[s.uid][1] if s.uid in states else None,
                member_text=[m[s.uid] for m in member_states] if s.uid in states else [],
                sentiment=s.sentiment,
                audio=audio_vec.get(s.uid),
                visual=visual_vec.get(s.uid),
                uid=s.uid,
                group=s.group,
            )
            if it.text_states is None and it.audio is None and it.visual is None:
                report.skipped.append(f"{s.uid}: no usable modality (skipped)")
                continue
            items.append(it)
            for f in speeds:
                if (s.uid, f) in speed_vec:
                    items.append(replace(it, audio=speed_vec[(s.uid, f)], speaker=f"{s.speaker}@x{f:g}",
                                         uid=f"{s.uid}@x{f:g}"))  # fmt: skip
        if items:
            convs.append(Conversation(d.did, items))
    return convs


def _text_states(
    dialogues: Sequence[Dialogue],
    text: TextFeaturizer,
    context: int,
    speaker_names: bool,
    hook: ProgressHook,
    label: str,
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """uid -> (frozen token states (L, dim), segment ids or None) of every utterance with words,
    seen as one view: alone or with its ``context`` previous utterances, with or without names."""
    from emocli.features.text import context_pairs

    with_text = [s for d in dialogues for s in d.samples if s.text]

    def words(s: Sample) -> str:
        return f"{s.speaker}: {s.text}" if speaker_names else s.text or ""

    inputs: list = [words(s) for s in with_text]
    if context > 0:
        inputs = []
        for d in dialogues:
            inputs += context_pairs([words(s) for s in d.samples if s.text], context)
    got = text.states(inputs, hook, label)
    return {s.uid: st for s, st in zip(with_text, got, strict=True)}


def member_featurizers(
    net: EmotionNet, text: TextFeaturizer | None
) -> list[tuple[TextFeaturizer, int, bool]]:
    """(featurizer, context, speaker names) of each extra text member of ``net``."""
    if text is None:
        return []
    return [
        (
            TextFeaturizer(t.encoder, text.tokenizer, text.version, net.cfg.text_max_tokens),
            int(view["text_context"]),
            bool(view["text_speaker_names"]),
        )
        for t, view in zip(net.text_members, net.cfg.text_members, strict=True)
    ]


def audio_statistics(convs: Sequence[Conversation]) -> tuple[np.ndarray, np.ndarray]:
    """Global mean and std of the raw pooled audio vectors of a (training) split."""
    x = np.stack([it.audio for c in convs for it in c.items if it.audio is not None]).astype(np.float64)
    return x.mean(0).astype(np.float32), np.maximum(x.std(0), 1e-4).astype(np.float32)


def speaker_prior_mean(convs: Sequence[Conversation]) -> np.ndarray:
    """The mean over a (training) split's speakers (per group) of each one's mean raw pooled audio
    vector: annotate's prior for a speaker it hears little of (``emocli.model.inference``)."""
    items = [it for c in convs for it in c.items if it.audio is not None]
    x = np.stack([it.audio for it in items])  # type: ignore[misc]
    return speaker_means_mean(x, [f"{it.group}/{it.speaker}" for it in items])


def standardise_split(
    convs: Sequence[Conversation], mean: np.ndarray, std: np.ndarray, prior: float, per_speaker: bool = True
) -> None:
    """Replace each item's audio by its standardised version (per speaker within its group)."""
    items = [it for c in convs for it in c.items if it.audio is not None]
    if not items:
        return
    x = np.stack([it.audio for it in items])  # type: ignore[misc]
    if per_speaker:
        keys = [f"{it.group}/{it.speaker}" for it in items]
        z = speaker_standardise(x, keys, mean, std, prior)
    else:
        z = ((x - mean) / std).astype(np.float32)
    for it, row in zip(items, z, strict=True):
        it.audio = row
