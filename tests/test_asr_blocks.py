"""Speech cut into blocks at its pauses, decoded side by side: the same words as one at a time."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace as NS
from typing import Any

import numpy as np
import pytest

from emocli.speech.asr import BLOCK_TARGET, FasterWhisperASR
from emocli.speech.vad import plan_blocks
from emocli.speech.whisper_model import MAX_DECODERS, decoder_plan
from tests.asr_fakes import SR, FakeCT2

# 80 s of speech: phrases of 2-5 s with pauses of 0.2-0.9 s (the longest at 14.1-15.0 s and 41.0-41.8 s).
REGIONS = [
    (0.5, 4.0), (4.3, 8.1), (8.4, 11.0), (11.2, 14.1), (15.0, 19.2), (19.5, 24.0), (24.2, 28.3),
    (28.6, 33.0), (33.3, 37.9), (38.1, 41.0), (41.8, 46.0), (46.2, 51.5), (51.8, 56.0), (56.3, 60.9),
    (61.1, 66.0), (66.3, 70.2), (70.4, 75.1), (75.4, 80.0),
]  # fmt: skip


def test_blocks_fit_one_whisper_window_and_cut_at_the_longest_pause() -> None:
    blocks = plan_blocks(REGIONS, duration=81.0, target=BLOCK_TARGET)
    assert len(blocks) == 4  # 0.5-14.1, 15.0-41.0, 41.8-56.0, 56.3-80.0
    assert all(e - s <= 30.0 for s, e in blocks)  # padding included: one 30 s window each
    # The first cut is the 0.9 s pause after 14.1 s, not the last pause before 29 s.
    assert blocks[0][1] == pytest.approx(14.1 + 0.3) and blocks[1][0] == pytest.approx(15.0 - 0.3)
    assert blocks[1][1] == pytest.approx(41.0 + 0.3)
    # Every region is inside exactly one block: no speech is lost or decoded twice.
    for s, e in REGIONS:
        assert sum(bs <= s and e <= be for bs, be in blocks) == 1
    # Without a target, the old plan: one block up to max_block.
    assert len(plan_blocks(REGIONS, duration=81.0)) == 1


def test_a_phrase_longer_than_the_target_stays_whole_and_silences_still_cut() -> None:
    regions = [(0.0, 45.0), (45.3, 50.0), (53.0, 60.0)]  # 45 s without a pause, then 3 s of silence
    blocks = plan_blocks(regions, duration=60.0, target=BLOCK_TARGET, pad=0.0)
    assert blocks == [(0.0, 45.0), (45.3, 50.0), (53.0, 60.0)]  # 50-53 s, the silence, is never decoded


@pytest.mark.parametrize(
    ("cores", "threads", "device", "expected"),
    [(2, 0, "cpu", (2, 1)), (8, 0, "cpu", (4, 2)), (1, 0, "cpu", (1, 1)), (16, 0, "cpu", (4, 2)),
     (8, 1, "cpu", (1, 1)), (8, 3, "cpu", (3, 1)), (8, 0, "cuda", (1, 0))],
)  # fmt: skip
def test_decoders_side_by_side_share_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, threads: int, device: str, expected: tuple[int, int]
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    workers, each = decoder_plan(threads, device)
    assert (workers, each) == expected
    assert workers <= MAX_DECODERS and (device != "cpu" or workers * each <= max(threads or min(cores, 8), 1))


class ChunkWhisper:
    """A thread-safe fake: a chunk's words follow from its audio alone (one word per second, named
    by the sample there); records how many decodings ran at once."""

    supported_languages = ("en",)

    def __init__(self) -> None:
        self.model = FakeCT2(lambda clip: ("en", 0.99))
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Any], Any]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)  # long enough for decodings to overlap when they can
        n = len(audio) / SR
        words = [
            NS(start=t, end=t + 0.5, word=f" w{int(audio[int(t * SR)] * 1000)}", probability=0.9)
            for t in np.arange(0.1, n - 0.5, 1.0)
        ]
        segs = [
            NS(
                start=0.0,
                end=n,
                text=" ".join(w.word for w in words),
                words=words,
                no_speech_prob=0.0,
                avg_logprob=-0.2,
            )
        ]
        with self.lock:
            self.running -= 1
        return segs, NS(language="en", language_probability=0.99)


def _asr(workers: int) -> FasterWhisperASR:
    asr = object.__new__(FasterWhisperASR)
    asr.model = ChunkWhisper()  # type: ignore[assignment]
    asr.beam_size, asr.condition_on_previous_text, asr.max_block = 5, False, 240.0
    asr.workers = workers
    return asr


def test_blocks_decoded_side_by_side_give_the_words_of_one_at_a_time() -> None:
    audio = (np.arange(81 * SR) % 997 / 997.0).astype(np.float32)  # each second its own value
    one, two = _asr(1), _asr(2)
    seen: list[tuple[str, float]] = []
    a = one.transcribe(audio, REGIONS, language="en")
    b = two.transcribe(
        audio, REGIONS, language="en", hook=lambda stage, completed, total: seen.append((stage, completed))
    )
    assert [(w.start, w.end, w.word) for w in a.words] == [(w.start, w.end, w.word) for w in b.words]
    assert len(a.words) > 60
    assert one.model.most == 1 and two.model.most == 2  # really side by side
    done = [c for stage, c in seen if stage == "transcribe"]
    assert done == sorted(done) and done[-1] == pytest.approx(
        sum(e - s for s, e in plan_blocks(REGIONS, 81.0, target=BLOCK_TARGET))
    )


def test_an_error_in_one_block_reaches_the_caller() -> None:
    asr = _asr(2)

    def fail(audio: np.ndarray, **options: Any) -> Any:
        raise RuntimeError("decoder failed")

    asr.model.transcribe = fail  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="decoder failed"):
        asr.transcribe(np.zeros(81 * SR, np.float32), REGIONS, language="en")
