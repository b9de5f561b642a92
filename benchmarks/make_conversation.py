"""Build multi-person "conversations" from single-speaker recordings, with reference RTTMs.

    python benchmarks/make_conversation.py OUT_DIR [--clips A B C D] [--no-interleave]
    python benchmarks/make_conversation.py OUT_DIR --layout side|grid --people 2|3|4
        [--listeners still|muted] [--loop-to SECONDS] [--name NAME]
    python benchmarks/make_conversation.py OUT_DIR --audio-only ravdess|tess --people N [--per-speaker K]
    python benchmarks/make_conversation.py --suite DIR    # the standard set for bench_diarize.py

Every mode takes data from ``--data`` (default ``$EMOCLI_DATA``, else ``../shared/data``).

Sequential mode (no ``--layout``): each clip of ``DATA/clips`` shows one person talking. Each clip is
cut in two at its longest pause (Silero VAD) and the halves are interleaved, A1 B1 C1 D1 A2 B2 C2 D2,
so that every speaker comes back; ``--no-interleave`` keeps each clip whole. Each piece is trimmed to
its speech (+- ``--pad`` s) and the pieces are joined one after another into ``OUT_DIR/NAME.mp4``
(512x512, 25 fps, AAC; NAME defaults to ``conversation``) with ``NAME.rttm``.

Multi-face mode (``--layout``): the same turns, but every person sits in their own tile of one canvas
(side by side, or a grid) at all times; canvas <= 1280 px wide, 25 fps, h264 + AAC. During a turn the
speaker's tile plays their clip with its sound; the listeners' tiles show either ``still``: a short
back-and-forth loop of their own frames from their longest pause (mouth closed; one still frame when
the pause is shorter than STILL_MIN, 1 s) or ``muted``: their clip playing on (looped) without sound, so that
every face moves its lips and only one is heard. ``--loop-to S`` repeats the whole conversation
(whole cycles, so no turn is cut) until it lasts at least S seconds. Writes NAME.mp4, NAME.rttm and
NAME.faces.json (per person: label, tile rectangle [x0, y0, x1, y1] in output pixels, clip).

Audio-only mode (``--audio-only``): utterances of N RAVDESS actors or TESS speakers (different actors
are different speakers), trimmed to their speech and taken in turns A B C A B C ..., into NAME.flac
(16 kHz mono) + NAME.rttm.

Reference turns are the VAD speech inside each piece, pauses under 0.3 s bridged (the RTTM habit),
one speaker label per person (the clip name, actor or TESS speaker). ffmpeg is the bundled binary
(``emocli.media.ffmpeg_exe``), always called with argument lists. face_3 and
WDA_AlexandriaOcasioCortez_000 show the same person, so only one of them may be used.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

DEFAULT_CLIPS = ("WDA_KatieHill_000", "face_1", "face_2", "face_4")
SAME_PERSON = {"face_3": "AOC", "WDA_AlexandriaOcasioCortez_000": "AOC"}
AOC = "WDA_AlexandriaOcasioCortez_000"
HELD_OUT = (  # name, people, layout, listeners: faces the who-speaks rules were not worked out on
    ("side2_muted_b", ("face_4", "face_5"), "side", "muted"),
    ("side3_muted_b", ("face_5", AOC, "face_1"), "side", "muted"),
    ("side3_still_b", ("face_5", AOC, "face_1"), "side", "still"),
    ("grid4_muted_b", ("face_5", AOC, "face_4", "face_2"), "grid", "muted"),
)
FPS = 25
SR = 16_000
MAX_WIDTH = 1280  # canvas width limit, pixels
MAX_TILE = 512  # the clips' own size: never upscale beyond it
MERGE_GAP = 0.3  # s: shorter pauses inside a piece stay inside one reference turn
# s: a shorter pause gives a still frame instead of a back-and-forth loop. The loops of the clips'
# longest pauses (0.3-0.4 s, between phrases) still showed lips closing: Light-ASD read them as
# speaking. The issue asks for listeners with their mouths closed, so short pauses give a still.
STILL_MIN = 1.0
STILL_MAX = 1.0  # s: the back-and-forth loop uses at most this much of the pause
Region = tuple[float, float]
Piece = tuple[str, float, float]  # (person, start s, end s) in that person's recording


def speech_span(regions: list[Region], lo: float, hi: float) -> Region:
    inside = [(max(s, lo), min(e, hi)) for s, e in regions if e > lo and s < hi]
    return (inside[0][0], inside[-1][1]) if inside else (lo, hi)


def speech_inside(regions: list[Region], lo: float, hi: float, merge: float = MERGE_GAP) -> list[Region]:
    """The speech regions within [lo, hi], pauses shorter than ``merge`` seconds bridged."""
    out: list[Region] = []
    for s, e in regions:
        s, e = max(s, lo), min(e, hi)
        if e <= s:
            continue
        if out and s - out[-1][1] < merge:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def plan_pieces(
    clips: dict[str, list[Region]], durations: dict[str, float], interleave: bool, pad: float
) -> list[Piece]:
    """(clip, start, end) pieces in conversation order, each trimmed to its speech +- pad."""
    halves: dict[str, list[Region]] = {}
    for name, regions in clips.items():
        dur = durations[name]
        s0, e0 = speech_span(regions, 0.0, dur)
        cuts = [(regions[i][1], regions[i + 1][0]) for i in range(len(regions) - 1)]
        if interleave and cuts:
            a, b = max(cuts, key=lambda c: c[1] - c[0])  # the longest pause
            mid = (a + b) / 2
            parts = [(s0, speech_span(regions, s0, mid)[1]), (speech_span(regions, mid, dur)[0], e0)]
        else:
            parts = [(s0, e0)]
        halves[name] = [(max(0.0, s - pad), min(dur, e + pad)) for s, e in parts]
    order: list[Piece] = []
    for i in range(max(len(p) for p in halves.values())):
        order += [(name, *p[i]) for name, p in halves.items() if i < len(p)]
    return order


def snap_to_frames(pieces: list[Piece], n_frames: dict[str, int]) -> list[tuple[str, int, int]]:
    """Pieces as whole video frames (start, end frame) so that pictures and sound stay in step."""
    out = []
    for c, s, e in pieces:
        a = max(0, math.floor(s * FPS))
        out.append((c, a, max(a + 1, min(n_frames[c], math.ceil(e * FPS)))))
    return out


def silent_stretch(regions: list[Region], duration: float) -> Region:
    """The longest pause of a recording (leading and trailing silence count), at most STILL_MAX s
    around its middle; a zero-length stretch (a still frame) when no pause reaches STILL_MIN s."""
    edges = [0.0, *[t for r in regions for t in r], duration]
    gaps = [(edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2)]
    a, b = max(gaps, key=lambda g: g[1] - g[0])
    a, b = a + 0.04, b - 0.04  # keep clear of the VAD's padding
    mid = (a + b) / 2
    if b - a < STILL_MIN:
        mid = min(duration, max(0.0, mid))
        return (mid, mid)
    half = min(b - a, STILL_MAX) / 2
    return (mid - half, mid + half)


def tile_layout(layout: str, people: int) -> tuple[int, list[tuple[int, int, int, int]]]:
    """Tile side (px, even) and each person's rectangle (x0, y0, x1, y1) on the canvas."""
    cols = people if layout == "side" else math.ceil(math.sqrt(people))
    tile = min(MAX_TILE, MAX_WIDTH // cols) // 2 * 2
    rects = []
    for i in range(people):
        x, y = (i % cols) * tile, (i // cols) * tile
        rects.append((x, y, x + tile, y + tile))
    return tile, rects


Turn = tuple[str, list[Region], float, float, float]
"""(speaker label, the VAD regions of their recording, piece start and end in it, start on the timeline)."""


def rttm_lines(uri: str, turns: list[Turn]) -> list[str]:
    """RTTM SPEAKER lines: the speech inside each turn's piece, moved onto the joined timeline."""
    lines = []
    for label, regions, s, e, t in turns:
        for rs, re_ in speech_inside(regions, s, e):
            lines.append(f"SPEAKER {uri} 1 {t + rs - s:.3f} {re_ - rs:.3f} <NA> <NA> {label} <NA> <NA>")
    return lines


# Encoder settings: lossless for intermediate files (every later cut is exact), ordinary for outputs.
LOSSLESS = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"]
H264_AAC = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
H264_AAC += ["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"]


def piece_audio(a0: int, a1: int) -> str:
    """The filter that cuts samples a0:a1 of a clip's sound for one turn, exactly a1 - a0 samples long.

    The sound of a clip cut to whole video frames ends at its last whole audio packet (up to 64 ms
    before the last frame), so a turn that runs to the clip's end got less sound than picture: every
    later turn's sound came that much early (24-52 ms in a cycle), and a loop repeated it per cycle
    (600 s of side2: the sound 1.18 s ahead of the picture and of the reference at the end). Silence
    pads the piece to its picture's length."""
    n = a1 - a0
    return f"atrim=start_sample={a0}:end_sample={a1},asetpts=PTS-STARTPTS,apad=whole_len={n}"


def check_length(path: Path, frames: int) -> None:
    """Refuse an output whose sound or picture is not ``frames`` video frames long (within a frame):
    the reference turns assume both are."""
    from emocli.media import ffmpeg_exe, load_audio

    err = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "null", "-"],
        capture_output=True,
        text=True,
    ).stderr
    counts = re.findall(r"frame=\s*(\d+)", err)
    got_frames = int(counts[-1]) if counts else -1
    got_audio = len(load_audio(path)) / SR * FPS  # in video frames
    if abs(got_frames - frames) > 1 or abs(got_audio - frames) > 1:
        raise SystemExit(
            f"{path}: {got_frames} frames and {got_audio / FPS:.3f} s of sound, expected {frames} frames "
            f"({frames / FPS:.3f} s): its reference turns would not match"
        )


