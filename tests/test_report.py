"""The HTML report, the timeline picture, ``emocli report`` and the batch index (no browser here)."""

from __future__ import annotations

import copy
import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emocli import EMOTIONS
from emocli.cli import app
from emocli.output.render import EMOTION_COLOURS
from emocli.output.report import build_page, find_video, write_report
from emocli.output.report_data import disagreement, lanes, utterances
from emocli.output.report_index import write_index
from emocli.output.timeline import timeline_png
from emocli.output.writers import OutputFormat, output_paths, parse_formats, write_outputs
from emocli.results import Result
from tests.cli_helpers import assert_one_line_error
from tests.report_example import EXAMPLE, annotated_example, long_result, scores, small_result

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def _refs(page: str) -> list[str]:
    return re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)


def _rows(page: str) -> list[str]:
    return re.findall(r'<button type="button" class="utt" data-i="(\d+)"', page)


def test_page_holds_every_part_and_loads_nothing(tmp_path: Path) -> None:
    d = small_result()
    (tmp_path / "talk.mp4").write_bytes(b"not really a video")
    page = build_page(d, tmp_path / "talk.html", tmp_path / "talk.mp4")
    assert _rows(page) == ["0", "1", "2", "3"]  # one row per utterance, in order
    # nothing from the network: every reference is the video beside the page, an anchor or data:
    assert sorted(set(_refs(page))) == ["#transcript-h", "data:,", "talk.mp4"]
    assert "http://" not in page and "https://" not in page and "@import" not in page and "url(" not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('<div class="lane">') == 2  # one lane per speaker
    assert page.count('class="faceband"') == 1  # only SPEAKER_00's face (track 0) was seen
    for e, (r, g, b) in EMOTION_COLOURS.items():  # the rendered bars' colours
        assert f"--{e}:rgb({r},{g},{b})" in page
    # words (anger 80%) and face (joy 90%) disagree on the third utterance only; voice at 25% fear is
    # doubt, not disagreement
    assert re.findall(r'<tr data-i="(\d)" class=dis>', page) == ["2"]
    assert "1 of 4 utterances" in page
    assert "untranscribed speech, 0:09.6" in page and "too quiet" in page
    assert 'id="speaker-count"' in page and "2-3" in page and "voice only" in page
    assert "face track 0 at 0:01.2" in page and "voice+face" in page
    assert "faster-whisper:base 1.0.0" in page and "1.50 s" in page
    assert 'role="img" aria-label="SPEAKER_00: 2 utterances over 5.0 s of speech; anger 60%, joy 40%.' in page
    assert build_page(copy.deepcopy(d), tmp_path / "talk.html", tmp_path / "talk.mp4") == page


def test_translated_utterances_show_their_words_in_their_language_and_the_english_read(
    tmp_path: Path,
) -> None:
    d = small_result()
    d["utterances"][1].update(language="ru", text="Правда? <b>", text_en="Really? <b>", translated=True)
    d["utterances"][0]["language"] = "en"
    page = build_page(d, tmp_path / "talk.html", tmp_path / "talk.mp4")
    assert '<span class="text" lang="ru" dir="auto">Правда? &lt;b&gt;</span>' in page  # script, direction
    assert '<span class="text-en" lang="en">English: Really? &lt;b&gt;</span>' in page
    assert page.count('class="text-en"') == 1  # English speech shows no translation line
    assert '<span class="text" lang="en" dir="auto">What a lovely day!</span>' in page
    assert "languages en" not in page  # no per-language seconds in this result: no languages line
    d["languages"] = {"en": 6.5, "ru": 1.0}
    assert "languages en 6 s, ru 1 s" in build_page(d, tmp_path / "talk.html", tmp_path / "talk.mp4")


def test_page_of_an_older_or_partial_result_still_builds(tmp_path: Path) -> None:
    d = {
        "source": "a.wav",
        "duration": 3.0,
        "utterances": [{"start": 0, "end": 1, "speaker": "S", "text": "hi"}],
    }
    page = build_page(d, tmp_path / "a.html", None)
    assert _rows(page) == ["0"] and "No video was found" in page and "no label" in page
    faces_only = {
        "source": "v.mp4",
        "duration": 2.0,
        "utterances": [],
        "frames": small_result()["frames"][:10],
    }
    page = build_page(faces_only, tmp_path / "v.html", None)
    assert "No speech was transcribed" in page and page.count('class="faceband"') == 1


def test_disagreement_needs_two_sure_modalities() -> None:
    (u,) = utterances({"utterances": [small_result()["utterances"][2]]})
    assert disagreement(u) == ["joy", "anger"]
    u2 = utterances({"utterances": [small_result()["utterances"][1]]})[0]
    assert disagreement(u2) == []


