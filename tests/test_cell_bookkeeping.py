"""ext/cell_bookkeeping.py: the source a code cell shows leaves out the glue calls and
the asserts that check the prose, in the rendered page only."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from builds import sphinx_build
from myst_nb.core.read import read_myst_markdown_notebook

from ext.cell_bookkeeping import shown_source

REPO = Path(__file__).resolve().parent.parent
ROOT = Path(__file__).parent / "roots" / "test-cell-bookkeeping"
# What no reader should see in a shown cell.
BOOKKEEPING = re.compile(r"\bglue\(|import glue|\bprose\b")
HIDING = {"remove-input", "remove-cell"}


def visible_bookkeeping(code: str) -> list[str]:
    return [line for line in code.splitlines() if BOOKKEEPING.search(line)]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    srcdir = tmp_path_factory.mktemp("bookkeeping") / "root"
    shutil.copytree(ROOT, srcdir)
    sphinx_build(srcdir, srcdir.parent / "jupyter", "-W")
    return srcdir


def shown_cells(page: str) -> list[str]:
    """The text of each code cell's source box on a built page."""
    boxes = re.findall(r'<div class="cell_input[^"]*">(.*?)</pre>', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", box)).strip("\n") for box in boxes]


def between(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def test_shown_cells_leave_the_bookkeeping_out(built):
    page = (built / "_build" / "cells.html").read_text(encoding="utf-8")
    cells = shown_cells(page)
    for code in cells:
        assert not visible_bookkeeping(code), code
    assert cells[:2] == [
        'total = sum(range(10))\nprint("the total is", total)',
        "squares = [n * n for n in range(5)]\nprint(squares)",
    ]
    # the glue still computed the prose's numbers, and the outputs are there
    assert 'The total is <span class="pasted-text">45</span>' in page
    assert 'twice the total <span class="pasted-text">90</span>' in page
    assert "the total is 45" in page and "[0, 1, 4, 9, 16]" in page
    # the hidden-input cell still folds what it shows, its toggle named by what it says
    folded = between(page, "</span>.</p>", "The last square")
    assert "Show code cell source" in folded
    assert "<summary>" in folded and "Toggle hidden content" not in folded


def test_a_cell_of_bookkeeping_alone_shows_no_empty_box(built):
    page = (built / "_build" / "cells.html").read_text(encoding="utf-8")
    assert len(shown_cells(page)) == 2
    assert "container" not in between(page, "The last square", "Between the cells")
    glued_with_display = between(page, "Between the cells", "The end.")
    assert "cell_input" not in glued_with_display  # its output stays, its source goes
    assert re.search(r'class="cell_output.*<pre><span></span>46\n</pre>', glued_with_display, re.S)


def test_the_notebooks_keep_every_line(built):
    """The executed notebook and the page's source keep what the page does not show."""
    executed = json.loads((built / "jupyter_execute" / "cells.ipynb").read_text("utf-8"))
    code = "".join("".join(c["source"]) for c in executed["cells"] if c["cell_type"] == "code")
    source = (built / "_build" / "_sources" / "cells.md.txt").read_text(encoding="utf-8")
    for line in (
        'glue("total", total, display=False)',
        "# what the prose below says",
        'assert total == 45, "the prose says: forty-five"',
    ):
        assert line in code and line in source


def test_no_chapter_shows_bookkeeping():
    """Every shown cell of every page, as the transform leaves it (without a build)."""
    pages = sorted((REPO / "docs").glob("**/*.md"))
    shown = 0
    for path in pages:
        text = path.read_text(encoding="utf-8")
        if "{code-cell}" not in text or "_build" in path.parts:
            continue
        for cell in read_myst_markdown_notebook(text).cells:
            tags = set(cell.metadata.get("tags", []))
            if cell.cell_type != "code" or tags & HIDING:
                continue
            shown += 1
            left = visible_bookkeeping(shown_source(cell.source))
            assert not left, f"{path.relative_to(REPO)}: {left}"
    assert shown > 50


def test_the_rule_keeps_the_code_around_it():
    source = (
        "x = 1\n"
        "glue('x', x)\n"
        "\n\n"
        "class A:\n"
        "    pass\n"
        "if x:\n"
        "    glue('y', 2)\n"
        "else:\n"
        "    print(x)\n"
        "assert x, 'no claim about the text'\n"
        "myst_nb.glue('z', 3)  # the module's name too\n"
    )
    assert shown_source(source) == (
        "x = 1\n\n\nclass A:\n    pass\nif x:\n    glue('y', 2)\nelse:\n    print(x)\n"
        "assert x, 'no claim about the text'"
    )  # an if whose other branch stays keeps its glue: an empty branch is not Python
    assert shown_source("print(1\n") == "print(1\n"  # not Python: shown as written
    assert shown_source("a = 1  # a prose comment, not an assert") == (
        "a = 1  # a prose comment, not an assert"
    )
