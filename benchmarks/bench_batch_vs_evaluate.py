"""Does ``emocli batch --modalities audio`` read RAVDESS clips as ``emocli evaluate`` scores them?

    python benchmarks/bench_batch_vs_evaluate.py [--data DIR] [--work DIR] [--actors 17 18]
        [--model DIR] [--conversation]

Issue 15's acceptance item 2. Prints, on the same clips (default RAVDESS actors 17-18, 120 clips):

- ``evaluate``: ``emocli evaluate --dataset ravdess --actors 17-18`` (whole clips, each actor's audio
  standardised over all the actor's clips): 7-class accuracy (calm = neutral) and 8-class accuracy.
- ``batch``: what ``emocli batch FOLDER --recursive --modalities audio`` runs (``emocli.batch.run_batch``
  in this process) on a folder of links to the same clips: speech found, cut into utterances and read
  by the audio head, with three speaker groupings: ``auto`` (the default: voices grouped across the
  folder), ``pattern`` (``--speaker-pattern '(\\d+)\\.\\w+$' --speakers clip``: the RAVDESS actor
  from the file name) and ``clip`` (``--speakers clip``: each clip alone). 7-class accuracy of the
  clip's label (a clip with an error row counts as wrong; the errors are listed) and 8-class accuracy
  from the audio head's calm-aware output, averaged over the clip's utterances as its scores are.
  Each clip is read once; the three groupings reuse its record.
- clip by clip: evaluate's predicted class (7 and 8) of each clip against batch's, per grouping: how
  many clips differ, which, and whether the audio head's inputs differ (the clip's raw features,
  its utterances, the standardised vector). Evaluate's per-clip predictions come from the steps
  ``emocli.training.evaluate.evaluate`` runs (checked against the command's accuracies).
- ``--conversation``: the same clips joined into one recording, the two actors taking turns (each
  clip trimmed to its speech +- 0.3 s), annotated with ``--modalities audio``: a labelled stand-in
  for a conversation (speakers found by diarization, each heard many times, little silence around an
  utterance). Each clip's label: its utterances' scores weighted by their overlap with the clip.

The commands run ``python -m emocli`` on the code in ``PYTHONPATH`` (default: this checkout), so the
same script measures another tree: ``PYTHONPATH=/path/to/other/tree python benchmarks/...``.
Data comes from ``--data`` (default ``$EMOCLI_DATA``, else ``../shared/data``); links and outputs
go to ``--work`` (default: a temporary folder), never into the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = Path(os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or ROOT).resolve()
sys.path.insert(0, str(CODE))
ENV = {**os.environ, "PYTHONPATH": str(CODE)}
EMOCLI = [sys.executable, "-m", "emocli"]  # run in CODE: ``-m`` puts the working folder first


def emocli(*args: str) -> None:
    subprocess.run([*EMOCLI, *args], check=True, env=ENV, cwd=CODE, stdout=subprocess.DEVNULL)


SR = 16_000


def label_of(name: str) -> tuple[str, str]:
    """RAVDESS file name 03-01-EE-II-SS-RR-AA -> (7-class label, native label)."""
    from emocli.training.datasets import NATIVE_TO_EMOTION, RAVDESS_NATIVE

    native = RAVDESS_NATIVE[int(Path(name).stem.split("-")[2]) - 1]
    return NATIVE_TO_EMOTION[native], native


def _native_name(name: str) -> str:
    """The audio head's name (EMOTIONS + calm) of a RAVDESS file's native label."""
    from emocli.training.datasets import NATIVE_TO_EMOTION

    native = label_of(name)[1]
    return native if native == "calm" else NATIVE_TO_EMOTION[native]


def clips_of(data: Path, actors: list[str]) -> list[Path]:
    return sorted(p for a in actors for p in (data / "ravdess").rglob(f"03-01-*-{int(a):02d}.flac"))


def run_evaluate(data: Path, work: Path, actors: list[str], model: Path | None) -> dict:
    out = work / "evaluate.json"
    spec = ",".join(str(int(a)) for a in actors)
    cmd = ["evaluate", "--dataset", "ravdess", "--data-dir", str(data / "ravdess"), "--actors", spec,
           "--json", str(out), "--threads", "1", "--quiet"]  # fmt: skip
    emocli(*cmd, *(["--model", str(model)] if model is not None else []))
    return json.loads(out.read_text())


def evaluate_per_clip(data: Path, actors: list[str], model: Path | None) -> dict[str, dict]:
    """File name -> evaluate's reading of the clip (the steps of ``emocli.training.evaluate`` on
    RAVDESS, in this process): raw pooled features, the standardised vector, the 7-class and 8-class
    predictions."""
    import numpy as np

    from emocli import EMOTIONS
    from emocli.model.checkpoint import load_model, resolve_model_dir
    from emocli.model.config import AUDIO_NATIVE
    from emocli.training.data import Conversation
    from emocli.training.datasets import read_ravdess
    from emocli.training.loop import predict
    from emocli.training.prepare import featurize, make_featurizers, standardise_split

    net = load_model(resolve_model_dir(model), "cpu")
    dialogues, report = read_ravdess(data / "ravdess", {int(a) for a in actors})
    _, audio_f, _ = make_featurizers(net, ("audio",), "cpu")
    convs = featurize(dialogues, ("audio",), report, None, audio_f, None, split="clips")
    raw = {it.uid: np.array(it.audio) for c in convs for it in c.items}
    cfg = net.cfg
    standardise_split(convs, net.audio_mean.numpy(), net.audio_std.numpy(), cfg.speaker_norm_prior,
                      cfg.speaker_norm)  # fmt: skip
    items = [it for c in convs for it in c.items]
    pred = predict(net, [Conversation(it.uid, [it]) for it in items])
    out = {}
    for k, it in enumerate(items):
        native = AUDIO_NATIVE[int(pred.native[k].argmax())] if pred.native is not None else None
        label = EMOTIONS[int(pred.probs[k].argmax())]
        out[Path(it.uid).name] = dict(raw=raw[it.uid], z=np.array(it.audio), label=label, native=native)
    return out


def _link_folder(clips: list[Path], work: Path) -> Path:
    folder = work / "clips"
    for c in clips:  # links, not copies: the data stays where it is
        link = folder / c.parent.name / c.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(c)
    return folder


GROUPINGS = {"auto": ("auto", None), "pattern": ("clip", r"(\d+)\.\w+$"), "clip": ("clip", None)}


Batch = dict[str, tuple[float, float, int, list, dict[str, dict]]]


def run_batch(clips: list[Path], work: Path, model: Path | None) -> tuple[Batch, dict[str, object]]:
    """``run_batch`` (what ``emocli batch FOLDER --recursive --modalities audio`` runs) once per
    speaker grouping: --speakers auto, --speaker-pattern '(\\d+)\\.\\w+$' --speakers clip (the
    RAVDESS actor), --speakers clip. Each clip's first pass runs once and is reused by the other two
    runs (the records are the same whatever the grouping). 8-class accuracy from the audio head's
    calm-aware output, averaged over a clip's utterances as its 7 scores are (batch writes 7).
    Returns per grouping (7-class, 8-class, rows, error rows, file name -> the clip's label, 8-class
    label and the audio rows the network was given), and the records by relative path."""
    import numpy as np

    import emocli
    from emocli.batch import BatchOptions
    from emocli.batch import run_batch as batch
    from emocli.batch_speakers import SpeakerGrouping
    from emocli.clip_labeler import AnnotatorLabeler, AnnotatorLabelerFactory, RecordFinisher
    from emocli.model.config import AUDIO_NATIVE
    from emocli.pipeline import AnnotateOptions
    from emocli.training.datasets import NATIVE_TO_EMOTION

    assert Path(emocli.__file__).resolve().is_relative_to(CODE), f"{emocli.__file__} is not under {CODE}"
    records: dict[str, object] = {}
    native: dict[str, str] = {}
    given: dict[str, np.ndarray] = {}  # rel -> (k, D) the audio rows the network read (standardised)

    class NativeFinisher(RecordFinisher):
        def predict(self, rec, stats=None):  # type: ignore[no-untyped-def]
            seen: list[np.ndarray] = []
            hook = self.model.net.register_forward_pre_hook(
                lambda _m, args: seen.append(args[0].audio[0][args[0].audio_mask[0]].numpy().copy())
            )
            try:
                preds = super().predict(rec, stats)
            finally:
                hook.remove()
            given[rec.rel] = seen[0]
            w = [(u.end - u.start, p.audio_native) for u, p in zip(rec.utterances, preds, strict=True)]
            w = [(max(d, 1e-3), a) for d, a in w if a is not None]
            if w:
                mean = sum(d * a for d, a in w) / sum(d for d, _ in w)
                native[rec.rel] = AUDIO_NATIVE[int(np.argmax(mean))]
            return preds

    class MemoLabeler(AnnotatorLabeler):
        def extract(self, path, rel, render=True):  # type: ignore[no-untyped-def]
            if rel not in records:
                records[rel] = super().extract(path, rel, render)
            return records[rel]

    class BenchFactory(AnnotatorLabelerFactory):
        def __call__(self) -> MemoLabeler:
            return MemoLabeler(self)

        def finisher_for(self, model):  # type: ignore[no-untyped-def]
            return NativeFinisher(model, self.options.modalities, self.per_utterance)

    folder = _link_folder(clips, work)
    factory = BenchFactory(AnnotateOptions(modalities=("audio",), model_dir=model))
    out: Batch = {}
    for name, (mode, pattern) in GROUPINGS.items():
        path = work / f"batch_{name}.csv"
        native.clear()
        given.clear()
        # --speakers clip alone is one pass (each clip annotated again); a pattern that matches no
        # path gives the same rows through the records already read (every voice its own group).
        grouping = SpeakerGrouping(mode, pattern if name != "clip" else r"^(?!)(x)")
        opts = BatchOptions(recursive=True, speakers=grouping)
        batch(folder, path, factory, opts)
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        right = sum(r["status"] == "ok" and r["emotion"] == label_of(r["file"])[0] for r in rows)
        want8 = {r["file"]: label_of(r["file"])[1] for r in rows}
        right8 = sum(native.get(f) == (n if n == "calm" else NATIVE_TO_EMOTION[n]) for f, n in want8.items())
        errors = [(r["file"], r["error"]) for r in rows if r["status"] != "ok"]
        per_clip = {
            Path(r["file"]).name: dict(label=r["emotion"] if r["status"] == "ok" else None,
                                       native=native.get(r["file"]), z=given.get(r["file"]))
            for r in rows
        }  # fmt: skip
        out[name] = (right / max(len(rows), 1), right8 / max(len(rows), 1), len(rows), errors, per_clip)
    return out, records


def input_gap(ev: dict[str, dict], per_clip: dict[str, dict], records: dict[str, object]) -> str:
    """How far the audio head's inputs of all the clips are from evaluate's: the largest difference
    of the raw pooled features and of the standardised vectors given to the network."""
    import numpy as np

    recs = {Path(rel).name: r for rel, r in records.items()}
    raw, z, other = 0.0, 0.0, 0
    for name, e in ev.items():
        utts = [u for u in getattr(recs.get(name), "utterances", []) if u.audio is not None]
        given = per_clip.get(name, {}).get("z")
        if len(utts) != 1 or given is None or len(given) != 1:
            other += 1
            continue
        raw = max(raw, float(np.abs(utts[0].audio - e["raw"]).max()))
        z = max(z, float(np.abs(given[0] - e["z"]).max()))
    return (f"audio head inputs against evaluate's: raw features at most {raw:.1e} apart, standardised "
            f"vectors {z:.1e} ({other} clips without exactly one utterance)")  # fmt: skip


def compare_clips(ev: dict[str, dict], per_clip: dict[str, dict], records: dict[str, object]) -> list[str]:
    """Lines naming each clip where batch's 7- or 8-class prediction differs from evaluate's, with
    what differs in the audio head's input: the utterances found, the raw pooled features (the audio
    read), the standardised vector given to the network."""
    import numpy as np

    recs = {Path(rel).name: r for rel, r in records.items()}
    lines = []
    for name in sorted(ev):
        e, b = ev[name], per_clip.get(name, {})
        if b.get("label") == e["label"] and b.get("native") == e["native"]:
            continue
        rec = recs.get(name)
        utts = [u for u in getattr(rec, "utterances", []) if u.audio is not None]
        why = f"{len(utts)} utterances with audio"
        if len(utts) == 1:
            raw = float(np.abs(utts[0].audio - e["raw"]).max())
            z = b.get("z")
            dz = float(np.abs(z[0] - e["z"]).max()) if z is not None and len(z) == 1 else float("nan")
            why += f", max |raw features - evaluate's| {raw:.2e}, max |standardised - evaluate's| {dz:.2e}"
        lines.append(f"  {name}: true {'/'.join(label_of(name))}; evaluate {e['label']}/{e['native']}, "
                     f"batch {b.get('label')}/{b.get('native')} ({why})")  # fmt: skip
    return lines


def run_conversation(clips: list[Path], work: Path, model: Path | None) -> tuple[float, int, int]:
    """Join the clips, actors alternating, each trimmed to its speech +- 0.3 s; annotate; score."""
    import numpy as np

    import emocli
    from emocli import EMOTIONS
    from emocli.media import ffmpeg_exe, load_audio

    assert Path(emocli.__file__).resolve().is_relative_to(CODE), f"{emocli.__file__} is not under {CODE}"
    from emocli.pipeline import AnnotateOptions, Annotator
    from emocli.speech.vad import SileroVAD

    by_actor: dict[str, list[Path]] = {}
    for c in clips:
        by_actor.setdefault(c.stem.split("-")[-1], []).append(c)
    order = [c for group in zip(*by_actor.values(), strict=False) for c in group]
    vad, pieces, spans, t = SileroVAD(), [], [], 0.0
    for c in order:
        audio = load_audio(c)
        regions = vad(audio) or [(0.0, len(audio) / SR)]
        a = int(max(0.0, regions[0][0] - 0.3) * SR)
        b = int(min(len(audio) / SR, regions[-1][1] + 0.3) * SR)
        pieces.append(audio[a:b])
        spans.append((t, t + (b - a) / SR))
        t += (b - a) / SR
    path = work / "conversation.flac"
    raw = np.concatenate(pieces).astype("<f4").tobytes()
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(SR),
                    "-ac", "1", "-i", "pipe:0", str(path)], input=raw, check=True)  # fmt: skip
    result = Annotator(AnnotateOptions(modalities=("audio",), model_dir=model)).analyze(path).result
    right = 0
    for c, (s, e) in zip(order, spans, strict=True):
        total = np.zeros(len(EMOTIONS))
        for u in result.utterances:
            overlap = min(e, u.end) - max(s, u.start)
            if overlap > 0 and u.scores:
                total += overlap * np.array([u.scores[k] for k in EMOTIONS])
        right += bool(total.any()) and EMOTIONS[int(total.argmax())] == label_of(c.name)[0]
    return right / len(order), len(order), len(result.speakers)


def main(argv: list[str] | None = None) -> int:
    default_data = Path(os.environ.get("EMOCLI_DATA", ROOT.parent / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default_data)
    ap.add_argument("--work", type=Path, default=None, help="links and outputs (default: a temp folder)")
    ap.add_argument("--actors", nargs="+", default=["17", "18"])
    ap.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("--conversation", action="store_true", help="also the joined-conversation check")
    args = ap.parse_args(argv)
    args.data = args.data.resolve()
    args.model = args.model.resolve() if args.model is not None else None
    work = (args.work or Path(tempfile.mkdtemp(prefix="bench_batch_vs_evaluate-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    clips = clips_of(args.data, args.actors)
    if not clips:
        raise SystemExit(f"no RAVDESS clips of actors {args.actors} under {args.data / 'ravdess'}")
    where = subprocess.run([sys.executable, "-c", "import emocli; print(emocli.__file__)"], cwd=CODE, env=ENV,
                           capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    print(f"code: {where}; {len(clips)} clips of actors {', '.join(args.actors)}; work folder {work}")

    t = time.perf_counter()
    ev = run_evaluate(args.data, work, args.actors, args.model)
    print(f"evaluate: 7-class accuracy {ev['accuracy']:.3f}, 8-class {ev['accuracy_native']:.3f} "
          f"(n={ev['n']}, {time.perf_counter() - t:.0f} s)")  # fmt: skip
    per_clip_ev = evaluate_per_clip(args.data, args.actors, args.model)
    acc_ev = sum(e["label"] == label_of(f)[0] for f, e in per_clip_ev.items()) / len(per_clip_ev)
    acc8_ev = sum(e["native"] == _native_name(f) for f, e in per_clip_ev.items()) / len(per_clip_ev)
    same = abs(acc_ev - ev["accuracy"]) < 1e-9 and abs(acc8_ev - ev["accuracy_native"]) < 1e-9
    print(f"evaluate clip by clip (in this process): 7-class {acc_ev:.3f}, 8-class {acc8_ev:.3f} "
          f"({'the same as' if same else 'NOT the same as'} the command's)")  # fmt: skip
    t = time.perf_counter()
    results, records = run_batch(clips, work, args.model)
    for name, (acc, acc8, n, errors, per_clip) in results.items():
        print(f"batch --modalities audio, speakers {name}: 7-class accuracy {acc:.3f}, 8-class {acc8:.3f} "
              f"(n={n}, {len(errors)} error rows); evaluate - batch = {ev['accuracy'] - acc:+.3f} (7-class), "
              f"{ev['accuracy_native'] - acc8:+.3f} (8-class)")  # fmt: skip
        for file, reason in errors:
            print(f"  error: {file}: {reason}")
        differ = compare_clips(per_clip_ev, per_clip, records)
        n7 = sum(per_clip.get(f, {}).get("label") != e["label"] for f, e in per_clip_ev.items())
        n8 = sum(per_clip.get(f, {}).get("native") != e["native"] for f, e in per_clip_ev.items())
        print(f"  clips whose prediction differs from evaluate's: {n7} (7-class), {n8} (8-class); "
              f"{input_gap(per_clip_ev, per_clip, records)}")  # fmt: skip
        for line in differ:
            print(line)
    print(f"  ({time.perf_counter() - t:.0f} s for the three)")
    if args.conversation:
        t = time.perf_counter()
        acc_c, n_c, speakers = run_conversation(clips, work, args.model)
        print(f"conversation (joined, --modalities audio): 7-class accuracy {acc_c:.3f} (n={n_c}, "
              f"{speakers} speakers found, {time.perf_counter() - t:.0f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