def ffmpeg(*args: str | Path | int, stdin: bytes | None = None) -> None:
    from emocli.media import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)]
    subprocess.run(cmd, input=stdin, check=True)


def load_people(
    data: Path, clips: list[str]
) -> tuple[dict[str, Path], dict[str, list[Region]], dict[str, float]]:
    """Each clip's path, VAD speech regions and duration (s); refuses the same person twice."""
    from emocli.media import load_audio, probe
    from emocli.speech.vad import SileroVAD

    people = [SAME_PERSON.get(c, c) for c in clips]
    if len(set(people)) != len(people):
        raise SystemExit("face_3 and WDA_AlexandriaOcasioCortez_000 are the same person; use one of them")
    paths = {c: data / "clips" / f"{c}.mp4" for c in clips}
    vad = SileroVAD()
    regions = {c: vad(load_audio(p)) for c, p in paths.items()}
    return paths, regions, {c: probe(p).duration for c, p in paths.items()}


def make_sequential(
    data: Path, out_dir: Path, name: str, clips: list[str], interleave: bool, pad: float
) -> dict:
    """Clips joined one after another (the original mode): NAME.mp4 + NAME.rttm."""
    paths, regions, durations = load_people(data, clips)
    pieces = plan_pieces(regions, durations, interleave, pad)
    inputs: list[str] = [a for c in clips for a in ("-i", str(paths[c]))]
    filters, labels = [], []
    for j, (c, s, e) in enumerate(pieces):
        i = clips.index(c)
        filters.append(
            f"[{i}:v]trim=start={s:.3f}:end={e:.3f},setpts=PTS-STARTPTS,"
            "scale=512:512:force_original_aspect_ratio=decrease,pad=512:512:(ow-iw)/2:(oh-ih)/2,"
            f"fps={FPS},setsar=1,format=yuv420p[v{j}]"
        )
        filters.append(
            f"[{i}:a]atrim=start={s:.3f}:end={e:.3f},asetpts=PTS-STARTPTS,"
            f"aresample={SR},aformat=channel_layouts=mono[a{j}]"
        )
        labels.append(f"[v{j}][a{j}]")
    filters.append(f"{''.join(labels)}concat=n={len(pieces)}:v=1:a=1[v][a]")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.mp4"
    ffmpeg(*inputs, "-filter_complex", ";".join(filters), "-map", "[v]", "-map", "[a]", *H264_AAC, out)
    turns, t = [], 0.0
    for c, s, e in pieces:
        turns.append((c, regions[c], s, e, t))
        t += e - s
    (out_dir / f"{name}.rttm").write_text("\n".join(rttm_lines(name, turns)) + "\n")
    return {"name": name, "media": out.name, "rttm": f"{name}.rttm", "speakers": len(clips), "duration": t}


