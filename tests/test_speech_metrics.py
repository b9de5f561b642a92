from __future__ import annotations

from pathlib import Path

import pytest

from emocli.speech.metrics import der, edit_distance, normalize_text, read_rttm, read_stm, wer


def test_wer_normalises_case_and_punctuation() -> None:
    ref = "And so, my fellow Americans, ask not!"
    assert wer(ref, "and so my fellow americans ask not") == 0.0
    assert normalize_text("Don't stop-now, OK?") == ["dont", "stop", "now", "ok"]


def test_wer_counts_substitutions_insertions_deletions() -> None:
    assert edit_distance(["a", "b", "c", "d"], ["a", "x", "c"]) == 2  # one sub, one del
    assert wer("a b c d", "a x c") == pytest.approx(0.5)
    assert wer("a b", "a b c d") == pytest.approx(1.0)  # two insertions over two words
    assert wer("", "") == 0.0 and wer("", "x") == 1.0


def test_der_is_zero_for_a_relabelled_perfect_hypothesis() -> None:
    ref = [(0.0, 2.0, "alice"), (2.0, 5.0, "bob"), (5.0, 6.0, "alice")]
    hyp = [(0.0, 2.0, "S1"), (2.0, 5.0, "S0"), (5.0, 6.0, "S1")]
    r = der(ref, hyp)
    assert r.der == pytest.approx(0.0, abs=1e-9)
    assert r.mapping == {"S1": "alice", "S0": "bob"}


def test_der_components() -> None:
    ref = [(0.0, 4.0, "a"), (4.0, 8.0, "b")]
    # one speaker for everything: b's 4 s are confusion; 2 s of extra speech are false alarm
    r = der(ref, [(0.0, 10.0, "x")])
    assert r.confusion == pytest.approx(4.0, abs=0.02)
    assert r.false_alarm == pytest.approx(2.0, abs=0.02)
    assert r.der == pytest.approx(6.0 / 8.0, abs=0.01)
    # half of a's speech missed
    r = der(ref, [(2.0, 4.0, "x"), (4.0, 8.0, "y")])
    assert r.missed == pytest.approx(2.0, abs=0.02) and r.der == pytest.approx(0.25, abs=0.01)


def test_der_counts_overlap() -> None:
    ref = [(0.0, 4.0, "a"), (2.0, 4.0, "b")]  # 2 s overlap: 6 s of reference speech
    r = der(ref, [(0.0, 4.0, "x")])  # a single-speaker hypothesis misses b
    assert r.total == pytest.approx(6.0, abs=0.02)
    assert r.missed == pytest.approx(2.0, abs=0.02) and r.der == pytest.approx(1 / 3, abs=0.01)


def test_readers(tmp_path: Path) -> None:
    (tmp_path / "x.rttm").write_text(
        "SPEAKER f 1 1.50 2.00 <NA> <NA> spk1 <NA> <NA>\nSPEAKER f 1 4.00 1.00 <NA> <NA> spk2 <NA> <NA>\n"
    )
    assert read_rttm(tmp_path / "x.rttm") == [(1.5, 3.5, "spk1"), (4.0, 5.0, "spk2")]
    (tmp_path / "x.stm").write_text("f 1 Ann 0.5 1.0 Hello there.\n;; comment\nf 1 Bo 1.2 2.0 Hi!\n")
    assert read_stm(tmp_path / "x.stm") == [("Ann", 0.5, 1.0, "Hello there."), ("Bo", 1.2, 2.0, "Hi!")]
