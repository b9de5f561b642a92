"""The labeler that ``emocli batch`` runs in each worker: the annotate pipeline, one row per clip.

The factory is a small frozen dataclass, so it pickles to spawned processes and Ray actors; the
heavy models load once per worker when the factory is called there.

Speaker groups across a folder (``emocli.batch_speakers``) take two passes: ``extract`` runs annotate
on a clip and keeps what its emotion model was given (``ClipRecord``: each utterance's words, raw
audio features and face frames, and a voice embedding per speaker); ``finish`` then reads the record
again with the speaker's statistics over the whole group, without the clip's media. ``__call__`` is
the one-pass reading of a clip alone; ``finish`` without statistics gives the same rows.

Batch reads a clip as ``emocli evaluate`` scores one, where annotate reads a conversation:

- a clip of one utterance: its audio branch reads the whole recording (``whole_clip_audio``), as the
  audio head was trained and as evaluate reads a clip, not the utterance widened by up to 1 s
  (``context_spans``, which stops short of the clip's edges when the speech is further in);
- a speaker grouped over several clips is standardised exactly as evaluate standardises an actor: its
  group's statistics shrunk towards the training clips' mean (``evaluate_reference``), not towards
  the mean of the training speakers' means that annotate uses for a voice it hears little of.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emocli import EMOTIONS, __version__
from emocli.batch_records import ClipRecord, Row, UtteranceRecord
from emocli.batch_speakers import Voice, fingerprint
from emocli.errors import NoSpeechError
from emocli.hooks import ProgressHook, null_hook
from emocli.media import SAMPLE_RATE
from emocli.pipeline import Analysis, AnnotateOptions, Annotator, apply_predictions, clip_summary
from emocli.results import Result, Utterance

if TYPE_CHECKING:
    from emocli.features.audio import SpeakerStats
    from emocli.model.inference import EmotionRecognizer, UtteranceInput, UtterancePrediction
    from emocli.speech.pipeline import SpeechResult


@dataclass(frozen=True)
class AnnotatorLabelerFactory:
    options: AnnotateOptions
    per_utterance: bool = False
    annotate_dir: Path | None = None  # also write annotated videos here, mirroring the input tree
    report: bool = False  # with annotate_dir: each video's OUT.json and OUT.html page beside it

    def __call__(self) -> AnnotatorLabeler:
        return AnnotatorLabeler(self)

    def fingerprint(self) -> str:
        """What shapes a clip's first-pass record (``ClipRecord.fingerprint``)."""
        return fingerprint(__version__, self.options)

    def finisher(self) -> RecordFinisher:
        """The second pass where no worker is at hand (the batch's own process): the emotion model
        alone, as the records hold the features."""
        from emocli.model.inference import load_emotion_model

        return self.finisher_for(load_emotion_model(self.options.model_dir, self.options.device))

    def finisher_for(self, model: EmotionRecognizer) -> RecordFinisher:
        """The second pass with a loaded emotion model (a subclass may read more of its output)."""
        return RecordFinisher(model, self.options.modalities, self.per_utterance)


def _f(x: float | None, nd: int = 4) -> str:
    return "" if x is None else f"{x:.{nd}f}"


def result_rows(rel: str, result: Result, per_utterance: bool) -> list[Row]:
    """A labelled clip's rows: one per clip (its utterances' scores averaged over their durations)
    or one per utterance."""
    if not any(u.scores for u in result.utterances):
        raise NoSpeechError(f"No speech found in {rel}.", "Only faces were seen; no utterance to label.")
    if per_utterance:
        rows = []
        for i, u in enumerate(result.utterances):
            scores = u.scores or {}
            row: Row = {"file": rel, "status": "ok", "utterance": i, "start": _f(u.start, 3)}
            row.update(end=_f(u.end, 3), speaker=u.speaker, text=u.text, emotion=u.emotion or "")
            row.update(confidence=_f(u.confidence), **{e: _f(scores.get(e)) for e in EMOTIONS}, error="")
            rows.append(row)
        return rows
    label, conf, summary = clip_summary(result)
    summary = summary or {}
    row = {"file": rel, "status": "ok", "emotion": label or "", "confidence": _f(conf)}
    row.update({e: _f(summary.get(e)) for e in EMOTIONS})
    row.update(
        duration=_f(result.duration, 3),
        n_speakers=len(result.speakers),
        transcript=" ".join(u.text.strip() for u in result.utterances),
        error="",
    )
    return [row]


