"""The report in a real browser: Debian's headless Chromium driven by Playwright (from PyPI).

Skips on a developer machine without Chromium or Playwright; on CI (``CI`` set) their absence is a
failure, since ``.ci/run`` installs Chromium and the dev extra installs Playwright. Screenshots go to
``EMOCLI_SCREENSHOTS`` when set (to look at them), else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from emocli.output.report import write_report
from tests.report_example import annotated_example, long_result


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        exe = None
    if exe is None:
        why = (
            "headless Chromium + Playwright not installed (apt-get install chromium; pip install playwright)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must run the browser test")
        pytest.skip(why)
    return exe


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


class Watched:
    """A page with every console message, page error and request recorded."""

    def __init__(self, browser: Any, width: int, height: int) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def errors(self) -> list[tuple[str, str]]:
        return [(t, m) for t, m in self.console if t in ("error", "pageerror", "warning")]


def _shot_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("EMOCLI_SCREENSHOTS", tmp_path))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _not_blank(png: Path) -> None:
    a = np.asarray(Image.open(png).convert("L"), np.float32)
    assert a.std() > 20, f"{png} looks blank"


def _current(page: Any) -> int | None:
    i = page.evaluate("() => document.querySelector('#transcript .current')?.dataset.i ?? null")
    return None if i is None else int(i)


@pytest.mark.slow
def test_report_of_a_real_run_plays_seeks_and_loads_nothing_else(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    video = annotated_example(tmp_path_factory.getbasetemp())
    page_file = video.with_suffix(".html")
    doc = json.loads(video.with_suffix(".json").read_text())
    utts = doc["utterances"]
    assert len(utts) >= 3
    shots = _shot_dir(tmp_path)
    for width, height, name in ((1280, 860, "laptop"), (390, 844, "phone")):
        w = Watched(browser, width, height)
        page = w.page
        page.goto(page_file.as_uri())
        page.wait_for_function("() => document.getElementById('media').readyState >= 1", timeout=15000)
        assert page.evaluate("() => document.getElementById('media').error") is None  # the video plays here
        assert page.locator("#transcript .utt").count() == len(utts)  # one row per utterance
        assert page.locator("#timeline .lane").count() == len(doc["speakers"])  # one lane per speaker
        # the row of the utterance playing is highlighted as currentTime changes
        for k in (0, len(utts) // 2, len(utts) - 1):
            mid = (utts[k]["start"] + utts[k]["end"]) / 2
            page.evaluate(f"() => {{ document.getElementById('media').currentTime = {mid}; }}")
            page.wait_for_function(
                f"() => document.querySelector('#transcript .current')?.dataset.i === '{k}'", timeout=5000
            )
            cursor = page.evaluate(
                "() => document.getElementById('timeline').style.getPropertyValue('--pos')"
            )
            assert float(cursor.rstrip("%")) == pytest.approx(100 * mid / doc["duration"], abs=0.5)
        # a click on the third row seeks the video to that utterance's start
        page.locator("#transcript .utt").nth(2).click()
        t = page.evaluate("() => document.getElementById('media').currentTime")
        assert t == pytest.approx(utts[2]["start"], abs=0.01) and _current(page) == 2
        # a click on the timeline seeks there; the arrow keys move by 5 s
        plot = page.locator("#timeline .lane-plot").first
        box = plot.bounding_box()
        plot.click(position={"x": box["width"] * 0.75, "y": 10})
        t = page.evaluate("() => document.getElementById('media').currentTime")
        assert t == pytest.approx(0.75 * doc["duration"], abs=0.02 * doc["duration"])
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("() => document.getElementById('media').currentTime") == pytest.approx(
            5.0, abs=0.01
        )
        page.locator("#transcript .utt").nth(1).focus()
        page.keyboard.press("Enter")  # rows are buttons: the keyboard seeks too
        t = page.evaluate("() => document.getElementById('media').currentTime")
        assert t == pytest.approx(utts[1]["start"], abs=0.01)
        png = shots / f"report-{name}.png"
        page.screenshot(path=str(png), full_page=True)
        _not_blank(png)
        assert w.errors() == []
        # nothing but the page itself and the video beside it, by relative path
        assert set(w.requests) <= {page_file.as_uri(), video.as_uri()}, w.requests
        assert video.as_uri() in w.requests
        page.close()


@pytest.mark.slow
def test_a_ten_minute_report_opens_fast(browser: Any, tmp_path: Path) -> None:
    page_file = tmp_path / "long.html"
    write_report(long_result(10.0), page_file, picture=False)
    size = page_file.stat().st_size
    assert size < 5_000_000, size
    w = Watched(browser, 1280, 860)
    t0 = time.perf_counter()
    w.page.goto(page_file.as_uri(), wait_until="load")
    w.page.wait_for_selector("#timeline .lane-plot svg.band")
    seconds = time.perf_counter() - t0
    print(f"10-minute report: {size} bytes, opened with the timeline drawn in {seconds:.2f} s")
    assert w.page.locator("#timeline .lane").count() == 4
    assert seconds < 5.0  # measured ~0.4 s; a busy CI machine gets headroom
    assert w.errors() == []
    png = _shot_dir(tmp_path) / "report-10min.png"
    w.page.screenshot(path=str(png))
    _not_blank(png)
    w.page.close()
