"""Results for the report tests: a small hand-made result, a long one, and one real annotate run of
the shipped example (done once per test session, shared by test_report and test_report_browser)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from emocli import EMOTIONS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "assets" / "example.mp4"
_RUNS: dict[str, Path] = {}


def scores(top: str, p: float) -> dict[str, float]:
    rest = (1.0 - p) / (len(EMOTIONS) - 1)
    return {e: (p if e == top else rest) for e in EMOTIONS}


def utterance(start: float, end: float, speaker: str, said: str, fused: str, **mods: Any) -> dict[str, Any]:
    s = scores(fused, 0.6)
    return {
        "start": start, "end": end, "speaker": speaker, "text": said, "words": [],
        "emotion": fused, "confidence": 0.6, "scores": s,
        "modality_scores": {"text": mods.get("text", s), "audio": mods.get("audio", s),
                            "visual": mods.get("visual")},
        "face_track": mods.get("track"), "face_rule": None, "speaking_score": None,
    }  # fmt: skip


def small_result() -> dict[str, Any]:
    """Two speakers, four utterances; words and face disagree on the third; one stretch untranscribed."""
    utts = [
        utterance(0.5, 2.5, "SPEAKER_00", "What a lovely day!", "joy", visual=scores("joy", 0.9), track=0),
        utterance(3.0, 4.0, "SPEAKER_01", "Is it?", "surprise", audio=scores("fear", 0.25)),
        utterance(
            4.5,
            7.5,
            "SPEAKER_00",
            "No <script>alert(1)</script> it is not.",
            "anger",
            text=scores("anger", 0.8),
            visual=scores("joy", 0.9),
            track=0,
        ),
        utterance(8.0, 9.5, "SPEAKER_01", "Oh well.", "sadness"),
    ]
    frames = [
        {"time": round(0.2 * i, 1), "faces": [{"box": [10, 10, 60, 60], "score": 0.9, "track": 0,
                                               "scores": scores("joy", 0.7), "is_speaker": True}]}
        for i in range(0, 40)
    ]  # fmt: skip
    return {
        "source": "/nowhere/talk.mp4",
        "duration": 10.0,
        "utterances": utts,
        "speakers": ["SPEAKER_00", "SPEAKER_01"],
        "turns": [],
        "speaker_count": {"n": 2, "confidence": "low", "low": 2, "high": 3, "evidence": "voice only"},
        "speaker_profiles": [
            {
                "speaker": "SPEAKER_00",
                "found_by": "voice+face",
                "speech": 5.0,
                "faces": [{"track": 0, "time": 1.2, "box": [10, 10, 60, 60], "speech": 4.0}],
                "voice_clusters": [],
            },
        ],
        "untranscribed": [{"start": 9.6, "end": 9.9, "reason": "too quiet"}],
        "language": "en",
        "models": {"asr": {"name": "faster-whisper:base", "version": "1.0.0"}},
        "frames": frames,
        "timing": {"speech": 1.5, "speech.asr": 1.0, "render": 0.5},
        "emocli_version": "0.1.0",
    }


def long_result(minutes: float = 10.0) -> dict[str, Any]:
    """A talk of ``minutes`` with 4 speakers, an utterance every 3 s and faces at 5 frames/s."""
    duration = 60.0 * minutes
    utts, frames = [], []
    for i in range(int(duration / 3)):
        spk = f"SPEAKER_{i % 4:02d}"
        emo = EMOTIONS[i % 7]
        utts.append(utterance(3.0 * i, 3.0 * i + 2.6, spk, f"Utterance number {i} about things.", emo,
                              visual=scores(emo, 0.5), track=i % 4))  # fmt: skip
    for k in range(int(duration * 5)):
        t = k / 5
        frames.append({"time": t, "faces": [
            {"box": [100.0 * j, 10, 100.0 * j + 80, 90], "score": 0.9, "track": j,
             "scores": scores(EMOTIONS[(k // 10 + j) % 7], 0.6), "is_speaker": j == int(t / 3) % 4}
            for j in range(4)]})  # fmt: skip
    return {"source": "long.mp4", "duration": duration, "utterances": utts,
            "speakers": [f"SPEAKER_{j:02d}" for j in range(4)], "frames": frames,
            "models": {}, "timing": {}}  # fmt: skip


def annotated_example(base: Path) -> Path:
    """Run ``emocli annotate`` on the shipped example once (all formats); returns the .mp4 written.

    Call it from inside a test, so that the suite's offline, isolated-cache environment applies."""
    if "example" not in _RUNS:
        from emocli.cli import app

        out_dir = base / "annotated-example"
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / "example.mp4"
        assert os.environ.get("EMOCLI_OFFLINE") == "1"
        res = CliRunner().invoke(
            app, ["annotate", str(EXAMPLE), "-o", str(out), "--output-format", "all", "-q"]
        )
        assert res.exit_code == 0, res.output
        _RUNS["example"] = out
    return _RUNS["example"]
