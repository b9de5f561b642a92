"""Make the README's pictures from an annotate run of the shipped example (``make demo``).

    make demo                                   # out/annotated.mp4, .html, .timeline.png, ...
    .venv/bin/python assets/make_pictures.py    # -> assets/annotated_frame.jpg, report.jpg, timeline.png

- ``annotated_frame.jpg``: the annotated video at --at seconds (caption, face box, face bars);
- ``report.jpg``: the top of the HTML report at laptop width, shot in headless Chromium through
  Playwright (``apt-get install chromium``; the page's video paused at --at);
- ``timeline.png``: a copy of the run's ``annotated.timeline.png``.
Each stays under 300 KB.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
from PIL import Image

HERE = Path(__file__).resolve().parent
LIMIT = 300_000  # bytes per picture


def save_jpeg(img: Image.Image, path: Path) -> None:
    for quality in (85, 75, 65, 55):
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
        if buf.tell() < LIMIT:
            break
    path.write_bytes(buf.getvalue())


def frame_at(video: Path, t: float) -> Image.Image:
    png = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-ss", f"{t}", "-i", str(video),
         "-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return Image.open(io.BytesIO(png))


def report_shot(page: Path, t: float, width: int = 1280, height: int = 1120) -> Image.Image:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "chromium", args=["--no-sandbox"]
        )
        tab = browser.new_page(viewport={"width": width, "height": height})
        tab.goto(page.resolve().as_uri())
        tab.wait_for_function("() => document.getElementById('media').readyState >= 2")
        # No controls over the burned-in caption in the picture; wait until the seek has landed.
        tab.evaluate(
            f"() => {{ const m = document.getElementById('media'); m.controls = false; "
            f"m.currentTime = {t}; }}"
        )
        tab.wait_for_function(
            "() => { const m = document.getElementById('media'); return !m.seeking && m.readyState >= 2 }"
        )
        tab.wait_for_function("() => document.querySelector('#transcript .current') !== null")
        tab.wait_for_timeout(500)
        png = tab.screenshot(full_page=False)
        browser.close()
    return Image.open(io.BytesIO(png))


def main() -> None:
    ap = argparse.ArgumentParser(description="Make the README's pictures from an annotate run.")
    ap.add_argument("video", nargs="?", type=Path, default=Path("out/annotated.mp4"))
    ap.add_argument("--at", type=float, default=14.2, help="seconds: the moment shown")
    args = ap.parse_args()
    video: Path = args.video
    save_jpeg(frame_at(video, args.at), HERE / "annotated_frame.jpg")
    save_jpeg(report_shot(video.with_suffix(".html"), args.at), HERE / "report.jpg")
    shutil.copyfile(video.with_suffix(".timeline.png"), HERE / "timeline.png")
    for name in ("annotated_frame.jpg", "report.jpg", "timeline.png"):
        size = (HERE / name).stat().st_size
        print(f"{name}: {size} bytes")
        if size >= LIMIT:
            raise SystemExit(f"{name} is over {LIMIT} bytes")


if __name__ == "__main__":
    main()
