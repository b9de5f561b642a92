"""The batch index page: every clip of a batch results file with its emotion and a small distribution
bar, linked to the clip's own page when ``--annotate-dir`` made one. Self-contained like the clip
pages (inline CSS, no script, nothing fetched)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from emocli import EMOTIONS
from emocli.errors import InputError
from emocli.fileio import write_text_atomic
from emocli.output.report import VIDEO_SUFFIXES
from emocli.output.report_data import Scores, top
from emocli.output.report_parts import asset, chip, colours_css, dist_bar


@dataclass
class Clip:
    file: str
    status: str
    emotion: str | None = None
    confidence: float | None = None
    scores: Scores | None = None
    duration: float | None = None
    n_speakers: str = ""
    transcript: str = ""
    error: str = ""


def _float(x: Any) -> float | None:
    try:
        return float(x) if x not in (None, "") else None
    except (TypeError, ValueError):
        return None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a batch results file (.csv or .jsonl); a torn last JSONL line is skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(
            f"Cannot read {path} ({type(e).__name__}).", "Give the results file of emocli batch."
        ) from None
    if Path(path).suffix.lower() == ".jsonl":
        rows = []
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    if rows and ("file" not in rows[0] or "status" not in rows[0]):
        raise InputError(
            f"{path} is not a batch results file (no file / status columns).",
            "Give the file emocli batch wrote.",
        )
    return rows


def clips(rows: list[dict[str, Any]]) -> list[Clip]:
    """One entry per clip; per-utterance rows are pooled per file (scores weighted by duration)."""
    out: dict[str, Clip] = {}
    weights: dict[str, float] = {}
    speakers: dict[str, set[str]] = {}
    for r in rows:
        name = str(r.get("file", ""))
        scores = {e: v for e in EMOTIONS if (v := _float(r.get(e))) is not None} or None
        if "utterance" not in r:  # one row per clip
            out[name] = Clip(
                name, str(r.get("status", "")), r.get("emotion") or None, _float(r.get("confidence")), scores,
                _float(r.get("duration")), str(r.get("n_speakers", "")), str(r.get("transcript", "")),
                str(r.get("error", "")),
            )  # fmt: skip
            continue
        c = out.setdefault(name, Clip(name, str(r.get("status", ""))))
        if r.get("status") != "ok":
            c.status, c.error = str(r.get("status", "")), str(r.get("error", ""))
            continue
        start, end = _float(r.get("start")) or 0.0, _float(r.get("end")) or 0.0
        w = max(end - start, 1e-3)
        if scores:
            pooled = c.scores or dict.fromkeys(EMOTIONS, 0.0)
            c.scores = {e: pooled[e] + w * scores.get(e, 0.0) for e in EMOTIONS}
            weights[name] = weights.get(name, 0.0) + w
        c.duration = max(c.duration or 0.0, end)
        c.transcript = f"{c.transcript} {r.get('text', '')}".strip()
        speakers.setdefault(name, set()).add(str(r.get("speaker", "")))
    for name, c in out.items():
        if c.scores and name in weights:
            c.scores = {e: v / weights[name] for e, v in c.scores.items()}
            c.emotion, c.confidence = top(c.scores)
        if name in speakers:
            c.n_speakers = str(len(speakers[name]))
    return list(out.values())


def page_for(clip: str, index: Path, annotate_dir: Path | None) -> str | None:
    """Relative link from the index to the clip's page (else its annotated video), if it exists."""
    if annotate_dir is None:
        return None
    base = Path(annotate_dir) / clip
    for cand in [base.with_suffix(".html")] + [base.with_suffix(s) for s in VIDEO_SUFFIXES]:
        if cand.is_file():
            rel = os.path.relpath(cand.resolve(), Path(index).resolve().parent)
            return quote(Path(rel).as_posix())
    return None


def build_index(results: Path, index: Path, annotate_dir: Path | None = None) -> str:
    items = clips(read_rows(results))
    ok = [c for c in items if c.status == "ok"]
    counts = Counter(c.emotion for c in ok if c.emotion)
    total = sum(counts.values())
    overall = {e: counts[e] / total for e in EMOTIONS} if total else None
    summary = " ".join(f"{chip(e)} {n}" for e, n in counts.most_common())
    rows = []
    for i, c in enumerate(items, 1):
        link = page_for(c.file, index, annotate_dir)
        name = f'<a href="{escape(link)}">{escape(c.file)}</a>' if link else escape(c.file)
        if c.status != "ok":
            rows.append(f'<tr class="error"><td>{i}</td><td class="file">{name}</td><td colspan="5">error: '
                        f"{escape(c.error)}</td></tr>")  # fmt: skip
            continue
        dur = f"{c.duration:.1f} s" if c.duration is not None else ""
        rows.append(
            f'<tr><td>{i}</td><td class="file" title="{escape(c.file)}">{name}</td>'
            f"<td>{chip(c.emotion, c.confidence)}</td>"
            f"<td>{dist_bar(c.scores, 'scores')}</td><td>{dur}</td><td>{escape(c.n_speakers)}</td>"
            f'<td class="transcript" title="{escape(c.transcript)}">{escape(c.transcript)}</td></tr>'
        )
    legend = "".join(f'<li><span class="sw e-{e}"></span>{e}</li>' for e in EMOTIONS)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emocli batch: {escape(results.name)}</title>
<link rel="icon" href="data:,">
<style>
{colours_css()}{asset("report.css")}</style>
</head>
<body>
<header>
<h1>{escape(results.name)}</h1>
<p class="meta">{len(items)} clips: {len(ok)} ok, {len(items) - len(ok)} failed</p>
<p class="overall">Clip emotions: {summary or "none"} {dist_bar(overall, "share of clips")}</p>
<ul class="legend" aria-label="Emotion colours">{legend}</ul>
</header>
<main>
<h2>Clips</h2>
<div class="scroll" tabindex="0" role="region" aria-label="Clips">
<table id="clips"><thead><tr><th scope=col>#</th><th scope=col>clip</th><th scope=col>emotion</th>
<th scope=col>scores</th><th scope=col>duration</th><th scope=col>speakers</th>
<th scope=col>transcript</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></div>
</main>
<footer><p>Made by emocli from {escape(results.name)}. Links open each clip's own page where the batch
made one.</p></footer>
</body>
</html>
"""


def write_index(results: Path, index: Path, annotate_dir: Path | None = None) -> Path:
    return write_text_atomic(Path(index), build_index(Path(results), Path(index), annotate_dir))
