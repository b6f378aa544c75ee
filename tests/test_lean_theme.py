"""The theme's stylesheets cut to what the book uses (ext/lean_theme.py), in a build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from builds import sphinx_build

from ext import lean_theme

ROOT = Path(__file__).parent / "roots" / "test-lean-theme"


def test_a_rebuild_keeps_the_sites_styles_while_it_reads_pages_and_cuts_them_again(tmp_path):
    """A preview (livedocs) serves the site while a build reads pages, which can take
    minutes: the stylesheets stay in place until then, and the build still ends with
    cut copies of the originals, without a warning."""
    srcdir = tmp_path / "root"
    shutil.copytree(ROOT, srcdir)
    sphinx_build(srcdir, tmp_path / "notebooks", "-W")
    out = srcdir / "_build"
    sheets = {p: p.stat().st_size for p in lean_theme.stylesheets(out)}
    assert any(p.name == "pydata-sphinx-theme.css" for p in sheets)
    sphinx_build(srcdir, tmp_path / "notebooks", "-W", "-E")  # every page read again
    while_reading = json.loads((out / "while-reading.json").read_text())
    assert {str(p.relative_to(out)) for p in sheets} <= set(while_reading)
    assert any(name.startswith("_static/mystnb.") for name in while_reading)
    assert {p: p.stat().st_size for p in lean_theme.stylesheets(out)} == sheets