def make_faces(
    data: Path,
    out_dir: Path,
    name: str,
    clips: list[str],
    layout: str,
    listeners: str,
    pad: float,
    loop_to: float | None,
) -> dict:
    """Every person in their own tile, taking turns: NAME.mp4 + NAME.rttm + NAME.faces.json."""
    if len(clips) < 2:
        raise SystemExit("--layout needs at least 2 people")
    paths, regions, durations = load_people(data, clips)
    n_frames = {c: max(1, math.floor(d * FPS) - 1) for c, d in durations.items()}  # safe frame count
    tile, rects = tile_layout(layout, len(clips))
    turns = snap_to_frames(plan_pieces(regions, durations, True, pad), n_frames)
    out_dir.mkdir(parents=True, exist_ok=True)
    stills: dict[str, Region] = {}
    with tempfile.TemporaryDirectory(prefix="emocli-conv-") as tmp:
        work = Path(tmp)
        norm, loops, loop_len = {}, {}, {}
        for c, p in paths.items():
            # Each clip once at tile size, 25 fps, lossless, with 16 kHz mono PCM: every later cut is
            # then exact to the frame and to the sample.
            norm[c] = work / f"norm_{c}.mkv"
            fit = f"scale={tile}:{tile}:force_original_aspect_ratio=decrease"
            fit += f",pad={tile}:{tile}:(ow-iw)/2:(oh-ih)/2,fps={FPS},setsar=1,format=yuv420p"
            pcm = ["-af", f"aresample={SR}", "-ac", "1", "-c:a", "pcm_s16le"]
            ffmpeg("-i", p, "-vf", fit, "-frames:v", n_frames[c], *LOSSLESS, *pcm, norm[c])
            if listeners == "still":
                a, b = silent_stretch(regions[c], n_frames[c] / FPS)
                fa = min(n_frames[c] - 1, math.floor(a * FPS))
                fb = max(fa + 1, min(n_frames[c], math.floor(b * FPS)))
                stills[c] = (fa / FPS, fb / FPS)
                loops[c], loop_len[c] = work / f"still_{c}.mkv", 2 * (fb - fa)
                # A back-and-forth loop: the stretch forwards, then backwards (no jump when repeated).
                graph = f"[0:v]trim=start_frame={fa}:end_frame={fb},setpts=PTS-STARTPTS,split[f][b];"
                graph += "[b]reverse[r];[f][r]concat=n=2:v=1:a=0[v]"
                ffmpeg("-i", norm[c], "-filter_complex", graph, "-map", "[v]", *LOSSLESS, loops[c])
            else:
                loops[c], loop_len[c] = norm[c], n_frames[c]
        inputs: list[str] = []
        filters: list[str] = []

        def add_input(path: Path, looped: bool) -> int:
            inputs.extend([*(["-stream_loop", "-1"] if looped else []), "-i", str(path)])
            return inputs.count("-i") - 1

        cursor = dict.fromkeys(clips, 0)  # next frame of each listener's loop: the pictures run on
        audio_labels = []
        for j, (c, fa, fb) in enumerate(turns):
            k = add_input(norm[c], False)
            a0, a1 = fa * SR // FPS, fb * SR // FPS
            filters.append(f"[{k}:a]{piece_audio(a0, a1)}[a{j}]")
            audio_labels.append(f"[a{j}]")
            for p in clips:
                if p == c:
                    filters.append(
                        f"[{k}:v]trim=start_frame={fa}:end_frame={fb},setpts=PTS-STARTPTS[t{p}_{j}]"
                    )
                    cursor[p] = fb % loop_len[p] if listeners == "muted" else cursor[p]
                    continue
                n = fb - fa
                m = add_input(loops[p], True)
                cut = f"trim=start_frame={cursor[p]}:end_frame={cursor[p] + n}"
                filters.append(f"[{m}:v]{cut},setpts=N/({FPS}*TB)[t{p}_{j}]")
                cursor[p] = (cursor[p] + n) % loop_len[p]
        tiles = []
        for i, p in enumerate(clips):
            segs = "".join(f"[t{p}_{j}]" for j in range(len(turns)))
            filters.append(f"{segs}concat=n={len(turns)}:v=1:a=0,setpts=N/({FPS}*TB)[tile{i}]")
            tiles.append(f"[tile{i}]")
        grid = "|".join(f"{x0}_{y0}" for x0, y0, _, _ in rects)
        filters.append(f"{''.join(tiles)}xstack=inputs={len(clips)}:layout={grid}:fill=black[v]")
        filters.append(f"{''.join(audio_labels)}concat=n={len(turns)}:v=0:a=1[a]")
        cycle = work / "cycle.mkv"
        graph = ";".join(filters)
        maps = ["-map", "[v]", "-map", "[a]"]
        ffmpeg(*inputs, "-filter_complex", graph, *maps, *LOSSLESS, "-c:a", "pcm_s16le", cycle)
        cycle_s = sum(fb - fa for _, fa, fb in turns) / FPS
        repeats = max(1, math.ceil((loop_to or 0) / cycle_s - 1e-9))
        out = out_dir / f"{name}.mp4"
        # The lossless cycle (PCM sound) is what repeats, so that the loop adds no AAC priming gaps.
        ffmpeg("-stream_loop", repeats - 1, "-i", cycle, *H264_AAC, "-r", FPS, out)
        check_length(out, repeats * sum(fb - fa for _, fa, fb in turns))

    starts = [sum(fb - fa for _, fa, fb in turns[:j]) / FPS for j in range(len(turns))]  # within a cycle
    timeline = [
        (c, regions[c], fa / FPS, fb / FPS, r * cycle_s + t0)
        for r in range(repeats)
        for (c, fa, fb), t0 in zip(turns, starts, strict=True)
    ]
    (out_dir / f"{name}.rttm").write_text("\n".join(rttm_lines(name, timeline)) + "\n")
    people = []
    for i, c in enumerate(clips):
        people.append({"label": c, "tile": list(rects[i]), "clip": paths[c].name})
        if c in stills:  # where in the clip the listener's loop comes from, seconds
            people[-1]["still_s"] = [round(v, 3) for v in stills[c]]
    duration = round(repeats * cycle_s, 3)
    canvas = [max(r[2] for r in rects), max(r[3] for r in rects)]
    faces = dict(name=name, layout=layout, listeners=listeners, fps=FPS, canvas=canvas, duration=duration)
    faces |= {"cycle_s": round(cycle_s, 3), "repeats": repeats, "people": people}
    (out_dir / f"{name}.faces.json").write_text(json.dumps(faces, indent=2) + "\n")
    item = {"name": name, "media": out.name, "rttm": f"{name}.rttm", "faces": f"{name}.faces.json"}
    return item | {"speakers": len(clips), "duration": duration}


