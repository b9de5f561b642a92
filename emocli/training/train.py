"""``emocli train``: data sets -> cached features -> fitted model -> checkpoint folder + report.

The output folder is a loadable model (``config.json`` + ``model.safetensors``) holding also
``training_report.json`` (options, data, what was skipped, per-epoch history, timings, dev scores)
and ``confusion_dev.png``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from emocli import EMOTIONS, __version__
from emocli.errors import DataError, OutputError
from emocli.features.audio import DEFAULT_AUDIO_ENCODER
from emocli.features.extract import VisualSource
from emocli.fileio import write_text_atomic
from emocli.hooks import ProgressHook, null_hook
from emocli.model.checkpoint import (
    add_text_member,
    build_model,
    load_model,
    read_config,
    resolve_model_dir,
    save_model,
    set_speaker_mean,
)
from emocli.model.config import AUDIO_NATIVE, MODALITIES, ModelConfig
from emocli.training.loop import FitOptions, Predictions, fit, predict
from emocli.training.metrics import save_confusion_png, scores
from emocli.training.prepare import (
    DataSpec,
    audio_statistics,
    featurize,
    load_splits,
    make_featurizers,
    member_featurizers,
    speaker_prior_mean,
    standardise_split,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

REPORT_NAME = "training_report.json"


@dataclass(frozen=True)
class TrainOptions:
    data: DataSpec
    output: Path
    modalities: tuple[str, ...] | None = None  # None: what the data set carries
    fit: FitOptions = field(default_factory=FitOptions)
    init: Path | None = None  # start from this model; only the branches this data feeds are trained
    fusion: str | None = None  # None: "attention" when several modalities train together, else "late"
    text_encoder: str = "minilm"
    text_trainable_layers: int = 2
    text_context: int = 0
    text_speaker_names: bool = False
    text_window: int = 0
    audio_encoder: str | None = None  # None: DEFAULT_AUDIO_ENCODER, or what an --init model's head reads
    hidden: int = 128
    context_layers: int = 2
    audio_context_layers: int | None = None  # None: 0 for acted speech (no conversation), else context_layers
    audio_members: int = 1  # audio heads averaged in an ensemble
    text_members: tuple[Path, ...] = ()  # trained models whose text branches join this one's (ensemble)
    speed_perturb: tuple[float, ...] = ()  # extra speeds of each training clip (audio augmentation)
    speaker_norm: bool = True
    device: str = "cpu"


def check_output_dir(path: Path) -> Path:
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputError(f"Output {path} is a file.", "-o takes a folder for the model (created if needed).")
    if not path.resolve().parent.is_dir():
        raise OutputError(
            f"Parent folder of {path} does not exist.", "Create it first or choose another path."
        )
    return path


def _jsonable(v: object) -> object:
    """Paths (also inside tuples and lists) as strings, for the JSON report."""
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return v


def modality_scores(pred: Predictions) -> dict[str, dict]:
    """Scores of each modality's own head on the utterances where that modality was present."""
    out = {}
    for m, p in pred.modality.items():
        ok = ~np.isnan(p).any(1)
        if ok.any():
            out[m] = scores(pred.labels[ok], p[ok].argmax(1), EMOTIONS)
    return out


def native_scores(pred: Predictions) -> dict | None:
    if pred.native is None or pred.native_labels is None:
        return None
    ok = ~np.isnan(pred.native).any(1) & (pred.native_labels >= 0)
    if not ok.any():
        return None
    return scores(pred.native_labels[ok], pred.native[ok].argmax(1), AUDIO_NATIVE)


