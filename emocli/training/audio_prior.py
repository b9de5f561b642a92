"""Add the audio speaker prior (``audio_speaker_mean``) to a trained model, from its training data.

    python -m emocli.training.audio_prior --dataset ravdess,tess --data-dir DATA --model MODEL_DIR

``emocli train`` stores it with every new audio head; this adds it to a model trained before it
existed (the shipped one) without touching anything else: the training split is read and
featurised again (from the feature cache when it is warm), its pooled audio vectors must give the
model's own ``audio_mean`` / ``audio_std`` (otherwise this is not the data the head was trained on,
and nothing is written), and the mean over its speakers of each speaker's mean vector is added to
``model.safetensors`` as one float32 tensor; every other tensor is written back byte for byte. The
format becomes 4 (``emocli.model.checkpoint``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from emocli.errors import DataError, EmocliError
from emocli.fileio import atomic_output
from emocli.hooks import ProgressHook, null_hook
from emocli.model.checkpoint import SPEAKER_MEAN, format_version, read_config, resolve_model_dir
from emocli.model.config import CONFIG_NAME, WEIGHTS_NAME
from emocli.training.prepare import (
    DataSpec,
    audio_statistics,
    featurize,
    load_splits,
    speaker_prior_mean,
)

STATS_TOLERANCE = 1e-3  # largest |difference| / std allowed between recomputed and stored statistics


def add_speaker_prior(
    model: Path,
    spec: DataSpec,
    hook: ProgressHook = null_hook,
    log: Callable[[str], None] = lambda s: None,
) -> dict:
    """Compute the speaker prior of ``model`` from ``spec``'s training split and write it into the
    model's folder; returns what was measured (speakers, utterances, statistics check)."""
    import torch
    from safetensors.torch import load_file, save_file

    from emocli.features.extract import AudioFeaturizer

    folder = resolve_model_dir(model)
    cfg = read_config(folder)
    if "audio" not in cfg.trained_modalities:
        raise DataError(f"The model at {folder} has no trained audio head.", "Give a model trained on audio.")
    splits = load_splits(spec)
    report = splits.reports[0]
    audio = AudioFeaturizer(cfg.audio_encoder)
    convs = featurize(splits.train, ("audio",), report, None, audio, None, hook, "train")
    items = [it for c in convs for it in c.items if it.audio is not None]
    if not items:
        raise DataError("No training clip gave audio features.", "Check --data-dir.")
    mean, std = audio_statistics(convs)
    state = load_file(str(folder / WEIGHTS_NAME))
    stored_mean, stored_std = state["audio_mean"].float().numpy(), state["audio_std"].float().numpy()
    if mean.shape != stored_mean.shape:
        raise DataError(
            f"The features are {mean.shape[0]}-d, the model's audio head reads {stored_mean.shape[0]}-d.",
            "Check the model folder.",
        )
    off = float(max(np.abs(mean - stored_mean).max(), np.abs(std - stored_std).max()) / stored_std.min())
    if off > STATS_TOLERANCE:
        raise DataError(
            f"{'+'.join(spec.datasets)} (training actors {spec.train_actors}) is not the data the audio "
            f"head at {folder} was trained on: its statistics differ by {off:.3g} standard deviations.",
            "Give the --dataset, --data-dir and --train-actors the model was trained with.",
        )
    prior = speaker_prior_mean(convs)
    speakers = sorted({f"{it.group}/{it.speaker}" for it in items})
    log(f"{len(items)} clips of {len(speakers)} speakers; statistics match the model (within {off:.2g} std)")
    state[SPEAKER_MEAN] = torch.from_numpy(prior.astype(np.float32))
    raw = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    raw["format_version"] = max(int(raw.get("format_version", 1)), format_version(cfg, True))
    with atomic_output(folder / WEIGHTS_NAME) as tmp:
        meta = {"format": "emocli-emotion", "format_version": str(raw["format_version"])}
        save_file(state, str(tmp), metadata=meta)
    with atomic_output(folder / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return {
        "clips": len(items),
        "speakers": speakers,
        "stats_offset_std": off,
        "format": raw["format_version"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m emocli.training.audio_prior", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--dataset", required=True, help="what the audio head was trained on, e.g. ravdess,tess")
    ap.add_argument(
        "--data-dir", type=Path, action="append", required=True, help="one folder, or one per data set"
    )
    ap.add_argument("--train-actors", default="1-16", help="RAVDESS training actors (as emocli train)")
    ap.add_argument("--model", type=Path, required=True, help="the model folder to add the prior to")
    args = ap.parse_args(argv)
    spec = DataSpec(tuple(args.dataset.split(",")), tuple(args.data_dir), train_actors=args.train_actors)
    try:
        out = add_speaker_prior(args.model, spec, log=print)
    except EmocliError as e:
        print(f"error: {e}")
        return e.exit_code
    print(f"wrote {SPEAKER_MEAN} ({len(out['speakers'])} speakers) into {args.model}, format {out['format']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
