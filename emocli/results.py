"""The one typed result schema shared by every stage, writer and the renderer.

Times are seconds from the start of the input; boxes are pixels (x0, y0, x1, y1) in the displayed
frame; score dicts map each of the seven emotions (``emocli.EMOTIONS``) to a probability.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from emocli import EMOTIONS, __version__

Scores = dict[str, float]
"""Emotion -> probability, keys in ``EMOTIONS`` order, values summing to 1."""

MODALITIES: tuple[str, ...] = ("text", "audio", "visual")


def scores_from_probs(probs: Any) -> Scores:
    """Build a ``Scores`` dict from a length-7 sequence/array in ``EMOTIONS`` order."""
    values = [float(p) for p in probs]
    if len(values) != len(EMOTIONS):
        raise ValueError(f"expected {len(EMOTIONS)} probabilities, got {len(values)}")
    return dict(zip(EMOTIONS, values, strict=True))


def top_emotion(scores: Scores) -> tuple[str, float]:
    """The most probable emotion and its probability."""
    label = max(scores, key=lambda k: scores[k])
    return label, scores[label]


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None  # ASR confidence in [0, 1]
    speaker: str | None = None
    language: str | None = None  # ISO 639-1 code of the language Whisper decoded this word in


@dataclass(frozen=True)
class Turn:
    """One stretch of speech by one speaker (diarization output). Turns of different speakers may overlap."""

    start: float
    end: float
    speaker: str

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Utterance:
    start: float
    end: float
    speaker: str
    text: str
    words: list[Word] = field(default_factory=list)
    emotion: str | None = None
    confidence: float | None = None
    scores: Scores | None = None  # fused scores
    # Per-modality scores; None for a modality that was missing (no face, no audio, no text).
    modality_scores: dict[str, Scores | None] = field(default_factory=dict)
    face_track: int | None = None  # id of the face track chosen as this utterance's speaker
    face_rule: str | None = None  # how that track was chosen (documented in faces/speaker.py)
    speaking_score: float | None = None  # mean speaking probability of that face over the utterance (ASD)
    language: str | None = None  # ISO 639-1 code of the language spoken in this utterance
    # English translation by Whisper (translate task) when the utterance is not English; the text
    # model read this instead of ``text``. None for English speech.
    text_en: str | None = None

    @property
    def translated(self) -> bool:
        """True when the emotion's text branch read a translation, not the words as spoken."""
        return self.text_en is not None

    def caption_text(self, captions: str = "spoken") -> str:
        """The caption to show: the words as spoken, or with ``captions="english"`` the translation."""
        if captions == "english" and self.text_en is not None:
            return self.text_en
        return self.text

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class SpeakerFace:
    """One face track a speaker was seen speaking on: a representative time and box to find it."""

    track: int
    time: float  # seconds: the frame where this track spoke with the highest score
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 at ``time``, displayed-frame pixels
    speech: float  # seconds of this speaker's words said on this track


@dataclass
class SpeakerProfile:
    """How one speaker was found: by their voice, their face, or both (``found_by``)."""

    speaker: str
    found_by: str  # "voice", "face" or "voice+face"
    speech: float  # seconds of words
    faces: list[SpeakerFace] = field(default_factory=list)
    voice_clusters: list[str] = field(default_factory=list)  # the diarizer's voice clusters merged in


@dataclass
class SpeakerCount:
    """The number of speakers with how sure emocli is: ``low``..``high`` is the range the data allows."""

    n: int
    confidence: str  # "high" or "low"
    low: int
    high: int
    evidence: str  # what decided it, in words

    def summary(self) -> str:
        if self.confidence == "high" or self.low == self.high:
            return f"{self.n} speaker{'s' if self.n != 1 else ''} ({self.evidence})"
        return (
            f"{self.n} speaker{'s' if self.n != 1 else ''}, uncertain: the data allows "
            f"{self.low}-{self.high} ({self.evidence}); if you know the number, give --num-speakers"
        )


@dataclass
class Face:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in displayed-frame pixels
    score: float  # detector confidence in [0, 1]
    track: int | None = None
    scores: Scores | None = None  # per-frame expression probabilities
    is_speaker: bool = False


@dataclass
class FrameResult:
    time: float
    faces: list[Face] = field(default_factory=list)


@dataclass
class ModelInfo:
    name: str
    version: str


