"""Pieces of the report pages: colours, emotion chips, distribution bars and the table sections
(words / voice / face, speakers, models and timing). Plain strings of HTML, escaped here."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from importlib.resources import files
from typing import Any

from emocli import EMOTIONS
from emocli.output import report_data as rd
from emocli.output.report_data import MODALITY_LABELS, Lane, Scores, Utt, clock


def asset(name: str) -> str:
    return files("emocli.output").joinpath("report_assets", name).read_text(encoding="utf-8")


def colours_css() -> str:
    from emocli.output.render import EMOTION_COLOURS  # the rendered bars' colours, one source

    rules = [f"--{e}:rgb({r},{g},{b})" for e, (r, g, b) in EMOTION_COLOURS.items()]
    fills = [f".e-{e}{{background:var(--{e})}} .f-{e}{{fill:var(--{e})}}" for e in EMOTIONS]
    return ":root{" + ";".join(rules) + "}\n" + "\n".join(fills) + "\n"


def num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else str(round(x))


def pct(x: float | None) -> str:
    return "" if x is None else f"{x:.0%}"


def chip(emotion: str | None, confidence: float | None = None) -> str:
    if not emotion:
        return '<span class="chip none">no label</span>'
    conf = f" {pct(confidence)}" if confidence is not None else ""
    return f'<span class="chip e-{escape(emotion)}">{escape(emotion)}{conf}</span>'


def dist_bar(scores: Scores | None, what: str = "") -> str:
    """A small stacked bar of the 7 probabilities, with the same numbers as text for screen readers."""
    if not scores:
        return '<span class="dist empty" aria-label="missing">missing</span>'
    order = sorted(EMOTIONS, key=lambda e: -scores.get(e, 0.0))
    alt = ", ".join(f"{e} {scores.get(e, 0.0):.0%}" for e in order if scores.get(e, 0.0) >= 0.005)
    parts = "".join(
        f'<span class="e-{e}" style="width:{100 * scores.get(e, 0.0):.1f}%"></span>'
        for e in EMOTIONS
        if scores.get(e, 0.0) > 0.0005
    )
    label = f"{what}: {alt}" if what else alt
    return f'<span class="dist" role="img" aria-label="{escape(label)}" title="{escape(alt)}">{parts}</span>'


def modalities_table(utts: list[Utt]) -> str:
    used = [m for m in MODALITY_LABELS if any(m in u.modality for u in utts)]
    n_dis = sum(1 for u in utts if rd.disagreement(u))
    head = "".join(f"<th scope=col>{MODALITY_LABELS[m]}</th>" for m in used)
    rows = []
    for u in utts:
        dis = rd.disagreement(u)
        cells = []
        for m in used:
            s = u.modality.get(m)
            label = chip(*rd.top(s)) if s else '<span class="chip none">missing</span>'
            cells.append(f'<td data-l="{MODALITY_LABELS[m]}">{dist_bar(s, MODALITY_LABELS[m])}{label}</td>')
        mark = (
            f'<td class="mark" title="{escape(", ".join(dis))}">&ne; {escape(" / ".join(dis))}</td>'
            if dis
            else "<td></td>"
        )
        rows.append(
            f'<tr data-i="{u.index}"{" class=dis" if dis else ""}><td><button type="button" class="seek" '
            f'data-start="{u.start:.3f}" aria-label="Play from {clock(u.start)}">{clock(u.start)}'
            "</button></td>"
            f'<td data-l="speaker">{escape(u.speaker)}</td>'
            f'<td data-l="fused">{dist_bar(u.scores, "fused")}{chip(u.emotion, u.confidence)}</td>'
            f"{''.join(cells)}{mark}</tr>"
        )
    if not rows:
        return '<p class="note">No utterance was labelled.</p>'
    return (
        f"<p>{n_dis} of {len(utts)} utterances: two modalities are each at least {rd.SURE:.0%} sure of "
        f"different emotions (marked &ne;). "
        f'<label><input type="checkbox" id="only-dis"> show only those</label></p>'
        f'<div class="scroll" tabindex="0" role="region" aria-label="Scores per modality">'
        f'<table id="modalities"><thead><tr><th scope=col>time</th><th scope=col>speaker</th>'
        f"<th scope=col>fused</th>{head}<th scope=col>disagree</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></div>"
    )


def speakers_section(d: dict[str, Any], lanes: list[Lane]) -> str:
    rows = []
    for lane in lanes:
        if lane.speaker is None:
            continue
        total, share = rd.shares(lane.utterances)
        cells = "".join(f"<td>{pct(share[e]) if share[e] else '&middot;'}</td>" for e in EMOTIONS)
        rows.append(
            f"<tr><th scope=row>{escape(lane.label)}</th><td>{total:.1f} s</td>"
            f"<td>{len(lane.utterances)}</td>"
            f"<td>{dist_bar(share if total else None, 'share of speaking time')}</td>{cells}</tr>"
        )
    heads = "".join(f"<th scope=col>{e}</th>" for e in EMOTIONS)
    out = [
        '<div class="scroll" tabindex="0" role="region" aria-label="Share of speaking time per emotion">'
        f"<table><thead><tr><th scope=col>speaker</th><th scope=col>speech</th><th scope=col>utt.</th>"
        f"<th scope=col>share</th>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    ]
    count = d.get("speaker_count")
    if isinstance(count, dict) and "n" in count:
        rng = (
            f"; the data allows {count.get('low')}-{count.get('high')}"
            if count.get("low") != count.get("high")
            else ""
        )
        out.append(
            f'<p id="speaker-count">Speakers found: <b>{escape(str(count["n"]))}</b> '
            f"(confidence {escape(str(count.get('confidence', '?')))}{escape(rng)}; "
            f"{escape(str(count.get('evidence', '')))})</p>"
        )
    profiles = d.get("speaker_profiles") or []
    if profiles:
        items = []
        for p in profiles:
            faces = ", ".join(
                f'<button type="button" class="seek" data-start="{float(f.get("time", 0)):.3f}">face track '
                f"{escape(str(f.get('track')))} at {clock(float(f.get('time', 0)))}</button>"
                for f in p.get("faces") or []
            )
            items.append(
                f"<li><b>{escape(str(p.get('speaker')))}</b>: found by "
                f"{escape(str(p.get('found_by', '?')))}, "
                f"{float(p.get('speech') or 0):.1f} s of speech{'; ' + faces if faces else ''}</li>"
            )
        out.append(f'<ul id="profiles">{"".join(items)}</ul>')
    return "\n".join(out)


def kv_table(caption: str, items: Iterable[tuple[str, str]], cls: str = "") -> str:
    rows = "".join(f"<tr{cls}><th scope=row>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in items)
    return f"<table class=kv><caption>{escape(caption)}</caption><tbody>{rows}</tbody></table>"


def models_and_timing(d: dict[str, Any]) -> str:
    models = [
        (str(k), f"{v.get('name', '')} {v.get('version', '')}".strip())
        for k, v in (d.get("models") or {}).items()
        if isinstance(v, dict)
    ]
    timing = [
        (("\u2003" + k.split(".", 1)[1]) if "." in k else k, f"{float(v):.2f} s")
        for k, v in (d.get("timing") or {}).items()
    ]
    parts = [kv_table("Models and versions", models)] if models else []
    if timing:
        parts.append(kv_table("Time per stage (wall clock)", timing))
    return f'<div class="kvs">{"".join(parts)}</div>' if parts else '<p class="note">Not recorded.</p>'
