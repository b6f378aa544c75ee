"""A figure a code cell draws must say what it shows to a reader who cannot see it.

MyST-NB writes each image a cell outputs (a matplotlib figure, an image/png) as an image
node whose alt text is the cell's ``mystnb: image: alt`` option; without it, the HTML
writer falls back to the file's path, and a screen reader reads out a hash. So every
image among a code cell's outputs without an alt text is a warning at the cell's line,
said while the page is read (``_core.warn`` says it again on every build that does not
re-read the page, until the cell has its alt).
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging

from . import _core

logger = logging.getLogger(__name__)

SUBTYPE = "cell-image"
MESSAGE = "a figure this code cell draws has no alt text: a screen reader reads out its file name"
HINT = (
    "give the cell, in its options block, mystnb: {image: {alt: what the figure shows}}: "
    "what is plotted against what, and what to notice"
)


FENCE = re.compile(r"\s*(?:`{3,}|~{3,}|:{3,})\{code-cell\}")


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


def images_without_alt(doctree: nodes.document) -> list[tuple[nodes.Element, int]]:
    """Each code cell (its node, how many of its output images lack an alt text) that has
    an output image without one; a blank alt counts as none."""
    found = []
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code":
            continue
        missing = sum(
            1
            for output in cell.findall(nodes.container)
            if output.get("nb_element") == "cell_code_output"
            for image in output.findall(nodes.image)
            if not str(image.get("alt", "")).strip()
        )
        if missing:
            found.append((cell, missing))
    return found


def check_cell_images(app, doctree: nodes.document) -> None:
    docname = app.env.docname
    found = images_without_alt(doctree)
    if not found:
        return
    try:
        with open(app.env.doc2path(docname), encoding="utf-8") as page:
            source = page.read()
    except (OSError, UnicodeDecodeError):
        source = ""
    for cell, missing in found:
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
