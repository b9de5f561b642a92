"""annotate: run every stage on one input and join their results.

    media -> speech (ASR, diarization, utterances) -> faces (tracks, expressions, speaker's face)
          -> emotion model over the whole conversation -> Result -> writers and renderer

``Annotator`` loads its models once (lazily, per modality) and can process any number of inputs,
which is what batch workers do. The library never prints: progress goes through the hook.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emocli import EMOTIONS
from emocli.errors import EmocliError, InputError, NoSpeechError
from emocli.hooks import ProgressHook, null_hook
from emocli.media import SAMPLE_RATE, MediaInfo, probe
from emocli.output.render import FaceOverlay, RenderOptions, render_video
from emocli.results import MODALITIES, ModelInfo, Result, Utterance, scores_from_probs, top_emotion

if TYPE_CHECKING:
    from emocli.faces.analyze import FaceAnalyzer
    from emocli.faces.speaker import UtteranceVisual
    from emocli.faces.video import VideoFaces
    from emocli.model.inference import EmotionRecognizer, UtterancePrediction
    from emocli.speakers.stage import WhoSpeaks
    from emocli.speech.pipeline import SpeechOptions, SpeechPipeline, SpeechResult


@dataclass(frozen=True)
class AnnotateOptions:
    """What ``emocli annotate`` / ``batch`` can be told; filled once from the CLI."""

    modalities: tuple[str, ...] = MODALITIES
    model_dir: Path | None = None  # None: the shipped default weights
    speech: SpeechOptions | None = None  # None: SpeechOptions() defaults
    face_detector: str = "blazeface"
    face_sample_fps: float = 5.0
    analysis_max_side: int = 640  # frames are analysed downscaled (4K included), drawn at full size
    device: str = "cpu"
    render: RenderOptions = field(default_factory=RenderOptions)
    # Active speaker detection: "auto" where it decides something (two or more faces on screen
    # together during speech), "on" for every face (a single face too: finds voices heard but not
    # seen), "off" (the mouth-motion rule, faces/speaker.py).
    asd: str = "auto"
    asd_weights: Path | None = None  # None: EMOCLI_ASD_WEIGHTS, then the model cache


@dataclass
class Analysis:
    """Everything one input gave, before writing: the Result plus what the renderer needs."""

    result: Result
    info: MediaInfo
    video_faces: VideoFaces | None = None
    visuals: list[UtteranceVisual] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def overlay_at(self, t: float) -> list[FaceOverlay]:
        """Faces to draw at time ``t``: boxes, the speaker's flag and per-frame expression probs."""
        if self.video_faces is None:
            return []
        from emocli.faces.speaker import speaker_track_at

        faces = self.video_faces.faces_at(t, speaker_track_at(self.visuals, t))
        speaker = self._speaker_at(t)
        return [FaceOverlay(f.box, f.probs, f.is_speaker, speaker if f.is_speaker else None) for f in faces]

    def _speaker_at(self, t: float) -> str | None:
        for u in self.result.utterances:
            if u.start <= t < u.end:
                return u.speaker
        return None


@contextmanager
def _timed(timing: dict[str, float], stage: str) -> Iterator[None]:
    t = time.perf_counter()
    try:
        yield
    finally:
        timing[stage] = round(timing.get(stage, 0.0) + time.perf_counter() - t, 3)


