from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emocli import EMOTIONS
from emocli.batch import CLIP_COLUMNS, BatchOptions, RowWriter, find_clips, run_batch
from emocli.errors import DataError, OutputError
from tests.batch_fakes import FakeFactory

ROOT = Path(__file__).resolve().parents[1]


def _folder(tmp_path: Path, n: int = 12) -> Path:
    d = tmp_path / "clips"
    (d / "sub").mkdir(parents=True)
    (d / ".hidden").mkdir()
    for i in range(n):
        (d / f"clip_{i:03d}.wav").write_bytes(f"audio {i}".encode() * 10)
    (d / "clip_005.wav").write_bytes(b"CORRUPT data")
    (d / "sub" / "deep.mp4").write_bytes(b"video" * 20)
    (d / ".hidden" / "x.wav").write_bytes(b"hidden")
    (d / "notes.txt").write_text("not media")
    return d


def test_find_clips_sorted_filters_and_recursion(tmp_path: Path) -> None:
    d = _folder(tmp_path, 3)
    assert [p.name for p in find_clips(d)] == ["clip_000.wav", "clip_001.wav", "clip_002.wav", "clip_005.wav"]
    assert [p.relative_to(d).as_posix() for p in find_clips(d, recursive=True)][-1] == "sub/deep.mp4"
    assert [p.name for p in find_clips(d, recursive=True, pattern="*.mp4")] == ["deep.mp4"]


def test_one_row_per_clip_and_a_failure_does_not_stop_the_batch(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    out = tmp_path / "res.csv"
    s = run_batch(d, out, FakeFactory(), BatchOptions())
    lines = out.read_text().splitlines()
    assert lines[0].split(",") == CLIP_COLUMNS
    assert len(lines) == 1 + 12
    bad = next(ln for ln in lines if ln.startswith("clip_005.wav"))
    assert ",error," in bad and "not a media file" in bad
    assert (s.ok, s.failed, s.total) == (11, 1, 12)
    assert sum(s.emotions.values()) == 11


def test_jsonl_and_parallel_jobs_give_the_same_rows_in_the_same_order(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    one, two = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    run_batch(d, one, FakeFactory(), BatchOptions(jobs=1))
    run_batch(d, two, FakeFactory(delay=0.01), BatchOptions(jobs=2))
    assert one.read_text() == two.read_text()


def test_resume_after_a_torn_write_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    full = tmp_path / "full.csv"
    run_batch(d, full, FakeFactory(), BatchOptions())
    text = full.read_text()
    partial = tmp_path / "partial.csv"
    partial.write_text(text[: len(text) // 2])  # killed mid-row
    s = run_batch(d, partial, FakeFactory(), BatchOptions(resume=True))
    assert partial.read_text() == text
    assert s.skipped > 0 and s.skipped + s.ok + s.failed == 12


def test_sigkill_then_resume_gives_the_same_file(tmp_path: Path) -> None:
    d = _folder(tmp_path, 30)
    full = tmp_path / "full.csv"
    run_batch(d, full, FakeFactory(), BatchOptions())
    out = tmp_path / "killed.csv"
    code = (
        "import sys; from pathlib import Path; from emocli.batch import run_batch, BatchOptions; "
        "from tests.batch_fakes import FakeFactory; "
        f"run_batch(Path({str(d)!r}), Path({str(out)!r}), FakeFactory(0.05), BatchOptions(jobs=2))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 10):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 1 < len(out.read_text().splitlines()) < 31  # really killed halfway
    run_batch(d, out, FakeFactory(), BatchOptions(resume=True))
    assert out.read_text() == full.read_text()


def test_bad_outputs_and_empty_folders(tmp_path: Path) -> None:
    d = _folder(tmp_path, 2)
    with pytest.raises(OutputError, match=r"\.csv or \.jsonl"):
        run_batch(d, tmp_path / "res.xlsx", FakeFactory())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="No audio or video clips"):
        run_batch(empty, tmp_path / "res.csv", FakeFactory())
    res = tmp_path / "per_clip.csv"
    run_batch(d, res, FakeFactory())
    with pytest.raises(OutputError, match="other columns"):
        RowWriter(res, ["file", "status", "utterance"]).start(resume=True)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray extra not installed")
def test_ray_engine_gives_the_same_rows_as_the_local_run(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    local, ray_out = tmp_path / "local.csv", tmp_path / "ray.csv"
    run_batch(d, local, FakeFactory(), BatchOptions())
    run_batch(d, ray_out, FakeFactory(), BatchOptions(engine="ray", jobs=2))
    assert ray_out.read_text() == local.read_text()


@pytest.mark.slow
def test_cli_labels_real_audio_and_video_clips_and_reports_the_corrupt_one(
    data_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from emocli.cli import app

    d = tmp_path / "mixed"
    d.mkdir()
    for f in sorted((data_dir / "ravdess" / "flac").rglob("*-01.flac"))[:2]:
        (d / f.name).write_bytes(f.read_bytes())
    (d / "talk.mp4").write_bytes((data_dir / "clips" / "face_1.mp4").read_bytes())
    (d / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 3000)
    out = tmp_path / "labels.csv"
    res = CliRunner().invoke(
        app, ["batch", str(d), "-o", str(out), "--annotate-dir", str(tmp_path / "videos")]
    )
    assert res.exit_code == 0, res.output
    import csv

    rows = list(csv.DictReader(out.open()))
    assert [r["file"] for r in rows] == sorted(p.name for p in d.iterdir())
    by = {r["file"]: r for r in rows}
    assert by["broken.mp4"]["status"] == "error" and "truncated or corrupt" in by["broken.mp4"]["error"]
    for name, r in by.items():
        if name == "broken.mp4":
            continue
        assert r["status"] == "ok" and r["emotion"] in EMOTIONS and r["transcript"]
        assert sum(float(r[e]) for e in EMOTIONS) == pytest.approx(1.0, abs=2e-3)
        assert r["n_speakers"] == "1"
    assert (tmp_path / "videos" / "talk.mp4").exists()  # --annotate-dir renders the videos too
    per_utt = tmp_path / "utts.jsonl"
    res = CliRunner().invoke(
        app, ["batch", str(d), "-o", str(per_utt), "--per-utterance", "--glob", "*.flac"]
    )
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in per_utt.read_text().splitlines()]
    assert {x["file"] for x in lines} == {p.name for p in d.glob("*.flac")}
    for f in {x["file"] for x in lines}:  # utterances numbered 0, 1, ... within each clip
        numbers = [x["utterance"] for x in lines if x["file"] == f]
        assert numbers == list(range(len(numbers)))
    assert all(x["text"] and x["emotion"] in EMOTIONS for x in lines)
