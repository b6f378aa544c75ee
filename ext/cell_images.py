"""A figure a code cell draws must say what it shows to a reader who cannot see it.

MyST-NB writes each image a cell outputs (a matplotlib figure, an image/png) as an image
node whose alt text is the cell's ``mystnb: image: alt`` option; without it, the HTML
writer falls back to the file's path, and a screen reader reads out a hash. So every
image among a code cell's outputs without an alt text is a warning at the cell's line,
said while the page is read (``_core.warn`` says it again on every build that does not
re-read the page, until the cell has its alt).

A figure whose cell draws a colour map (a heatmap, a colour bar) gets the class
``nb-colour-map`` on its image, with no option from the author: the dark page shows
plots brighter so their grey ink reads (nanobook.css), which turns a colour map's pale
end white, unlike its colour bar; a figure with the class is shown there unfiltered on a
white card instead. The sign is the cell's code: the outputs say nothing of what a
figure holds (matplotlib's inline backend gives each the same ``needs_background``), and
its pixels would only let us guess. A cell that draws one through a helper of its own,
which the code does not name, can still say so by hand: ``mystnb: image: classes:
nb-colour-map``.
"""

from __future__ import annotations

import io
import itertools
import re
import tokenize
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

from . import _core, myst_pages

logger = logging.getLogger(__name__)

SUBTYPE = "cell-image"
MESSAGE = "a figure this code cell draws has no alt text: a screen reader reads out its file name"
HINT = (
    "give the cell, in its options block, mystnb: {image: {alt: what the figure shows}}: "
    "what is plotted against what, and what to notice"
)


FENCE = re.compile(r"\s*(?:`{3,}|~{3,}|:{3,})\{code-cell\}")
COLOUR_MAP = "nb-colour-map"  # the class nanobook.css shows unbrightened in dark mode
# What draws a colour map when called: matplotlib's (pyplot's or an Axes'), a colour bar.
COLOUR_MAP_CALLS = frozenset(
    {"imshow", "matshow", "pcolormesh", "pcolor", "contour", "contourf", "colorbar"}
)


def fence_line(source: str, line: int | None) -> int | None:
    """The line of the ``{code-cell}`` fence that opens the cell MyST-NB places at
    ``line`` (a line or two inside it, after the fence and any options); ``line`` itself
    when the page's text has no fence at or before it (a page read from a notebook)."""
    if not line:
        return line
    lines = source.splitlines()
    for number in range(min(line, len(lines)), 0, -1):
        if FENCE.match(lines[number - 1]):
            return number
    return line


def code_tokens(code: str) -> list[tokenize.TokenInfo]:
    """The tokens of ``code`` but its comments and line ends, as far as it tokenizes."""
    tokens = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type not in {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT}:
                tokens.append(token)
    except (tokenize.TokenError, SyntaxError):  # an unclosed bracket or string: so far
        pass
    return tokens


def draws_a_colour_map(code: str) -> bool:
    """Whether a cell's code calls what draws a colour map: a name of COLOUR_MAP_CALLS
    followed by "(" (a comment or a string naming one is no call)."""
    tokens = code_tokens(code)
    return any(
        name.type == tokenize.NAME and name.string in COLOUR_MAP_CALLS and after.string == "("
        for name, after in itertools.pairwise(tokens)
    )


def cell_code(cell: nodes.Element, cells: list[myst_pages.Cell]) -> str:
    """The code of a code cell: what it shows, or for a cell whose input is removed, its
    source as the page's text has it: of the page's ``cells`` (myst_pages), the last that
    opens at or before the node's line ("" if none does: a page read from a notebook)."""
    for part in cell.findall(nodes.container):
        if part.get("nb_element") == "cell_code_source":
            return part.astext()
    opened = [code for code in cells if cell.line and code.line <= cell.line]
    return opened[-1].source if opened else ""


def output_images(cell: nodes.Element):
    """The image nodes among a code cell's outputs."""
    for output in cell.findall(nodes.container):
        if output.get("nb_element") == "cell_code_output":
            yield from output.findall(nodes.image)


def code_cells(doctree: nodes.document):
    return (c for c in doctree.findall(nodes.container) if c.get("nb_element") == "cell_code")


def mark_colour_maps(doctree: nodes.document, cells: list[myst_pages.Cell]) -> None:
    """Give every image of a cell that draws a colour map the class ``nb-colour-map``."""
    for cell in code_cells(doctree):
        images = list(output_images(cell))
        if images and draws_a_colour_map(cell_code(cell, cells)):
            for image in images:
                if COLOUR_MAP not in image["classes"]:
                    image["classes"].append(COLOUR_MAP)


def images_without_alt(doctree: nodes.document) -> list[tuple[nodes.Element, int]]:
    """Each code cell (its node, how many of its output images lack an alt text) that has
    an output image without one; a blank alt counts as none."""
    found = []
    for cell in code_cells(doctree):
        missing = sum(1 for image in output_images(cell) if not str(image.get("alt", "")).strip())
        if missing:
            found.append((cell, missing))
    return found


def page_text(app, docname: str) -> str:
    try:
        with open(app.env.doc2path(docname), encoding="utf-8") as page:
            return page.read()
    except (OSError, UnicodeDecodeError):
        return ""


def page_cells(app, docname: str) -> list[myst_pages.Cell]:
    """The page's code cells as MyST-NB reads them (none for a page that is no MyST text)."""
    try:
        return myst_pages.read(Path(app.env.doc2path(docname)), app.env.myst_config).cells
    except (OSError, UnicodeDecodeError):
        return []


def check_cell_images(app, doctree: nodes.document) -> None:
    docname = app.env.docname
    if not any(image for cell in code_cells(doctree) for image in output_images(cell)):
        return
    mark_colour_maps(doctree, page_cells(app, docname))
    source = page_text(app, docname)
    for cell, missing in images_without_alt(doctree):
        many = f" ({missing} images)" if missing > 1 else ""
        _core.warn(
            logger,
            MESSAGE + many,
            location=(docname, fence_line(source, cell.line)),
            subtype=SUBTYPE,
            hint=HINT,
        )


def setup(app):
    _core.setup_core(app)  # its warnings said again on builds that do not read the page
    app.connect("doctree-read", check_cell_images)  # before _core keeps them (900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