def make_audio_join(
    data: Path, out_dir: Path, name: str, corpus: str, people: int, per_speaker: int, seed: int, pad: float
) -> dict:
    """Utterances of ``people`` acted-speech speakers, taking turns: NAME.flac + NAME.rttm."""
    import numpy as np

    from emocli.media import load_audio
    from emocli.speech.vad import SileroVAD

    rows = list(csv.DictReader((data / corpus / "manifest.csv").open()))
    key = "actor" if corpus == "ravdess" else "speaker"
    speakers = sorted({r[key] for r in rows}, key=lambda s: (len(s), s))
    if people > len(speakers):
        raise SystemExit(f"{corpus} has {len(speakers)} speakers here; ask for at most that many")
    rng = random.Random(seed)
    chosen = rng.sample(speakers, people)
    picks = {s: rng.sample([r["file"] for r in rows if r[key] == s], per_speaker) for s in chosen}
    vad = SileroVAD()
    label = {s: (f"actor{int(s):02d}" if corpus == "ravdess" else s) for s in chosen}
    pieces, turns, t = [], [], 0.0
    for i in range(per_speaker):
        for s in chosen:
            audio = load_audio(data / corpus / picks[s][i])  # (n,) float32, 16 kHz mono
            regions = vad(audio)
            lo, hi = speech_span(regions, 0.0, len(audio) / SR)
            a, b = int(max(0.0, lo - pad) * SR), int(min(len(audio) / SR, hi + pad) * SR)
            turns.append((label[s], regions, a / SR, b / SR, t))
            pieces.append(audio[a:b])
            t += (b - a) / SR
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.flac"
    raw = np.concatenate(pieces).astype("<f4").tobytes()
    ffmpeg("-f", "f32le", "-ar", SR, "-ac", 1, "-i", "pipe:0", out, stdin=raw)
    (out_dir / f"{name}.rttm").write_text("\n".join(rttm_lines(name, turns)) + "\n")
    item = {"name": name, "media": out.name, "rttm": f"{name}.rttm", "speakers": people}
    return item | {"duration": round(t, 3), "utterances": {label[s]: picks[s] for s in chosen}}


