"""What the HTML report and the timeline picture show, computed from a result dict (the JSON).

Works on the plain dict of ``Result.to_dict()`` or a loaded ``.json`` file, so ``emocli report``
needs no model and no torch. Every field past ``utterances`` is optional and read with ``.get()``:
older results, audio-only results and results from other tools still make a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from statistics import median
from typing import Any

from emocli import EMOTIONS

Scores = dict[str, float]
MODALITY_LABELS: dict[str, str] = {"text": "words", "audio": "voice", "visual": "face"}
"""Result modality key -> the word the page uses for it."""
SURE = 0.4  # a modality "says" an emotion when it gives it at least this probability
MAX_BINS = 600  # face points per lane at most: a 10-minute talk stays small and draws fast


@dataclass(frozen=True)
class Utt:
    index: int
    start: float
    end: float
    speaker: str
    text: str
    emotion: str | None
    confidence: float | None
    scores: Scores | None  # fused
    modality: dict[str, Scores | None]  # modality key -> scores, None when missing for this utterance
    face_track: int | None
    language: str | None = None  # ISO code of the language spoken
    text_en: str | None = None  # the English translation the text model read (non-English speech)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Lane:
    """One speaker's row of the timeline (``speaker`` None: faces linked to no speaker)."""

    speaker: str | None
    utterances: list[Utt] = field(default_factory=list)
    tracks: set[int] = field(default_factory=set)
    face_runs: list[list[tuple[float, Scores]]] = field(default_factory=list)  # (time s, scores) runs
    face_step: float = 0.2  # seconds each face point covers

    @property
    def label(self) -> str:
        return self.speaker if self.speaker is not None else "faces"


def _scores(x: Any) -> Scores | None:
    if not isinstance(x, dict):
        return None
    out = {e: float(x[e]) for e in EMOTIONS if isinstance(x.get(e), (int, float))}
    return out or None


def top(scores: Scores) -> tuple[str, float]:
    label = max(scores, key=lambda k: scores[k])
    return label, scores[label]


def utterances(d: dict[str, Any]) -> list[Utt]:
    out = []
    for i, u in enumerate(d.get("utterances") or []):
        ms = u.get("modality_scores") or {}
        out.append(
            Utt(
                index=i,
                start=float(u.get("start", 0.0)),
                end=float(u.get("end", 0.0)),
                speaker=str(u.get("speaker") or "?"),
                text=str(u.get("text") or "").strip(),
                emotion=u.get("emotion"),
                confidence=u.get("confidence"),
                scores=_scores(u.get("scores")),
                modality={k: _scores(v) for k, v in ms.items()},
                face_track=u.get("face_track"),
                language=u.get("language"),
                text_en=(str(u["text_en"]).strip() or None) if u.get("text_en") else None,
            )
        )
    return out


def disagreement(u: Utt) -> list[str]:
    """The different emotions that two or more modalities are each sure of (top probability >= SURE),
    or [] when they agree. A weak top (e.g. voice at 26%) is no disagreement, it is doubt."""
    tops = {top(s)[0] for s in u.modality.values() if s and top(s)[1] >= SURE}
    return sorted(tops, key=EMOTIONS.index) if len(tops) > 1 else []


def speakers(d: dict[str, Any], utts: list[Utt]) -> list[str]:
    """The speakers in the result's order, then any only seen in the utterances."""
    names = [str(s) for s in d.get("speakers") or []]
    return names + [s for s in dict.fromkeys(u.speaker for u in utts) if s not in names]


def shares(utts: list[Utt]) -> tuple[float, Scores]:
    """Speaking time (s) of these utterances and the share of it per (fused) emotion."""
    labelled = [u for u in utts if u.emotion in EMOTIONS]
    total = sum(u.duration for u in labelled)
    return total, {
        e: sum(u.duration for u in labelled if u.emotion == e) / total if total > 0 else 0.0 for e in EMOTIONS
    }


