from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emocli import EMOTIONS
from emocli.errors import DataError
from emocli.training.datasets import (
    RAVDESS_NATIVE,
    clean_text,
    parse_actors,
    parse_time,
    read_meld,
    read_ravdess,
    read_tess,
)
from emocli.training.metrics import save_confusion_png, scores
from tests.media_factory import tone, write_wav

HEADER = (
    "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
)


def _meld(folder: Path, name: str, rows: list[str], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes((HEADER + "".join(r + "\n" for r in rows)).encode(encoding))
    return folder


def test_meld_reader_orders_dialogues_and_parses_one_digit_hours(tmp_path: Path) -> None:
    rows = [
        '2,"Second, later",Ross,joy,positive,0,1,1,1,"0:36:59,425","0:37:01,000"',
        '1,First,Rachel,neutral,neutral,0,0,1,1,"00:16:16,059","00:16:21,731"',
        "3,Other dialogue,Joey,anger,negative,5,0,1,1,bad-time,bad-time",
    ]
    dialogues, report = read_meld(_meld(tmp_path, "train_sent_emo.csv", rows), "train")
    assert [d.did for d in dialogues] == ["dia0", "dia5"]
    first, second = dialogues[0].samples
    assert (first.text, second.text) == ("First", "Second, later")
    assert second.label == EMOTIONS.index("joy")
    assert second.start == pytest.approx(36 * 60 + 59.425)
    assert first.start == pytest.approx(16 * 60 + 16.059)
    assert dialogues[1].samples[0].start == 0.0  # unparsable times are kept as 0, not fatal
    assert report.n_samples == 3 and not report.skipped
    assert any("text only" in n for n in report.notes)


def test_meld_reader_skips_and_reports_bad_rows(tmp_path: Path) -> None:
    rows = [
        "1,Fine,Ross,neutral,neutral,0,0,1,1,a,b",
        "2,Unknown label,Ross,happiness,positive,0,1,1,1,a,b",
        "3,Too few fields,Ross",
        "4,Not a number,Ross,joy,positive,x,2,1,1,a,b",
        "5,,Ross,joy,positive,0,3,1,1,a,b",
        "6,Dup,Ross,joy,positive,0,0,1,1,a,b",
    ]
    _, report = read_meld(_meld(tmp_path, "dev_sent_emo.csv", rows), "dev")
    assert report.n_samples == 1
    text = " | ".join(report.skipped)
    assert "unknown label 'happiness'" in text
    assert "malformed row" in text
    assert "not integers" in text
    assert "empty utterance" in text
    assert "duplicate dia0_utt0" in text
    assert len(report.skipped) == 5


def test_meld_reader_repairs_cp1252_and_mojibake(tmp_path: Path) -> None:
    # A cp1252 file (the quote becomes byte 0x92) and a double-encoded UTF-8 apostrophe.
    rows = ["1,You must\u2019ve had your hands full.,Ross,neutral,neutral,0,0,1,1,a,b"]
    folder = _meld(tmp_path / "a", "train_sent_emo.csv", rows, encoding="cp1252")
    (d,), _ = read_meld(folder, "train")
    assert d.samples[0].text == "You must've had your hands full."
    assert clean_text("It\u00e2\u20ac\u2122s fine\u2026") == "It's fine..."
    assert clean_text("caf\u00c3\u00a9  \u0092ok") == "caf\u00e9 'ok"


def test_meld_reader_attaches_clips_and_counts_missing_ones(tmp_path: Path) -> None:
    rows = ["1,A,Ross,neutral,neutral,0,0,1,1,a,b", "2,B,Ross,joy,positive,0,1,1,1,a,b"]
    folder = _meld(tmp_path, "dev_sent_emo.csv", rows)
    (folder / "dev_splits_complete").mkdir()
    (folder / "dev_splits_complete" / "dia0_utt0.mp4").write_bytes(b"x")
    (d,), report = read_meld(folder, "dev")
    assert d.samples[0].media is not None and d.samples[1].media is None
    assert report.missing_media == 1


def test_meld_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_meld(tmp_path, "dev")
    (tmp_path / "dev_sent_emo.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="missing column"):
        read_meld(tmp_path, "dev")
    with pytest.raises(DataError, match="Unknown MELD split"):
        read_meld(tmp_path, "valid")
    # A parent folder holding meld/ is accepted too.
    _meld(tmp_path / "root" / "meld", "dev_sent_emo.csv", ["1,A,Ross,neutral,neutral,3,0,1,1,a,b"])
    (d,), _ = read_meld(tmp_path / "root", "dev")
    assert d.did == "dia3"


def test_parse_time_and_actors() -> None:
    assert parse_time("1:02:03,5") == pytest.approx(3723.5)
    assert parse_time("nonsense") is None
    assert parse_actors("19-24") == set(range(19, 25))
    assert parse_actors("1,3,17-18") == {1, 3, 17, 18}
    assert parse_actors(None) is None
    with pytest.raises(DataError):
        parse_actors("a-b")


def test_ravdess_and_tess_readers_map_labels(tmp_path: Path) -> None:
    rav = tmp_path / "ravdess" / "Actor_03"
    rav.mkdir(parents=True)
    for emo in (1, 2, 8):
        write_wav(rav / f"03-01-{emo:02d}-01-01-01-03.wav", tone(0.3))
    write_wav(rav / "notes.wav", tone(0.1))
    dialogues, report = read_ravdess(tmp_path)
    got = {RAVDESS_NATIVE[d.samples[0].native]: EMOTIONS[d.samples[0].label] for d in dialogues}  # type: ignore[index]
    assert got == {"neutral": "neutral", "calm": "neutral", "surprised": "surprise"}
    assert dialogues[0].samples[0].speaker == "actor03"
    assert any("not a RAVDESS file name" in s for s in report.skipped)
    with pytest.raises(DataError, match="No RAVDESS clips"):
        read_ravdess(tmp_path, {19})

    tess = tmp_path / "tess" / "OAF_ps"
    tess.mkdir(parents=True)
    write_wav(tess / "OAF_back_ps.wav", tone(0.3))
    write_wav(tess / "YAF_dog_pleasant_surprise.wav", tone(0.3))
    write_wav(tess / "YAF_dog_bored.wav", tone(0.3))
    dialogues, report = read_tess(tmp_path)
    assert [EMOTIONS[d.samples[0].label] for d in dialogues] == ["surprise", "surprise"]
    assert any("unknown label 'bored'" in s for s in report.skipped)
    only_oaf, _ = read_tess(tmp_path, {"OAF"})
    assert len(only_oaf) == 1


def test_scores_match_scikit_learn(tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 7, 300))
    p[p == 6] = 5  # a class never predicted: precision 0, not NaN
    s = scores(y, p, EMOTIONS)
    assert s["weighted_f1"] == pytest.approx(f1_score(y, p, average="weighted"))
    assert s["accuracy"] == pytest.approx(accuracy_score(y, p))
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=range(7), zero_division=0)
    for i, name in enumerate(EMOTIONS):
        assert s["per_class"][name]["precision"] == pytest.approx(prec[i])
        assert s["per_class"][name]["recall"] == pytest.approx(rec[i])
        assert s["per_class"][name]["f1"] == pytest.approx(f1[i])
        assert s["per_class"][name]["support"] == sup[i]
    assert np.array(s["confusion_matrix"]).sum() == 300 and s["n"] == 300
    png = save_confusion_png(s["confusion_matrix"], EMOTIONS, tmp_path / "cm.png", "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
