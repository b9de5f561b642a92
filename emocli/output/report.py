"""The HTML report: one self-contained page per result, to watch, read and compare.

The page holds the video (by a relative path), the transcript beside it (the current utterance
highlighted, a click seeks), an emotion timeline with one lane per speaker (the fused class
probabilities per utterance, stacked; the face's per-frame expression as a thin band), the scores
of words, voice and face beside the fused result (disagreements marked), each speaker's share of
speaking time per emotion, the speakers found, the models and the timing.

It loads nothing from the network: CSS and JS are inlined from ``report_assets/``, the plots are
inline SVG drawn here, no fonts are fetched. Built from the result dict alone, so ``emocli report``
rebuilds the same page from a JSON file without any model. The same dict gives the same bytes.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from emocli import EMOTIONS
from emocli.errors import InputError
from emocli.fileio import write_text_atomic
from emocli.output import report_data as rd
from emocli.output.report_data import Lane, Scores, Utt, clock
from emocli.output.report_parts import (
    asset,
    chip,
    colours_css,
    dist_bar,
    modalities_table,
    models_and_timing,
    num,
    pct,
    speakers_section,
)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".webm")
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac")
W = 1000.0  # SVG x units for the whole duration


def find_video(page: Path, source: str | None) -> Path | None:
    """The annotated copy beside the page (same name, a video suffix), else the input if it exists."""
    page = Path(page)
    for suffix in VIDEO_SUFFIXES:
        p = page.with_suffix(suffix)
        if p.is_file():
            return p
    if source:
        for cand in (Path(source), page.parent / source):
            if cand.is_file():
                return cand
    return None


def media_tag(page: Path, video: Path | None) -> str:
    if video is None:
        return (
            '<p class="note" id="no-media">No video was found beside this page: '
            "the transcript and plots still work.</p>"
        )
    rel = os.path.relpath(Path(video).resolve(), Path(page).resolve().parent)
    src = quote(Path(rel).as_posix())
    tag = "audio" if Path(video).suffix.lower() in AUDIO_SUFFIXES else "video"
    return (
        f'<{tag} id="media" src="{escape(src)}" controls preload="metadata" playsinline '
        f'aria-label="The {"annotated video" if tag == "video" else "audio"}"></{tag}>'
    )


# -- sections ---------------------------------------------------------------------------------


def transcript(utts: list[Utt], gaps: list[dict[str, Any]]) -> str:
    items: list[tuple[float, str]] = []
    for u in utts:
        dis = rd.disagreement(u)
        badge = (
            f' <span class="badge" title="words, voice and face disagree: {", ".join(dis)}">&ne;'
            f'<span class="sr"> the modalities disagree</span></span>'
            if dis
            else ""
        )
        items.append(
            (
                u.start,
                f'<li><button type="button" class="utt" data-i="{u.index}" data-start="{u.start:.3f}" '
                f'data-end="{u.end:.3f}" aria-label="{escape(_row_label(u))}">'
                f'<span class="time">{clock(u.start)}</span><span class="who">{escape(u.speaker)}</span>'
                f"{_words(u)}"
                f'<span class="emo">{chip(u.emotion, u.confidence)}{badge}</span></button></li>',
            )
        )
    for g in gaps:
        start, end = float(g.get("start", 0.0)), float(g.get("end", 0.0))
        why = ", ".join(
            f"{escape(str(k))}: {escape(str(v))}" for k, v in g.items() if k not in ("start", "end")
        )
        items.append(
            (
                start,
                f'<li><button type="button" class="gap" data-start="{start:.3f}" data-end="{end:.3f}">'
                f'<span class="time">{clock(start)}</span><span class="who">&mdash;</span>'
                f'<span class="text"><i>untranscribed speech, {clock(start)}&ndash;{clock(end)}'
                f"{f' ({why})' if why else ''}</i></span></button></li>",
            )
        )
    items.sort(key=lambda x: x[0])
    body = "\n".join(i for _, i in items) or '<li class="note">No speech was transcribed.</li>'
    return f'<ol id="transcript" aria-labelledby="transcript-h">\n{body}\n</ol>'


def _words(u: Utt) -> str:
    """The utterance's words as spoken (marked with their language, so the browser picks the
    script's font and direction), and the English translation the text model read, if any."""
    lang = f' lang="{escape(u.language)}" dir="auto"' if u.language else ""
    said = f'<span class="text"{lang}>{escape(u.text) or "<i>(no words)</i>"}</span>'
    if u.text_en is None:
        return said
    return said + f'<span class="text-en" lang="en">English: {escape(u.text_en)}</span>'