def test_face_band_follows_the_speakers_tracks() -> None:
    d = small_result()
    ls = lanes(d, utterances(d))
    assert [lane.speaker for lane in ls] == ["SPEAKER_00", "SPEAKER_01"]
    assert ls[0].tracks == {0} and ls[1].tracks == set() and not ls[1].face_runs
    (run,) = ls[0].face_runs
    assert run[0][0] == pytest.approx(0.1) and run[-1][0] == pytest.approx(7.9)
    assert run[0][1]["joy"] == pytest.approx(0.7)


def test_html_format_writes_the_page_and_the_picture_beside_the_video(tmp_path: Path) -> None:
    assert OutputFormat.html in parse_formats("all")
    result = Result.from_dict(small_result())
    video = tmp_path / "mon clip.mp4"
    video.write_bytes(b"x")
    written = write_outputs(result, output_paths(video, [OutputFormat.json, OutputFormat.html]))
    names = sorted(p.name for p in written)
    assert names == ["mon clip.html", "mon clip.json", "mon clip.timeline.png"]
    page = (tmp_path / "mon clip.html").read_text()
    assert 'src="mon%20clip.mp4"' in page
    assert (tmp_path / "mon clip.timeline.png").read_bytes().startswith(PNG)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_find_video_prefers_the_annotated_copy_then_the_input(tmp_path: Path) -> None:
    src = tmp_path / "in" / "talk.mov"
    src.parent.mkdir()
    src.write_bytes(b"x")
    page = tmp_path / "out.html"
    assert find_video(page, str(src)) == src
    (tmp_path / "out.mp4").write_bytes(b"x")
    assert find_video(page, str(src)) == tmp_path / "out.mp4"
    assert find_video(tmp_path / "other.html", "/missing.mp4") is None


def test_timeline_picture_has_a_row_per_speaker() -> None:
    d = small_result()
    two = timeline_png(d)
    one = copy.deepcopy(d)
    one["utterances"] = [u for u in one["utterances"] if u["speaker"] == "SPEAKER_00"]
    one["speakers"] = ["SPEAKER_00"]
    assert two.startswith(PNG) and timeline_png(one).startswith(PNG)
    height = int.from_bytes(two[20:24], "big")
    assert height > int.from_bytes(timeline_png(one)[20:24], "big")
    assert timeline_png(d) == two  # deterministic


def test_report_command_rebuilds_the_page_annotate_wrote(tmp_path: Path) -> None:
    d = small_result()
    (tmp_path / "talk.mp4").write_bytes(b"x")
    write_outputs(
        Result.from_dict(d), output_paths(tmp_path / "talk.mp4", [OutputFormat.json, OutputFormat.html])
    )
    first = (tmp_path / "talk.html").read_text()
    (tmp_path / "talk.html").unlink()
    res = runner.invoke(app, ["report", str(tmp_path / "talk.json")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "talk.html").read_text() == first
    assert (tmp_path / "talk.timeline.png").is_file()


def test_report_command_loads_no_model_and_no_torch(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text(json.dumps(long_result(10.0)))
    code = (
        "import sys, time; t = time.perf_counter(); from emocli.cli import app\n"
        f"sys.argv = ['emocli', 'report', {str(p)!r}, '-q']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "print(round(time.perf_counter() - t, 2))"
    )
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert time.perf_counter() - t < 30  # measured ~1.5 s on 2 cores; generous for a busy CI machine
    assert (tmp_path / "r.html").stat().st_size < 5_000_000  # a 10-minute talk, 4 speakers


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (None, "missing.json", "No result file"),
        ("{not json", "bad.json", "not a readable JSON"),
        ('{"source": "x"}', "empty.json", "not an emocli result"),
        ('{"utterances": [{"start": "soon"}]}', "odd.json", "not a well-formed emocli result"),
        ("x", "notes.txt", "not a result file"),
    ],
)
def test_report_command_refuses_bad_input_in_one_line(
    tmp_path: Path, content: str | None, name: str, expected: str
) -> None:
    p = tmp_path / name
    if content is not None:
        p.write_text(content)
    res = runner.invoke(app, ["report", str(p)])
    assert_one_line_error(res.exit_code, res.output, expected)
    assert sorted(x.name for x in tmp_path.iterdir()) == ([name] if content is not None else [])


