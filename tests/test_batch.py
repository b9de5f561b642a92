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
from emocli.batch_speakers import SpeakerGrouping
from emocli.errors import DataError, InputError, OutputError
from tests.batch_fakes import FakeFactory, FakeVoiceFactory

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


# -- speaker groups across the folder (two passes) ------------------------------------------------


def _voices_folder(tmp_path: Path) -> Path:
    """Speaker A (values 11..14: all above 0, so all joy alone), B (-4..-1: all sadness alone), one
    clip of C, a corrupt clip; names say the speaker as RAVDESS's do (actor at the end)."""
    d = tmp_path / "voices"
    d.mkdir()
    for k, v in enumerate([11, 12, 13, 14]):
        (d / f"a{k}-01.wav").write_text(f"A {v}")
    for k, v in enumerate([-4, -3, -2, -1]):
        (d / f"b{k}-02.wav").write_text(f"B {v}")
    (d / "c0-03.wav").write_text("C 5")
    (d / "x-04.wav").write_bytes(b"CORRUPT data")
    return d


def _labels(path: Path) -> dict[str, str]:
    import csv

    return {r["file"]: r["emotion"] or r["status"] for r in csv.DictReader(path.open())}


def _grouped(mode: str = "auto", pattern: str | None = None, **kw: object) -> BatchOptions:
    return BatchOptions(speakers=SpeakerGrouping(mode, pattern), **kw)  # type: ignore[arg-type]


ALONE = {**{f"a{k}-01.wav": "joy" for k in range(4)}, **{f"b{k}-02.wav": "sadness" for k in range(4)}}
# Grouped, each speaker's two lower values fall below the group's mean.
GROUPED = {
    f"{s}{k}-0{n}.wav": "sadness" if k < 2 else "joy" for s, n in (("a", 1), ("b", 2)) for k in range(4)
}


def test_auto_groups_clips_by_voice_and_reads_each_against_its_group(tmp_path: Path) -> None:
    d = _voices_folder(tmp_path)
    out = tmp_path / "auto.csv"
    s = run_batch(d, out, FakeVoiceFactory(), _grouped("auto"))
    assert _labels(out) == {**GROUPED, "c0-03.wav": "joy", "x-04.wav": "error"}
    assert (s.ok, s.failed) == (9, 1) and not (tmp_path / ".auto.csv.clips").exists()  # records removed
    lines = out.read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == sorted(p.name for p in d.iterdir())
    assert "not a media file" in lines[-1]


def test_clip_mode_is_the_one_pass_reading_of_each_clip_alone(tmp_path: Path) -> None:
    d = _voices_folder(tmp_path)
    alone, one_pass = tmp_path / "alone.csv", tmp_path / "one_pass.csv"
    run_batch(d, alone, FakeVoiceFactory(), _grouped("clip"))
    run_batch(d, one_pass, FakeVoiceFactory(), BatchOptions())  # the labeler's __call__, as before
    assert alone.read_text() == one_pass.read_text()
    assert _labels(alone) == {**ALONE, "c0-03.wav": "joy", "x-04.wav": "error"}
    # A group of one clip reads as the clip alone: pass 2 gives the one-pass rows, byte for byte.
    solo = tmp_path / "solo"
    solo.mkdir()
    for name in ("a0-01.wav", "b0-02.wav", "c0-03.wav"):
        (solo / name).write_bytes((d / name).read_bytes())
    run_batch(solo, tmp_path / "solo_auto.csv", FakeVoiceFactory(), _grouped("auto"))
    run_batch(solo, tmp_path / "solo_clip.csv", FakeVoiceFactory(), _grouped("clip"))
    assert (tmp_path / "solo_auto.csv").read_text() == (tmp_path / "solo_clip.csv").read_text()


