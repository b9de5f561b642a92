"""Data sets: MELD (dialogues), RAVDESS and TESS (acted speech), read into one shape.

Every reader returns ``Dialogue`` objects: a list of ``Sample`` (one utterance each) sharing a
conversation. Acted clips (RAVDESS, TESS) are one-utterance dialogues; the training loop groups
them into pseudo-dialogues of one speaker so that the context encoders see several utterances.
Readers never stop at the first bad row: what they skip is returned in ``DatasetReport.skipped``.

Label mappings to the seven MELD classes (``emocli.EMOTIONS``):
- RAVDESS: neutral, calm -> neutral; happy -> joy; sad -> sadness; angry -> anger;
  fearful -> fear; disgust -> disgust; surprised -> surprise. The native 8 classes are kept in
  ``Sample.native`` (index in ``RAVDESS_NATIVE``) so that calm can be learnt and scored apart.
- TESS: neutral, happy -> joy, sad -> sadness, angry -> anger, fear, disgust,
  pleasant_surprise (also "ps") -> surprise; native labels in the RAVDESS 8-class space (no calm).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from emocli import EMOTIONS
from emocli.errors import DataError

RAVDESS_NATIVE: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)
"""RAVDESS's own 8 classes, in the order of its file-name codes 01..08."""

NATIVE_TO_EMOTION: dict[str, str] = {
    "neutral": "neutral",
    "calm": "neutral",
    "happy": "joy",
    "sad": "sadness",
    "angry": "anger",
    "fearful": "fear",
    "disgust": "disgust",
    "surprised": "surprise",
}
TESS_TO_NATIVE: dict[str, str] = {
    "neutral": "neutral",
    "happy": "happy",
    "sad": "sad",
    "angry": "angry",
    "fear": "fearful",
    "disgust": "disgust",
    "pleasant_surprise": "surprised",
    "ps": "surprised",
}
MELD_SPLITS: dict[str, tuple[str, str]] = {
    # split -> (CSV file, folder of raw clips in the official MELD.Raw release)
    "train": ("train_sent_emo.csv", "train_splits"),
    "dev": ("dev_sent_emo.csv", "dev_splits_complete"),
    "test": ("test_sent_emo.csv", "output_repeated_splits_test"),
}
MELD_COLUMNS = ("Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID")
SENTIMENTS: tuple[str, ...] = ("neutral", "positive", "negative")


@dataclass
class Sample:
    """One utterance (or acted clip) with its label and where its media lives."""

    uid: str  # unique within the data set, e.g. "dia12_utt3" or a clip path
    text: str | None  # None when the data set has no meaningful words (acted fixed sentences)
    speaker: str  # a name or id; speaker ids index the speaker embeddings within a dialogue
    label: int  # index in EMOTIONS
    native: int | None = None  # index in RAVDESS_NATIVE for acted speech, else None
    media: Path | None = None  # audio or video clip; None when absent
    start: float = 0.0  # seconds in the original episode (MELD) or 0
    end: float = 0.0
    group: str = ""  # speaker-normalisation group: speakers are standardised within a group
    sentiment: int | None = None  # MELD: index in SENTIMENTS (an auxiliary training target)


@dataclass
class Dialogue:
    did: str
    samples: list[Sample]


@dataclass
class DatasetReport:
    """What a reader found and what it skipped (shown by the CLI and saved in the training report)."""

    name: str
    split: str
    n_samples: int = 0
    n_dialogues: int = 0
    skipped: list[str] = field(default_factory=list)  # one line per skipped row / clip
    missing_media: int = 0  # samples kept without their clip
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "split": self.split,
            "n_samples": self.n_samples,
            "n_dialogues": self.n_dialogues,
            "n_skipped": len(self.skipped),
            "skipped": self.skipped[:200],
            "missing_media": self.missing_media,
            "notes": self.notes,
        }


# --- MELD -------------------------------------------------------------------------------------

# Characters that MELD's CSVs carry from Windows-1252 (C1 controls) or double-encoded UTF-8.
_C1 = {chr(c): bytes([c]).decode("cp1252", "replace") for c in range(0x80, 0xA0)}
_PUNCT = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u2014": " - "}
_PUNCT.update({"\u2013": " - ", "\u00a0": " "})
_MOJIBAKE = re.compile("[\u00c2\u00c3\u00e2][\u0080-\u00bf\u0152-\u0178\u02c6-\u2122]+")