@dataclass
class Untranscribed:
    """A stretch of speech (voice activity, 1 s or longer) that has no words, and why."""

    start: float
    end: float
    reason: str  # e.g. "no words decoded", "repetition loop cut" (emocli.speech.asr)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class RepetitionCut:
    """A decoding that fell into a loop (one word or phrase said many times in a row) and what was
    done: ``decoded again`` (a second decoding without the loop replaced it) or ``cut`` (to its
    first ``kept`` occurrences)."""

    start: float  # the loop's first word, seconds
    end: float  # its last word, before anything was done
    phrase: str  # the repeated word or phrase
    repeats: int  # times it was said in a row in the decoding
    action: str  # "decoded again" or "cut"
    kept: int = 0  # occurrences kept in the transcript ("cut"); 0 when decoded again


@dataclass
class Result:
    """Everything emocli knows about one input; what the JSON writer serialises."""

    source: str
    duration: float
    utterances: list[Utterance] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)  # who speaks when (diarization), for RTTM
    speaker_count: SpeakerCount | None = None
    speaker_profiles: list[SpeakerProfile] = field(default_factory=list)
    language: str | None = None  # the language of most of the speech
    languages: dict[str, float] = field(default_factory=dict)  # speech seconds per language found
    models: dict[str, ModelInfo] = field(default_factory=dict)  # role (asr, diarizer, ...) -> model
    frames: list[FrameResult] = field(default_factory=list)
    speech_duration: float | None = None  # seconds of speech the voice activity detector found
    # Speech without words (each stretch 1 s or longer), and decodings cut out of a repetition loop.
    untranscribed: list[Untranscribed] = field(default_factory=list)
    repetitions: list[RepetitionCut] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)  # stage -> seconds of wall time
    emocli_version: str = __version__

    def repetition_cut(self, u: Utterance) -> bool:
        """Whether a repetition loop was cut inside utterance ``u`` (it holds the loop's first word)."""
        starts = {r.start for r in self.repetitions if r.action == "cut"}
        return any(w.start in starts for w in u.words)

    @property
    def untranscribed_seconds(self) -> float:
        return round(sum(x.duration for x in self.untranscribed), 3)

    def to_dict(self, timing: bool = True) -> dict[str, Any]:
        """The JSON form; ``timing=False`` leaves out the wall times (the only field that changes
        when the same input is run again)."""
        d = asdict(self)
        if not self.frames:
            d.pop("frames")
        if self.speaker_count is None:
            d.pop("speaker_count")
        if not timing:
            d.pop("timing")
        # Derived from the times, so it holds after utterances are rebuilt (who speaks, annotate).
        for u, ud in zip(self.utterances, d["utterances"], strict=True):
            ud["repetition_cut"] = self.repetition_cut(u)
            ud["translated"] = u.translated  # the emotion's text branch read ``text_en``
            for wd in ud["words"]:  # an utterance is in one language: said once, on the utterance
                if wd.get("language") == u.language:
                    wd.pop("language")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        utts = []
        for u in d.get("utterances", []):
            u = dict(u)
            u.pop("repetition_cut", None)  # derived from ``repetitions`` (to_dict)
            u.pop("translated", None)  # derived from ``text_en``
            u["words"] = [Word(**{"language": u.get("language"), **w}) for w in u.get("words", [])]
            utts.append(Utterance(**u))
        frames = [
            FrameResult(f["time"], [Face(**{**x, "box": tuple(x["box"])}) for x in f.get("faces", [])])
            for f in d.get("frames", [])
        ]
        return cls(
            source=d["source"],
            duration=d["duration"],
            utterances=utts,
            speakers=list(d.get("speakers", [])),
            turns=[Turn(**t) for t in d.get("turns", [])],
            speaker_count=SpeakerCount(**d["speaker_count"]) if d.get("speaker_count") else None,
            speaker_profiles=[
                SpeakerProfile(
                    **{
                        **p,
                        "faces": [SpeakerFace(**{**f, "box": tuple(f["box"])}) for f in p.get("faces", [])],
                    }
                )
                for p in d.get("speaker_profiles", [])
            ],
            language=d.get("language"),
            languages=dict(d.get("languages", {})),
            models={k: ModelInfo(**v) for k, v in d.get("models", {}).items()},
            frames=frames,
            speech_duration=d.get("speech_duration"),
            untranscribed=[Untranscribed(**x) for x in d.get("untranscribed", [])],
            repetitions=[RepetitionCut(**x) for x in d.get("repetitions", [])],
            timing=dict(d.get("timing", {})),
            emocli_version=d.get("emocli_version", __version__),
        )