def test_speaker_pattern_groups_by_the_path_and_the_rest_as_speakers_says(tmp_path: Path) -> None:
    d = _voices_folder(tmp_path)
    for k in range(4):  # B's clips now each sound like someone else: auto cannot join them
        (d / f"b{k}-02.wav").write_text(f"B{k} {k - 4}")
    out = tmp_path / "auto.csv"
    run_batch(d, out, FakeVoiceFactory(), _grouped("auto"))
    assert _labels(out)["b2-02.wav"] == "sadness" and _labels(out)["a2-01.wav"] == "joy"
    pattern = r"-(\d+)\.\w+$"
    run_batch(d, out, FakeVoiceFactory(), _grouped("auto", pattern))
    assert _labels(out) == {**GROUPED, "c0-03.wav": "joy", "x-04.wav": "error"}
    only_b = r"^b\d-(\d+)"  # B by the path; A by voice (auto) or each alone (clip)
    run_batch(d, out, FakeVoiceFactory(), _grouped("auto", only_b))
    assert _labels(out) == {**GROUPED, "c0-03.wav": "joy", "x-04.wav": "error"}
    run_batch(d, out, FakeVoiceFactory(), _grouped("clip", only_b))
    want = {**GROUPED, **{f"a{k}-01.wav": "joy" for k in range(4)}, "c0-03.wav": "joy", "x-04.wav": "error"}
    assert _labels(out) == want


def test_grouped_rows_are_the_same_whatever_the_jobs_and_the_order_clips_finish(tmp_path: Path) -> None:
    d = _voices_folder(tmp_path)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    run_batch(d, one, FakeVoiceFactory(), _grouped("auto"))
    run_batch(d, two, FakeVoiceFactory(delay=0.01), _grouped("auto", jobs=2))
    assert one.read_text() == two.read_text() and len(one.read_text().splitlines()) == 10


def test_a_killed_grouped_run_resumes_from_its_records_to_the_same_file(tmp_path: Path) -> None:
    d = _voices_folder(tmp_path)
    full = tmp_path / "full.csv"
    run_batch(d, full, FakeVoiceFactory(), _grouped("auto"))
    log = tmp_path / "log"
    log.mkdir()
    out = tmp_path / "killed.csv"
    with pytest.raises(KeyboardInterrupt):  # stopped in pass 2, at b1: a0..a3 and b0 are written
        run_batch(d, out, FakeVoiceFactory(log=log, fail_at="b1-02.wav"), _grouped("auto"))
    assert len(out.read_text().splitlines()) == 1 + 5 and len(list(log.iterdir())) == 10
    s = run_batch(d, out, FakeVoiceFactory(log=log), _grouped("auto", resume=True))
    assert out.read_text() == full.read_text()
    assert len(list(log.iterdir())) == 10  # the resumed run read no clip again: the records held them
    assert (s.skipped, s.ok + s.failed) == (4, 6)  # the last clip written is redone, as ever
    # Killed in pass 1 (SIGKILL, two workers), resumed: the same file again.
    code = (
        "from pathlib import Path; from emocli.batch import run_batch, BatchOptions; "
        "from emocli.batch_speakers import SpeakerGrouping; from tests.batch_fakes import FakeVoiceFactory; "
        f"run_batch(Path({str(d)!r}), Path({str(out)!r}), FakeVoiceFactory(0.3, log=Path({str(log)!r})), "
        "BatchOptions(jobs=2, speakers=SpeakerGrouping('auto')))"
    )
    for f in log.iterdir():
        f.unlink()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(log.iterdir())) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(out.read_text().splitlines()) == 1  # killed while reading: no rows yet
    run_batch(d, out, FakeVoiceFactory(), _grouped("auto", resume=True))
    assert out.read_text() == full.read_text()


def test_annotate_dir_outputs_show_the_rows_emotions(tmp_path: Path) -> None:
    d = _voices_folder(tmp_path)
    videos, log = tmp_path / "videos", tmp_path / "log"
    log.mkdir()
    out = tmp_path / "r.csv"
    run_batch(d, out, FakeVoiceFactory(annotate_dir=videos, log=log), _grouped("auto"))
    labels = _labels(out)
    for f in d.iterdir():
        if labels[f.name] != "error":
            assert (videos / f"{f.name}.label").read_text() == labels[f.name], f.name
    renders = sorted(p.name.split("-")[1] for p in log.iterdir() if p.name.startswith("render"))
    assert renders == sorted(n.split("-")[0] for n in GROUPED)  # c0 (alone) rendered once, in pass 1


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray extra not installed")
def test_ray_engine_gives_the_same_grouped_rows(tmp_path: Path) -> None:
    d = _voices_folder(tmp_path)
    local, ray_out = tmp_path / "local.csv", tmp_path / "ray.csv"
    run_batch(d, local, FakeVoiceFactory(), _grouped("auto"))
    run_batch(d, ray_out, FakeVoiceFactory(), _grouped("auto", engine="ray", jobs=2))
    assert ray_out.read_text() == local.read_text()


