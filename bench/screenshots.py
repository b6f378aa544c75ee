"""Screenshots of every chapter as a reader first meets it: 1280 px wide in the light
theme and 390 px (a phone) in the dark, the first screen and a half, as WebP.

    python bench/screenshots.py [HTML] [--out docs/screenshots/chapters]
    python bench/screenshots.py [HTML] --start-picture

HTML is a built book (default docs/_build/html). Served over HTTP, clips not played.
--start-picture instead remakes the start page's and the README's picture
(docs/_static/readme-attention.png): the attention chapter's annotated forward() at
1280 x 820, light, from "def forward" down.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright
from run import book_build, served

ROOT = Path(__file__).resolve().parent.parent
START_PICTURE = ROOT / "docs/_static/readme-attention.png"
VIEWS = {
    "1280-light": ({"width": 1280, "height": 800}, "light", 1200),
    "390-dark": ({"width": 390, "height": 844}, "dark", 1400),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", type=Path, default=ROOT / "docs/_build/html")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/screenshots/chapters")
    parser.add_argument("--start-picture", action="store_true", help=f"remake {START_PICTURE}")
    args = parser.parse_args()
    if args.start_picture:
        return start_picture(args.html)
    args.out.mkdir(parents=True, exist_ok=True)
    chapters = sorted(p.stem for p in (args.html / "chapters").glob("*.html"))
    with served(args.html) as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**book_build.chromium())
        for view, (viewport, scheme, height) in VIEWS.items():
            context = browser.new_context(
                viewport=viewport, color_scheme=scheme, reduced_motion="reduce"
            )
            page = context.new_page()
            for chapter in chapters:
                page.goto(f"{site}chapters/{chapter}.html")
                page.wait_for_load_state("networkidle")
                page.set_viewport_size({"width": viewport["width"], "height": height})
                page.wait_for_timeout(800)  # the players settle after the resize
                png = page.screenshot()
                page.set_viewport_size(viewport)
                path = args.out / f"{chapter}-{view}.webp"
                Image.open(io.BytesIO(png)).save(path, "WEBP", quality=80, method=6)
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            context.close()
        browser.close()


def start_picture(html: Path) -> None:
    """The attention chapter's annotated CausalSelfAttention.forward, as a reader sees it:
    the notes above their lines, line numbers, and the shapes each line produced."""
    with served(html) as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**book_build.chromium())
        page = browser.new_page(viewport={"width": 1280, "height": 820}, color_scheme="light")
        page.goto(f"{site}chapters/attention.html")
        page.wait_for_load_state("networkidle")
        forward = page.locator(".annotated-source .as-line", has_text="def forward(self, x)")
        forward.first.evaluate("line => line.scrollIntoView({block: 'start'})")
        page.evaluate("window.scrollBy(0, -120)")  # the note above the line too
        page.wait_for_timeout(800)
        picture = Image.open(io.BytesIO(page.screenshot())).convert("RGB").quantize(256)
        picture.save(START_PICTURE, optimize=True)  # 256 colours: a third of the bytes
        print(START_PICTURE.relative_to(ROOT))
        browser.close()


if __name__ == "__main__":
    main()
