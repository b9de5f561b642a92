"""Feature-extraction throughput of the emotion model, per modality (utterances per second).

    python benchmarks/bench_features.py [--data DIR] [--threads 1] [--n 200] [--json OUT]

- text: tokenisation + the frozen bottom layers of MiniLM (what the training cache stores), and
  the whole text branch at inference (``predict_dialogue`` on text only, dialogue context included);
- audio: Whisper base encoder states pooled per utterance, each clip encoded at its own length,
  the last layer and layer 1 (what the shipped audio head reads), against the same clips padded to
  Whisper's 30 s window (what a naive use costs);
- visual: the model's visual branch on per-frame probabilities (temporal softmax pooling + context);
  the face detection/expression itself belongs to the faces stage (benchmarks/bench_faces.py).

Texts and audio come from MELD dev and RAVDESS under DIR (``$EMOCLI_DATA`` or ../shared/data)
when present; otherwise synthetic sentences and tones are used (the numbers then say so).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def _texts(data: Path, n: int) -> tuple[list[str], str]:
    from emocli.training.datasets import read_meld

    if (data / "meld" / "dev_sent_emo.csv").is_file():
        dialogues, _ = read_meld(data / "meld", "dev")
        texts = [s.text or "" for d in dialogues for s in d.samples]
        return texts[:n], "MELD dev"
    base = ["Oh my God!", "I can't believe you did that to me, Ross.", "Okay.", "What are you talking about?"]
    return (base * (n // len(base) + 1))[:n], "synthetic"


def _clips(data: Path, n: int) -> tuple[list[np.ndarray], str]:
    from emocli.media import load_audio

    files = sorted((data / "ravdess").rglob("*.flac"))[:n] if (data / "ravdess").is_dir() else []
    if files:
        return [load_audio(f) for f in files], "RAVDESS"
    rng = np.random.default_rng(0)
    return [(0.1 * rng.standard_normal(int(16000 * 3.5))).astype(np.float32) for _ in range(n)], "synthetic"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EMOCLI_DATA", Path(__file__).parents[2] / "shared" / "data")),
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=200, help="utterances per modality")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from emocli.features.audio import WhisperEncoder, pool_stats
    from emocli.features.extract import TextFeaturizer
    from emocli.features.text import load_tokenizer, resolve_text_backbone
    from emocli.model.config import ModelConfig
    from emocli.model.fusion import Batch, EmotionNet
    from emocli.model.text_encoder import TextEncoder

    out: dict[str, dict] = {}
    texts, source = _texts(args.data, args.n)
    path, version = resolve_text_backbone()
    enc = TextEncoder(path, trainable_layers=4).eval()
    feat = TextFeaturizer(enc, load_tokenizer(path), version + "-bench")
    feat.cache.put = lambda key, value: None  # type: ignore[method-assign]  # measure compute, not disk
    feat.cache.get = lambda key: None  # type: ignore[method-assign]
    t0 = time.perf_counter()
    feat.states(texts)
    dt = time.perf_counter() - t0
    out["text_frozen_layers"] = {"utt_per_s": len(texts) / dt, "n": len(texts), "source": source}
    try:
        from emocli.model.inference import UtteranceInput, load_emotion_model

        rec = load_emotion_model()
        utts = [UtteranceInput(t, "AB"[i % 2]) for i, t in enumerate(texts)]
        rec.predict_dialogue(utts[:8])  # warm-up
        t0 = time.perf_counter()
        for s in range(0, len(utts), 20):  # dialogues of 20 utterances
            rec.predict_dialogue(utts[s : s + 20])
        out["text_inference_shipped_model"] = {
            "utt_per_s": len(utts) / (time.perf_counter() - t0),
            "n": len(utts),
        }
    except Exception as e:  # the shipped model may be absent in a development tree
        out["text_inference_shipped_model"] = {"error": str(e)}

    clips, source = _clips(args.data, min(args.n, 120))
    whisper = WhisperEncoder()
    whisper.frames(clips[0])  # warm-up
    t0 = time.perf_counter()
    for c in clips:
        pool_stats(whisper.frames(c))
    dt = time.perf_counter() - t0
    seconds = sum(len(c) for c in clips) / 16000
    out["audio_whisper_own_length"] = {
        "utt_per_s": len(clips) / dt,
        "s_per_audio_s": dt / seconds,
        "n": len(clips),
        "source": source,
    }
    # The shipped audio head reads encoder layer 1 (a truncated copy of the model) beside the last:
    # one layer in six, but the convolutions and per-call start-up are paid again.
    layer1 = WhisperEncoder(model=whisper.model, layers=(1,))
    layer1.frames(clips[0])  # warm-up
    t0 = time.perf_counter()
    for c in clips:
        pool_stats(layer1.frames(c))
    dt = time.perf_counter() - t0
    out["audio_whisper_layer1_own_length"] = {
        "utt_per_s": len(clips) / dt,
        "s_per_audio_s": dt / seconds,
        "n": len(clips),
        "source": source,
    }
    few = clips[:10]
    t0 = time.perf_counter()
    for c in few:
        whisper._encode(np.pad(c, (0, max(0, 16000 * 30 - len(c)))))
    dt = time.perf_counter() - t0
    out["audio_whisper_padded_30s"] = {
        "utt_per_s": len(few) / dt,
        "s_per_audio_s": dt / (sum(len(c) for c in few) / 16000),
        "n": len(few),
    }

    net = EmotionNet(ModelConfig(modalities=("visual",), hidden=128)).eval()
    b, n, f = 10, 20, 25  # 200 utterances of 25 sampled frames (5 s at 5 frames/s)
    probs = torch.softmax(torch.randn(b, n, f, 7), -1)
    batch = Batch(mask=torch.ones(b, n, dtype=torch.bool), speakers=torch.zeros(b, n, dtype=torch.long),
                  visual=probs, visual_frames=torch.ones(b, n, f, dtype=torch.bool),
                  visual_mask=torch.ones(b, n, dtype=torch.bool))  # fmt: skip
    with torch.inference_mode():
        net(batch)
        t0 = time.perf_counter()
        for _ in range(5):
            net(batch)
    out["visual_branch"] = {
        "utt_per_s": 5 * b * n / (time.perf_counter() - t0),
        "n": 5 * b * n,
        "frames_per_utt": f,
    }
    out["torch_threads"] = {"threads": args.threads}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
