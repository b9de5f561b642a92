"""Fonts for captions in every script, and the line layout that uses them.

No single free font draws the ~100 languages Whisper writes, and a font that lacks a letter draws
its .notdef box ("tofu"). So each caption gets a chain of fonts led by those made for its main
script: DejaVu Sans (matplotlib's) for Latin, Cyrillic and Greek, the Noto Sans script fonts of
``manimgx-fonts`` (Arabic, Hebrew, Devanagari and other Indic scripts, Thai, ...), Noto Sans CJK
(``noto-cjk-sans-jp-regular``) for Chinese, Japanese and Korean; coverage is read from each
font's cmap, and each character is drawn by the first font of the chain that has it.

Left-to-right lines may mix fonts run by run on one baseline (Noto Devanagari has no Latin
letters). Right-to-left lines are shaped and reordered by raqm (fribidi + HarfBuzz) as one string
in one font; DejaVu, with Hebrew, Arabic and Latin, backs Noto there. Without raqm Arabic would
not join nor run right to left, so such text is not drawable (the caller shows English instead).
Nothing is loaded at import time; faces, cmaps and sizes are cached once used.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache

from PIL import Image, ImageDraw, ImageFont, features

from emocli.models_registry import package_dir


@dataclass(frozen=True)
class Face:
    name: str
    path: str
    index: int = 0  # the face inside a .ttc collection


# Noto Sans fonts in manimgx-fonts, one per script (file NotoSans<Script>[wght].ttf).
_NOTO = "Arabic Hebrew Devanagari Bengali Gujarati Gurmukhi Oriya Tamil Telugu Kannada Malayalam"
_NOTO_SCRIPTS = tuple(f"{_NOTO} Sinhala Thai Lao Khmer Myanmar Armenian Georgian Ethiopic".split())
# Face name -> (package holding it, path inside the package).
_FILES: dict[str, tuple[str, str]] = {
    "DejaVu Sans": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans.ttf"),
    "DejaVu Sans Bold": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans-Bold.ttf"),
    "Noto Sans": ("manimgx_fonts", "NotoSans[wght].ttf"),
    "Noto Sans CJK": ("noto_cjk_sans_jp_regular", "NotoSansCJKjp-Regular.otf"),
    **{f"Noto Sans {s}": ("manimgx_fonts", f"NotoSans{s}[wght].ttf") for s in _NOTO_SCRIPTS},
    "Noto Sans Symbols": ("manimgx_fonts", "NotoSansSymbols[wght].ttf"),
    "Noto Emoji": ("manimgx_fonts", "NotoEmoji[wght].ttf"),
}
_CJK = ("Noto Sans CJK",)
# Script (first word of a letter's Unicode name) -> the fonts tried first for it. DejaVu leads for
# the European scripts because it is what captions always used; Noto leads where it is the better
# design, with DejaVu behind it for the punctuation Noto Hebrew / Arabic lack ("?", ",").
_CJK_SCRIPTS = frozenset({"HAN", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"})
_PREFERRED: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("LATIN", "CYRILLIC", "GREEK"), ("DejaVu Sans", "Noto Sans")),
    **dict.fromkeys(_CJK_SCRIPTS, _CJK),
    "ARABIC": ("Noto Sans Arabic", "DejaVu Sans"),
    "HEBREW": ("Noto Sans Hebrew", "DejaVu Sans"),
}
# Tried after the preferred ones, for any character they lack.
_GENERAL = tuple(n for n in _FILES if "Bold" not in n)  # in the order above

RTL_SCRIPTS = frozenset({"ARABIC", "HEBREW", "SYRIAC", "THAANA", "NKO", "ADLAM", "SAMARITAN", "MANDAIC"})
# Written without spaces between words: a line may break between any two characters.
NO_SPACE_SCRIPTS = _CJK_SCRIPTS - {"HANGUL"} | {"YI", "THAI", "LAO", "KHMER", "MYANMAR"}
# Drawn right by Pillow's basic layout (no shaping, no bidi); all others need raqm. "COMBINING":
# Latin's accents, which basic layout places well enough.
_SIMPLE_SCRIPTS = _CJK_SCRIPTS | {"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "GEORGIAN", "COMBINING"}
_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "KATAKANA-HIRAGANA": "KATAKANA", "MODIFIER": ""}
# Kinsoku: never at the start of a line (closing marks, small kana) / never at its end (openers).
_NO_LINE_START = frozenset("、。，．,.!?！？:;：；)]}）」』】〉》”’…ーっゃゅょッャュョ々")
_NO_LINE_END = frozenset("([{（「『【〈《“‘¿¡")
# OpenType language for raqm's ``locl``: Noto CJK JP draws Japanese glyph forms unless told.
_OT_LANGUAGE = {"zh": "zh-Hans", "yue": "zh-Hant"}
# Languages written right to left (Whisper's codes): their captions run right to left even where
# Latin letters outnumber theirs (brand names, code-switching).
_RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "yi", "ps", "sd", "ug"})


@lru_cache(maxsize=1)
def raqm() -> bool:
    """Whether Pillow has raqm (shaping and bidi); Pillow wheels load fribidi from the system."""
    return bool(features.check("raqm"))


@lru_cache(maxsize=1)
def faces() -> dict[str, Face]:
    """Every caption font installed here, by name (a missing font package only shrinks chains)."""
    paths = {n: (root / rel) for n, (pkg, rel) in _FILES.items() if (root := package_dir(pkg)) is not None}
    return {n: Face(n, str(path)) for n, path in paths.items() if path.is_file()}


@cache
def coverage(face: Face) -> frozenset[int]:
    """Code points ``face`` has glyphs for (its best cmap; ~0.6 s once for the 44k-glyph CJK font)."""
    from fontTools.ttLib import TTFont  # matplotlib's dependency; only needed once per face

    with TTFont(face.path, fontNumber=face.index, lazy=True) as tt:
        return frozenset(tt.getBestCmap())


@lru_cache(maxsize=64)
def font(face: Face, size: int) -> ImageFont.FreeTypeFont:
    engine = ImageFont.Layout.RAQM if raqm() else ImageFont.Layout.BASIC
    return ImageFont.truetype(face.path, size, index=face.index, layout_engine=engine)


@lru_cache(maxsize=8192)
def script_of(ch: str, marks: bool = False) -> str | None:
    """Script of a letter (with ``marks``: or of a mark), from its Unicode name ("ARABIC", "HAN");
    None for spaces, digits and punctuation, which take the script of the letters around them."""
    if unicodedata.category(ch)[0] not in ("LM" if marks else "L"):
        return None
    words = unicodedata.name(ch, "").removeprefix("FULLWIDTH ").removeprefix("HALFWIDTH ").split()
    return (_ALIASES.get(words[0], words[0]) if words else "") or None


def _covers(face: Face, ch: str) -> bool:
    # Format characters (ZWJ, ZWNJ, bidi marks, soft hyphen): HarfBuzz never draws a box for them.
    return ord(ch) in coverage(face) or (unicodedata.category(ch) == "Cf" and raqm())


@dataclass(frozen=True)
class Plan:
    """How to draw one text: its fonts in order, direction and OpenType language."""

    chain: tuple[Face, ...]
    script: str
    rtl: bool
    language: str | None

    def face_for(self, ch: str) -> Face | None:
        return next((f for f in self.chain if _covers(f, ch)), None)

    @property
    def kwargs(self) -> dict[str, str]:
        """Pillow text arguments; direction and language work only with raqm."""
        lang = {"language": self.language} if self.language else {}
        return {"direction": "rtl" if self.rtl else "ltr", **lang} if raqm() else {}


@lru_cache(maxsize=64)
def _chain(script: str, bold: bool) -> tuple[Face, ...]:
    found = faces()
    noto = f"Noto Sans {script.title()}"
    names = ("DejaVu Sans Bold",) if bold else ()
    names += _PREFERRED.get(script, (noto,)) + _GENERAL
    return tuple(found[n] for n in dict.fromkeys(names) if n in found)


def plan(text: str, language: str | None = None, bold: bool = False) -> Plan:
    """How to draw ``text`` (``language``: Whisper's code, for direction and glyph forms)."""
    counts = Counter(s for s in map(script_of, text) if s)  # the script with the most letters
    script = counts.most_common(1)[0][0] if counts else "LATIN"
    lang = _OT_LANGUAGE.get(language or "", language)
    if lang is None and script in _CJK_SCRIPTS:
        has_kana = any(script_of(c) in {"HIRAGANA", "KATAKANA"} for c in text)
        lang = "ja" if has_kana else ("ko" if script == "HANGUL" else "zh-Hans")
    chain = _chain(script, bold)
    rtl = script in RTL_SCRIPTS or (
        language in _RTL_LANGUAGES and any(script_of(c) in RTL_SCRIPTS for c in text)
    )
    if rtl and chain:  # one font for the whole text (raqm reorders one string): the first that
        # has it all, else the one that has most of it (drawable() then leaves the rest out)
        chars = set(text)
        whole = pick_font(text, chain) or max(chain, key=lambda f: sum(_covers(f, c) for c in chars))
        chain = (whole,)
    return Plan(chain, script, rtl, lang)


def pick_font(text: str, chain: tuple[Face, ...]) -> Face | None:
    """The first font of ``chain`` that has a glyph for every character of ``text``."""
    chars = set(text)
    return next((f for f in chain if all(_covers(f, c) for c in chars)), None)


def _missing(text: str, p: Plan) -> set[str]:
    """Characters of ``text`` that would not come out as themselves: no font of ``p`` has them, or
    their script needs raqm and Pillow has none."""
    shaped = set() if raqm() else {c for c in set(text) if script_of(c, True) not in _SIMPLE_SCRIPTS | {None}}
    return shaped | {c for c in set(text) if p.face_for(c) is None}


def can_draw(text: str, language: str | None = None) -> bool:
    """True when every character of ``text`` can be drawn as itself: a font has it and, for scripts
    that need shaping (Arabic joining, Indic conjuncts, right-to-left order), raqm is here."""
    return not _missing(text, plan(text, language))


def drawable(text: str, p: Plan) -> str:
    """``text`` without the characters no font of ``p`` has (rather than boxes in their place)."""
    gone = _missing(text, p)
    return " ".join("".join(c for c in text if c not in gone).split()) if gone else text


@dataclass(frozen=True)
class Run:
    face: Face
    text: str
    width: float = 0.0  # shaped advance, pixels (set by layout())


@dataclass(frozen=True)
class Line:
    """One laid-out line: runs in logical order, each in one font, drawn with ``plan`` at ``size``
    pixels; ``width`` is the shaped advance in pixels."""

    runs: tuple[Run, ...]
    width: float
    plan: Plan
    size: int

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


def runs(text: str, p: Plan) -> tuple[Run, ...]:
    """Split ``text`` into runs of one font each. Spaces, punctuation, digits and marks stay with
    the font of the letter before them when it has them, so a word is never cut between fonts."""
    out: list[Run] = []
    cur: Face | None = None
    buf = ""
    for ch in text:
        keep = cur is not None and script_of(ch) is None and _covers(cur, ch)
        face = cur if keep else p.face_for(ch)
        if face is None:  # no font has it: leave it out (drawable() says so beforehand)
            continue
        if cur is not None and face is not cur:  # faces are the ones faces() found
            out.append(Run(cur, buf))
            buf = ""
        cur, buf = face, buf + ch
    return (*out, Run(cur, buf)) if cur is not None else tuple(out)


@lru_cache(maxsize=1024)
def layout(text: str, p: Plan, size: int) -> Line:
    """``text`` as one line in runs of fonts, measured (shaped) at ``size`` pixels."""
    rs = tuple(Run(r.face, r.text, font(r.face, size).getlength(r.text, **p.kwargs)) for r in runs(text, p))
    return Line(rs, sum(r.width for r in rs), p, size)


def _tokens(text: str) -> list[str]:
    """Pieces a line may break after: words with their trailing space, or single characters in
    scripts without spaces (marks and closing punctuation stay with the character before)."""
    toks: list[str] = []
    cur = ""
    for ch in text:
        attach = unicodedata.category(ch)[0] in "MC" or ch in _NO_LINE_START or ch == " "
        here = script_of(ch) in NO_SPACE_SCRIPTS
        after = bool(cur) and (cur[-1] == " " or script_of(cur[-1]) in NO_SPACE_SCRIPTS or here)
        if cur and not attach and after and cur[-1] not in _NO_LINE_END:
            toks.append(cur)
            cur = ""
        cur += ch
    return [*toks, cur] if cur else toks


def wrap(text: str, p: Plan, size: int, max_w: float) -> list[Line]:
    """Greedy line breaking by shaped width (pixels) at the breaks ``_tokens`` allows; one piece
    wider than a line (a long URL, a Thai phrase) is cut between characters. Each line's pieces
    are found by bisection: HarfBuzz takes ~2 ms a call on Devanagari, however short the text."""
    toks = _tokens(" ".join(text.split()))

    def fits(s: str) -> bool:
        return layout(s, p, size).width <= max_w

    lines: list[Line] = []
    i = 0
    while i < len(toks):
        lo, hi = i + 1, len(toks)  # the most pieces from i on that fit (at least one)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits("".join(toks[i:mid]).rstrip()) else (lo, mid - 1)
        piece, i = "".join(toks[i:lo]).rstrip(), lo
        while len(piece) > 1 and not fits(piece):
            cut = len(piece) - 1  # the longest head that fits, not ending before a mark
            while cut > 1 and (not fits(piece[:cut]) or unicodedata.category(piece[cut])[0] == "M"):
                cut -= 1
            lines.append(layout(piece[:cut].rstrip(), p, size))
            piece = piece[cut:].lstrip()
        lines.append(layout(piece, p, size))
    return lines


def spacing(lines: list[Line]) -> tuple[int, int]:
    """(baseline below the line's top, line height) in pixels shared by ``lines``, from their ink:
    Devanagari's marks and Arabic's descenders reach further than Latin, and Noto's declared line
    metrics are twice what the ink needs. Latin keeps DejaVu's ascent and 1.25 x the size."""
    size = max(ln.size for ln in lines)
    up, down = round(size * 0.93), 0
    for ln in lines:
        for r in ln.runs:
            _l, top, _r, bottom = font(r.face, ln.size).getbbox(r.text, anchor="ls", **ln.plan.kwargs)
            up, down = max(up, -int(top)), max(down, int(bottom))
    return up, max(round(size * 1.25), up + down + round(size / 8))


def draw_line(
    d: ImageDraw.ImageDraw, line: Line, x: float, baseline: float, fill: tuple[int, ...], stroke: int = 0
) -> None:
    """Draw ``line`` with its left edge at ``x`` on ``baseline``. A right-to-left line is one run,
    which raqm reorders, so the first word read ends up on the right."""
    for r in line.runs:
        f, kw = font(r.face, line.size), line.plan.kwargs
        d.text((x, baseline), r.text, fill, f, "ls", stroke_width=stroke, stroke_fill=(0, 0, 0, 255), **kw)
        x += r.width


def text_image(
    text: str, size: int, fill: tuple[int, int, int, int], bold: bool = False, outline: int = 0
) -> Image.Image:
    """One line of text on a transparent image cropped to its ink (labels, tags)."""
    p = plan(text, bold=bold)
    line = layout(drawable(text, p), p, size)
    up, height = spacing([line])
    m = outline + 2
    img = Image.new("RGBA", (math.ceil(line.width) + 2 * m, height + 2 * m), (0, 0, 0, 0))
    draw_line(ImageDraw.Draw(img), line, m, m + up, fill, outline)
    box = img.getbbox()
    return img.crop(box) if box else img