def _row_label(u: Utt) -> str:
    emo = f", {u.emotion} {pct(u.confidence)}" if u.emotion else ""
    return f"{clock(u.start)}, {u.speaker}{emo}: {u.text}. Play from here."


def _stack(scores: Scores, x0: float, x1: float, height: float) -> str:
    """Rects of the 7 probabilities stacked upwards from ``height`` (SVG y grows down)."""
    parts, base = [], height
    for e in EMOTIONS:
        p = scores.get(e, 0.0)
        if p * height < 0.05:
            continue
        base -= p * height
        parts.append(
            f'<rect class="f-{e}" x="{num(x0)}" y="{base:.2f}" width="{num(x1 - x0)}" '
            f'height="{p * height:.2f}"/>'
        )
    return "".join(parts)


def lane_svg(lane: Lane, duration: float) -> tuple[str, str]:
    """The lane's main band (per-utterance stacked probabilities) and its thin face band."""
    sx = W / max(duration, 1e-6)
    rects = []
    for u in lane.utterances:
        if not u.scores:
            continue
        tip = f"{clock(u.start)}-{clock(u.end)} {u.emotion or ''} {pct(u.confidence)}: {u.text[:80]}"
        bars = _stack(u.scores, u.start * sx, max(u.end * sx, u.start * sx + 0.8), 100.0)
        rects.append(f'<g data-i="{u.index}"><title>{escape(tip)}</title>{bars}</g>')
    summary = _lane_summary(lane)
    band = (
        f'<svg class="band" viewBox="0 0 {W:.0f} 100" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(summary)}">{"".join(rects)}</svg>'
        if lane.utterances
        else ""
    )
    if not lane.face_runs:
        return band, ""
    paths = []
    for run in lane.face_runs:
        half = lane.face_step / 2
        xs = [(run[0][0] - half) * sx] + [t * sx for t, _ in run] + [(run[-1][0] + half) * sx]
        vals = [run[0][1]] + [s for _, s in run] + [run[-1][1]]
        low = [20.0] * len(xs)
        for e in EMOTIONS:
            high = [lo - 20.0 * s.get(e, 0.0) for lo, s in zip(low, vals, strict=True)]
            pts = [f"{num(x)},{y:.1f}" for x, y in zip(xs, high, strict=True)]
            pts += [f"{num(x)},{y:.1f}" for x, y in zip(reversed(xs), reversed(low), strict=True)]
            paths.append(f'<polygon class="f-{e}" points="{" ".join(pts)}"/>')
            low = high
    seen = sum(len(r) for r in lane.face_runs) * lane.face_step
    face = (
        f'<svg class="faceband" viewBox="0 0 {W:.0f} 20" preserveAspectRatio="none" role="img" '
        f'aria-label="Face expression per frame, seen for about {seen:.0f} s">{"".join(paths)}</svg>'
    )
    return band, face


def _lane_summary(lane: Lane) -> str:
    total, share = rd.shares(lane.utterances)
    main = ", ".join(f"{e} {share[e]:.0%}" for e in sorted(EMOTIONS, key=lambda k: -share[k]) if share[e] > 0)
    n = len(lane.utterances)
    return f"{lane.label}: {n} utterances over {total:.1f} s of speech; {main or 'no labels'}."


def timeline(lanes: list[Lane], duration: float) -> str:
    rows = []
    for lane in lanes:
        band, face = lane_svg(lane, duration)
        sub = f"{len(lane.utterances)} utt." if lane.utterances else "no speech"
        rows.append(
            f'<div class="lane"><div class="lane-label"><span class="who">{escape(lane.label)}</span>'
            f"<small>{sub}{' · face' if face else ''}</small></div>"
            f'<div class="lane-plot{" faces-only" if not band else ""}">{band}{face}'
            '<div class="cursor"></div></div></div>'
        )
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if duration / s <= 8)
    ticks = "".join(
        f'<span style="left:{100 * t / max(duration, 1e-6):.2f}%">{clock(t, tenths=False)}</span>'
        for t in range(0, int(duration) + 1, step)
    )
    return (
        f'<div id="timeline" class="timeline" tabindex="0" role="slider" aria-label="Position in the video: '
        f'click a lane or use the arrow keys to move the video" aria-valuemin="0" '
        f'aria-valuemax="{duration:.1f}" aria-valuenow="0" aria-valuetext="0:00.0" '
        f'data-duration="{duration:.3f}">\n'
        + "\n".join(rows)
        + f'\n<div class="axis"><div class="ticks">{ticks}</div></div>\n</div>'
    )


