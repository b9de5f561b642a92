"""Who speaks: speaker count, DER and whether each caption names the face that really speaks.

    python benchmarks/make_conversation.py --suite /tmp/dia          # once: the made conversations
    python benchmarks/bench_diarize.py --ami --clips --suite /tmp/dia [--json out.json]
    python benchmarks/bench_diarize.py --suite /tmp/dia --set 'side*' --audio-only --num-speakers 2

Inputs (data from ``--data``, default ``$EMOCLI_DATA``, else ``../shared/data``):
``--ami``: the AMI excerpts of ``speech/ami`` scored against their RTTM within their UEM;
``--clips``: the single-person clips of ``clips/`` (true count 1, no reference turns);
``--suite DIR``: what ``make_conversation.py --suite DIR`` built (``DIR/suite.json``): multi-face
videos with NAME.faces.json, acted-speech joins and the 600 s loop (run last). ``--set GLOB``
(repeatable) keeps only the files whose name matches.

Each input goes through emocli's annotate analysis in this process (``Annotator.analyze``, models
loaded once; ``--audio-only`` runs with modalities text + audio, so no face is used). Per file:
true and found speaker count (plus any count-uncertainty fields the JSON has, read if present);
DER with and without the frames where 2+ reference speakers talk, no collar, optimal one-to-one
mapping, hypothesis = the utterances (what the captions show; DER of the diarization turns goes to
the JSON); ``split``: reference turns whose speech falls to 2+ found speakers (0.3 s or more
each); ``mixed``: utterances (captions) that run over 2+ true speakers (0.3 s or more each); and,
for videos with faces.json, ``face-right``: the share of single-speaker reference time at which the
utterance covering it has a ``face_track`` whose box (nearest sampled frame of that track) has its
centre in the true speaker's tile. Time with no utterance, no face track or no box of that track
counts as wrong (the JSON splits the wrong time by reason). Totals: count right k/n, mean DER,
mean DER without overlap, time-weighted face-right; per set and over all.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Segment = tuple[float, float, str]  # (start s, end s, speaker)
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in output-video pixels
STEP = 0.01  # s: scoring frame
MIN_SPLIT = 0.3  # s: a found speaker must hold this much of a reference turn to count as a split
AMI_ISSUE12 = ("trn00", "trn04", "trn05", "trn06", "trn07", "trn08", "trn09", "dev00", "dev01")


# ---- scoring (pure) --------------------------------------------------------------------------


def activity(segments: Iterable[Segment], labels: Sequence[str], n: int, step: float = STEP) -> np.ndarray:
    """(len(labels), n) bool: is each speaker talking in frame t (frame centre inside a segment)."""
    act = np.zeros((len(labels), n), dtype=bool)
    index = {lab: i for i, lab in enumerate(labels)}
    for start, end, lab in segments:
        a = max(0, int(np.ceil(start / step - 0.5)))
        b = min(n, int(np.ceil(end / step - 0.5)))
        if b > a and lab in index:
            act[index[lab], a:b] = True
    return act


def der_frames(
    reference: Sequence[Segment],
    hypothesis: Sequence[Segment],
    uem: tuple[float, float] | None = None,
    skip_overlap: bool = False,
    step: float = STEP,
) -> dict[str, Any]:
    """Frame DER (no collar) within ``uem`` (None: all), optionally without the frames where 2+
    reference speakers talk; speakers mapped one-to-one to maximise the matched time on the frames
    scored. Returns der, missed / false_alarm / confusion / total seconds and the mapping."""
    from scipy.optimize import linear_sum_assignment

    end = max([e for _, e, _ in [*reference, *hypothesis]], default=0.0)
    n = int(np.ceil(max(end, uem[1] if uem else 0.0) / step)) + 1
    ref_labels = sorted({s for *_, s in reference})
    hyp_labels = sorted({s for *_, s in hypothesis})
    r = activity(reference, ref_labels, n, step)
    h = activity(hypothesis, hyp_labels, n, step)
    keep = np.ones(n, dtype=bool)
    if uem is not None:
        t = (np.arange(n) + 0.5) * step
        keep &= (t >= uem[0]) & (t < uem[1])
    if skip_overlap:
        keep &= r.sum(axis=0) < 2
    r, h = r[:, keep], h[:, keep]
    correct = np.zeros(r.shape[1], dtype=np.int64)
    mapping: dict[str, str] = {}
    if ref_labels and hyp_labels:
        rows, cols = linear_sum_assignment(-(r.astype(np.int64) @ h.T.astype(np.int64)))
        for i, j in zip(rows, cols, strict=True):
            mapping[hyp_labels[j]] = ref_labels[i]
            correct += r[i] & h[j]
    n_ref, n_hyp = r.sum(axis=0), h.sum(axis=0)
    missed = float(np.maximum(n_ref - n_hyp, 0).sum() * step)
    false_alarm = float(np.maximum(n_hyp - n_ref, 0).sum() * step)
    confusion = float((np.minimum(n_ref, n_hyp) - correct).sum() * step)
    total = float(n_ref.sum() * step)
    value = (missed + false_alarm + confusion) / total if total > 0 else float(false_alarm > 0)
    return {
        "der": value,
        "missed": missed,
        "false_alarm": false_alarm,
        "confusion": confusion,
        "total": total,
        "mapping": mapping,
    }


def spread(segments: Sequence[Segment], others: Sequence[Segment], min_s: float = MIN_SPLIT) -> int:
    """How many ``segments`` two or more speakers of ``others`` each overlap by ``min_s`` s or more.

    spread(reference, utterances): reference turns split between found speakers;
    spread(utterances, reference): utterances (captions) that run over two true speakers."""
    count = 0
    for s0, e0, _ in segments:
        held: dict[str, float] = {}
        for s1, e1, spk in others:
            held[spk] = held.get(spk, 0.0) + max(0.0, min(e0, e1) - max(s0, s1))
        count += sum(v >= min_s for v in held.values()) >= 2
    return count


@dataclass
class FaceScore:
    right: float = 0.0  # seconds: the caption's face is in the true speaker's tile
    wrong_tile: float = 0.0  # the caption's face is someone else's
    no_utterance: float = 0.0  # no utterance covers the time
    no_track: float = 0.0  # the utterance has no face_track
    no_box: float = 0.0  # the face_track has no box in any sampled frame

    @property
    def total(self) -> float:
        return self.right + self.wrong_tile + self.no_utterance + self.no_track + self.no_box

    @property
    def share(self) -> float | None:
        return self.right / self.total if self.total > 0 else None


def face_right(
    reference: Sequence[Segment],
    utterances: Sequence[dict[str, Any]],
    frames: Sequence[dict[str, Any]],
    tiles: dict[str, Rect],
    step: float = STEP,
) -> FaceScore:
    """Whether, at each ``step`` frame where exactly one reference speaker S talks, the covering
    utterance's face track (its box at the nearest sampled frame) has its centre in S's tile."""
    end = max([e for _, e, _ in reference], default=0.0)
    n = int(np.ceil(end / step)) + 1
    labels = sorted({s for *_, s in reference})
    r = activity(reference, labels, n, step)
    single = r.sum(axis=0) == 1
    who = r.argmax(axis=0)
    t = (np.arange(n) + 0.5) * step
    track_of = np.full(n, -2, dtype=np.int64)  # -2: no utterance, -1: an utterance with no track
    for u in sorted(utterances, key=lambda u: u["start"], reverse=True):  # earliest wins overlaps
        inside = (t >= u["start"]) & (t < u["end"])
        track_of[inside] = -1 if u.get("face_track") is None else int(u["face_track"])
    boxes: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # track -> (times (k,), centres (k, 2))
    by_track: dict[int, list[tuple[float, float, float]]] = {}
    for fr in frames:
        for f in fr.get("faces", []):
            if f.get("track") is not None:
                x0, y0, x1, y1 = f["box"]
                by_track.setdefault(int(f["track"]), []).append((fr["time"], (x0 + x1) / 2, (y0 + y1) / 2))
    for k, rows in by_track.items():
        a = np.array(sorted(rows))
        boxes[k] = (a[:, 0], a[:, 1:])
    score = FaceScore()
    for i in np.flatnonzero(single):
        k = int(track_of[i])
        if k == -2:
            score.no_utterance += step
        elif k == -1:
            score.no_track += step
        elif k not in boxes:
            score.no_box += step
        else:
            times, centres = boxes[k]
            j = int(np.searchsorted(times, t[i]))
            j = min(range(max(0, j - 1), min(len(times), j + 1)), key=lambda m: abs(times[m] - t[i]))
            cx, cy = centres[j]
            x0, y0, x1, y1 = tiles[labels[who[i]]]
            if x0 <= cx < x1 and y0 <= cy < y1:
                score.right += step
            else:
                score.wrong_tile += step
    return score


def count_info(result: dict[str, Any]) -> tuple[str, tuple[int, int] | None, bool | None]:
    """The speaker-count uncertainty a result may carry (``speaker_count``: n, confidence, low, high,
    evidence, as the schema is growing), read leniently: (short text for the table, (low, high) or
    None, whether the count is flagged uncertain, or None when the result does not say)."""
    sc = result.get("speaker_count")
    if not isinstance(sc, dict):
        return ("" if sc is None else str(sc)), None, None
    bounds = sc.get("range")
    if not (isinstance(bounds, list | tuple) and len(bounds) == 2):
        bounds = next(
            ((sc[a], sc[b]) for a, b in (("low", "high"), ("min", "max")) if a in sc and b in sc), None
        )
    lohi = (int(bounds[0]), int(bounds[1])) if bounds and None not in bounds else None
    conf = sc.get("confidence")
    if "uncertain" in sc:
        uncertain: bool | None = bool(sc["uncertain"])
    elif isinstance(conf, str):
        uncertain = conf.lower() != "high"
    else:
        uncertain = None
    parts = [f"n={sc['n']}"] if "n" in sc else []
    parts += [f"confidence={conf}"] if conf is not None else []
    parts += [f"range={lohi[0]}-{lohi[1]}"] if lohi else []
    return " ".join(parts), lohi, uncertain


def read_rttm(path: Path) -> dict[str, list[Segment]]:
    """SPEAKER lines of an RTTM file, by file URI."""
    out: dict[str, list[Segment]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            out.setdefault(f[1], []).append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return out


def read_uem(path: Path) -> dict[str, tuple[float, float]]:
    """``URI channel start end`` lines (one scored region per file)."""
    out = {}
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) >= 4:
            out[f[0]] = (float(f[2]), float(f[3]))
    return out


# ---- inputs and the run ------------------------------------------------------------------------


@dataclass
class Item:
    name: str
    set: str  # ami, clips or suite
    media: Path
    true: int
    reference: list[Segment] | None = None
    uem: tuple[float, float] | None = None
    tiles: dict[str, Rect] | None = None


def ami_items(data: Path) -> list[Item]:
    folder = data / "speech" / "ami"
    refs: dict[str, list[Segment]] = {}
    uems: dict[str, tuple[float, float]] = {}
    for p in sorted(folder.glob("*.rttm")):
        refs |= read_rttm(p)
    for p in sorted(folder.glob("*.uem")):
        uems |= read_uem(p)
    return [
        Item(uri, "ami", folder / f"{uri}.wav", len({s for *_, s in ref}), ref, uems.get(uri))
        for uri, ref in sorted(refs.items())
        if (folder / f"{uri}.wav").exists()
    ]


def clip_items(data: Path) -> list[Item]:
    return [Item(p.stem, "clips", p, 1) for p in sorted((data / "clips").glob("*.mp4"))]


def suite_items(folder: Path) -> list[Item]:
    """The made files, shortest first (the 600 s loop runs last)."""
    entries = json.loads((folder / "suite.json").read_text())["items"]
    items = []
    for it in sorted(entries, key=lambda it: float(it.get("duration", 0.0))):
        ref = read_rttm(folder / it["rttm"]).get(it["name"], [])
        tiles = None
        if it.get("faces"):
            faces = json.loads((folder / it["faces"]).read_text())
            tiles = {p["label"]: tuple(p["tile"]) for p in faces["people"]}
        items.append(Item(it["name"], "suite", folder / it["media"], int(it["speakers"]), ref, None, tiles))
    return items


def score(item: Item, result: dict[str, Any], wall: float, audio_only: bool) -> dict[str, Any]:
    utts = result.get("utterances", [])
    hyp = [(u["start"], u["end"], u["speaker"]) for u in utts]
    found = len(result.get("speakers", []))
    info, lohi, uncertain = count_info(result)
    row: dict[str, Any] = {
        "file": item.name,
        "set": item.set,
        "duration": result.get("duration"),
        "true": item.true,
        "found": found,
        "count_info": info,
        "run_s": round(wall, 2),
        "utterances": len(utts),
        "timing": result.get("timing", {}),
    }
    row["count_right"] = found == item.true
    # Issue 12, item 5: the count is right, or flagged uncertain with a range that holds the truth.
    row["count_ok"] = found == item.true or bool(uncertain and lohi and lohi[0] <= item.true <= lohi[1])
    if isinstance(result.get("speaker_count"), dict):
        row["speaker_count"] = result["speaker_count"]
    if item.reference:
        turns = [(t["start"], t["end"], t["speaker"]) for t in result.get("turns", [])]
        for key, skip in (("der", False), ("der_no_ovl", True)):
            d = der_frames(item.reference, hyp, item.uem, skip)
            row[key] = round(d["der"], 4)
            row[key + "_parts"] = {k: round(v, 2) for k, v in d.items() if k not in ("der", "mapping")}
            row[key + "_turns"] = round(der_frames(item.reference, turns, item.uem, skip)["der"], 4)
        row["split_turns"] = spread(item.reference, hyp)
        row["ref_turns"] = len(item.reference)
        row["mixed_utterances"] = spread(hyp, item.reference)
    if item.tiles and item.reference and not audio_only:
        fs = face_right(item.reference, utts, result.get("frames", []), item.tiles)
        row["face_right"] = None if fs.share is None else round(fs.share, 4)
        row["face_seconds"] = {
            k: round(getattr(fs, k), 2) for k in ("right", "wrong_tile", "no_utterance", "no_track", "no_box")
        }
    return row


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if "error" not in r]
    ders = [r["der"] for r in ok if "der" in r]
    nov = [r["der_no_ovl"] for r in ok if "der_no_ovl" in r]
    faces = [r["face_seconds"] for r in ok if "face_seconds" in r]
    right = sum(f["right"] for f in faces)
    total = sum(sum(f.values()) for f in faces)
    return {
        "files": len(rows),
        "errors": len(rows) - len(ok),
        "count_right": sum(r["count_right"] for r in ok),
        "count_ok": sum(r["count_ok"] for r in ok),
        "mean_der": round(float(np.mean(ders)), 4) if ders else None,
        "mean_der_no_ovl": round(float(np.mean(nov)), 4) if nov else None,
        "face_right": round(right / total, 4) if total else None,
    }


def fmt(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


COLUMNS = (
    *(("file", "<24"), ("set", "<5"), ("dur s", ">6"), ("true", ">4"), ("found", ">5"), ("DER", ">6")),
    *(("DER no-ovl", ">10"), ("face-right", ">10"), ("split", ">6"), ("mixed", ">6"), ("count info", "")),
)


def table_line(values: Sequence[str]) -> str:
    return " ".join(format(v, spec) for v, (_, spec) in zip(values, COLUMNS, strict=True)).rstrip()


def print_table(rows: list[dict[str, Any]], groups: dict[str, dict[str, Any]]) -> None:
    head = table_line([name for name, _ in COLUMNS])
    print(head + "\n" + "-" * len(head))
    for r in rows:
        if "error" in r:
            print(f"{r['file']:24} {r['set']:5} ERROR {r['error']}")
            continue
        split = f"{r['split_turns']}/{r['ref_turns']}" if "split_turns" in r else "-"
        mixed = f"{r['mixed_utterances']}/{r['utterances']}" if "mixed_utterances" in r else "-"
        values = [r["file"], r["set"], fmt(r["duration"], ".1f"), str(r["true"]), str(r["found"])]
        values += [fmt(r.get("der")), fmt(r.get("der_no_ovl")), fmt(r.get("face_right")), split, mixed]
        values.append(r["count_info"])
        print(table_line(values))
    print("-" * len(head))
    for name, t in groups.items():
        line = f"TOTAL {name:17} count right {t['count_right']}/{t['files'] - t['errors']}"
        line += f" (right or in a flagged range: {t['count_ok']}), mean DER {fmt(t['mean_der'])},"
        line += f" mean DER no-ovl {fmt(t['mean_der_no_ovl'])}, face-right {fmt(t['face_right'])}"
        print(line + (f", {t['errors']} errors" if t["errors"] else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("EMOCLI_DATA", "../shared/data")))
    ap.add_argument("--ami", action="store_true", help="the AMI excerpts (audio only)")
    ap.add_argument("--clips", action="store_true", help="the single-person clips (true count 1)")
    ap.add_argument("--suite", type=Path, metavar="DIR", help="what make_conversation.py --suite DIR built")
    ap.add_argument("--set", action="append", metavar="GLOB", help="keep only files whose name matches")
    ap.add_argument("--json", type=Path, metavar="OUT", help="write the rows and totals here")
    ap.add_argument("--audio-only", action="store_true", help="modalities text + audio: no face is used")
    ap.add_argument("--num-speakers", type=int, help="passed to the diarizer (trials)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for torch and the ASR")
    args = ap.parse_args(argv)
    if not (args.ami or args.clips or args.suite):
        ap.error("choose inputs: --ami, --clips and/or --suite DIR")

    items: list[Item] = []
    items += ami_items(args.data) if args.ami else []
    items += clip_items(args.data) if args.clips else []
    items += suite_items(args.suite) if args.suite else []
    if args.set:
        items = [i for i in items if any(fnmatch.fnmatch(i.name, g) for g in args.set)]
    if not items:
        ap.error("no input left (check --data, --suite and --set)")

    import torch

    from emocli.pipeline import AnnotateOptions, Annotator
    from emocli.results import MODALITIES
    from emocli.speech.pipeline import SpeechOptions

    torch.set_num_threads(args.threads)
    speech = SpeechOptions(cpu_threads=args.threads, num_speakers=args.num_speakers)
    modalities = ("text", "audio") if args.audio_only else MODALITIES
    annotator = Annotator(AnnotateOptions(modalities=modalities, speech=speech))
    rows = []
    for item in items:
        t0 = time.perf_counter()
        try:
            analysis = annotator.analyze(item.media)
            rows.append(score(item, analysis.result.to_dict(), time.perf_counter() - t0, args.audio_only))
            rows[-1]["warnings"] = list(analysis.warnings)
        except Exception as e:  # one bad file must not lose the others' figures
            rows.append({"file": item.name, "set": item.set, "error": f"{type(e).__name__}: {e}"})
        print(
            f"[{len(rows)}/{len(items)}] {item.name} {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    groups = {s: totals([r for r in rows if r["set"] == s]) for s in dict.fromkeys(r["set"] for r in rows)}
    sub = [r for r in rows if r["set"] == "ami" and r["file"] in AMI_ISSUE12]
    if sub and len(sub) != len([r for r in rows if r["set"] == "ami"]):
        groups["ami issue-12 (9)"] = totals(sub)
    groups["all"] = totals(rows)
    print_table(rows, groups)
    if args.json:
        config = {"audio_only": args.audio_only, "num_speakers": args.num_speakers, "threads": args.threads}
        args.json.write_text(json.dumps({"config": config, "rows": rows, "totals": groups}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
