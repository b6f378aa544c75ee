"""The theme's icons at the size of the icons the book uses.

pydata-sphinx-theme's stylesheet carries a rule for each of Font Awesome's 2,000 icons
(about 66 kB) and its solid web font every glyph (115 kB), on every page, for the ten or
so icons the pages show. After an HTML build this extension keeps, in the copied theme
files, the rules of the icons the built pages and scripts name and the glyphs that any
stylesheet draws; the rest is removed. Sphinx copies the theme's files afresh on every
build, so each build starts from the originals; a font's cut is kept in the book's
store. (The theme's 1.5 MB script that redraws icons as SVG is replaced outright, by
``docs/_static/scripts/fontawesome.js``.)
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.util import logging

from buildlib import keys, store
from buildlib.files import atomic_write

from ._core import cache_root, setup_core

logger = logging.getLogger(__name__)

STYLESHEET = Path("_static", "styles", "pydata-sphinx-theme.css")
FONTS = Path("_static", "vendor", "fontawesome", "webfonts")
ICON_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+,?)+)\{--fa:"((?:\\.|[^"\\])*)"\}')
ICON_NAME = re.compile(r"\bfa-[a-z0-9-]+")
# A glyph in a stylesheet: "\f0c9" (hex escape) or "\!" (an escaped character)
GLYPH = re.compile(r'"((?:\\[0-9a-fA-F]{1,6}\s?|\\.|[^"\\]){1,2})"')


def names_in_use(outdir: Path) -> set[str]:
    """Every ``fa-…`` token in the built pages and scripts: what may show an icon."""
    names: set[str] = set()
    for path in [*outdir.rglob("*.html"), *outdir.glob("_static/**/*.js")]:
        names.update(ICON_NAME.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


def keep_used_rules(css: str, used: set[str]) -> str:
    def keep(rule: re.Match) -> str:
        return rule[0] if set(ICON_NAME.findall(rule[1])) & used else ""

    return ICON_RULE.sub(keep, css)


def codepoints(css: str) -> set[int]:
    """The characters a stylesheet's quoted one- or two-character strings draw."""
    found = set()
    for text in GLYPH.findall(css):
        for escape in re.findall(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)|(.)", text):
            hex_, escaped, plain = escape
            found.add(int(hex_, 16) if hex_ else ord(escaped or plain))
    return found


def slim_font(path: Path, keep: set[int], cache: Path) -> tuple[int, int]:
    """Cut the font in place to the characters ``keep``; (bytes before, after). The cut
    is an entry of the book's store: a rebuild copies it instead of cutting again."""
    before = path.stat().st_size
    key = keys.digest(path.read_bytes(), *map(str, sorted(keep)), *keys.producer_code(__file__))

    def make(tmp: Path) -> None:
        shutil.copyfile(path, tmp / path.name)
        subset_font(tmp / path.name, keep)
        store.write_meta(tmp, {"files": {"font": path.name}})

    fonts = store.Store(cache / "fonts", log=logger.info)
    cut = fonts.get_or_make(key, make, parse=lambda entry, meta: entry / meta["files"]["font"])
    atomic_write(path, cut.read_bytes())
    return before, path.stat().st_size


def subset_font(path: Path, keep: set[int]) -> None:
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    font = subset.load_font(str(path), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=keep & set(font.getBestCmap()))
    subsetter.subset(font)
    subset.save_font(font, str(path), options)


def slim_icons(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    stylesheet = outdir / STYLESHEET
    if not stylesheet.is_file():
        return  # another theme
    css = stylesheet.read_text(encoding="utf-8")
    slim = keep_used_rules(css, names_in_use(outdir))
    atomic_write(stylesheet, slim)
    drawn = set()
    for sheet in outdir.glob("_static/**/*.css"):
        drawn |= codepoints(sheet.read_text(encoding="utf-8", errors="replace"))
    fonts = sorted((outdir / FONTS).glob("*.woff2"))
    sizes = [slim_font(font, drawn, cache_root(app)) for font in fonts]
    logger.info(
        f"lean theme: icon rules {len(css):,} -> {len(slim):,} bytes; icon fonts "
        f"{sum(b for b, _ in sizes):,} -> {sum(a for _, a in sizes):,} bytes"
    )


def setup(app):
    setup_core(app)
    app.connect("build-finished", slim_icons)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