class RecordFinisher:
    """Second pass: a clip's record and its speakers' group statistics -> its rows."""

    def __init__(self, model: EmotionRecognizer, modalities: Sequence[str], per_utterance: bool) -> None:
        self.model = model
        self.modalities = tuple(modalities)
        self.per_utterance = per_utterance

    def finish(self, rec: ClipRecord, stats: Mapping[str, SpeakerStats] | None = None) -> list[Row]:
        """``stats``: speaker label inside the clip -> that speaker's group statistics (a label left
        out is read over this clip's utterances alone, as annotate does)."""
        if rec.fixed_rows is not None:
            return rec.fixed_rows
        preds = self.predict(rec, stats)
        utts = [Utterance(u.start, u.end, u.speaker, u.text) for u in rec.utterances]
        apply_predictions(rec.rel, utts, preds)
        result = Result(source=rec.rel, duration=rec.duration, utterances=utts, speakers=list(rec.speakers))
        return result_rows(rec.rel, result, self.per_utterance)

    def predict(
        self, rec: ClipRecord, stats: Mapping[str, SpeakerStats] | None = None
    ) -> list[UtterancePrediction]:
        """The emotion model on the record's utterances, one dialogue, as annotate gave them."""
        from emocli.model.inference import UtteranceInput

        inputs = [
            UtteranceInput(u.model_text, u.speaker, u.start, u.end, visual=u.visual, audio_features=u.audio)
            for u in rec.utterances
        ]
        audio_stats = evaluate_reference(self.model, stats) or None
        return self.model.predict_dialogue(inputs, modalities=self.modalities, audio_stats=audio_stats)


# A clip of one utterance is read whole when the audio outside the utterance is at most this long
# on each side: the audio head's training clips carry about 1 s of silence each side of the speech
# (RAVDESS median 0.99 s before, 0.85 s after; at most 1.35 s before and 2.83 s after in 150 RAVDESS
# and 150 TESS clips, by Silero VAD). Further out, a recording is no acted clip (a long video with a
# few words in it): its utterance is read as annotate reads it (``context_spans``).
WHOLE_CLIP_MARGIN_SECONDS = 3.0


def whole_clip_audio(u: UtteranceInput, audio: np.ndarray | None) -> np.ndarray | None:
    """The recording ``audio`` (16 kHz) to read for a clip's only utterance ``u``, as evaluate reads
    a clip: all of it, where the utterance has audio and fills the clip up to
    ``WHOLE_CLIP_MARGIN_SECONDS`` each side; else None (read ``u.audio``)."""
    if audio is None or u.audio is None or u.audio_features is not None:
        return None
    duration = len(audio) / SAMPLE_RATE
    if u.start > WHOLE_CLIP_MARGIN_SECONDS or duration - u.end > WHOLE_CLIP_MARGIN_SECONDS:
        return None
    return audio


def evaluate_reference(
    model: EmotionRecognizer, stats: Mapping[str, SpeakerStats] | None
) -> Mapping[str, SpeakerStats] | None:
    """Group statistics that ``predict_dialogue`` reads exactly as evaluate standardises an actor.

    ``speaker_standardise`` shrinks a speaker's mean towards a prior mean: ``(n m + p g) / (n + p)``.
    Evaluate's ``g`` is the training clips' mean (``audio_mean``); ``predict_dialogue`` passes the
    mean of the training speakers' means (``audio_speaker_mean``, annotate's prior for a voice heard
    little) where the model has it. Giving ``m + p / n (audio_mean - audio_speaker_mean)`` as the
    group's mean makes the shrunk mean evaluate's; the spread is the same in both (``audio_std``)."""
    if not stats:
        return stats
    net = model.net
    prior_mean = getattr(net, "audio_speaker_mean", None)
    if prior_mean is None or not net.cfg.speaker_norm:
        return stats  # predict_dialogue already shrinks towards audio_mean (or does not standardise)
    from emocli.features.audio import SpeakerStats

    shift = net.audio_mean.cpu().numpy().astype(np.float64) - prior_mean.cpu().numpy().astype(np.float64)
    p = float(net.cfg.speaker_norm_prior)
    return {k: SpeakerStats(s.n, s.mean + (p / s.n) * shift, s.var) for k, s in stats.items()}


