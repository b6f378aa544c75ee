"""The theme's stylesheets and icons at the size of what the book uses.

The stylesheets the theme and extensions ship (pydata-sphinx-theme's, with Bootstrap and a
rule for each of Font Awesome's 2,000 icons; sphinx-design's; MyST-NB's) are about 500 kB
on every page's first visit, most of it rules for classes no page or script of the book
names. After an HTML build this extension keeps, in those copied files, the rules whose
class and id names occur somewhere in the built pages or scripts (as words: a rule is
dropped only if a name it needs appears nowhere), and in the icon fonts the glyphs that
any stylesheet still draws. Once pages are read, a build removes the last build's cut
copies, so Sphinx and MyST-NB copy the originals again; a font's cut is kept in the book's
store.
(The theme's 1.5 MB script that redraws icons as SVG is replaced outright, by
``docs/_static/scripts/fontawesome.js``.)
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from sphinx.util import logging

from buildlib import keys, store
from buildlib.files import atomic_write

from ._core import cache_root, setup_core

logger = logging.getLogger(__name__)

# the stylesheets pruned: the theme's and the extensions', never the book's own
STYLESHEETS = (
    "_static/styles/pydata-sphinx-theme.css",
    "_static/styles/sphinx-book-theme.css",
    "_static/sphinx-design.min.css",
    "_static/mystnb.*.css",
    "_static/basic.css",
)
FONTS = Path("_static", "vendor", "fontawesome", "webfonts")
# the source map of the theme's icon script, which the book's own replaces (1.8 MB)
REPLACED_SCRIPT_MAP = Path("_static", "scripts", "fontawesome.js.map")
WORD = re.compile(r"[A-Za-z0-9_-]+")
# a class or id in a selector (with CSS escapes, as in `.sm\:flex`)
NAME = re.compile(r"[.#]((?:[A-Za-z0-9_-]|\\.)+)")
# what a selector's names are read without: attribute tests, whose values are not names,
# and functional pseudo-classes (:not(.a) holds where .a is absent; :is() needs only one)
UNREAD = re.compile(r"\[[^\]]*\]|:[a-z-]+\((?:[^()]|\([^()]*\))*\)")
# Bootstrap's script builds these classes from parts ("bs-" + "tooltip" + "-auto")
BUILT_BY_SCRIPT = re.compile(r"bs-[a-z]+-auto")
# at-rules holding rules (pruned inside); any other block (@font-face, @keyframes) is kept
GROUPING = ("@media", "@supports", "@layer", "@container")
COMMENT = re.compile(r"/\*.*?\*/", re.S)
# the original's source map, which no longer describes a cut copy (devtools would show
# rules at the wrong lines): the reference goes, and the map with it
SOURCE_MAP = re.compile(r"/\*# sourceMappingURL=.*?\*/", re.S)
# A glyph in a stylesheet: "\f0c9" (hex escape) or "\!" (an escaped character)
GLYPH = re.compile(r'"((?:\\[0-9a-fA-F]{1,6}\s?|\\.|[^"\\]){1,2})"')


def words_in_use(outdir: Path) -> set[str]:
    """Every word of the built pages and scripts: what may name a class or an id."""
    words: set[str] = set()
    for path in [*outdir.rglob("*.html"), *outdir.glob("_static/**/*.js")]:
        words.update(WORD.findall(path.read_text(encoding="utf-8", errors="replace")))
    return words


def _skip_string(css: str, i: int) -> int:
    """The index just past the quoted string that starts at i."""
    quote, i = css[i], i + 1
    while css[i] != quote:
        i += 2 if css[i] == "\\" else 1
    return i + 1


def _block_end(css: str, i: int) -> int:
    """The index just past the block whose "{" is at i."""
    depth, i = 1, i + 1
    while depth:
        if css[i] in "\"'":
            i = _skip_string(css, i)
            continue
        depth += {"{": 1, "}": -1}.get(css[i], 0)
        i += 1
    return i


def pieces(css: str) -> Iterator[tuple[str, str | None]]:
    """The stylesheet's top-level pieces, in order: (prelude, body) for a block,
    (text, None) for a statement, or for a /*! comment (a licence) between rules."""
    start = i = 0
    while i < len(css):
        if css.startswith("/*", i):
            end = css.index("*/", i) + 2
            if css.startswith("/*!", i) and not css[start:i].strip():
                yield css[i:end], None
                start = end
            i = end  # any other comment stays in the prelude it is in
        elif css[i] in "\"'":
            i = _skip_string(css, i)
        elif css[i] == ";":
            yield css[start : i + 1], None
            i = start = i + 1
        elif css[i] == "{":
            end = _block_end(css, i)
            yield css[start:i], css[i + 1 : end - 1]
            i = start = end
        else:
            i += 1
    if css[start:].strip():
        yield css[start:], None


