"""Assertions shared by the CLI tests."""

from __future__ import annotations


def assert_one_line_error(code: int, output: str, expected: str) -> None:
    """A failed command printed exactly one line containing ``expected``, and no traceback."""
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    assert code != 0
    assert len(lines) == 1, output
    assert "Traceback" not in output and "internal error" not in output
    assert expected.lower() in lines[0].lower(), lines[0]
