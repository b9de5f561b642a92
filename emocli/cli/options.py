"""Command-line options shared by several commands (transcribe, annotate, batch), defined once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from emocli.device import Device

if TYPE_CHECKING:
    from emocli.speech.pipeline import SpeechOptions

AsrModelOpt = Annotated[
    str,
    typer.Option(
        "--asr-model",
        help="Whisper model: base (bundled, offline), any faster-whisper name (small, large-v3, "
        "distil-large-v3 ...; downloaded once) or a local CTranslate2 folder.",
    ),
]
LanguageOpt = Annotated[
    str | None,
    typer.Option(
        "--language",
        "-l",
        help="Spoken language: one ISO code forces it (e.g. es); several (en,es) limit the choice. "
        "Default: found per stretch of speech, so a file may hold several. Speech not in English is "
        "read by the text model through Whisper's English translation; measured on es, fr, de, "
        "ru, zh, ar, hi: less reliable than English (agreement 0.52 with the English original; "
        "emocli/weights/emotion/MODEL_CARD.md).",
    ),
]
DiarizerOpt = Annotated[
    str,
    typer.Option(
        "--diarizer",
        help="embedded (bundled, offline) or pyannote (pip install 'emocli[pyannote]' and a "
        "Hugging Face token).",
    ),
]
NumSpeakersOpt = Annotated[
    int | None, typer.Option("--num-speakers", "-n", help="Exact number of speakers, when known.", min=1)
]
MinSpeakersOpt = Annotated[
    int, typer.Option("--min-speakers", help="Lower bound on the speakers found.", min=1)
]
MaxSpeakersOpt = Annotated[
    int, typer.Option("--max-speakers", help="Upper bound on the speakers found.", min=1)
]
HfTokenOpt = Annotated[
    str | None,
    typer.Option("--hf-token", help="Hugging Face token for --diarizer pyannote (or set HF_TOKEN)."),
]
DeviceOpt = Annotated[Device, typer.Option("--device", help="auto, cpu or cuda.")]
ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model", help="Emotion model folder (config.json + safetensors). Default: the shipped model."
    ),
]
ModalitiesOpt = Annotated[str, typer.Option("--modalities", "-m", help="Comma list of text, audio, visual.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")]


def parse_modalities(spec: str) -> tuple[str, ...]:
    """``"text, audio"`` -> ("text", "audio"); one clear line for an unknown or empty list."""
    from emocli.errors import EmocliError
    from emocli.results import MODALITIES

    mods = tuple(dict.fromkeys(m.strip().lower() for m in spec.split(",") if m.strip()))
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        raise EmocliError(
            f"Unknown modality {', '.join(bad) or '(none)'}.", f"Choose from {', '.join(MODALITIES)}."
        )
    return mods


def speech_options(
    asr_model: str,
    language: str | None,
    diarizer: str,
    num_speakers: int | None,
    min_speakers: int,
    max_speakers: int,
    hf_token: str | None,
) -> SpeechOptions:
    """Validate the speech options cheaply (before models load) and build the frozen config."""
    from emocli.errors import EmocliError
    from emocli.speech.diarize import DIARIZERS, check_speaker_bounds
    from emocli.speech.pipeline import SpeechOptions

    check_speaker_bounds(num_speakers, min_speakers, max_speakers)
    diarizer = diarizer.strip().lower()
    if diarizer not in DIARIZERS:
        raise EmocliError(f"Unknown diarizer {diarizer!r}.", f"Choose from {', '.join(DIARIZERS)}.")
    return SpeechOptions(
        asr_model=asr_model,
        language=language,
        diarizer=diarizer,
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
        hf_token=hf_token,
    )