def mean_scores(utts: list[Utt]) -> Scores | None:
    """Fused scores averaged over utterances, weighted by duration."""
    scored = [u for u in utts if u.scores]
    w = sum(max(u.duration, 1e-3) for u in scored)
    if not scored:
        return None
    return {
        e: sum(max(u.duration, 1e-3) * (u.scores or {}).get(e, 0.0) for u in scored) / w for e in EMOTIONS
    }


def _frame_step(frames: list[dict[str, Any]]) -> float:
    times = sorted(float(f.get("time", 0.0)) for f in frames)
    gaps = [b - a for a, b in pairwise(times) if b > a]
    return median(gaps) if gaps else 0.2


def _face_runs(
    frames: list[dict[str, Any]], pick: Any, duration: float, step: float
) -> tuple[list[list[tuple[float, Scores]]], float]:
    """Per-frame scores of the face ``pick(frame)`` chooses, averaged into bins and cut into runs
    where no face was seen. Returns the runs and the seconds each point covers."""
    width = max(duration / MAX_BINS, step)
    bins: dict[int, list[Scores]] = {}
    for f in frames:
        s = pick(f)
        if s is not None:
            bins.setdefault(int(float(f.get("time", 0.0)) / width + 1e-6), []).append(s)
    runs: list[list[tuple[float, Scores]]] = []
    last = None
    for b in sorted(bins):
        mean = {e: sum(s.get(e, 0.0) for s in bins[b]) / len(bins[b]) for e in EMOTIONS}
        point = ((b + 0.5) * width, mean)
        if last is None or b - last > 1:
            runs.append([])
        runs[-1].append(point)
        last = b
    return runs, width


def lanes(d: dict[str, Any], utts: list[Utt]) -> list[Lane]:
    """One lane per speaker, with the face tracks linked to that speaker (the utterances' chosen
    face, the speaker profiles' faces); a lane of unlinked faces when no speaker has one."""
    by_name = {s: Lane(s) for s in speakers(d, utts)}
    for u in utts:
        by_name[u.speaker].utterances.append(u)
        if isinstance(u.face_track, int):
            by_name[u.speaker].tracks.add(u.face_track)
    for p in d.get("speaker_profiles") or []:
        lane = by_name.get(str(p.get("speaker")))
        if lane is not None:
            lane.tracks.update(f["track"] for f in p.get("faces") or [] if isinstance(f.get("track"), int))
    frames = [f for f in d.get("frames") or [] if f.get("faces")]
    duration = float(d.get("duration") or 0.0) or max((u.end for u in utts), default=1.0)
    step = _frame_step(frames)
    out = list(by_name.values())
    for lane in out:

        def pick(f: dict[str, Any], tracks: set[int] = lane.tracks) -> Scores | None:
            mine = [x for x in f["faces"] if x.get("track") in tracks and _scores(x.get("scores"))]
            mine.sort(key=lambda x: (not x.get("is_speaker"), -float(x.get("score", 0.0))))
            return _scores(mine[0]["scores"]) if mine else None

        lane.face_runs, lane.face_step = _face_runs(frames, pick, duration, step)
    if frames and not any(lane.face_runs for lane in out):

        def first_face(f: dict[str, Any]) -> Scores | None:
            faces = [x for x in f["faces"] if _scores(x.get("scores"))]
            faces.sort(key=lambda x: (not x.get("is_speaker"), -float(x.get("score", 0.0))))
            return _scores(faces[0]["scores"]) if faces else None

        extra = Lane(None)
        extra.face_runs, extra.face_step = _face_runs(frames, first_face, duration, step)
        if extra.face_runs:
            out.append(extra)
    return out


def clock(t: float, tenths: bool = True) -> str:
    """Seconds -> ``m:ss.s`` (or ``h:mm:ss.s`` past an hour)."""
    t = max(0.0, t)
    tenth = round(t * 10) if tenths else round(t) * 10
    h, rest = divmod(tenth, 36000)
    m, rest = divmod(rest, 600)
    s = f"{rest // 10:02d}" + (f".{rest % 10}" if tenths else "")
    return f"{h}:{m:02d}:{s}" if h else f"{m}:{s}"