def test_a_labeler_without_two_passes_gives_its_rows_of_each_clip_alone(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    one, grouped = tmp_path / "one.csv", tmp_path / "grouped.csv"
    run_batch(d, one, FakeFactory(), BatchOptions())
    run_batch(d, grouped, FakeFactory(), _grouped("auto", jobs=2))
    assert grouped.read_text() == one.read_text()


# -- the CLI options (the real command with the stand-in labeler) --------------------------------


@pytest.fixture
def fake_cli(monkeypatch: pytest.MonkeyPatch) -> object:
    """``emocli batch`` as typed, its labeler the stand-in (no models)."""
    import emocli.clip_labeler
    from emocli.cli import app

    def factory(options: object, per_utterance: bool = False, annotate_dir: Path | None = None,
                report: bool = False) -> FakeVoiceFactory:  # fmt: skip
        return FakeVoiceFactory(annotate_dir=annotate_dir)

    monkeypatch.setattr(emocli.clip_labeler, "AnnotatorLabelerFactory", factory)
    return app


def _cli(app: object, *args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    res = CliRunner().invoke(app, ["batch", *args, "-q"])  # type: ignore[arg-type]
    return res.exit_code, res.output


def test_cli_help_documents_the_speaker_options() -> None:
    from typer.testing import CliRunner

    from emocli.cli import app

    text = " ".join(CliRunner().invoke(app, ["batch", "--help"], terminal_width=200).output.split())
    assert "--speakers" in text and "auto" in text and "clip" in text and "--speaker-pattern" in text
    assert "first group" in text


def test_cli_speaker_options_alone_and_together(fake_cli: object, tmp_path: Path) -> None:
    d = _voices_folder(tmp_path)
    out = tmp_path / "r.csv"
    rest = {"c0-03.wav": "joy", "x-04.wav": "error"}
    assert _cli(fake_cli, str(d), "-o", str(out))[0] == 0  # default: auto
    assert _labels(out) == {**GROUPED, **rest}
    assert _cli(fake_cli, str(d), "-o", str(out), "--speakers", "clip")[0] == 0
    assert _labels(out) == {**ALONE, **rest}
    for k in range(4):  # B's clips sound like four people: only the file names say they are one
        (d / f"b{k}-02.wav").write_text(f"B{k} {k - 4}")
    assert _cli(fake_cli, str(d), "-o", str(out), "--speaker-pattern", r"-(\d+)\.\w+$")[0] == 0
    assert _labels(out) == {**GROUPED, **rest}
    args = ["--speaker-pattern", r"^b\d-(\d+)", "--speakers", "clip"]  # B by name, A each alone
    assert _cli(fake_cli, str(d), "-o", str(out), *args)[0] == 0
    assert _labels(out) == {**GROUPED, **{f"a{k}-01.wav": "joy" for k in range(4)}, **rest}
    before = out.read_text()
    assert _cli(fake_cli, str(d), "-o", str(out), *args, "--resume", "--jobs", "2")[0] == 0
    assert out.read_text() == before  # resumed with the same options: the same rows
    videos = tmp_path / "videos"
    assert _cli(fake_cli, str(d), "-o", str(out), "--annotate-dir", str(videos))[0] == 0
    assert (videos / "a0-01.wav.label").read_text() == _labels(out)["a0-01.wav"] == "sadness"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speakers", "voices"], "unknown --speakers"),
        (["--speaker-pattern", "(unclosed"], "is not a regular expression"),
        (["--speaker-pattern", r"\d+"], "has no group"),
    ],
)
def test_cli_bad_speaker_options_are_one_line_errors(
    fake_cli: object, tmp_path: Path, args: list[str], message: str
) -> None:
    from tests.cli_helpers import assert_one_line_error

    d = _voices_folder(tmp_path)
    out = tmp_path / "r.csv"
    code, output = _cli(fake_cli, str(d), "-o", str(out), *args)
    assert_one_line_error(code, output, message)
    assert not out.exists()  # nothing written


# -- grouping and group statistics --------------------------------------------------------------