def selectors(prelude: str) -> list[str]:
    """A rule's selectors: its prelude, without comments, split at its top-level commas."""
    parts, depth, current = [], 0, []
    for char in COMMENT.sub("", prelude):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*parts, "".join(current)]


def named(selector: str, words: set[str]) -> bool:
    """Whether every class and id the selector needs occurs among `words`."""
    for name in NAME.findall(UNREAD.sub("", selector)):
        # an escaped name (".sm\\:flex") is looked for word by word
        if not BUILT_BY_SCRIPT.fullmatch(name) and not words.issuperset(WORD.findall(name)):
            return False
    return True


def keep_used_rules(css: str, words: set[str]) -> str:
    """The stylesheet with only the rules whose names occur among `words`: a rule keeps
    the selectors that do, a grouping rule (@media...) what it keeps inside, if anything."""
    kept = []
    for prelude, body in pieces(css):
        head = COMMENT.sub("", prelude).strip()
        if body is None or (head.startswith("@") and not head.startswith(GROUPING)):
            kept.append(SOURCE_MAP.sub("", prelude) if body is None else f"{prelude}{{{body}}}")
        elif head.startswith("@"):
            inside = keep_used_rules(body, words)
            kept.append(f"{prelude}{{{inside}}}" if inside.strip() else "")
        elif used := [s for s in selectors(prelude) if named(s, words)]:
            kept.append(f"{','.join(used)}{{{body}}}")
    return "".join(kept)


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


def stylesheets(outdir: Path) -> list[Path]:
    """The copies of STYLESHEETS in the output."""
    return sorted({path for pattern in STYLESHEETS for path in outdir.glob(pattern)})


def copy_afresh(app, env) -> list[str]:
    """env-updated: remove the last build's cut copies, so that the originals are copied
    again (MyST-NB copies its stylesheet only where no other file is: a cut copy would
    stay, with a warning). Not before: while pages are read, which can take minutes, the
    site a preview serves keeps its styles."""
    if app.builder.format == "html":
        for sheet in stylesheets(Path(app.outdir)):
            sheet.unlink()
    return []


def slim_theme(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    words = words_in_use(outdir)
    sheets = stylesheets(outdir)
    before = after = 0
    for sheet in sheets:
        css = sheet.read_text(encoding="utf-8")
        slim = keep_used_rules(css, words)
        atomic_write(sheet, slim)
        sheet.with_name(f"{sheet.name}.map").unlink(missing_ok=True)
        before, after = before + len(css), after + len(slim)
    (outdir / REPLACED_SCRIPT_MAP).unlink(missing_ok=True)
    drawn = set()
    for sheet in outdir.glob("_static/**/*.css"):
        drawn |= codepoints(sheet.read_text(encoding="utf-8", errors="replace"))
    fonts = sorted((outdir / FONTS).glob("*.woff2"))
    sizes = [slim_font(font, drawn, cache_root(app)) for font in fonts]
    logger.info(
        f"lean theme: {len(sheets)} stylesheets {before:,} -> {after:,} bytes; icon fonts "
        f"{sum(b for b, _ in sizes):,} -> {sum(a for _, a in sizes):,} bytes"
    )


def setup(app):
    setup_core(app)
    app.connect("env-updated", copy_afresh)
    app.connect("build-finished", slim_theme)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
