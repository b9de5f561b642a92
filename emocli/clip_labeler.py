"""The labeler that ``emocli batch`` runs in each worker: the annotate pipeline, one row per clip.

The factory is a small frozen dataclass, so it pickles to spawned processes and Ray actors; the
heavy models load once per worker when the factory is called there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emocli import EMOTIONS
from emocli.batch import Row
from emocli.errors import NoSpeechError
from emocli.pipeline import AnnotateOptions, Annotator, clip_summary


@dataclass(frozen=True)
class AnnotatorLabelerFactory:
    options: AnnotateOptions
    per_utterance: bool = False
    annotate_dir: Path | None = None  # also write annotated videos here, mirroring the input tree
    report: bool = False  # with annotate_dir: each video's OUT.json and OUT.html page beside it

    def __call__(self) -> AnnotatorLabeler:
        return AnnotatorLabeler(self)


def _f(x: float | None, nd: int = 4) -> str:
    return "" if x is None else f"{x:.{nd}f}"


class AnnotatorLabeler:
    def __init__(self, spec: AnnotatorLabelerFactory) -> None:
        self.spec = spec
        self.annotator = Annotator(spec.options)
        self.annotator.load()

    def _video_out(self, rel: str) -> Path | None:
        if self.spec.annotate_dir is None:
            return None
        out = (self.spec.annotate_dir / rel).with_suffix(".mp4")
        out.parent.mkdir(parents=True, exist_ok=True)
        return out

    def __call__(self, path: Path, rel: str) -> list[Row]:
        video = self._video_out(rel)
        analysis = self.annotator.annotate(path, video)
        result = analysis.result
        if not any(u.scores for u in result.utterances):
            raise NoSpeechError(f"No speech found in {rel}.", "Only faces were seen; no utterance to label.")
        if self.spec.report and video is not None:
            from emocli.fileio import write_text_atomic
            from emocli.output.report import write_report
            from emocli.output.writers import to_json

            write_text_atomic(video.with_suffix(".json"), to_json(result))
            shown = video if video.is_file() else None  # an audio-only clip renders no video
            write_report(result.to_dict(), video.with_suffix(".html"), video=shown, picture=False)
        if self.spec.per_utterance:
            rows = []
            for i, u in enumerate(result.utterances):
                scores = u.scores or {}
                row: Row = {"file": rel, "status": "ok", "utterance": i, "start": _f(u.start, 3)}
                row.update(end=_f(u.end, 3), speaker=u.speaker, text=u.text, emotion=u.emotion or "")
                row.update(confidence=_f(u.confidence), **{e: _f(scores.get(e)) for e in EMOTIONS}, error="")
                rows.append(row)
            return rows
        label, conf, scores = clip_summary(result)
        scores = scores or {}
        row: Row = {"file": rel, "status": "ok", "emotion": label or "", "confidence": _f(conf)}
        row.update({e: _f(scores.get(e)) for e in EMOTIONS})
        row.update(
            duration=_f(result.duration, 3),
            n_speakers=len(result.speakers),
            transcript=" ".join(u.text.strip() for u in result.utterances),
            error="",
        )
        return [row]
