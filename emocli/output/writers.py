"""Writers for the machine-readable results: JSON, SRT, VTT, CSV (one row per utterance), RTTM.

Every writer takes the shared ``Result`` and writes through a temporary file (no partial outputs).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path

from emocli import EMOTIONS
from emocli.errors import OutputError
from emocli.fileio import write_text_atomic
from emocli.results import Result, Utterance


class OutputFormat(str, Enum):
    json = "json"
    srt = "srt"
    vtt = "vtt"
    csv = "csv"
    rttm = "rttm"
    html = "html"  # the report page (+ OUT.timeline.png), emocli.output.report


def parse_formats(
    spec: str | Iterable[str], allowed: Iterable[OutputFormat] = tuple(OutputFormat)
) -> list[OutputFormat]:
    """Parse ``"json,srt"`` or ``"all"`` into formats, keeping the order given and dropping repeats."""
    allowed = list(allowed)
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    out: list[OutputFormat] = []
    for name in names:
        if name == "all":
            return allowed
        try:
            fmt = OutputFormat(name)
        except ValueError:
            fmt = None
        if fmt is None or fmt not in allowed:
            valid = ", ".join(f.value for f in allowed)
            raise OutputError(f"Unknown output format {name!r}.", f"Choose from {valid} or all.")
        if fmt not in out:
            out.append(fmt)
    return out


def _clock(t: float, sep: str) -> str:
    ms = round(max(0.0, t) * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def caption_text(u: Utterance, captions: str = "spoken") -> str:
    """``SPEAKER_00 [joy 82%]: text``; the emotion part only once the model has run. ``captions``:
    "spoken" (the words as said) or "english" (the translation, where there is one)."""
    head = u.speaker
    if u.emotion is not None:
        conf = f" {u.confidence:.0%}" if u.confidence is not None else ""
        head += f" [{u.emotion}{conf}]"
    return f"{head}: {u.caption_text(captions).strip()}"


NOT_TRANSCRIBED = "(speech not transcribed)"
CAPTION_MODES = ("spoken", "english")  # --captions


def languages_text(languages: dict[str, float]) -> str:
    """``ru 31.2 s, en 40.5 s``: speech seconds per language, in the result's order (most first)."""
    return ", ".join(f"{k} {v:.1f} s" for k, v in languages.items())


def languages_summary(result: Result) -> str:
    """One phrase for the summary line when the speech is not all English, e.g. ``ru 31.2 s, en
    40.5 s; 9 of 20 utterances read through an English translation``; "" for English only."""
    langs = result.languages or ({result.language: result.speech_duration or 0.0} if result.language else {})
    if not langs or set(langs) == {"en"}:
        return ""
    text = languages_text(langs)
    n = sum(u.translated for u in result.utterances)
    if n:
        text += f"; {n} of {len(result.utterances)} utterances read through an English translation"
    return text


def untranscribed_summary(result: Result) -> str:
    """One phrase for the summary line: how much speech has no words, and any loops caught."""
    if result.speech_duration is None:  # a result from before emocli reported it
        return ""
    n, secs = len(result.untranscribed), result.untranscribed_seconds
    if n == 0:
        text = "untranscribed speech: none"
    else:
        share = secs / max(result.speech_duration, 1e-9)
        text = (
            f"untranscribed speech: {secs:.1f} s of {result.speech_duration:.1f} s ({share:.0%}) in {n} "
            f"stretch{'es' if n != 1 else ''} (listed under untranscribed in the JSON)"
        )
    if result.repetitions:
        k = len(result.repetitions)
        text += f"; {k} repetition loop{'s' if k != 1 else ''} caught (repetitions in the JSON)"
    return text


def _cues(result: Result, captions: str = "spoken") -> list[tuple[float, float, str | None, str]]:
    """(start, end, speaker, text) of every caption: the utterances, and the speech without words."""
    cues = [(u.start, u.end, u.speaker, caption_text(u, captions)) for u in result.utterances]
    cues += [(x.start, x.end, None, NOT_TRANSCRIBED) for x in result.untranscribed]
    return sorted(cues, key=lambda c: (c[0], c[1]))


def to_json(result: Result, captions: str = "spoken") -> str:
    """The whole result (``text`` as spoken and ``text_en`` both, whatever ``captions`` is)."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def to_srt(result: Result, captions: str = "spoken") -> str:
    blocks = [
        f"{i}\n{_clock(s, ',')} --> {_clock(e, ',')}\n{text}\n"
        for i, (s, e, _, text) in enumerate(_cues(result, captions), 1)
    ]
    return "\n".join(blocks)


def to_vtt(result: Result, captions: str = "spoken") -> str:
    blocks = ["WEBVTT\n"]
    for s, e, speaker, text in _cues(result, captions):
        text = text.replace("-->", "->")
        voice = f"<v {speaker}>" if speaker is not None else ""
        blocks.append(f"{_clock(s, '.')} --> {_clock(e, '.')}\n{voice}{text}\n")
    return "\n".join(blocks)


def to_rttm(result: Result, captions: str = "spoken") -> str:
    """NIST RTTM (file id = input stem): the diarization turns, or the utterances when there are none.

    Turns cover the pauses inside a speaker's turn, which utterances (built from words) leave out.
    """
    uri = Path(result.source).stem.replace(" ", "_") or "input"
    spans = result.turns or result.utterances
    lines = [f"SPEAKER {uri} 1 {s.start:.3f} {s.duration:.3f} <NA> <NA> {s.speaker} <NA> <NA>" for s in spans]
    return "\n".join(lines) + ("\n" if lines else "")


# text: as spoken (or the translation with --captions english); text_en: what the text model read
# where it is not the words as spoken (empty for English speech).
CSV_COLUMNS = ["start", "end", "speaker", "language", "text", "text_en", "emotion", "confidence", *EMOTIONS]


def to_csv(result: Result, captions: str = "spoken") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for u in result.utterances:
        scores = u.scores or {}
        w.writerow(
            [f"{u.start:.3f}", f"{u.end:.3f}", u.speaker, u.language or "", u.caption_text(captions).strip(),
             (u.text_en or "").strip(), u.emotion or "",
             "" if u.confidence is None else f"{u.confidence:.4f}",
             *("" if e not in scores else f"{scores[e]:.4f}" for e in EMOTIONS)]
        )  # fmt: skip
    return buf.getvalue()


RENDERERS: dict[OutputFormat, Callable[[Result, str], str]] = {
    OutputFormat.json: to_json,
    OutputFormat.srt: to_srt,
    OutputFormat.vtt: to_vtt,
    OutputFormat.csv: to_csv,
    OutputFormat.rttm: to_rttm,
}


def output_paths(base: Path, formats: Iterable[OutputFormat]) -> dict[OutputFormat, Path]:
    """``talk.mp4`` + [json, srt] -> ``talk.json``, ``talk.srt`` in the same folder."""
    base = Path(base)
    return {f: base.with_suffix(f".{f.value}") for f in formats}


def write_outputs(result: Result, paths: dict[OutputFormat, Path], captions: str = "spoken") -> list[Path]:
    """Write each format atomically; returns the paths written. ``captions``: the subtitles' and
    the CSV's text, "spoken" or "english" (``Utterance.caption_text``)."""
    written = []
    for fmt, path in paths.items():
        if fmt is OutputFormat.html:
            from emocli.output.report import write_report

            written += write_report(result.to_dict(), path)
            continue
        write_text_atomic(path, RENDERERS[fmt](result, captions))
        written.append(path)
    return written