class Annotator:
    """Loads the speech front-end, the face analyser and the emotion model once; reuses them."""

    def __init__(self, options: AnnotateOptions = AnnotateOptions()) -> None:
        unknown = [m for m in options.modalities if m not in MODALITIES]
        if unknown or not options.modalities:
            raise EmocliError(
                f"Unknown modalities {', '.join(unknown) or '(none)'}.",
                f"Choose from {', '.join(MODALITIES)}.",
            )
        self.options = options
        self._speech: SpeechPipeline | None = None
        self._faces: FaceAnalyzer | None = None
        self._model: EmotionRecognizer | None = None
        self._who: WhoSpeaks | None = None

    @property
    def speech(self) -> SpeechPipeline:
        if self._speech is None:
            from emocli.speech.pipeline import SpeechOptions, SpeechPipeline

            self._speech = SpeechPipeline(self.options.speech or SpeechOptions(), device=self.options.device)
        return self._speech

    @property
    def who_speaks(self) -> WhoSpeaks:
        if self._who is None:
            from emocli.speakers.stage import WhoSpeaks

            o = self.options
            self._who = WhoSpeaks(o.asd, o.asd_weights, o.device)
        return self._who

    @property
    def faces(self) -> FaceAnalyzer:
        if self._faces is None:
            from emocli.faces.analyze import FaceAnalyzer, FaceOptions

            o = self.options
            self._faces = FaceAnalyzer(
                FaceOptions(
                    detector=o.face_detector, sample_fps=o.face_sample_fps, max_side=o.analysis_max_side
                )
            )
        return self._faces

    @property
    def model(self) -> EmotionRecognizer:
        if self._model is None:
            from emocli.model.inference import load_emotion_model

            whisper = self.speech.whisper if self._asr_gives_audio_features() else None
            self._model = load_emotion_model(
                self.options.model_dir, self.options.device, whisper_model=whisper
            )
        return self._model

    def _asr_gives_audio_features(self) -> bool:
        """Whether the ASR's loaded Whisper is the one the emotion model's audio head was trained on
        (the bundled base), so that its encoder can be reused. Another ASR model (``--asr-model
        small``) has other states, often of another width: the emotion model then loads base itself."""
        from emocli.speech.whisper_model import DEFAULT_ASR_MODEL

        if "audio" not in self.options.modalities:
            return False
        return getattr(self.speech.asr, "model_name", None) == DEFAULT_ASR_MODEL

    def load(self) -> None:
        """Load every model now (batch workers do this once, before their first clip)."""
        _ = self.speech
        if "visual" in self.options.modalities:
            _ = self.faces
        _ = self.model

    def analyze(self, path: Path, hook: ProgressHook = null_hook, info: MediaInfo | None = None) -> Analysis:
        """All stages but rendering: a Result with every utterance's emotion, and the face data."""
        path = Path(path)
        timing: dict[str, float] = {}
        with _timed(timing, "probe"):
            info = info or probe(path)
        opts = self.options
        warnings: list[str] = []
        use_faces = "visual" in opts.modalities and info.has_video
        if not info.has_audio and not use_faces:
            raise InputError(f"{path} has no audio track.", "Give a video with sound, or an audio file.")

        with _timed(timing, "load models"):  # speech first: silence fails before the rest loads
            _ = self.speech
        # The visual stage does not depend on speech: it runs in a second thread while the speech
        # runs (ffmpeg decoding, LiteRT and CTranslate2 all release the GIL), and loads the
        # emotion model first, so that its start-up is hidden too.
        background: Future[VideoFaces] | None = None
        pool = ThreadPoolExecutor(1, thread_name_prefix="emocli-faces") if use_faces else None
        if pool is not None:
            background = pool.submit(self._load_and_analyze_faces, path, info, hook, timing)
        try:
            speech = self._speech_or_nothing(path, info, hook, timing, warnings, use_faces)
            video_faces = background.result() if background is not None else None
        finally:
            if pool is not None:
                pool.shutdown(wait=True)  # never leave a decoder running behind an error
        if speech is None:
            result = Result(source=str(path), duration=round(info.duration, 3), models=self.speech.models())
            audio = np.zeros(0, np.float32)
        else:
            result, audio = speech.result, speech.audio
        with _timed(timing, "load models"):
            _ = self.model if result.utterances else None

        chosen: list[int | None] | None = None
        if speech is not None:
            with _timed(timing, "who speaks"):
                chosen = self.who_speaks.run(
                    path,
                    info,
                    speech,
                    video_faces,
                    self.speech.options,
                    self.speech.voice_embedder(),
                    warnings,
                    rediarize=lambda k: self.speech.diarizer(speech.audio, speech.speech, k).turns,
                )
        visuals: list[UtteranceVisual] = []
        if video_faces is not None:
            from emocli.faces.speaker import SpeechActivity, apply_to_utterances, utterance_visuals

            with _timed(timing, "faces"):
                activity = SpeechActivity.from_audio(audio, SAMPLE_RATE) if len(audio) else None
                visuals = utterance_visuals(video_faces, result.utterances, activity, chosen=chosen)
                apply_to_utterances(result.utterances, visuals)
            if video_faces.face_fraction() == 0:
                warnings.append("No face was found in the video: the visual modality is missing.")
            result.models["face_detector"] = ModelInfo(video_faces.detector, "vendored")
            result.models["face_expression"] = ModelInfo("fer-mini-xception", "vendored")

        if result.utterances and speech is not None and self._wants_translation():
            from emocli.speech.translate import translate_utterances

            with _timed(timing, "translate"):  # only utterances not in English: free for English
                workers = int(getattr(self.speech.asr, "workers", 1))
                translate_utterances(
                    self.speech.whisper, audio, result.utterances, self._beam_size(), hook, workers
                )
        if result.utterances:
            with _timed(timing, "emotion"):
                self._recognise(result, audio, visuals)
            result.models["emotion"] = _model_info(opts.model_dir)
            # Which of the model's branches this run used (--modalities), e.g. "audio,visual".
            used = self.model.used_modalities(opts.modalities)
            result.models["modalities"] = ModelInfo(",".join(used), "")
        if video_faces is not None:
            from emocli.faces.export import to_frame_results

            result.frames = to_frame_results(video_faces, visuals)
        result.source = str(path)
        result.timing = timing
        return Analysis(result, info, video_faces, visuals, warnings)

    def _wants_translation(self) -> bool:
        """Translations are made for the text model, or for English captions; Whisper only."""
        wanted = "text" in self.options.modalities or self.options.render.captions == "english"
        return wanted and getattr(self.speech.asr, "model", None) is not None

    def _beam_size(self) -> int:
        return int(getattr(self.speech.asr, "beam_size", 5))

    def _speech_or_nothing(
        self,
        path: Path,
        info: MediaInfo,
        hook: ProgressHook,
        timing: dict[str, float],
        warnings: list[str],
        use_faces: bool,
    ) -> SpeechResult | None:
        """Run the speech front-end; a video without any speech (None) is still annotated from its
        pictures."""
        try:
            if not info.has_audio:
                raise NoSpeechError(f"{path} has no audio track.")
            with _timed(timing, "speech"):
                speech = self.speech.run(path, hook=hook, info=info)
            timing.update({f"speech.{k}": v for k, v in speech.result.timing.items()})
            return speech
        except NoSpeechError as e:
            if not use_faces:
                raise
            warnings.append(f"{e.message} Only the pictures were analysed.")
            return None

    def _load_and_analyze_faces(
        self, path: Path, info: MediaInfo, hook: ProgressHook, timing: dict[str, float]
    ) -> VideoFaces:
        with _timed(timing, "load models (background)"):
            if "audio" in self.options.modalities:
                self.model.prepare()  # its audio encoder too, off the critical path
            else:
                _ = self.model
            _ = self.faces
        with _timed(timing, "faces"):
            return self.faces.analyze(path, info=info, hook=hook)

    def _recognise(self, result: Result, audio: np.ndarray, visuals: list[UtteranceVisual]) -> None:
        """Run the whole conversation through the model at once (dialogue context), fill utterances."""
        from emocli.features.audio import context_spans
        from emocli.model.inference import MIN_AUDIO_SECONDS, UtteranceInput

        mods = self.options.modalities
        inputs = []
        # Each utterance's voice is read with up to 1 s of the audio around it (never another
        # utterance's), as the audio head was trained on whole clips, silence around the speech included.
        spans = context_spans([(u.start, u.end) for u in result.utterances], len(audio) / SAMPLE_RATE)
        for i, u in enumerate(result.utterances):
            clip = None
            if "audio" in mods and u.end - u.start >= MIN_AUDIO_SECONDS:  # shorter: no usable prosody
                clip = audio[int(spans[i][0] * SAMPLE_RATE) : int(spans[i][1] * SAMPLE_RATE)]
            vis = visuals[i] if i < len(visuals) else None
            frames = vis.frame_probs if vis is not None and vis.scores is not None else None
            inputs.append(
                UtteranceInput(
                    # Not English: the text model reads Whisper's translation (speech/translate.py).
                    text=(u.text_en or u.text) if "text" in mods else None,
                    speaker=u.speaker,
                    start=u.start,
                    end=u.end,
                    audio=clip if clip is not None and len(clip) else None,
                    visual=frames if "visual" in mods else None,
                )
            )
        # The modalities left out are masked like missing ones, never fed empty inputs.
        preds = self.model.predict_dialogue(inputs, modalities=mods)
        used = ", ".join(self.model.used_modalities(mods))
        present = apply_predictions(result.source, result.utterances, preds, used)
        for u, p, ok in zip(result.utterances, preds, present, strict=True):
            if not ok:  # none of the modalities used is there: no emotion rather than a uniform guess
                u.modality_scores = {m: None for m in p.modality_probs}
                continue
            visual_pooled = u.modality_scores.get("visual")  # the faces stage's own pooled scores
            u.modality_scores = {m: s for m, s in p.modality_scores().items() if m in mods}
            if "visual" in mods and u.modality_scores.get("visual") is None and visual_pooled is not None:
                u.modality_scores["visual"] = visual_pooled

    def annotate(
        self,
        path: Path,
        out_video: Path | None,
        hook: ProgressHook = null_hook,
        info: MediaInfo | None = None,
    ) -> Analysis:
        """``analyze`` + render the annotated video to ``out_video`` (skipped for None or audio-only)."""
        analysis = self.analyze(path, hook, info)
        if out_video is not None and analysis.info.has_video:
            t = time.perf_counter()
            render_video(
                path,
                out_video,
                analysis.result,
                analysis.overlay_at,
                analysis.info,
                self.options.render,
                hook,
            )
            analysis.result.timing["render"] = round(time.perf_counter() - t, 3)
        return analysis


