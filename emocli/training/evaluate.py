"""``emocli evaluate``: a model (default: the shipped one) on a labelled split -> scores.

MELD is scored on the fused output over whole dialogues (context included). RAVDESS and TESS are
scored clip by clip (each clip its own conversation; audio standardised per actor over the clips
found): ``accuracy`` / ``weighted_f1`` on the seven classes (calm counts as neutral) and
``accuracy_native`` on RAVDESS's own eight, from the audio head's calm-aware output.

``modalities`` scores the model on some of its branches only (e.g. the voice alone on MELD clips):
the others are masked for every utterance, exactly as a missing modality is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli import EMOTIONS
from emocli.errors import DataError
from emocli.features.extract import VisualSource
from emocli.hooks import ProgressHook, null_hook
from emocli.model.checkpoint import load_model, resolve_model_dir
from emocli.model.config import AUDIO_NATIVE, MODALITIES
from emocli.training.data import Conversation
from emocli.training.datasets import (
    NATIVE_TO_EMOTION,
    RAVDESS_NATIVE,
    DatasetReport,
    Dialogue,
    parse_actors,
    read_meld,
    read_ravdess,
    read_tess,
)
from emocli.training.loop import predict
from emocli.training.metrics import scores
from emocli.training.prepare import featurize, make_featurizers, member_featurizers, standardise_split
from emocli.training.train import modality_scores

if TYPE_CHECKING:
    from faster_whisper import WhisperModel


@dataclass(frozen=True)
class EvalOptions:
    dataset: str
    data_dir: Path
    split: str = "dev"  # MELD only
    model: Path | None = None  # None: the shipped default
    actors: str | None = None  # RAVDESS only, e.g. "19-24"; None = every actor found
    device: str = "cpu"
    modalities: tuple[str, ...] | None = None  # None: every branch the model and the data have


def _native_to_ravdess(idx: np.ndarray) -> np.ndarray:
    """Audio-head indices (EMOTIONS + calm) -> RAVDESS native indices."""
    back = {v: k for k, v in NATIVE_TO_EMOTION.items() if k != "calm"}
    table = np.array([RAVDESS_NATIVE.index("calm" if n == "calm" else back[n]) for n in AUDIO_NATIVE])
    return table[idx]


def _read(opts: EvalOptions) -> tuple[list[Dialogue], DatasetReport]:
    if opts.dataset == "meld":
        return read_meld(opts.data_dir, opts.split)
    if opts.dataset == "ravdess":
        return read_ravdess(opts.data_dir, parse_actors(opts.actors))
    if opts.dataset == "tess":
        return read_tess(opts.data_dir)
    raise DataError(f"Unknown data set {opts.dataset!r}.", "Use meld, ravdess or tess.")


def _check_asked(opts: EvalOptions, usable: set[str], what: str) -> None:
    """Each modality asked for (``--modalities``) must be in ``usable``, what ``what`` gives."""
    missing = [m for m in opts.modalities or () if m not in usable]
    if missing or not opts.modalities:
        have = [m for m in MODALITIES if m in usable]
        raise DataError(
            f"Cannot score {', '.join(missing) or '(no modality)'} here: {what} gives "
            f"{', '.join(have)} only.",
            f"Use --modalities {','.join(have)} (or a subset of it), or leave it out.",
        )


def evaluate(
    opts: EvalOptions,
    hook: ProgressHook = null_hook,
    log: Callable[[str], None] = lambda s: None,
    visual_source: VisualSource | None = None,
    whisper_model: WhisperModel | None = None,
) -> dict:
    folder = resolve_model_dir(opts.model)  # cheap checks first (refuses pickles) ...
    dialogues, report = _read(opts)  # ... then the data, before a model is loaded
    if not any(d.samples for d in dialogues):
        raise DataError(
            f"The {opts.dataset} {opts.split if opts.dataset == 'meld' else 'data'} split is empty "
            "(no usable utterances).",
            "Check --data-dir and the file's contents.",
        )
    acted = opts.dataset != "meld"
    has_media = any(s.media is not None for d in dialogues for s in d.samples)
    in_data = {"audio"} if acted else {"text"} | ({"audio", "visual"} if has_media else set())
    if opts.modalities is not None:  # the data first: it needs no model loaded
        kind = "audio clips" if acted else "words and clips" if has_media else "words, no clips"
        _check_asked(opts, in_data, f"{opts.dataset} ({kind})")
    net = load_model(folder, opts.device)
    cfg = net.cfg
    usable = in_data & set(cfg.modalities)
    if not usable:
        need = "an audio branch" if acted else "a text branch"
        raise DataError(f"The model at {folder} has no branch for this data set ({need} is needed).",
                        "Pass --model with a model trained with that modality.")  # fmt: skip
    if opts.modalities is not None:
        _check_asked(opts, usable, f"{opts.dataset} with the model at {folder}")
        usable &= set(opts.modalities)
    mods = tuple(m for m in cfg.modalities if m in usable)
    log(f"{opts.dataset}: {report.n_samples} utterances, modalities used: {', '.join(mods)}"
        + (f"; {len(report.skipped)} rows skipped" if report.skipped else "")
        + "".join(f"; {n}" for n in report.notes))  # fmt: skip
    text_f, audio_f, visual_f = make_featurizers(net, mods, opts.device, whisper_model, visual_source)
    split = opts.split if not acted else "clips"
    convs = featurize(
        dialogues,
        mods,
        report,
        text_f,
        audio_f,
        visual_f,
        hook,
        split,
        cfg.text_context,
        cfg.text_speaker_names,
        text_members=member_featurizers(net, text_f),
    )
    if not convs:
        raise DataError("No utterance could be featurised.", "See the skipped list (--json) for why.")
    if "audio" in mods:
        mean, std = net.audio_mean.numpy(), net.audio_std.numpy()
        standardise_split(convs, mean, std, cfg.speaker_norm_prior, cfg.speaker_norm)
    if acted:
        convs = [Conversation(it.uid, [it]) for c in convs for it in c.items]
    pred = predict(net, convs)
    result = scores(pred.labels, pred.probs.argmax(1), EMOTIONS)
    result.update(
        dataset=opts.dataset,
        split=opts.split if not acted else (opts.actors or "all"),
        model=str(folder),
        modalities=list(mods),
        per_modality={
            m: {k: v[k] for k in ("weighted_f1", "accuracy", "n")} for m, v in modality_scores(pred).items()
        },
        skipped=report.skipped[:200],
        n_skipped=len(report.skipped),
        missing_media=report.missing_media,
    )
    if opts.dataset == "ravdess" and pred.native is not None and pred.native_labels is not None:
        ok = ~np.isnan(pred.native).any(1) & (pred.native_labels >= 0)
        y = _native_to_ravdess(pred.native_labels[ok])
        p = _native_to_ravdess(pred.native[ok].argmax(1))
        native = scores(y, p, RAVDESS_NATIVE)
        result["accuracy_native"] = native["accuracy"]
        result["weighted_f1_native"] = native["weighted_f1"]
        result["native"] = {k: native[k] for k in ("per_class", "confusion_matrix", "labels", "n")}
    return result
