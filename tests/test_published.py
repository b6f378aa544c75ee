"""What the extensions publish as pages are written (ext/published.py): an edit's new file
replaces the old one in the site, and what a page not written again shows stays."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from builds import sphinx_build

ROOT = Path(__file__).parent / "roots" / "test-published"


def published(srcdir: Path) -> set[str]:
    return {p.name for p in (srcdir / "_build" / "_live").iterdir()}


def test_a_file_no_page_shows_any_more_leaves_the_site(tmp_path):
    srcdir = tmp_path / "root"
    shutil.copytree(ROOT, srcdir)
    sphinx_build(srcdir, tmp_path / "notebooks", "-W")
    assert published(srcdir) == {"a-1.js", "b-1.js"}
    # page a now shows another file: only a is written again; b's file stays
    (srcdir / "a.rst").write_text("A\n=\n\n.. shows-file:: a-2.js\n")
    done = sphinx_build(srcdir, tmp_path / "notebooks", "-W")
    written = set(re.findall(r"writing output\.\.\. \[[ \d]+%\] (\w+)", done.stdout))
    assert written == {"a", "index"}  # index: its toctree shows a's title
    assert published(srcdir) == {"a-2.js", "b-1.js"}
    assert "published files no page shows any more: 1 removed" in done.stdout


def test_a_site_written_before_pages_kept_lists_is_not_pruned(tmp_path):
    """A page whose list is missing (written by an older build) may show any file: the
    build removes nothing."""
    srcdir = tmp_path / "root"
    shutil.copytree(ROOT, srcdir)
    sphinx_build(srcdir, tmp_path / "notebooks", "-W")
    (lists,) = (srcdir / "_build" / ".doctrees" / "nanobook-published").iterdir()
    (lists / "b.json").unlink()
    (srcdir / "a.rst").write_text("A\n=\n\n.. shows-file:: a-2.js\n")
    sphinx_build(srcdir, tmp_path / "notebooks", "-W")
    assert published(srcdir) == {"a-1.js", "a-2.js", "b-1.js"}