def test_group_voices_pattern_first_then_voices_deterministic_names() -> None:
    from emocli.batch_speakers import MIN_VOICE_SECONDS, Voice, group_voices
    from tests.batch_fakes import fake_voice

    voices = [
        Voice("p/x1.wav", "SPEAKER_00", 3.0, fake_voice("X")),
        Voice("p/x2.wav", "SPEAKER_00", 3.0, fake_voice("Y")),  # another voice, the same person by name
        Voice("q/a1.wav", "SPEAKER_00", 3.0, fake_voice("A")),
        Voice("q/a2.wav", "SPEAKER_00", 3.0, fake_voice("A")),
        Voice("q/a2.wav", "SPEAKER_01", 3.0, fake_voice("B")),
        Voice("q/a3.wav", "SPEAKER_00", MIN_VOICE_SECONDS / 2, fake_voice("A")),  # too little speech
        Voice("q/none.wav", "SPEAKER_00", 3.0, None),
    ]
    with pytest.raises(InputError, match="has no group"):
        SpeakerGrouping("auto", r"^p/x\d")
    key = group_voices(list(reversed(voices)), SpeakerGrouping("auto", r"^p/(x)\d"))
    assert key[("p/x1.wav", "SPEAKER_00")] == key[("p/x2.wav", "SPEAKER_00")] == "pattern:x"
    assert key[("q/a1.wav", "SPEAKER_00")] == key[("q/a2.wav", "SPEAKER_00")] == "voice:q/a1.wav#SPEAKER_00"
    assert key[("q/a2.wav", "SPEAKER_01")] == "voice:q/a2.wav#SPEAKER_01"
    assert key[("q/a3.wav", "SPEAKER_00")] == "clip:q/a3.wav#SPEAKER_00"
    assert key[("q/none.wav", "SPEAKER_00")] == "clip:q/none.wav#SPEAKER_00"
    assert group_voices(voices, SpeakerGrouping("auto", r"^p/(x)\d")) == key  # any order, same groups
    alone = group_voices(voices, SpeakerGrouping("clip"))
    assert len(set(alone.values())) == len(voices) == len(alone)


def test_speaker_stats_read_a_clip_as_its_speaker_over_the_whole_group() -> None:
    import numpy as np

    from emocli.batch_speakers import GroupStats
    from emocli.features.audio import SpeakerStats, speaker_standardise

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(9, 4)).astype(np.float32)  # one speaker's 9 utterances, 3 clips
    gm, gs = np.zeros(4, np.float32), np.ones(4, np.float32)
    whole = speaker_standardise(x, ["S"] * 9, gm, gs, prior=4.0)
    stats = GroupStats()
    for clip in (x[:2], x[2:5], x[5:]):
        stats.add("g", clip)
    assert stats.count("g") == 9
    s = stats.get("g")
    np.testing.assert_allclose(s.mean, SpeakerStats.of(x).mean, rtol=1e-12)
    np.testing.assert_allclose(s.var, SpeakerStats.of(x).var, rtol=1e-9)
    part = speaker_standardise(x[2:5], ["S"] * 3, gm, gs, prior=4.0, stats={"S": s})
    np.testing.assert_allclose(part, whole[2:5], atol=1e-5)
    alone = speaker_standardise(x[2:5], ["S"] * 3, gm, gs, prior=4.0)
    assert not np.allclose(alone, whole[2:5], atol=1e-3)


def test_long_voices_need_a_closer_match_and_never_join_short_ones() -> None:
    import numpy as np

    from emocli.batch_speakers import LONG_VOICE_SECONDS, Voice, group_voices

    a = np.zeros(8, np.float32)
    a[0] = 1.0
    b = np.zeros(8, np.float32)
    b[:2] = [0.7, 0.714]  # cosine 0.70 with a: one person heard briefly, two people heard long
    b /= np.linalg.norm(b)
    short = [Voice(f"s{k}.wav", "SPEAKER_00", 2.0, v) for k, v in enumerate((a, b))]
    long = [Voice(f"t{k}.wav", "SPEAKER_00", LONG_VOICE_SECONDS + 1, v) for k, v in enumerate((a, b))]
    key = group_voices(short + long, SpeakerGrouping("auto"))
    assert key[("s0.wav", "SPEAKER_00")] == key[("s1.wav", "SPEAKER_00")] == "voice:s0.wav#SPEAKER_00"
    assert key[("t0.wav", "SPEAKER_00")] != key[("t1.wav", "SPEAKER_00")]
    assert key[("t0.wav", "SPEAKER_00")] == "voice:t0.wav#SPEAKER_00"  # not with s0, the same vector
