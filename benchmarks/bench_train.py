"""Epoch time of ``emocli train``: MELD text branch (top-k MiniLM layers on cached states) and the
audio head on RAVDESS + TESS pooled Whisper features.

    python benchmarks/bench_train.py [--data DIR] [--threads 1] [--dialogues 200] [--json OUT]

The MELD part trains one epoch on the first DIALOGUES training dialogues and scales the time to
the 1,038 dialogues of the full split (epoch time is linear in the number of utterances). The
feature caching time (frozen layers, Whisper states) is reported apart: it is paid once.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

FULL_DIALOGUES = 1038


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMOCLI_DATA", Path(__file__).parents[2] / "shared" / "data")),
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dialogues", type=int, default=200)
    ap.add_argument("--text-layers", type=int, default=4)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("EMOCLI_CACHE_DIR", tempfile.mkdtemp(prefix="emocli-bench-"))
    from emocli.features.extract import AudioFeaturizer, TextFeaturizer
    from emocli.features.text import load_tokenizer, resolve_text_backbone
    from emocli.model.checkpoint import build_model
    from emocli.model.config import ModelConfig
    from emocli.training.loop import FitOptions, fit
    from emocli.training.prepare import DataSpec, audio_statistics, featurize, load_splits, standardise_split

    out: dict[str, dict] = {}
    if (args.data / "meld").is_dir():
        splits = load_splits(DataSpec(("meld",), (args.data / "meld",)))
        train = splits.train[: args.dialogues]
        dev = splits.dev[:20]
        net = build_model(
            ModelConfig(
                modalities=("text",), hidden=128, fusion="late", text_trainable_layers=args.text_layers
            )
        )
        path, version = resolve_text_backbone()
        tf = TextFeaturizer(net.text_encoder, load_tokenizer(path), version)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        tr = featurize(train, ("text",), splits.reports[0], tf, None, None)
        dv = featurize(dev, ("text",), splits.reports[1], tf, None, None)
        feat_s = time.perf_counter() - t0
        n_utt = sum(len(c.items) for c in tr)
        hist = fit(net, tr, dv, FitOptions(epochs=1))
        epoch = hist[0]["train_seconds"]
        out["meld_text"] = {
            "text_layers_trained": args.text_layers,
            "utterances": n_utt,
            "feature_caching_s": round(feat_s, 1),
            "epoch_s": epoch,
            "utt_per_s": round(n_utt / epoch, 1),
            "full_split_epoch_s_estimate": round(epoch * FULL_DIALOGUES / len(train), 1),
        }
    if (args.data / "ravdess").is_dir() and (args.data / "tess").is_dir():
        splits = load_splits(DataSpec(("ravdess", "tess"), (args.data,)))
        cfg = ModelConfig(
            modalities=("audio",), hidden=128, fusion="late", branch_context_layers={"audio": 0}
        )
        net = build_model(cfg)
        af = AudioFeaturizer()
        t0 = time.perf_counter()
        tr = featurize(splits.train, ("audio",), splits.reports[0], None, af, None)
        dv = featurize(splits.dev, ("audio",), splits.reports[-1], None, af, None)
        feat_s = time.perf_counter() - t0
        mean, std = audio_statistics(tr)
        net.audio_mean.copy_(torch.from_numpy(mean))
        net.audio_std.copy_(torch.from_numpy(std))
        for convs in (tr, dv):
            standardise_split(convs, mean, std, cfg.speaker_norm_prior)
        items = [it for c in tr for it in c.items]
        hist = fit(net, items, dv, replace(FitOptions(), epochs=3), acted=True)
        out["audio_ravdess_tess"] = {
            "clips": len(items),
            "feature_caching_s": round(feat_s, 1),
            "clips_per_s_features": round((len(items) + len(dv)) / max(feat_s, 1e-9), 1),
            "epoch_s": round(sum(h["train_seconds"] for h in hist) / len(hist), 2),
        }
    out["torch_threads"] = {"threads": args.threads}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
