"""Bad input to ``emocli train`` / ``evaluate``: one clear line and the right exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from emocli.cli import app

HEADER = (
    "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
)
ROW = '1,"Hello there.",Ross,neutral,neutral,0,0,1,1,"0:00:00,000","0:00:01,000"\n'


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_an_empty_split_is_named(tmp_path: Path) -> None:
    (tmp_path / "train_sent_emo.csv").write_text(HEADER + ROW)
    (tmp_path / "dev_sent_emo.csv").write_text(HEADER)
    code, out = _run("train", "--dataset", "meld", "--data-dir", str(tmp_path), "-o", str(tmp_path / "m"))
    assert code == 5
    assert "dev split of meld is empty" in out and "Traceback" not in out
    assert not (tmp_path / "m" / "model.safetensors").exists()


def test_a_split_of_only_bad_rows_is_empty_too(tmp_path: Path) -> None:
    (tmp_path / "train_sent_emo.csv").write_text(HEADER + ROW)
    (tmp_path / "dev_sent_emo.csv").write_text(HEADER + '1,"Hi",Ross,bored,neutral,0,0,1,1,a,b\n')
    code, out = _run("train", "--dataset", "meld", "--data-dir", str(tmp_path), "-o", str(tmp_path / "m"))
    assert code == 5 and "dev split of meld is empty" in out


def test_unknown_names_list_the_choices(tmp_path: Path) -> None:
    code, out = _run("train", "--dataset", "iemocap", "--data-dir", str(tmp_path), "-o", str(tmp_path / "m"))
    assert code == 5 and "Use one of: meld, ravdess, tess" in out
    code, out = _run("evaluate", "--dataset", "meld", "--data-dir", str(tmp_path), "--split", "valid")
    assert code == 5 and "Use dev or test" in out
    code, out = _run(
        "train", "--dataset", "meld,ravdess", "--data-dir", str(tmp_path), "-o", str(tmp_path / "m")
    )
    assert code == 5 and "--init" in out


def test_missing_data_and_a_file_as_model_folder(tmp_path: Path) -> None:
    code, out = _run(
        "train", "--dataset", "meld", "--data-dir", str(tmp_path / "nope"), "-o", str(tmp_path / "m")
    )
    assert code == 5 and "does not exist" in out
    (tmp_path / "file").write_text("x")
    code, out = _run("train", "--dataset", "meld", "--data-dir", str(tmp_path), "-o", str(tmp_path / "file"))
    assert code == 3 and "is a file" in out
    code, out = _run("train", "--dataset", "ravdess", "--data-dir", str(tmp_path), "-o", str(tmp_path / "m"))
    assert code == 5 and "No RAVDESS clips" in out


def test_cli_module_import_stays_light() -> None:
    code = "import sys, emocli.cli.train; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
