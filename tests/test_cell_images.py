"""ext/cell_images.py: a figure a code cell draws without an alt text is a located warning
with a hint; one with its cell's ``mystnb: image: alt`` is not, and its alt is published."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from builds import sphinx_build

from ext.cell_images import HINT, MESSAGE

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
    assert len(alts) == 2 and alts[1].endswith(".png")  # the cell without: its file name


DOCS = Path(__file__).parent.parent / "docs"
CODE_CELL = re.compile(r"^(`{3,}|~{3,})\{code-cell\}[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)
DRAWS_A_COLOUR_MAP = re.compile(r"\b(?:imshow|matshow|pcolormesh|pcolor|contourf?|colorbar)\(")
MARKED = re.compile(r"^\s+classes:.*\bnb-colour-map\b", re.M)


def test_a_cell_that_draws_a_colour_map_marks_its_figure():
    """The dark page shows plots brighter (nanobook.css), which turned a colour map's pale
    end white: the attention maps' weights near 1 looked alike and no longer matched their
    colour bar. A cell that draws one marks its figure ``classes: nb-colour-map``, shown
    there unfiltered on a white card; a chapter cell without the mark fails here."""
    marked, unmarked = 0, []
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        for cell in CODE_CELL.finditer(text):
            if not DRAWS_A_COLOUR_MAP.search(cell.group(2)):
                continue
            if MARKED.search(cell.group(2)):
                marked += 1
            else:
                line = text.count("\n", 0, cell.start()) + 1
                unmarked.append(f"{page.relative_to(DOCS)}:{line}")
    assert not unmarked, f"cells that draw a colour map without classes: nb-colour-map: {unmarked}"
    assert marked >= 3  # the attention maps, the embeddings' similarities, RoPE's scores