def test_report_command_never_overwrites_its_input(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text(json.dumps(small_result()))
    res = runner.invoke(app, ["report", str(p), "-o", str(p)])
    assert_one_line_error(res.exit_code, res.output, "is the input file itself")
    res = runner.invoke(app, ["report", str(p), "-o", str(tmp_path / "r.txt")])
    assert_one_line_error(res.exit_code, res.output, "web page")


def _batch_csv(path: Path) -> None:
    cols = [
        "file",
        "status",
        "emotion",
        "confidence",
        *EMOTIONS,
        "duration",
        "n_speakers",
        "transcript",
        "error",
    ]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for name, emo in (("a/one.mp4", "joy"), ("two.wav", "anger")):
            s = scores(emo, 0.7)
            w.writerow({"file": name, "status": "ok", "emotion": emo, "confidence": "0.7",
                        **{e: f"{s[e]:.4f}" for e in EMOTIONS}, "duration": "3.0", "n_speakers": 1,
                        "transcript": f"{name} said <b>", "error": ""})  # fmt: skip
        w.writerow({"file": "bad.mp4", "status": "error", "error": "No speech found in bad.mp4."})


def test_batch_index_links_the_pages_that_exist(tmp_path: Path) -> None:
    results = tmp_path / "results.csv"
    _batch_csv(results)
    ann = tmp_path / "ann"
    (ann / "a").mkdir(parents=True)
    (ann / "a" / "one.html").write_text("<p>page</p>")
    res = runner.invoke(app, ["report", str(results), "--annotate-dir", str(ann)])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "results.html").read_text()
    assert page.count("<tr") == 1 + 3  # header + one row per clip
    assert _refs(page) == ["data:,", "ann/a/one.html"]  # only the clip whose page exists is linked
    assert "No speech found in bad.mp4." in page and "&lt;b&gt;" in page
    assert page.count('class="dist"') == 1 + 2  # the clip-emotion bar + one per labelled clip
    assert "3 clips: 2 ok, 1 failed" in page


def test_batch_index_pools_per_utterance_rows(tmp_path: Path) -> None:
    rows = [
        {"file": "c.mp4", "status": "ok", "utterance": 0, "start": "0", "end": "1", "speaker": "A",
         "text": "hi", "emotion": "joy", **scores("joy", 0.9)},
        {"file": "c.mp4", "status": "ok", "utterance": 1, "start": "1", "end": "4", "speaker": "B",
         "text": "no", "emotion": "anger", **scores("anger", 0.9)},
    ]  # fmt: skip
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"torn')
    page = write_index(results, tmp_path / "r.html").read_text()
    assert page.count('<td class="file"') == 1 and "anger 68%" in page and ">2</td>" in page


def test_the_shipped_example_is_small_and_long_enough() -> None:
    from emocli.media import probe

    info = probe(EXAMPLE)
    assert EXAMPLE.stat().st_size < 1_000_000
    assert 10 <= info.duration <= 30 and info.has_video and info.has_audio
    readme = (EXAMPLE.parent / "README.md").read_text()
    assert "public domain" in readme.lower() and "make_example.py" in readme


@pytest.mark.slow
def test_annotated_example_shows_several_emotions_and_its_report(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    out = annotated_example(tmp_path_factory.getbasetemp())
    doc = json.loads(out.with_suffix(".json").read_text())
    emotions = [u["emotion"] for u in doc["utterances"]]
    assert len(set(emotions)) >= 2, emotions  # the example exists to show several
    assert any(f["faces"] for f in doc["frames"])
    page = out.with_suffix(".html").read_text()
    assert len(_rows(page)) == len(doc["utterances"]) and 'src="example.mp4"' in page
    assert out.with_suffix(".timeline.png").read_bytes().startswith(PNG)
    # the report command gives the same page from the JSON alone
    out.with_suffix(".html").unlink()
    res = runner.invoke(app, ["report", str(out.with_suffix(".json")), "--no-picture"])
    assert res.exit_code == 0, res.output
    assert out.with_suffix(".html").read_text() == page
    assert write_report(doc, out.with_name("third.html"), video=out, picture=False)[0].read_text() == page


@pytest.mark.slow
def test_batch_report_writes_the_index_and_a_page_per_clip(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "example.mp4").write_bytes(EXAMPLE.read_bytes())
    (clips / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 3000)
    out, ann = tmp_path / "labels.csv", tmp_path / "videos"
    res = runner.invoke(app, ["batch", str(clips), "-o", str(out), "--annotate-dir", str(ann), "--report"])
    assert res.exit_code == 0, res.output
    index = (tmp_path / "labels.html").read_text()
    assert _refs(index) == ["data:,", "videos/example.html"]
    assert "truncated or corrupt" in index and "2 clips: 1 ok, 1 failed" in index
    page = (ann / "example.html").read_text()
    assert 'src="example.mp4"' in page and (ann / "example.json").is_file()
    assert len(_rows(page)) == len(json.loads((ann / "example.json").read_text())["utterances"])
