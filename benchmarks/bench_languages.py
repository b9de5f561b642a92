"""Does emocli read the same emotion from the same words in another language? (issue 14)

    python benchmarks/bench_languages.py [--work DIR] [--languages en,es,fr,de,ru,zh,ar,hi]
        [--modalities text,audio] [--limit N] [--json OUT] [--threads 2]

The set is ``language_set.py``'s: short sentences with one clear emotion in words, each written in
English and translated, spoken by espeak-ng (one voice per language). Per language the items are
joined into one recording (0.6 s between them) and annotated once by the shipped defaults, loaded
once, as a user would annotate a monologue. Each item's result is read from the utterances that
overlap its speech (scores weighted by the overlap). Reported per language:

- ``found``: share of the item's speech whose utterance got the right language;
- ``translated``: share of the items whose text model read a translation (non-English should be 1);
- ``agree``: how often the item's emotion equals the emotion of its English original through the
  same pipeline (the issue's measure; target >= 0.75 over the non-English items);
- ``label``: how often it equals the sentence's intended emotion (for scale: English too);
- ``rtf`` and ``x en``: wall time of the analysis / audio duration, and that against English's;
  ``translate s``: the seconds spent translating.

``--show N`` prints N examples per language: the words as decoded, and what the text model read.

``--conversation LANG [--captions spoken|english]``: instead, the English + LANG dialogue of
``language_set.conversation`` made into a video and annotated by ``emocli annotate``; prints each
utterance's language (against the one spoken), whether it was translated, its words and
translation, and saves a frame from the middle of each utterance to look at.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from language_set import LANGUAGES, Turn, join, synthesize  # noqa: E402


def read_items(result: dict, turns: list[Turn]) -> list[dict]:
    """Per item: the language with most overlap, overlap-weighted scores, the text the model read."""
    from emocli import EMOTIONS

    rows = []
    for t in turns:
        weights: list[tuple[float, dict]] = []
        for u in result["utterances"]:
            ov = max(0.0, min(t.end, u["end"]) - max(t.start, u["start"]))
            if ov > 0:
                weights.append((ov, u))
        langs: dict[str, float] = {}
        scores = np.zeros(len(EMOTIONS))
        for ov, u in weights:
            langs[u.get("language") or "?"] = langs.get(u.get("language") or "?", 0.0) + ov
            if u.get("scores"):
                scores += ov * np.array([u["scores"][e] for e in EMOTIONS])
        speech = max(t.end - t.start, 1e-6)
        rows.append(
            {
                "id": t.id,
                "emotion": t.emotion,
                "found": {k: round(v / speech, 3) for k, v in langs.items()},
                "language_right": round(langs.get(t.language, 0.0) / speech, 3),
                "predicted": EMOTIONS[int(np.argmax(scores))] if scores.sum() > 0 else None,
                "translated": any(u.get("translated") for _, u in weights),
                "text": " ".join(u["text"] for _, u in weights),
                "read": " ".join(u.get("text_en") or u["text"] for _, u in weights),
            }
        )
    return rows


def run_conversation(work: Path, other: str, captions: str) -> int:
    """The two-language conversation of ``language_set.conversation`` as a 1280x720 video (a plain
    background: no face), annotated by the real CLI; per utterance its language, whether it was
    translated and its caption, and a frame in the middle of each utterance saved as PNG."""
    import subprocess

    from language_set import conversation

    from emocli.media import ffmpeg_exe

    spans = conversation(work, other)
    wav, video = work / f"conversation_{other}.wav", work / f"conversation_{other}.mp4"
    seconds = spans[-1].end + 0.5
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"color=c=0x305070:s=1280x720:r=25:d={seconds}", "-i", str(wav),
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(video)],
        check=True,
    )  # fmt: skip
    out = work / f"annotated_{other}_{captions}.mp4"
    cmd = [
        sys.executable,
        "-m",
        "emocli",
        "annotate",
        str(video),
        "-o",
        str(out),
        "-f",
        "json,srt",
        "--quiet",
    ]
    subprocess.run([*cmd, "--captions", captions], check=True, cwd=HERE.parent)
    result = json.loads(out.with_suffix(".json").read_text())
    truth = {t.id: t for t in spans}
    for k, u in enumerate(result["utterances"]):
        mid = (u["start"] + u["end"]) / 2
        said = next((t for t in truth.values() if t.start - 0.3 <= mid <= t.end + 0.3), None)
        png = work / f"frame_{other}_{captions}_{k:02d}.png"
        subprocess.run(
            [ffmpeg_exe(), "-loglevel", "error", "-y", "-ss", f"{mid:.2f}", "-i", str(out),
             "-frames:v", "1", str(png)],
            check=True,
        )  # fmt: skip
        right = (
            "?"
            if said is None
            else ("ok" if said.language == u["language"] else f"WRONG (said {said.language})")
        )
        print(
            f"{u['start']:6.1f}-{u['end']:5.1f} {u['speaker']} {u['language']} {right:<16} "
            f"translated={u['translated']!s:<5} {u['emotion']:<8} {u['text']!r} | en: {u['text_en']!r}"
            f" -> {png.name}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--work", type=Path, help="where the set and the joined files go (default: a temp folder)"
    )
    ap.add_argument(
        "--languages", default=",".join(LANGUAGES), help="comma-separated codes; en is always run"
    )
    ap.add_argument(
        "--modalities", default="text,audio", help="passed to the annotator (audio files: no faces)"
    )
    ap.add_argument("--limit", type=int, help="only the first N sentences of each language")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for torch and the ASR")
    ap.add_argument("--json", type=Path, metavar="OUT", help="write every item's row and the totals here")
    ap.add_argument("--show", type=int, default=0, metavar="N", help="print N examples per language")
    ap.add_argument("--conversation", metavar="LANG", help="only the English + LANG dialogue, as a video")
    ap.add_argument("--captions", default="spoken", help="for --conversation: spoken or english")
    args = ap.parse_args(argv)
    if args.conversation:
        return run_conversation(
            args.work or Path(tempfile.mkdtemp(prefix="emocli-conv-")), args.conversation, args.captions
        )

    import torch

    from emocli.pipeline import AnnotateOptions, Annotator
    from emocli.results import MODALITIES
    from emocli.speech.pipeline import SpeechOptions

    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="emocli-languages-"))
    langs = ["en"] + [x.strip() for x in args.languages.split(",") if x.strip() and x.strip() != "en"]
    mods = tuple(m for m in MODALITIES if m in args.modalities.split(","))
    annotator = Annotator(AnnotateOptions(modalities=mods, speech=SpeechOptions(cpu_threads=args.threads)))
    annotator.load()

    table: dict[str, dict] = {}
    rows: dict[str, list[dict]] = {}
    for lang in langs:
        items = synthesize(work / "set", [lang], manifest=None)
        items = (
            sorted(items, key=lambda i: i.id)[: args.limit]
            if args.limit
            else sorted(items, key=lambda i: i.id)
        )
        path = work / f"joined_{lang}.wav"
        turns = join(items, path)
        t0 = time.perf_counter()
        result = annotator.analyze(path).result.to_dict()
        wall = time.perf_counter() - t0
        rows[lang] = read_items(result, turns)
        audio = turns[-1].end + 0.4
        table[lang] = {
            "items": len(items),
            "audio_s": round(audio, 1),
            "wall_s": round(wall, 2),
            "rtf": round(wall / audio, 3),
            "translate_s": result["timing"].get("translate", 0.0),
            "languages": result.get("languages", {}),
        }
        print(f"{lang}: {len(items)} items, {audio:.0f} s, {wall:.1f} s wall", file=sys.stderr, flush=True)

    english = {r["id"]: r["predicted"] for r in rows["en"]}
    agree_all: list[bool] = []
    heads = [("lang", 5), ("items", 6), ("found", 7), ("transl", 7), ("agree", 7), ("label", 7), ("rtf", 7)]
    print(f"{heads[0][0]:<5}" + "".join(f"{h:>{w}}" for h, w in heads[1:]) + f"{'x en':>6}{'transl s':>9}")
    for lang in langs:
        r = rows[lang]
        found = float(np.mean([x["language_right"] for x in r]))
        translated = float(np.mean([x["translated"] for x in r]))
        agree = [x["predicted"] == english.get(x["id"]) for x in r]
        if lang != "en":
            agree_all += agree
        label = float(np.mean([x["predicted"] == x["emotion"] for x in r]))
        t = table[lang]
        t.update(
            found=round(found, 3), translated=round(translated, 3), agree=round(float(np.mean(agree)), 3)
        )
        t.update(label=round(label, 3), x_en=round(t["rtf"] / table["en"]["rtf"], 2))
        print(
            f"{lang:<5}{t['items']:>6}{found:>7.2f}{translated:>7.2f}{t['agree']:>7.2f}{label:>7.2f}"
            f"{t['rtf']:>7.3f}{t['x_en']:>6.2f}{t['translate_s']:>9.1f}"
        )
    overall = float(np.mean(agree_all)) if agree_all else float("nan")
    print(f"non-English agreement with the English original: {overall:.3f} over {len(agree_all)} items")
    for lang in langs[1:]:
        for x in rows[lang][: args.show]:
            said = f"  [{lang} {x['id']}] {x['text']!r} -> read {x['read']!r}"
            print(f"{said} -> {x['predicted']} (en: {english.get(x['id'])})")
    if args.json:
        doc = {"languages": table, "agreement": round(overall, 3), "rows": rows, "work": str(work)}
        args.json.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