class _Capture:
    """Stands in for the emotion model's ``predict_dialogue`` during one annotate call: computes the
    raw audio features itself (kept for the record, then given to the model instead of the audio),
    those of the whole recording for a clip of one utterance (``whole_clip_audio``; ``audio`` is the
    recording, set by the speech front-end's run), and passes ``stats`` on (``evaluate_reference``)."""

    def __init__(self, model: EmotionRecognizer, stats: Mapping[str, SpeakerStats] | None) -> None:
        self.model = model
        self.predict = model.predict_dialogue  # the bound method of the class
        self.stats = evaluate_reference(model, stats)
        self.audio: np.ndarray | None = None  # (n,) the clip's decoded 16 kHz recording
        self.inputs: list[UtteranceInput] = []

    def __call__(
        self,
        utterances: Sequence[UtteranceInput],
        hook: ProgressHook = null_hook,
        modalities: Sequence[str] | None = None,
        audio_stats: Mapping[str, SpeakerStats] | None = None,
    ) -> list[UtterancePrediction]:
        from emocli.model.inference import MIN_AUDIO_SECONDS

        use_audio = "audio" in self.model.used_modalities(modalities)
        whole = whole_clip_audio(utterances[0], self.audio) if len(utterances) == 1 else None
        self.inputs = []
        for u in utterances:
            long_enough = u.audio is not None and len(u.audio) >= MIN_AUDIO_SECONDS * SAMPLE_RATE
            if use_audio and u.audio_features is None and long_enough:
                # u.audio stays the utterance with its context: the voice embedding reads it (_voices).
                u = replace(u, audio_features=self.model.audio_features(u.audio if whole is None else whole))
            self.inputs.append(u)
        given = [replace(u, audio=None) if u.audio_features is not None else u for u in self.inputs]
        return self.predict(given, hook, modalities, audio_stats=self.stats or audio_stats)


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

    def _annotate(self, path: Path, rel: str, render: bool) -> Analysis:
        video = self._video_out(rel) if render else None
        analysis = self.annotator.annotate(path, video)
        if self.spec.report and video is not None:
            from emocli.fileio import write_text_atomic
            from emocli.output.report import write_report
            from emocli.output.writers import to_json

            write_text_atomic(video.with_suffix(".json"), to_json(analysis.result))
            shown = video if video.is_file() else None  # an audio-only clip renders no video
            write_report(analysis.result.to_dict(), video.with_suffix(".html"), video=shown, picture=False)
        return analysis

    def __call__(self, path: Path, rel: str) -> list[Row]:
        """The clip alone, in one pass (read as batch reads a clip, ``_Capture``)."""
        with self._captured(None):
            result = self._annotate(path, rel, True).result
        return result_rows(rel, result, self.spec.per_utterance)

    @contextmanager
    def _captured(self, stats: Mapping[str, SpeakerStats] | None) -> Iterator[_Capture]:
        """Annotate calls inside read the clip as batch does (``_Capture``): the model's
        ``predict_dialogue`` and the speech front-end's ``run`` (for the recording) stand in."""
        model, speech = self.annotator.model, self.annotator.speech
        capture = _Capture(model, stats)
        run = speech.run  # the bound method of the class

        def run_and_keep(*args: Any, **kwargs: Any) -> SpeechResult:
            out = run(*args, **kwargs)
            capture.audio = out.audio
            return out

        model.predict_dialogue = capture  # type: ignore[method-assign]
        speech.run = run_and_keep  # type: ignore[method-assign]
        try:
            yield capture
        finally:
            del model.predict_dialogue  # the class's methods again
            del speech.run

    def extract(self, path: Path, rel: str, render: bool = True) -> ClipRecord:
        """Pass 1: annotate the clip alone (rendering it with ``render`` and an annotate folder)
        and keep what the emotion model read, with a voice embedding per speaker."""
        with self._captured(None) as capture:
            result = self._annotate(path, rel, render).result
        result_rows(rel, result, self.spec.per_utterance)  # the same errors as a clip alone
        inputs = capture.inputs
        utts = [
            UtteranceRecord(u.start, u.end, u.speaker, u.text, i.text, i.audio_features, i.visual)
            for u, i in zip(result.utterances, inputs, strict=True)
        ]
        fp = self.spec.fingerprint()
        return ClipRecord(
            rel, fp, None, result.duration, list(result.speakers), utts, self._voices(rel, inputs)
        )

    def _voices(self, rel: str, inputs: Sequence[UtteranceInput]) -> list[Voice]:
        """A voice embedding per speaker of the clip, over the speech of their utterances (the audio
        given to the model is widened by context, ``context_spans``: cut it back to the words)."""
        from emocli.features.audio import context_spans

        spans = context_spans([(u.start, u.end) for u in inputs], float("inf"))
        speech: dict[str, list[np.ndarray]] = {}
        for u, (lo, _) in zip(inputs, spans, strict=True):
            if u.audio is None:
                continue
            a = int(u.start * SAMPLE_RATE) - int(lo * SAMPLE_RATE)
            b = a + int(u.end * SAMPLE_RATE) - int(u.start * SAMPLE_RATE)
            speech.setdefault(u.speaker, []).append(u.audio[max(0, a) : b])
        embed = self._embedder()
        voices = []
        for label in sorted(speech):
            wav = np.concatenate(speech[label]).astype(np.float32)
            seconds = round(len(wav) / SAMPLE_RATE, 3)
            voices.append(Voice(rel, label, seconds, embed(wav) if len(wav) else None))
        return voices

    def _embedder(self) -> Any:
        embed = self.annotator.speech.voice_embedder()
        if embed is None:  # a diarizer without GE2E (pyannote): load the vendored encoder
            from emocli.speech.embeddings import VoiceEncoder

            if not hasattr(self, "_voice_encoder"):
                self._voice_encoder = VoiceEncoder(self.spec.options.device)
            embed = self._voice_encoder.embed_utterance
        return embed

    def finish(self, rec: ClipRecord, stats: Mapping[str, SpeakerStats] | None = None) -> list[Row]:
        """Pass 2 with this worker's model (see ``RecordFinisher``)."""
        return self.spec.finisher_for(self.annotator.model).finish(rec, stats)

    def render(self, path: Path, rel: str, stats: Mapping[str, SpeakerStats] | None) -> None:
        """Pass 3 (``--annotate-dir``): annotate and render the clip again, its speakers read with
        their group's statistics, so that the video and pages show the rows' emotions."""
        with self._captured(stats):
            self._annotate(path, rel, True)