def build_page(d: dict[str, Any], page: Path, video: Path | None) -> str:
    """The whole page as a string; ``page`` is where it will be written (for the video's relative path)."""
    utts = rd.utterances(d)
    lanes = rd.lanes(d, utts)
    duration = float(d.get("duration") or 0.0) or max((u.end for u in utts), default=1.0)
    name = Path(str(d.get("source") or page.stem)).name
    n_spk = len([lane for lane in lanes if lane.speaker is not None])
    overall = rd.mean_scores(utts)
    meta = [f"{duration:.1f} s", f"{len(utts)} utterances", f"{n_spk} speaker{'s' if n_spk != 1 else ''}"]
    langs = d.get("languages") or {}
    if len(langs) > 1:  # speech seconds per language, most first
        meta.append("languages " + ", ".join(f"{escape(str(k))} {float(v):.0f} s" for k, v in langs.items()))
    elif d.get("language"):
        meta.append(f"language {escape(str(d['language']))}")
    version = f" {d['emocli_version']}" if d.get("emocli_version") else ""
    if version:
        meta.append(f"emocli{version}")
    legend = "".join(f'<li><span class="sw e-{e}"></span>{e}</li>' for e in EMOTIONS)
    gaps = [g for g in d.get("untranscribed") or [] if isinstance(g, dict)]
    top_line = f"Overall: {chip(*rd.top(overall))} {dist_bar(overall, 'overall')}" if overall else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emocli report: {escape(name)}</title>
<link rel="icon" href="data:,">
<style>
{colours_css()}{asset("report.css")}</style>
</head>
<body>
<a class="skip" href="#transcript-h">Skip to the transcript</a>
<header>
<h1>{escape(name)}</h1>
<p class="meta">{escape(" · ".join(meta))}</p>
<p class="overall">{top_line}</p>
<ul class="legend" aria-label="Emotion colours">{legend}</ul>
</header>
<main>
<section class="player" aria-label="Video and transcript">
<div class="media">{media_tag(page, video)}</div>
<div class="transcript-box">
<h2 id="transcript-h">Transcript</h2>
{transcript(utts, gaps)}
</div>
</section>
<section aria-labelledby="timeline-h">
<h2 id="timeline-h">Emotion over time</h2>
<p class="note">One lane per speaker: each utterance's probabilities of the seven emotions, stacked
(neutral at the bottom); the thin band under it is the speaker's face, frame by frame, where it was
seen. Click a lane, or focus the timeline and use the arrow keys, to move the video. The same
numbers are in the transcript and the table below.</p>
{timeline(lanes, duration)}
</section>
<section aria-labelledby="modal-h">
<h2 id="modal-h">Words, voice and face</h2>
{modalities_table(utts)}
</section>
<section aria-labelledby="speakers-h">
<h2 id="speakers-h">Speakers</h2>
{speakers_section(d, lanes)}
</section>
<section aria-labelledby="models-h">
<h2 id="models-h">Models and timing</h2>
{models_and_timing(d)}
</section>
</main>
<footer><p>Made by emocli{escape(version)}. This page is self-contained: it loads nothing but the
video beside it.</p></footer>
<script>
{asset("report.js")}</script>
</body>
</html>
"""


def read_result(path: Path) -> dict[str, Any]:
    """A JSON result file as a dict, checked enough that the page can be built (one-line errors)."""
    hint = "Give the .json that emocli annotate or transcribe wrote."
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path} is not a readable JSON file ({type(e).__name__}).", hint) from None
    if not isinstance(d, dict) or not ({"utterances", "frames"} & d.keys()):
        raise InputError(f"{path} is not an emocli result (it has no utterances).", hint)
    try:
        rd.lanes(d, rd.utterances(d))
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise InputError(
            f"{path} is not a well-formed emocli result ({type(e).__name__}: {e}).", hint
        ) from None
    return d


def write_report(
    d: dict[str, Any], path: Path, video: Path | None = None, picture: bool = True
) -> list[Path]:
    """Write ``path`` (.html) and, with ``picture``, ``path``'s ``.timeline.png`` beside it."""
    path = Path(path)
    video = video if video is not None else find_video(path, d.get("source"))
    written = [write_text_atomic(path, build_page(d, path, video))]
    if picture:
        from emocli.output.timeline import write_timeline

        written.append(write_timeline(d, path.with_suffix(".timeline.png")))
    return written
