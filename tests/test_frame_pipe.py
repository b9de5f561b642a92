"""The render's decode / draw / encode threads (emocli/output/frame_pipe.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from emocli.output.frame_pipe import BackgroundWriter, prefetch
from emocli.output.render import FaceOverlay, render_video
from emocli.results import Result, Utterance
from tests.media_factory import make_video


def test_prefetch_keeps_order_and_runs_ahead_of_the_consumer() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(20):
            produced.append(i)
            yield i

    out = []
    for x in prefetch(items(), depth=3):
        if x == 0:
            time.sleep(0.2)  # the producer fills the queue meanwhile
            assert len(produced) >= 3
        out.append(x)
    assert out == list(range(20))


def test_prefetch_raises_the_producers_error_in_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("decoder broke")

    got = []
    with pytest.raises(ValueError, match="decoder broke"):
        for x in prefetch(items()):
            got.append(x)
    assert got == [1]


def test_closing_prefetch_early_stops_the_thread_and_closes_the_source() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()  # where read_frames kills its ffmpeg

    gen = prefetch(items(), depth=2)
    assert [next(gen), next(gen)] == [0, 1]
    gen.close()
    assert closed.is_set()
    assert not any(t.name == "emocli-decode" for t in threading.enumerate())


def test_background_writer_writes_in_order_and_reports_errors() -> None:
    seen: list[int] = []
    w: BackgroundWriter[int] = BackgroundWriter(seen.append, depth=2)
    for i in range(50):
        w.put(i)
    w.close()
    assert seen == list(range(50))

    def fail(x: int) -> None:
        if x == 3:
            raise BrokenPipeError("encoder died")

    w2: BackgroundWriter[int] = BackgroundWriter(fail, depth=2)
    with pytest.raises(BrokenPipeError):
        for i in range(1000):  # put raises once the thread has met the error
            w2.put(i)
            time.sleep(0.001)
        w2.close()
    w2.stop()  # what the renderer does after an error: the thread ends
    assert not any(t.name == "emocli-encode" for t in threading.enumerate())


def test_render_is_byte_identical_across_runs_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", seconds=2.0, size="320x240", fps=25)
    res = Result(
        str(src), 2.0, [Utterance(0.2, 1.5, "SPEAKER_00", "Hello there.", emotion="joy", confidence=0.8)]
    )
    probs = np.full(7, 1 / 7, np.float32)
    faces = lambda t: [FaceOverlay((100, 50, 200, 170), probs, True)]  # noqa: E731
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert render_video(src, a, res, faces) == 50
    assert render_video(src, b, res, faces) == 50
    assert a.read_bytes() == b.read_bytes()

    calls = 0

    def broken(t: float) -> list[FaceOverlay]:
        nonlocal calls
        calls += 1
        if calls == 20:
            raise RuntimeError("drawing failed")
        return faces(t)

    with pytest.raises(RuntimeError, match="drawing failed"):
        render_video(src, tmp_path / "c.mp4", res, broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4", "in.mp4"]
    time.sleep(0.2)
    assert not any(t.name in ("emocli-decode", "emocli-encode") for t in threading.enumerate())