def clean_text(text: str) -> str:
    """Repair MELD's mojibake (``â€™``, ``\\x92``), normalise quotes and dashes, collapse spaces."""

    def fix(m: re.Match[str]) -> str:
        try:
            return m.group(0).encode("cp1252").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return m.group(0)

    text = _MOJIBAKE.sub(fix, text)
    text = "".join(_C1.get(ch, ch) for ch in text)
    text = "".join(_PUNCT.get(ch, ch) for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def read_csv_text(path: Path) -> str:
    """CSV text as UTF-8 (with or without BOM), falling back to Windows-1252."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


_TIME = re.compile(r"^\s*(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?\s*$")


def parse_time(value: str) -> float | None:
    """``0:36:59,425`` or ``00:16:16,059`` -> seconds; None when unparsable (kept, not fatal)."""
    m = _TIME.match(value or "")
    if not m:
        return None
    h, mi, s, ms = m.groups()
    return int(h) * 3600 + int(mi) * 60 + int(s) + (int(ms.ljust(3, "0")) / 1000 if ms else 0.0)


def resolve_meld_dir(data_dir: Path) -> Path:
    """Accept the MELD folder itself or a parent holding ``meld/``."""
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DataError(f"MELD folder {data_dir} does not exist.", "Pass --data-dir with the MELD folder.")
    if not any((data_dir / f).is_file() for f, _ in MELD_SPLITS.values()) and (data_dir / "meld").is_dir():
        return data_dir / "meld"
    return data_dir


def read_meld(data_dir: Path, split: str) -> tuple[list[Dialogue], DatasetReport]:
    """Read one split of the official MELD layout; clips are attached when their folder exists."""
    if split not in MELD_SPLITS:
        raise DataError(f"Unknown MELD split {split!r}.", f"Use one of: {', '.join(MELD_SPLITS)}.")
    root = resolve_meld_dir(data_dir)
    csv_name, clip_folder = MELD_SPLITS[split]
    path = root / csv_name
    if not path.is_file():
        raise DataError(
            f"MELD {split} annotations not found: {path}.",
            f"Give --data-dir the folder holding {csv_name} (the official MELD layout).",
        )
    report = DatasetReport("meld", split)
    reader = csv.DictReader(io.StringIO(read_csv_text(path)))
    missing = [c for c in MELD_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(
            f"{path} is not a MELD CSV: missing column(s) {', '.join(missing)}.",
            "Use the official MELD *_sent_emo.csv files.",
        )
    clips = root / clip_folder
    has_clips = clips.is_dir()
    by_dialogue: dict[int, list[tuple[int, Sample]]] = {}
    for line_no, row in enumerate(reader, start=2):
        where = f"{path.name} line {line_no}"
        if None in row or any(row.get(c) is None for c in MELD_COLUMNS):
            report.skipped.append(f"{where}: malformed row (wrong number of fields)")
            continue
        emotion = row["Emotion"].strip().lower()
        if emotion not in EMOTIONS:
            report.skipped.append(f"{where}: unknown label {row['Emotion']!r}")
            continue
        try:
            did, uid = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
        except ValueError:
            report.skipped.append(f"{where}: Dialogue_ID/Utterance_ID are not integers")
            continue
        text = clean_text(row["Utterance"])
        if not text:
            report.skipped.append(f"{where}: empty utterance")
            continue
        start = parse_time(row.get("StartTime") or "")
        end = parse_time(row.get("EndTime") or "")
        media = clips / f"dia{did}_utt{uid}.mp4" if has_clips else None
        if media is not None and not media.is_file():
            media = None
            report.missing_media += 1
        speaker = clean_text(row["Speaker"]) or "unknown"
        senti = (row.get("Sentiment") or "").strip().lower()
        sample = Sample(
            uid=f"dia{did}_utt{uid}",
            text=text,
            speaker=speaker,
            label=EMOTIONS.index(emotion),
            media=media,
            start=start or 0.0,
            end=end or 0.0,
            group=split,
            sentiment=SENTIMENTS.index(senti) if senti in SENTIMENTS else None,
        )
        by_dialogue.setdefault(did, []).append((uid, sample))
    dialogues = []
    for did in sorted(by_dialogue):
        seen: set[int] = set()
        samples = []
        for uid, s in sorted(by_dialogue[did], key=lambda t: t[0]):
            if uid in seen:
                report.skipped.append(f"{path.name}: duplicate dia{did}_utt{uid}")
                continue
            seen.add(uid)
            samples.append(s)
        dialogues.append(Dialogue(f"dia{did}", samples))
    report.n_dialogues = len(dialogues)
    report.n_samples = sum(len(d.samples) for d in dialogues)
    if not has_clips:
        report.notes.append(f"no raw clips ({clip_folder}/ not found): text only")
    elif report.missing_media:
        report.notes.append(
            f"{report.missing_media} utterance(s) have no clip: their audio/visual are masked"
        )
    return dialogues, report


# --- RAVDESS and TESS -------------------------------------------------------------------------

AUDIO_GLOBS = ("*.wav", "*.flac", "*.mp3", "*.mp4")
_RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def _resolve(data_dir: Path, name: str) -> Path:
    """The data set's own folder: ``data_dir`` itself, or ``data_dir/<name>`` when that exists."""
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DataError(
            f"{name} folder {data_dir} does not exist.", f"Pass --data-dir with the {name} folder."
        )
    sub = data_dir / name.lower()
    return sub if sub.is_dir() else data_dir


def parse_actors(spec: str | None) -> set[int] | None:
    """``"19-24"`` or ``"1,3,17-18"`` -> {ids}; None -> every actor."""
    if not spec:
        return None
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)|(\d+)", part)
        if not m:
            raise DataError(f"Bad actor list {spec!r}.", "Use ranges and numbers, e.g. 19-24 or 1,3,17-18.")
        if m.group(3):
            out.add(int(m.group(3)))
        else:
            out.update(range(int(m.group(1)), int(m.group(2)) + 1))
    return out