def apply_predictions(
    source: str, utts: Sequence[Utterance], preds: Sequence[UtterancePrediction], used: str = ""
) -> list[bool]:
    """The predictions' scores and top emotions into the utterances (in place); per utterance,
    whether any of the modalities ``used`` was there (the others keep no emotion). Raises when none
    of the utterances has any."""
    present = [any(v is not None for v in p.modality_probs.values()) for p in preds]
    if not any(present):
        shown = f" ({used})" if used else ""
        raise InputError(
            f"{source}: no utterance has any of the modalities used{shown}, "
            "so there is nothing to read the emotions from.",
            "Add a modality the input has to --modalities (e.g. audio), or give an input with it.",
        )
    for u, p, ok in zip(utts, preds, present, strict=True):
        if ok:
            u.scores = p.scores()
            u.emotion, u.confidence = top_emotion(u.scores)
            u.confidence = round(u.confidence, 4)
    return present


def _model_info(model_dir: Path | None) -> ModelInfo:
    """Name and version of the emotion model: the weights' SHA-256 prefix identifies them exactly."""
    from emocli.model.checkpoint import WEIGHTS_NAME, resolve_model_dir
    from emocli.models_registry import sha256_file

    folder = resolve_model_dir(model_dir)
    name = "emocli-default" if model_dir is None else str(folder)
    return ModelInfo(name, f"sha256:{sha256_file(folder / WEIGHTS_NAME)[:12]}")


def clip_summary(result: Result) -> tuple[str | None, float | None, dict[str, float] | None]:
    """One label for a whole clip: utterance scores averaged with their durations as weights."""
    scored = [u for u in result.utterances if u.scores]
    if not scored:
        return None, None, None
    w = np.array([max(u.duration, 1e-3) for u in scored])
    probs = np.array([[u.scores[e] for e in EMOTIONS] for u in scored])  # type: ignore[index]
    mean = (probs * w[:, None]).sum(0) / w.sum()
    scores = scores_from_probs(mean)
    label, conf = top_emotion(scores)
    return label, conf, scores
