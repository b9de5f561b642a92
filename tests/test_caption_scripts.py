"""Captions in every script (issue 14): drawn through the renderer's own caption code, checked for
missing glyphs (cmap and pixels against the font's .notdef box), right-to-left order and Arabic
joining, and the English fallback where no font has the script."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from emocli.output import fonts
from emocli.output.render import CaptionRenderer, RenderOptions, caption_text
from emocli.results import Utterance

# One real sentence per script: (language, text).
SENTENCES = {
    "latin": ("fr", "Ça m'a fait très plaisir de te revoir, vraiment !"),
    "cyrillic": ("ru", "Я очень рад снова тебя видеть!"),
    "greek": ("el", "Χαίρομαι πολύ που σε ξαναβλέπω!"),
    "arabic": ("ar", "أنا سعيد جدا برؤيتك مرة أخرى"),
    "hebrew": ("he", "אני שמח מאוד לראות אותך שוב"),
    "devanagari": ("hi", "मैं आपको फिर से देखकर बहुत खुश हूँ।"),
    "chinese": ("zh", "我很高兴再次见到你，好久不见了！"),
    "japanese": ("ja", "また会えてとても嬉しいです。本当に久しぶりですね！"),
    "korean": ("ko", "다시 만나서 정말 반가워요!"),
}
# Santali in Ol Chiki ("the Santali language"): a script none of the caption fonts has.
OL_CHIKI = "ᱥᱟᱱᱛᱟᱲᱤ ᱯᱟᱹᱨᱥᱤ"
SIZE = 26  # caption text size on a 1280x720 frame (Layout scale 1)


def _utt(text: str, language: str | None, text_en: str | None = None) -> Utterance:
    return Utterance(
        0.0, 1.0, "SPEAKER_00", text, emotion="joy", confidence=0.8, language=language, text_en=text_en
    )


def _draw_caption(
    monkeypatch: pytest.MonkeyPatch, u: Utterance, options: RenderOptions = RenderOptions()
) -> tuple[np.ndarray, list[tuple[fonts.Line, float]]]:
    """The caption sprite as a grey image (text white on the dark panel) and the body lines the
    renderer drew, each with its left x, recorded from the real draw calls (the head line left out)."""
    drawn: list[tuple[fonts.Line, float]] = []
    real = fonts.draw_line

    def spy(d: ImageDraw.ImageDraw, line: fonts.Line, x: float, *args: object, **kw: object) -> None:
        drawn.append((line, x))
        real(d, line, x, *args, **kw)  # type: ignore[arg-type]

    renderer = CaptionRenderer(1280, 720, options)  # draws its labels here: not recorded
    monkeypatch.setattr(fonts, "draw_line", spy)
    sprite, _h = renderer._caption(0, u)
    return sprite.rgb.mean(axis=2), drawn[1:]


def _glyph(face: fonts.Face, text: str, rtl: bool = False) -> np.ndarray:
    """``text`` drawn alone in white on black with ``face``, shaped by raqm; the font is loaded
    here, not taken from the code under test."""
    font = ImageFont.truetype(face.path, SIZE, index=face.index, layout_engine=ImageFont.Layout.RAQM)
    img = Image.new("L", (SIZE * (len(text) + 2), SIZE * 3))
    ImageDraw.Draw(img).text((SIZE, 2 * SIZE), text, 255, font, "ls", direction="rtl" if rtl else "ltr")
    return np.asarray(img)


def _ink(a: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(a > 40)
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _visible(line: fonts.Line) -> Iterator[tuple[fonts.Face, str]]:
    for r in line.runs:
        for ch in r.text:
            if not ch.isspace() and unicodedata.category(ch) != "Cf":
                yield r.face, ch


@pytest.fixture(autouse=True)
def _needs_raqm() -> None:
    # Pillow's raqm (HarfBuzz + the system's libfribidi0) shapes Arabic and Devanagari and puts
    # right-to-left text in order; without it those captions fall back to English (tested below).
    assert fonts.raqm(), "Pillow has no raqm: install libfribidi0"


@pytest.mark.parametrize("script", list(SENTENCES))
def test_every_script_is_drawn_with_fonts_that_have_its_letters(
    monkeypatch: pytest.MonkeyPatch, script: str
) -> None:
    language, text = SENTENCES[script]
    gray, lines = _draw_caption(monkeypatch, _utt(text, language))
    assert fonts.can_draw(text, language)
    # all of the sentence is drawn (nothing left out, no note, no English in its place)
    assert "".join(ln.text for ln, _x in lines).replace(" ", "") == text.replace(" ", "")
    for face, ch in {fc for ln, _x in lines for fc in _visible(ln)}:
        # (a) the font chosen for the character has it in its cmap
        assert ord(ch) in fonts.coverage(face), f"{ch!r} ({unicodedata.name(ch)}) not in {face.name}"
    tofu = {face: _glyph(face, "\U0010fffd") for face, _c in {fc for ln, _x in lines for fc in _visible(ln)}}
    for face, ch in {fc for ln, _x in lines for fc in _visible(ln)}:
        # (b) and it does not come out as the font's .notdef box
        assert tofu[face].max() > 0, f"{face.name}'s .notdef is blank: the pixel check would mean nothing"
        assert not np.array_equal(_glyph(face, ch), tofu[face]), f"{ch!r} is a box in {face.name}"
    assert gray[SIZE * 2 :].max() > 200  # white text below the head line


def test_cjk_and_devanagari_use_their_own_fonts_not_dejavu(monkeypatch: pytest.MonkeyPatch) -> None:
    expect = {"chinese": "Noto Sans CJK", "japanese": "Noto Sans CJK", "korean": "Noto Sans CJK"}
    expect |= {"devanagari": "Noto Sans Devanagari", "arabic": "Noto Sans Arabic", "latin": "DejaVu Sans"}
    for script, face in expect.items():
        language, text = SENTENCES[script]
        _gray, lines = _draw_caption(monkeypatch, _utt(text, language))
        assert {r.face.name for ln, _x in lines for r in ln.runs} == {face}, script


def _find(gray: np.ndarray, face: fonts.Face, word: str) -> int:
    """x of ``word`` (drawn alone, right to left) in the caption image, by template matching; a light
    blur because the words sit at sub-pixel offsets in the line, so their edges differ slightly."""
    smooth = cv2.GaussianBlur(gray.astype(np.float32), (3, 3), 0.8)
    template = cv2.GaussianBlur(_ink(_glyph(face, word, rtl=True)).astype(np.float32), (3, 3), 0.8)
    _lo, best, _at, (x, _y) = cv2.minMaxLoc(cv2.matchTemplate(smooth, template, cv2.TM_CCOEFF_NORMED))
    assert best > 0.85, f"{word} not found in the caption ({best:.2f})"
    return int(x)


def test_hebrew_reads_right_to_left_and_is_right_aligned(monkeypatch: pytest.MonkeyPatch) -> None:
    gray, lines = _draw_caption(monkeypatch, _utt("שלום עולם", "he"))
    ((line, x),) = lines
    face = line.runs[0].face
    assert _find(gray, face, "שלום") > _find(gray, face, "עולם")  # the first word read is on the right
    # right-aligned: the short line ends where the text area ends, far right of where LTR starts
    pad, stripe = 12, 6
    assert x + line.width == pytest.approx(gray.shape[1] - 2 * pad + stripe, abs=1)
    assert x > pad + stripe + 50
    ink_x = np.nonzero(gray[SIZE * 2 :] > 120)[1]
    assert ink_x.max() > gray.shape[1] - 2 * pad - 4


def test_hebrew_line_starting_with_a_latin_name_is_still_right_to_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The paragraph direction is the caption's, not that of its first letter: "Dan said hello"
    # starts at the right, with "Dan" there (a left-to-right paragraph would put it at the left).
    gray, lines = _draw_caption(monkeypatch, _utt("Dan אמר שלום", "he"))
    ((line, _x),) = lines
    face = line.runs[0].face
    assert _find(gray, face, "Dan") > _find(gray, face, "אמר") > _find(gray, face, "שלום")


def test_arabic_letters_are_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    word = "مرحبا"
    gray, lines = _draw_caption(monkeypatch, _utt(word, "ar"))
    # ZWNJ between the letters keeps each letter apart, as unshaped text would be drawn
    apart_gray, apart = _draw_caption(monkeypatch, _utt("\u200c".join(word), "ar"))
    ((line, _x),) = lines
    ((line_apart, _x2),) = apart
    assert line.width < 0.9 * line_apart.width  # joined letters are narrower than isolated ones
    assert line.width < 0.9 * sum(fonts.layout(c, line.plan, SIZE).width for c in word)
    body, body_apart = _ink(gray[SIZE * 2 :, 20:]), _ink(apart_gray[SIZE * 2 :, 20:])  # right of the stripe
    assert body.shape[1] < body_apart.shape[1] - 5  # and so is their ink


def test_cjk_wraps_between_characters_and_latin_between_words() -> None:
    zh = "我很高兴再次见到你，好久不见了，真的非常想念你。我们什么时候一起去吃饭吧？" * 2
    p = fonts.plan(zh, "zh")
    lines = fonts.wrap(zh, p, SIZE, 400)
    assert len(lines) >= 3 and all(ln.width <= 400 for ln in lines)
    assert "".join(ln.text for ln in lines) == zh
    assert not any(ln.text[0] in "，。？" for ln in lines)  # no line starts with closing punctuation
    en = "Hello there, this is a much longer sentence that has to wrap onto several lines of text."
    lines = fonts.wrap(en, fonts.plan(en), SIZE, 400)
    assert len(lines) >= 2 and all(ln.width <= 400 for ln in lines)
    assert " ".join(ln.text for ln in lines) == en  # broken only at spaces, words whole


def test_latin_word_in_a_hindi_caption_takes_a_font_that_has_it() -> None:
    text = "मैं iPhone ले रहा हूँ"
    p = fonts.plan(text, "hi")
    line = fonts.layout(text, p, SIZE)
    assert line.text == text
    assert [r.face.name for r in line.runs] == ["Noto Sans Devanagari", "DejaVu Sans", "Noto Sans Devanagari"]
    assert all(ord(c) in fonts.coverage(r.face) for r in line.runs for c in r.text)


def test_script_no_font_has_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not any(ord(c) in fonts.coverage(f) for f in fonts.faces().values() for c in OL_CHIKI if c != " ")
    assert not fonts.can_draw(OL_CHIKI, "sat")
    english = "The Santali language"
    assert caption_text(_utt(OL_CHIKI, "sat", english)) == (english, "en", None)
    _gray, lines = _draw_caption(monkeypatch, _utt(OL_CHIKI, "sat", english))
    assert [ln.text for ln, _x in lines] == [english]


def test_undrawable_without_translation_leaves_letters_out_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _gray, lines = _draw_caption(monkeypatch, _utt(f"{OL_CHIKI} 2024", "sat"))
    assert [ln.text for ln, _x in lines] == ["2024", "(caption not drawable: sat)"]


def test_english_captions_show_the_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    u = _utt("Я очень рад снова тебя видеть!", "ru", "I am very glad to see you again!")
    _gray, lines = _draw_caption(monkeypatch, u, RenderOptions(captions="english"))
    assert [ln.text for ln, _x in lines] == ["I am very glad to see you again!"]
    _gray, lines = _draw_caption(monkeypatch, u)
    assert [ln.text for ln, _x in lines] == ["Я очень рад снова тебя видеть!"]


def test_without_raqm_shaped_scripts_fall_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow without raqm would draw Arabic letters unjoined and left to right: English instead.
    monkeypatch.setattr(fonts, "raqm", lambda: False)
    for script in ("arabic", "hebrew", "devanagari"):
        language, text = SENTENCES[script]
        assert not fonts.can_draw(text, language)
        assert caption_text(_utt(text, language, "I am happy")) == ("I am happy", "en", None)
    for script in ("latin", "cyrillic", "greek", "chinese", "japanese", "korean"):
        assert fonts.can_draw(*reversed(SENTENCES[script]))