def make_suite(data: Path, out_dir: Path, pad: float) -> None:
    """The standard set: 6 face videos, 4 more with other people (``HELD_OUT``), 3 acted-speech joins
    and the 600 s two-person loop (last), listed in OUT_DIR/suite.json, which is rewritten after each
    file so that a partial suite is usable."""
    jobs: list[tuple[str, Any]] = []
    for listeners in ("still", "muted"):
        for layout, n in (("side", 2), ("side", 3), ("grid", 4)):
            name = f"{layout}{n}_{listeners}"
            clips = list(DEFAULT_CLIPS[:n])
            jobs.append((name, partial(make_faces, data, out_dir, name, clips, layout, listeners, pad, None)))
    # The same layouts with other people (the "_b" set): the who-speaks rules were worked out on the
    # six above, so these show how far they carry.
    for name, people, layout, listeners in HELD_OUT:
        job = partial(make_faces, data, out_dir, name, list(people), layout, listeners, pad, None)
        jobs.append((name, job))
    for corpus, n, k in (("ravdess", 2, 5), ("ravdess", 4, 4), ("tess", 2, 8)):
        name = f"{corpus}{n}"
        jobs.append((name, partial(make_audio_join, data, out_dir, name, corpus, n, k, 0, pad)))
    name, clips = "long600_side2_still", list(DEFAULT_CLIPS[:2])
    jobs.append((name, partial(make_faces, data, out_dir, name, clips, "side", "still", pad, 600.0)))
    items = []
    for name, job in jobs:
        items.append(job())
        (out_dir / "suite.json").write_text(json.dumps({"items": items}, indent=2) + "\n")
        print(f"wrote {name}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path, nargs="?")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("EMOCLI_DATA", "../shared/data")))
    ap.add_argument("--name", help="output file stem (default: conversation, or a name from the mode)")
    ap.add_argument("--clips", nargs="+", default=list(DEFAULT_CLIPS))
    ap.add_argument("--no-interleave", action="store_true", help="sequential mode: keep each clip whole")
    ap.add_argument("--pad", type=float, default=0.15, help="seconds kept around each piece's speech")
    ap.add_argument(
        "--layout", choices=("side", "grid"), help="multi-face mode: tiles side by side or a grid"
    )
    ap.add_argument("--people", type=int, help="how many of --clips (2-4 with --layout), or of the speakers")
    ap.add_argument("--listeners", choices=("still", "muted"), default="still")
    ap.add_argument("--loop-to", type=float, help="repeat the conversation until it lasts this many seconds")
    ap.add_argument(
        "--audio-only", choices=("ravdess", "tess"), help="join acted speech of --people speakers"
    )
    ap.add_argument("--per-speaker", type=int, default=5, help="audio-only: utterances per speaker")
    ap.add_argument("--seed", type=int, default=0, help="audio-only: which speakers and utterances")
    ap.add_argument("--suite", type=Path, metavar="DIR", help="build the whole standard set into DIR")
    args = ap.parse_args(argv)

    if args.suite:
        make_suite(args.data, args.suite, args.pad)
        print(f"wrote the suite and {args.suite / 'suite.json'}")
        return 0
    if args.out_dir is None:
        ap.error("give OUT_DIR (or --suite DIR)")
    clips = args.clips[: args.people] if args.people else args.clips
    if args.layout and not 2 <= len(clips) <= 4:
        ap.error("--layout takes 2, 3 or 4 people (--people, or as many --clips)")
    if not args.audio_only and len(clips) < (args.people or 0):
        ap.error(f"--people {args.people}: give at least that many --clips")
    if args.audio_only and (args.people or 2) < 2:
        ap.error("--audio-only joins 2 or more speakers")
    if args.audio_only:
        n = args.people or 2
        name = args.name or f"{args.audio_only}{n}"
        item = make_audio_join(
            args.data, args.out_dir, name, args.audio_only, n, args.per_speaker, args.seed, args.pad
        )
    elif args.layout:
        name = args.name or f"{args.layout}{len(clips)}_{args.listeners}"
        item = make_faces(
            args.data, args.out_dir, name, clips, args.layout, args.listeners, args.pad, args.loop_to
        )
    else:
        name = args.name or "conversation"
        item = make_sequential(args.data, args.out_dir, name, clips, not args.no_interleave, args.pad)
    took = f"{item['duration']:.1f} s, {item['speakers']} people"
    print(f"wrote {args.out_dir / item['media']} ({took}) and {item['rttm']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
