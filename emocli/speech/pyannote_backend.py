"""``--diarizer pyannote``: pyannote.audio 4 (optional extra ``emocli[pyannote]``).

Its pipelines are gated on the Hugging Face hub: the user accepts their conditions once and
passes a token (``--hf-token`` or ``HF_TOKEN``); the weights are then cached and later runs work
offline. A local pipeline folder (or its config.yaml) works without a token. Every way this can
fail (extra not installed, no token, offline with an empty cache, refused download) ends in one
line naming the fix, in well under a second when the network is unreachable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from emocli.errors import DependencyMissingError, ModelUnavailableError
from emocli.hooks import ProgressHook, null_hook
from emocli.speech.diarize import Diarization, check_speaker_bounds, speaker_name
from emocli.speech.utterances import Turn
from emocli.speech.vad import Region

DEFAULT_PIPELINE = "pyannote/speaker-diarization-community-1"
SAMPLE_RATE = 16_000


def _token(hf_token: str | None) -> str | None:
    return hf_token or os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def _is_cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(repo_id, "config.yaml")
    return isinstance(found, str)


def import_pyannote() -> Any:
    """The ``pyannote.audio.Pipeline`` class, or a one-line error naming the extra to install."""
    try:
        from pyannote.audio import Pipeline
    except ImportError as e:
        raise DependencyMissingError(
            "--diarizer pyannote needs pyannote.audio 4, which is not installed.",
            "Install the extra: pip install 'emocli[pyannote]' (or use the default --diarizer embedded).",
        ) from e
    return Pipeline


class PyannoteDiarizer:
    """pyannote.audio 4 speaker diarization (community-1 by default), loaded once, reused."""

    name = "pyannote"

    def __init__(
        self, device: str = "cpu", hf_token: str | None = None, pipeline: str = DEFAULT_PIPELINE
    ) -> None:
        pipeline_cls = import_pyannote()
        token = _token(hf_token)
        local = Path(pipeline).expanduser()
        if not local.exists() and not _is_cached(pipeline):
            if token is None:
                raise ModelUnavailableError(
                    f"The pyannote pipeline {pipeline} is gated and not in the local cache, "
                    "and no Hugging Face token was given.",
                    f"Accept its conditions at https://huggingface.co/{pipeline}, then pass "
                    "--hf-token or set HF_TOKEN.",
                )
            from emocli.models_registry import require_download

            require_download(
                f"pyannote pipeline {pipeline!r}",
                fix="Run once with internet and a token (the weights are cached), or pass a local folder.",
            )
        try:
            self.pipeline = pipeline_cls.from_pretrained(
                str(local) if local.exists() else pipeline, token=token
            )
        except TypeError as e:  # pyannote.audio 3.x: from_pretrained(..., use_auth_token=)
            raise DependencyMissingError(
                f"pyannote.audio 4 is required (found {_version()}).",
                "Upgrade: pip install -U 'pyannote.audio>=4'.",
            ) from e
        except Exception as e:
            raise ModelUnavailableError(
                f"Cannot load the pyannote pipeline {pipeline}: {e}.",
                "Check the token and that you accepted the model's conditions on huggingface.co.",
            ) from e
        if self.pipeline is None:  # some versions return None when access is refused
            raise ModelUnavailableError(
                f"Access to the pyannote pipeline {pipeline} was refused.",
                f"Accept its conditions at https://huggingface.co/{pipeline} with the token's account.",
            )
        if device != "cpu":
            import torch

            self.pipeline.to(torch.device(device))
        self.version = f"{pipeline} (pyannote.audio {_version()})"

    def __call__(
        self,
        audio: np.ndarray,
        speech: Sequence[Region],
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 8,
        hook: ProgressHook = null_hook,
    ) -> Diarization:
        import torch

        check_speaker_bounds(num_speakers, min_speakers, max_speakers)

        def relay(step: str, artefact: Any = None, file: Any = None, **kw: Any) -> None:
            hook(f"diarize ({step})", completed=kw.get("completed"), total=kw.get("total"))

        bounds: dict[str, int] = (
            {"num_speakers": num_speakers}
            if num_speakers is not None
            else {"min_speakers": min_speakers, "max_speakers": max_speakers}
        )
        # pyannote runs its own segmentation, so the VAD regions are not needed here.
        waveform = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]  # (1, samples)
        out = self.pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, hook=relay, **bounds)
        return diarization_from_pyannote(out)


def _version() -> str:
    try:
        return version("pyannote.audio")
    except PackageNotFoundError:
        return "unknown"


def diarization_from_pyannote(out: Any) -> Diarization:
    """Convert pyannote's output (4.x ``DiarizeOutput``, or 3.x ``Annotation`` / ``(Annotation,
    embeddings)``) to a ``Diarization`` with SPEAKER_xx labels numbered by first appearance."""
    embeddings = None
    if hasattr(out, "speaker_diarization"):
        annotation = out.speaker_diarization
        embeddings = getattr(out, "speaker_embeddings", None)
    elif isinstance(out, tuple):
        annotation, embeddings = out
    else:
        annotation = out
    tracks = sorted(
        (
            (float(seg.start), float(seg.end), str(label))
            for seg, _, label in annotation.itertracks(yield_label=True)
        ),
        key=lambda t: (t[0], t[1]),
    )
    names: dict[str, str] = {}
    for _, _, label in tracks:
        names.setdefault(label, speaker_name(len(names)))
    turns = [Turn(round(s, 3), round(e, 3), names[lab]) for s, e, lab in tracks if e > s]
    vectors: dict[str, np.ndarray] = {}
    if embeddings is not None:
        # Rows of the embeddings follow annotation.labels() (sorted labels).
        for row, label in zip(np.asarray(embeddings), annotation.labels(), strict=False):
            if str(label) in names and np.linalg.norm(row) > 0:
                vectors[names[str(label)]] = row / np.linalg.norm(row)
    return Diarization(turns, list(names.values()), vectors)
