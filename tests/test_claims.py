"""ext/claims.py and buildlib/claim_values.py: a claim that fails warns at its line,
with what was measured, and its page is published without what rests on it.

The builds run as `python -m sphinx` in a process of their own, as a maintainer runs
them (MyST-NB's parser registration does not survive other test apps in one process).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from builds import sphinx_build

ROOT = Path(__file__).parent / "roots" / "test-claims"


def build(srcdir: Path, *options: str) -> subprocess.CompletedProcess:
    return sphinx_build(srcdir, srcdir / "_jupyter", *options, check=False)


@pytest.fixture(scope="module")
def failed_build(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    srcdir = tmp_path_factory.mktemp("claims") / "book"
    shutil.copytree(ROOT, srcdir)
    return build(srcdir, "-W", "--keep-going"), srcdir / "_build"


def said_at_the_assert(result: subprocess.CompletedProcess, page: str) -> str:
    """What the build's warning at the line of the page's assert says the claim was."""
    lines = (ROOT / page).read_text().splitlines()
    assert_line = next(i for i, line in enumerate(lines, 1) if line.startswith("assert "))
    warning = re.search(
        rf"{re.escape(page)}:{assert_line}: WARNING: a claim did not hold: (.*)", result.stderr
    )
    assert warning, result.stderr
    return warning.group(1)


def test_a_failed_claim_is_a_warning_at_its_line_with_the_values_measured(failed_build):
    result, _ = failed_build
    assert said_at_the_assert(result, "fails.md") == (
        "the prose says: masked ahead in both seeds (assert min(early_m) > max(early_u); "
        "measured: early_m = [0.0, 0.0], early_u = [0.027, 0.007])"
    )
    assert "hint: the page is published without the text after this cell" in result.stderr
    # said once, by us: not MyST-NB's unlocated "Executing notebook failed" and report path
    assert "Executing notebook failed" not in result.stderr
    assert result.stderr.count("fails.md") == 1


def test_a_claim_in_a_hidden_cell_is_said_at_its_line_too(failed_build):
    """A remove-cell cell shows no traceback on the page: the kernel's own, in terminal
    colours, gives the line and the claim."""
    result, out = failed_build
    assert said_at_the_assert(result, "hidden.md") == (
        "the prose says: the rest sets most of the direction in every seed "
        "(assert max(shares) < 0.5; measured: shares = [0.52, 0.12])"
    )
    assert result.stderr.count("WARNING") == 2  # this page's and fails.md's, no others
    assert "In every seed the rest sets" not in (out / "hidden.html").read_text(encoding="utf-8")


def test_warnings_as_errors_fail_the_build_after_every_page_is_written(failed_build):
    result, out = failed_build
    assert result.returncode == 1
    assert "build finished with problems" in result.stdout + result.stderr
    holds = (out / "holds.html").read_text(encoding="utf-8")
    assert 'Ahead in both seeds, by <span class="pasted-text">40% and 30%' in holds
    assert "left out" not in holds


def test_the_failed_page_says_nothing_that_rests_on_the_claim(failed_build):
    _, out = failed_build
    page = (out / "fails.html").read_text(encoding="utf-8")
    assert "Before the experiment." in page
    assert "starts sooner" not in page and "More that rests on the claim" not in page
    assert "This build stopped checking the page here: a claim did not hold" in page
    assert "Part of this page is left out of this build" in page
    assert 'id="fails-later"' in page  # headings stay: links to them still land


def test_the_run_box_offers_only_a_notebook_that_was_made(failed_build):
    _, out = failed_build
    assert "offers no notebook to download" in (out / "fails.html").read_text(encoding="utf-8")
    assert "Download fails.ipynb" not in (out / "fails.html").read_text(encoding="utf-8")
    assert "Download holds.ipynb" in (out / "holds.html").read_text(encoding="utf-8")


CELLS = Path(__file__).parent / "roots" / "test-claims-cells"


@pytest.fixture(scope="module")
def cells_build(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The pages whose cells fail otherwise than by a claim, built as the book builds
    them: executed early (ext/notebooks.py), then again while each is read."""
    srcdir = tmp_path_factory.mktemp("cells") / "book"
    shutil.copytree(CELLS, srcdir)
    return build(srcdir, "-W", "--keep-going"), srcdir


def line_of(page: str, text: str) -> int:
    lines = (CELLS / page).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(text))


def test_a_cell_that_ends_its_kernel_is_a_warning_at_the_cell_and_the_build_goes_on(
    cells_build,
):
    result, srcdir = cells_build
    said = f"dies.md:{line_of('dies.md', 'import os')}: WARNING: a cell failed: the kernel running"
    assert "Extension error" not in result.stderr and result.returncode == 1
    assert re.search(
        rf"{re.escape(said)} it died\n  hint: run the cell in Jupyter to see why its process "
        r"ended .*the page is published without the text after it \[nanobook\.claim\]",
        result.stderr,
    ), result.stderr
    page = (srcdir / "_build" / "dies.html").read_text(encoding="utf-8")
    assert "Before the cell." in page and 'id="dies-later"' in page
    assert "After the cell" not in page and "More after the cell" not in page
    assert "This build stopped checking the page here: a cell failed" in page
    assert "this page ran 42" in (srcdir / "_build" / "works.html").read_text(encoding="utf-8")

    warm = build(srcdir, "-W", "--keep-going")  # reads no page: the warnings are kept
    assert "0 added, 0 changed, 0 removed" in warm.stdout and warm.returncode == 1
    assert said in warm.stderr


def test_a_cell_that_raises_is_said_by_its_error_and_told_to_be_fixed(cells_build):
    result, srcdir = cells_build
    reports = srcdir / "_build" / "reports"
    raised = line_of("message.md", "raise ValueError")
    assert (
        f"message.md:{raised}: WARNING: a cell failed: ValueError: over the limit of 3 …\n"
        f"  hint: fix the cell (its traceback: {reports / 'message.err.log'}); the page is "
        "published without the text after it [nanobook.claim]"
    ) in result.stderr
    assert "second line of the message" in (reports / "message.err.log").read_text()
    # a hidden cell's group of errors: said by the group's message, at the cell
    grouped = line_of("group.md", "errors = ")
    assert (
        f"group.md:{grouped}: WARNING: a cell failed: ExceptionGroup: two checks failed "
        "(2 sub-exceptions)\n  hint: fix the cell"
    ) in result.stderr
    assert "decide it over more seeds" not in result.stderr  # no claim failed here
    assert result.stderr.count("WARNING") == 3
