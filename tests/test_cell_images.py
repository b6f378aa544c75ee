"""ext/cell_images.py: a figure a code cell draws without an alt text is a located warning
with a hint; one with its cell's ``mystnb: image: alt`` is not, and its alt is published.
A figure whose cell draws a colour map wears the class nb-colour-map, a line plot not."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from builds import sphinx_build
from myst_nb.core.read import read_myst_markdown_notebook

from ext.cell_images import COLOUR_MAP, HINT, MESSAGE, draws_a_colour_map

ROOT = Path(__file__).parent / "roots" / "test-cell-images"


def build(srcdir: Path) -> str:
    """Build the root; returns what it said on stderr."""
    return sphinx_build(srcdir, srcdir.parent / "jupyter").stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str, str]:
    """The built root, what its first build said, and what a second one (reading nothing
    again) said."""
    srcdir = tmp_path_factory.mktemp("images") / "root"
    shutil.copytree(ROOT, srcdir)
    return srcdir, build(srcdir), build(srcdir)


def cell_line(srcdir: Path, after: str) -> int:
    """The page's line of the first code cell after the sentence ``after``."""
    lines = (srcdir / "index.md").read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(after))
    return next(n for n in range(start, len(lines)) if lines[n].startswith("```{code-cell}")) + 1


def test_a_figure_without_alt_is_a_warning_at_its_cell_and_one_with_alt_is_not(built):
    srcdir, said, _ = built
    warnings = [line for line in said.splitlines() if "WARNING" in line]
    without = cell_line(srcdir, "A figure that does not")
    assert warnings == [f"{srcdir / 'index.md'}:{without}: WARNING: {MESSAGE}"]
    assert f"  hint: {HINT} [nanobook.cell-image]" in said


def test_the_warning_is_said_again_by_a_build_that_does_not_read_the_page(built):
    srcdir, _, again = built
    without = cell_line(srcdir, "A figure that does not")
    assert f"index.md:{without}: WARNING: {MESSAGE}" in again


def test_the_alt_of_the_cell_is_the_image_alt_in_the_page(built):
    srcdir, _, _ = built
    html = (srcdir / "_build" / "index.html").read_text()
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
    assert alts[0] == "One black pixel, the whole figure."
    assert alts[1].endswith(".png")  # the cell without: its file name


class Images(HTMLParser):
    """The ``<img>`` tags of a page: each one's attributes."""

    def __init__(self, page: str):
        super().__init__()
        self.found: list[dict[str, str]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.found.append({name: value or "" for name, value in attrs})


def figures(page: str) -> list[tuple[str, list[str]]]:
    """(alt text, classes) of each figure a cell drew on a page: an image MyST-NB publishes
    under the hash of its bytes."""
    return [
        (" ".join(img.get("alt", "").split()), img.get("class", "").split())
        for img in Images(page).found
        if FIGURE_FILE.fullmatch(Path(img.get("src", "")).name)
    ]


def test_a_colour_map_gets_its_class_and_a_line_plot_does_not(built):
    """A cell that draws a colour map needs no option for its figure to get the class
    nanobook.css shows unbrightened in dark mode: shown or removed, its code says so. A line
    plot, whose comment names a colour map it does not draw, is brightened as before."""
    srcdir, _, _ = built
    page = (srcdir / "_build" / "index.html").read_text()
    classes = {img["alt"]: img.get("class", "").split() for img in Images(page).found}
    assert COLOUR_MAP in classes["A two-pixel heatmap and its colour bar."]
    assert COLOUR_MAP in classes["A two-pixel heatmap."]  # its cell's input removed
    assert COLOUR_MAP not in classes["A rising line."]
    assert COLOUR_MAP not in classes["One black pixel, the whole figure."]


DOCS = Path(__file__).parent.parent / "docs"
FIGURE_FILE = re.compile(r"[0-9a-f]{64}\.(?:png|jpg|svg)")


def figure_cells(page: Path) -> dict[str, list[dict]]:
    """The code cells of a page that give their figures an alt text, by that alt text."""
    found = {}
    for cell in read_myst_markdown_notebook(page.read_text(encoding="utf-8")).cells:
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt")
        if cell.cell_type == "code" and alt:
            found.setdefault(" ".join(str(alt).split()), []).append(cell)
    return found


def draws_or_marks_a_colour_map(cell: dict) -> bool:
    """Whether a cell's code draws a colour map, or its options mark its figure as one."""
    image = cell["metadata"].get("mystnb", {}).get("image", {})
    return draws_a_colour_map(cell["source"]) or COLOUR_MAP in str(image.get("classes", ""))


def test_every_figure_of_the_book_drawn_as_a_colour_map_wears_its_class(book_html):
    """The dark page shows plots brighter (nanobook.css), which turned a colour map's pale
    end white: the attention maps' weights near 1 looked alike and no longer matched their
    colour bar. In the built book every figure a cell draws (found by its alt text, which
    the build requires) wears nb-colour-map, shown unfiltered on a white card in dark mode,
    if its cell draws a colour map (or marks it by hand), and only then: a line plot keeps
    the brightening that makes its grey ink read."""
    maps, plots, wrong = 0, 0, []
    for page in sorted(DOCS.rglob("*.md")):
        built = book_html / page.relative_to(DOCS).with_suffix(".html")
        if "_build" in page.parts or "scenes" in page.parts or not built.is_file():
            continue
        cells = figure_cells(page)
        for alt, classes in figures(built.read_text(encoding="utf-8")):
            assert alt in cells, f"{page.name}: no cell gives a figure the alt {alt!r}"
            is_map = any(draws_or_marks_a_colour_map(cell) for cell in cells[alt])
            maps, plots = maps + is_map, plots + (not is_map)
            if (COLOUR_MAP in classes) != is_map:
                wrong.append(f"{page.name}: {alt[:50]!r}: a colour map: {is_map}, {classes}")
    assert not wrong, wrong
    assert maps >= 3 and plots >= 3  # the attention maps, the embeddings', RoPE's; curves
