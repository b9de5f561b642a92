"""Repetition loops in decoded speech: one word or short phrase said many times in a row.

Whisper sometimes falls into a loop on hard audio (overlapping voices, a language it was not told
about): "yeah, yeah, yeah, yeah, yeah, yeah ..." or "ию, ию, ию, ию, ию ...", sometimes inside one
hyphenated "word" ("Siponya-mypada-mypada-mypada-..."). People do repeat themselves ("no, no, no"),
but rarely more than ``MAX_REPEATS`` times in a row, so a longer run is taken for a loop.

Text is compared as tokens: runs of letters, digits and apostrophes, case-folded, so punctuation
and hyphens separate tokens and do not hide a loop. A token belongs to the ASR word it is part of,
which is what a cut acts on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from emocli.results import Word

MAX_REPEATS = 4  # a phrase said more than this many times in a row is a loop
MAX_PHRASE = 8  # tokens in the longest phrase looked for
KEEP = 2  # occurrences kept when a loop is cut
# Decoding options for a stretch decoded again after a loop (asr.py, translate.py).
LOOP_RETRY: dict[str, Any] = {"repetition_penalty": 1.3, "no_repeat_ngram_size": 3}

_TOKEN = re.compile(r"[\w']+")


def tokens_of(text: str) -> list[str]:
    """``"Yeah, yeah-yeah."`` -> ``["yeah", "yeah", "yeah"]``."""
    return _TOKEN.findall(text.casefold())


@dataclass(frozen=True)
class Loop:
    """``tokens[start : start + phrase * repeats]`` is one phrase of ``phrase`` tokens, ``repeats`` times."""

    start: int
    phrase: int
    repeats: int

    @property
    def end(self) -> int:
        return self.start + self.phrase * self.repeats


def _repeats_at(tokens: Sequence[str], i: int, n: int) -> int:
    """How many times ``tokens[i:i+n]`` is said in a row from ``i``."""
    r = 1
    while tokens[i + r * n : i + (r + 1) * n] == tokens[i : i + n]:
        r += 1
    return r


def _best_run(tokens: Sequence[str], i: int, max_phrase: int) -> Loop:
    """The run from ``i`` that covers most tokens (the shortest phrase on a tie)."""
    best = Loop(i, 1, 1)
    for n in range(1, min(max_phrase, (len(tokens) - i) // 2) + 1):
        r = _repeats_at(tokens, i, n)
        if r >= 2 and n * r > best.phrase * best.repeats:
            best = Loop(i, n, r)
    return best


def find_loops(
    tokens: Sequence[str], max_repeats: int = MAX_REPEATS, max_phrase: int = MAX_PHRASE
) -> list[Loop]:
    """Runs, left to right and not overlapping, of a phrase of 1..``max_phrase`` tokens said more
    than ``max_repeats`` times in a row."""
    loops: list[Loop] = []
    i = 0
    while i < len(tokens):
        run = _best_run(tokens, i, max_phrase)
        if run.repeats > max_repeats:
            loops.append(run)
            i = run.end
        else:
            i += 1
    return loops


def longest_repeat(text: str, max_phrase: int = MAX_PHRASE) -> int:
    """The most times any phrase of up to ``max_phrase`` tokens is said in a row in ``text``."""
    tokens = tokens_of(text)
    return max((_best_run(tokens, i, max_phrase).repeats for i in range(len(tokens))), default=0)


@dataclass(frozen=True)
class WordLoop:
    """A loop located in a list of ASR words: ``words[first : last + 1]`` hold it."""

    first: int  # index of the word where the loop starts
    last: int  # index of the word where it ends
    phrase: str  # the repeated phrase, tokens joined by spaces
    repeats: int
    keep_word: int  # index of the word where the ``KEEP``-th occurrence ends
    keep_chars: int  # characters of that word up to there


def word_loops(words: Sequence[Word], keep: int = KEEP) -> list[WordLoop]:
    """The loops (``find_loops``) of the tokens of ``words``, located in the words."""
    owner: list[tuple[int, int]] = []  # per token: (word index, end of the token in that word's text)
    tokens: list[str] = []
    for i, w in enumerate(words):
        for m in _TOKEN.finditer(w.word):
            tokens.append(m.group().casefold())
            owner.append((i, m.end()))
    out = []
    for loop in find_loops(tokens):
        kept_end = owner[loop.start + loop.phrase * keep - 1]
        phrase = " ".join(tokens[loop.start : loop.start + loop.phrase])
        first, last = owner[loop.start][0], owner[loop.end - 1][0]
        out.append(WordLoop(first, last, phrase, loop.repeats, kept_end[0], kept_end[1]))
    return out


def cut_loop(words: Sequence[Word], loop: WordLoop) -> list[Word]:
    """``words[loop.first : loop.last + 1]`` cut to the loop's first ``KEEP`` occurrences: the words
    up to the one where they end, that one shortened when more of the loop follows inside it."""
    kept = list(words[loop.first : loop.keep_word + 1])
    last = kept[-1]
    if _TOKEN.search(last.word, loop.keep_chars):
        kept[-1] = replace(last, word=last.word[: loop.keep_chars])
    return kept