def train(
    opts: TrainOptions,
    hook: ProgressHook = null_hook,
    log: Callable[[str], None] = lambda s: None,
    visual_source: VisualSource | None = None,
    whisper_model: WhisperModel | None = None,
) -> dict:
    """Run a whole training; returns the report (also written into the output folder)."""
    t_start = time.perf_counter()
    out_dir = check_output_dir(opts.output)
    torch.manual_seed(opts.fit.seed)
    splits = load_splits(opts.data)
    for r in splits.reports:
        log(f"{r.name} {r.split}: {r.n_samples} utterances in {r.n_dialogues} dialogues"
            + (f", {len(r.skipped)} skipped" if r.skipped else "")
            + "".join(f"; {n}" for n in r.notes))  # fmt: skip

    # Which modalities: those asked for (or all the data carries), restricted to what the data has.
    supported = (
        {"text"} | ({"audio", "visual"} if splits.has_media else set()) if not splits.acted else {"audio"}
    )
    asked = tuple(opts.modalities) if opts.modalities else tuple(m for m in MODALITIES if m in supported)
    bad = [m for m in asked if m not in MODALITIES]
    if bad:
        raise DataError(f"Unknown modality {', '.join(bad)}.", f"Use a subset of: {', '.join(MODALITIES)}.")
    trained = tuple(m for m in MODALITIES if m in asked and m in supported)
    if not trained:
        raise DataError(
            f"{'+'.join(opts.data.datasets)} carries none of the modalities asked for ({', '.join(asked)}).",
            f"This data set provides: {', '.join(sorted(supported))}.",
        )
    dropped = [m for m in asked if m not in supported]
    if dropped:
        why = "no raw clips found" if not splits.acted else "acted speech has audio only"
        log(f"note: {', '.join(dropped)} not trained ({why}); training on {', '.join(trained)}")
    fusion = opts.fusion or ("attention" if len(trained) > 1 else "late")
    audio_ctx = opts.audio_context_layers
    audio_ctx = (0 if splits.acted else opts.context_layers) if audio_ctx is None else audio_ctx

    if opts.init is not None:
        init_dir = resolve_model_dir(opts.init)
        base_cfg = read_config(init_dir)
        net = load_model(
            init_dir,
            opts.device,
            modalities=asked,
            fusion=fusion,
            new_branch_context={"audio": audio_ctx},
            audio_members=opts.audio_members,
        )
        trained_before = tuple(base_cfg.trained_modalities)
        log(f"starting from {init_dir} (modalities {', '.join(base_cfg.modalities)})")
    else:
        cfg = ModelConfig(
            modalities=tuple(m for m in MODALITIES if m in asked),
            hidden=opts.hidden,
            context_layers=opts.context_layers,
            branch_context_layers={"audio": audio_ctx},
            audio_members=opts.audio_members,
            text_backbone=opts.text_encoder,
            text_trainable_layers=opts.text_trainable_layers,
            text_context=opts.text_context,
            text_window=opts.text_window,
            text_speaker_names=opts.text_speaker_names,
            audio_encoder=opts.audio_encoder or DEFAULT_AUDIO_ENCODER,
            speaker_norm=opts.speaker_norm,
            fusion=fusion,
        )
        net = build_model(cfg)
        trained_before = ()
    cfg = net.cfg
    if "audio" in trained_before and opts.audio_encoder not in (None, cfg.audio_encoder):
        raise DataError(
            f"{opts.init} has an audio head trained on {cfg.audio_encoder!r} features, not "
            f"{opts.audio_encoder!r}.",
            "Leave out --audio-encoder to go on with the model's own, or train a new model without --init.",
        )
    if "audio" in trained and "audio" not in trained_before:
        # A new audio head reads what was asked for, not what the --init model's config says.
        cfg.audio_encoder = opts.audio_encoder or DEFAULT_AUDIO_ENCODER
    for path in opts.text_members:
        add_text_member(net, load_model(resolve_model_dir(path), opts.device))
        log(f"text member added from {path} (text context {cfg.text_members[-1]['text_context']})")
    for p in net.text_members.parameters():  # members were trained on their own: kept as they are
        p.requires_grad = False

    # Features (cached on disk): timed apart from training.
    t_feat = time.perf_counter()
    text_f, audio_f, visual_f = make_featurizers(net, trained, opts.device, whisper_model, visual_source)
    if audio_f is not None:
        cfg.audio_encoder_version = audio_f.version
    reports = {f"{r.name}/{r.split}": r for r in splits.reports}
    train_report = splits.reports[0]
    dev_report = splits.reports[-1] if len(splits.reports) > 1 else splits.reports[0]
    k, names = cfg.text_context, cfg.text_speaker_names
    speeds = opts.speed_perturb if "audio" in trained else ()
    members = member_featurizers(net, text_f)
    train_convs = featurize(
        splits.train,
        trained,
        train_report,
        text_f,
        audio_f,
        visual_f,
        hook,
        "train",
        k,
        names,
        speeds,
        members,
    )
    dev_convs = featurize(
        splits.dev, trained, dev_report, text_f, audio_f, visual_f, hook, "dev", k, names, (), members
    )
    if not train_convs or not dev_convs:
        raise DataError("No usable utterances left after feature extraction.", "See the skipped list above.")
    if "audio" in trained:
        if not any(it.audio is not None for c in train_convs for it in c.items):
            raise DataError(
                "No training clip gave audio features.", "Check the clips (see the skipped list)."
            )
        mean, std = audio_statistics(train_convs)
        if mean.shape[0] != cfg.audio_dim:  # the net was built before any feature gave the width
            if "audio" in trained_before:
                raise DataError(
                    f"The audio features are {mean.shape[0]}-d but {opts.init}'s audio head reads "
                    f"{cfg.audio_dim}-d ones.",
                    "Train a new model without --init for this audio encoder.",
                )
            net.resize_audio(int(mean.shape[0]))
        net.audio_mean.copy_(torch.from_numpy(mean))
        net.audio_std.copy_(torch.from_numpy(std))
        set_speaker_mean(net, torch.from_numpy(speaker_prior_mean(train_convs)))  # annotate's prior
        for convs in (train_convs, dev_convs):
            standardise_split(convs, mean, std, cfg.speaker_norm_prior, cfg.speaker_norm)
    feature_s = time.perf_counter() - t_feat
    caches = [c for c in (text_f, audio_f, visual_f) if c is not None]
    log(f"features ready in {feature_s:.0f} s (cache hits {sum(c.cache.hits for c in caches)}, "
        f"computed {sum(c.cache.misses for c in caches)})")  # fmt: skip

    # Training.
    t_fit = time.perf_counter()
    fit_opts = FitOptions(**{**asdict(opts.fit), "trainable": trained if opts.init is not None else ()})
    train_items = [it for c in train_convs for it in c.items]
    history = fit(
        net, train_items if splits.acted else train_convs, dev_convs, fit_opts, splits.acted, hook, log
    )
    fit_s = time.perf_counter() - t_fit
    cfg.trained_modalities = tuple(m for m in MODALITIES if m in trained or m in trained_before)

    pred = predict(net, dev_convs)
    dev = scores(pred.labels, pred.probs.argmax(1), EMOTIONS)
    save_model(net, out_dir)
    title = f"{'+'.join(opts.data.datasets)} dev (selection split), weighted F1 {dev['weighted_f1']:.3f}"
    save_confusion_png(dev["confusion_matrix"], EMOTIONS, out_dir / "confusion_dev.png", title)
    native = native_scores(pred)
    if native is not None:
        save_confusion_png(native["confusion_matrix"], AUDIO_NATIVE, out_dir / "confusion_dev_native.png",
                           f"audio head, 8 classes, accuracy {native['accuracy']:.3f}")  # fmt: skip
    report = {
        "emocli_version": __version__,
        "datasets": list(opts.data.datasets),
        "data_dirs": [str(p) for p in opts.data.data_dirs],
        "modalities_trained": list(trained),
        "model_modalities": list(cfg.modalities),
        "fusion": cfg.fusion,
        "init": str(opts.init) if opts.init else None,
        "options": {k: _jsonable(v) for k, v in asdict(opts).items() if k != "data"},
        "data": {k: r.to_dict() for k, r in reports.items()},
        "n_train_items": len(train_items),  # utterances trained on, speed-perturbed copies included
        "history": history,
        "timing_seconds": {
            "features": round(feature_s, 1),
            "training": round(fit_s, 1),
            "total": round(time.perf_counter() - t_start, 1),
        },
        "dev": dev,
        "dev_per_modality": modality_scores(pred),
        "dev_audio_native": native,
        "torch_threads": torch.get_num_threads(),
    }
    write_text_atomic(out_dir / "training_report.json", json.dumps(report, indent=2) + "\n")
    return report
