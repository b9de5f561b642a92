"""The timeline picture (``OUT.timeline.png``): each speaker's emotions over time, for papers and slides.

One row per speaker: the fused probabilities of the seven emotions for each utterance, stacked
(neutral at the bottom), in the colours of the rendered bars; under it a thin band with the face's
per-frame expression where the speaker's face was seen. Built from the result dict alone (no model),
with matplotlib's Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from emocli import EMOTIONS
from emocli.fileio import atomic_output
from emocli.output import report_data as rd


def _colours() -> dict[str, tuple[float, float, float]]:
    from emocli.output.render import EMOTION_COLOURS

    return {e: (r / 255, g / 255, b / 255) for e, (r, g, b) in EMOTION_COLOURS.items()}


def timeline_png(d: dict[str, Any], width_in: float = 10.0, dpi: int = 100) -> bytes:
    """The picture as PNG bytes (deterministic: no timestamps in the file)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    utts = rd.utterances(d)
    lanes = rd.lanes(d, utts) or [rd.Lane("no speech")]
    duration = float(d.get("duration") or 0.0) or max((u.end for u in utts), default=1.0)
    colours = _colours()
    ratios: list[float] = []
    for lane in lanes:
        ratios += [1.0, 0.22] if lane.face_runs and lane.utterances else [1.0 if lane.utterances else 0.3]
    fig = Figure(figsize=(width_in, 0.45 + 0.95 * sum(ratios)), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios, "hspace": 0.12})
    axes = list(axes) if len(ratios) > 1 else [axes]
    k = 0
    for lane in lanes:
        if lane.utterances:
            ax = axes[k]
            k += 1
            scored = [u for u in lane.utterances if u.scores]
            base = [0.0] * len(scored)
            for e in EMOTIONS:  # one bar call per emotion: a 10-minute talk draws in a blink
                ps = [(u.scores or {}).get(e, 0.0) for u in scored]
                ax.bar([u.start for u in scored], ps, width=[max(u.duration, 0.05) for u in scored],
                       bottom=base, align="edge", color=colours[e], linewidth=0)  # fmt: skip
                base = [b + p for b, p in zip(base, ps, strict=True)]
            ax.set_ylim(0, 1)
            ax.set_yticks([0, 0.5, 1])
            ax.set_ylabel(lane.label, rotation=0, ha="right", va="center", fontsize=9)
        if lane.face_runs:
            ax = axes[k]
            k += 1
            for run in lane.face_runs:
                half = lane.face_step / 2
                xs = [run[0][0] - half] + [t for t, _ in run] + [run[-1][0] + half]
                vals = [run[0][1]] + [s for _, s in run] + [run[-1][1]]
                ys = [[s.get(e, 0.0) for s in vals] for e in EMOTIONS]
                ax.stackplot(xs, ys, colors=[colours[e] for e in EMOTIONS], linewidth=0)
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            label = "face" if lane.utterances else f"{lane.label}\n(face)"
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8, color="#555")
        elif not lane.utterances:
            ax = axes[k]
            k += 1
            ax.set_yticks([])
            ax.set_ylabel(lane.label, rotation=0, ha="right", va="center", fontsize=9)
    for ax in axes:
        ax.set_xlim(0, duration)
        ax.set_facecolor("#f4f4f6")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=8)
    axes[-1].set_xlabel("time (s)", fontsize=9)
    name = Path(str(d.get("source") or "")).name
    axes[0].set_title(f"Emotion over time{': ' + name if name else ''}", fontsize=10, loc="left")
    handles = [Patch(color=colours[e], label=e) for e in EMOTIONS]
    fig.legend(
        handles=handles, loc="upper right", ncol=7, fontsize=8, frameon=False, bbox_to_anchor=(0.99, 1.0)
    )
    fig.subplots_adjust(
        left=0.14, right=0.98, top=1 - 0.35 / fig.get_figheight(), bottom=0.5 / fig.get_figheight()
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def write_timeline(d: dict[str, Any], path: Path) -> Path:
    """Write the picture atomically; returns ``path``."""
    png = timeline_png(d)
    with atomic_output(Path(path)) as tmp:
        tmp.write_bytes(png)
    return Path(path)