def read_ravdess(data_dir: Path, actors: set[int] | None = None) -> tuple[list[Dialogue], DatasetReport]:
    """RAVDESS speech clips found under ``data_dir`` (any depth), named ``03-01-EE-II-SS-RR-AA``."""
    root = _resolve(data_dir, "RAVDESS")
    report = DatasetReport("ravdess", "all" if actors is None else ",".join(map(str, sorted(actors))))
    dialogues = []
    files = sorted({p for g in AUDIO_GLOBS for p in root.rglob(g)})
    for p in files:
        m = _RAVDESS_NAME.match(p.stem)
        if not m:
            report.skipped.append(f"{p.name}: not a RAVDESS file name (03-01-EE-II-SS-RR-AA)")
            continue
        emo, actor = int(m.group(3)), int(m.group(7))
        if not 1 <= emo <= 8:
            report.skipped.append(f"{p.name}: unknown emotion code {emo:02d}")
            continue
        if actors is not None and actor not in actors:
            continue
        native = RAVDESS_NATIVE[emo - 1]
        s = Sample(
            uid=str(p.relative_to(root)),
            text=None,
            speaker=f"actor{actor:02d}",
            label=EMOTIONS.index(NATIVE_TO_EMOTION[native]),
            native=emo - 1,
            media=p,
            group="ravdess",
        )
        dialogues.append(Dialogue(s.uid, [s]))
    report.n_samples = report.n_dialogues = len(dialogues)
    if not dialogues:
        raise DataError(
            f"No RAVDESS clips found under {root}"
            + (f" for actors {sorted(actors)}" if actors else "")
            + ".",
            "Pass --data-dir with the folder of Actor_XX/03-01-*.wav|flac files.",
        )
    return dialogues, report


def read_tess(data_dir: Path, speakers: set[str] | None = None) -> tuple[list[Dialogue], DatasetReport]:
    """TESS clips ``{OAF|YAF}_{word}_{emotion}.wav|flac`` found under ``data_dir`` (any depth)."""
    root = _resolve(data_dir, "TESS")
    report = DatasetReport("tess", "all" if speakers is None else ",".join(sorted(speakers)))
    dialogues = []
    for p in sorted({p for g in AUDIO_GLOBS for p in root.rglob(g)}):
        parts = p.stem.split("_")
        if len(parts) < 3:
            report.skipped.append(f"{p.name}: not a TESS file name (SPEAKER_word_emotion)")
            continue
        speaker, emotion = parts[0].upper(), "_".join(parts[2:]).lower()
        native = TESS_TO_NATIVE.get(emotion)
        if native is None:
            report.skipped.append(f"{p.name}: unknown label {emotion!r}")
            continue
        if speakers is not None and speaker not in speakers:
            continue
        s = Sample(
            uid=str(p.relative_to(root)),
            text=None,
            speaker=f"tess_{speaker}",
            label=EMOTIONS.index(NATIVE_TO_EMOTION[native]),
            native=RAVDESS_NATIVE.index(native),
            media=p,
            group="tess",
        )
        dialogues.append(Dialogue(s.uid, [s]))
    report.n_samples = report.n_dialogues = len(dialogues)
    if not dialogues:
        raise DataError(f"No TESS clips found under {root}.", "Pass --data-dir with the TESS folder.")
    return dialogues, report


def label_counts(dialogues: list[Dialogue]) -> Counter[int]:
    return Counter(s.label for d in dialogues for s in d.samples)
