"""How each builder shows a live widget, and the view helpers the kinds share.

Every builder gets the static rendering made at build time from the widget's default
input (its kind's ``fallback``, kinds/<kind>.py): a sentence and a table. HTML wraps
it in the widget's element, which its kind's script (nanobook_<kind>.js) replaces with
the live version once the model's script is in (EPUB keeps the static one: no scripts
there). The model's script is copied into ``_live/`` as the page is written.
"""

from __future__ import annotations

import html
import json
import posixpath
from pathlib import Path

from docutils import nodes

from .. import _core, published
from . import distribution, widgets
from .directive import live_widget

LIVE_DIR = "_live"


def table(header: list[str], rows: list[list[str | nodes.paragraph]]) -> nodes.table:
    """A table of text cells; a cell may be a paragraph of its own (marked-up parts)."""
    table = nodes.table(classes=["nb-live-table"])
    group = nodes.tgroup(cols=len(header))
    table += group

    def paragraph(cell: str | nodes.paragraph) -> nodes.paragraph:
        return cell if isinstance(cell, nodes.paragraph) else nodes.paragraph(text=cell)

    # widths in characters, as the text builder reads them: every cell fits unwrapped
    # (a column narrower than one wide character would never finish wrapping)
    for column in zip(header, *rows, strict=True):
        group += nodes.colspec(colwidth=max(len(paragraph(cell).astext()) for cell in column) + 2)
    head, body = nodes.thead(), nodes.tbody()
    for cells, parent in [(header, head), *((row, body) for row in rows)]:
        row_node = nodes.row()
        for cell in cells:
            row_node += nodes.entry("", paragraph(cell))
        parent += row_node
    group += head
    group += body
    return table


def unbroken_cell(parts: list[str], between: str = " ") -> nodes.paragraph:
    """A table's cell of parts each kept on one line (nanobook_live.css), `between` them:
    on a narrow screen the cell wraps between parts only, or the table scrolls."""
    cell = nodes.paragraph()
    for n, part in enumerate(parts):
        if n:
            cell += nodes.Text(between)
        cell += nodes.inline(text=part, classes=["nb-live-unbroken"])
    return cell


def training_note(limits: dict | None, text: str, who: str = "") -> list[nodes.Node]:
    """The page's line under the reply, when the input is outside the training data: for
    readers without JavaScript and for builders without HTML too."""
    said = distribution.note(limits, text)
    return [nodes.paragraph(text=who + said, classes=["nb-live-caption"])] if said else []


# A question's answer in a static rendering waits behind a disclosure, as the live widget's
# check does: shown beside the question, it answered it before the reader could (the
# tools chapter's tool-off completion, in the predict-check and in the live-tools table).
# Builders other than HTML drop the raw tags and show it, complete.
ANSWER_SUMMARY = "Show the answer"


def behind_disclosure(answer: list[nodes.Node], summary: str = ANSWER_SUMMARY) -> list[nodes.Node]:
    """``answer`` inside a closed <details> whose <summary> says ``summary``
    (nanobook_live.css: .nb-live-reveal); opened by a click or the keyboard."""
    opening = f'<details class="nb-live-reveal"><summary>{html.escape(summary)}</summary>'
    return [
        nodes.raw("", opening, format="html"),
        *answer,
        nodes.raw("", "</details>", format="html"),
    ]


def trained_problem(limits) -> _core.Problem | None:
    """Why what the widget's model was trained on (``limits()``: distribution.py's reading,
    the page's check of the reader's input) cannot be read; None when it can. Checked
    after reading, not while the page is written, so that a problem is a warning at the
    directive's line."""
    try:
        limits()
    except ValueError as error:  # the training rows contradict what distribution.py reads
        return _core.Problem(
            f"what its model was trained on cannot be read: {error}",
            "distribution.py reads it from the rows prepare.py, arithmetic.py and "
            "finetune.py make: fix the rows or the reading",
        )
    return None


def preset_trained_problem(spec) -> _core.Problem | None:
    """A widget whose input the reader types (attention, sampling, tools): why what its
    model was trained on (the page's check of that input) cannot be read."""
    return trained_problem(lambda: distribution.limits(spec.preset))


def failed_fallback(spec, error: str) -> list[nodes.Node]:
    return [
        nodes.paragraph(
            text=f"[live {spec.kind} of the {spec.preset} model: not available ({error}); "
            "the build log has the warning]",
            classes=["nb-live-caption"],
        )
    ]


def fallback(env, node: live_widget) -> list[nodes.Node]:
    spec = widgets.spec_of(env, node["uid"])
    made = widgets.made_of(env, node["uid"])
    if made is None or not made.ok:
        return failed_fallback(spec, made.problems[0].message if made else spec.error)
    return spec.fallback(made.value.result)


def add_fallbacks(app, doctree: nodes.document, docname: str) -> None:
    """The static rendering: inside the widget for HTML, in its place elsewhere."""
    for node in list(doctree.findall(live_widget)):
        static = fallback(app.env, node)
        if app.builder.format == "html":
            node.extend(static)
        else:
            container = nodes.container("", *static, ids=node["ids"], classes=["nb-live-static"])
            node.replace_self(container)


# --- HTML -------------------------------------------------------------------------------


def _script_url(self, source: str | None) -> str | None:
    """Copy the exported script ``source`` into _live/ and give its URL from this page
    (not for EPUB)."""
    if source is None or self.builder.name.startswith("epub"):
        return None
    name = Path(source).name
    published.copy(self.builder, Path(source), LIVE_DIR, name)
    # imgpath is "<relative way up>/_images" for the page being written
    return posixpath.join(posixpath.dirname(self.builder.imgpath), LIVE_DIR, name)


class PageLinks:
    """URLs from the page being written, for a kind's page options."""

    def __init__(self, translator, scripts: dict[str, str]):
        self.translator, self.scripts = translator, scripts

    def exported(self, script: str) -> str | None:
        return _script_url(self.translator, self.scripts.get(script))

    def static(self, name: str) -> str:
        way_up = posixpath.dirname(self.translator.builder.imgpath)
        return posixpath.join(way_up, "_static", name)


def opening_tag(translator, node, live: dict | None, **attributes) -> str:
    """A live widget's <section> tag, with its settings (data-live) as compact JSON in
    single quotes: in double quotes each of JSON's many quotes takes six bytes (&quot;),
    about half of a widget's settings."""
    tag = translator.starttag(node, "section", "", **attributes)
    if live is None:
        return tag
    text = json.dumps(live, allow_nan=False, separators=(",", ":"))
    quoted = html.escape(text, quote=False).replace("'", "&#x27;")
    return f"{tag[:-1]} data-live='{quoted}'>"


def visit_html(self, node: live_widget) -> None:
    spec = widgets.spec_of(self.builder.env, node["uid"])
    shown = widgets.shown_of(self.builder.env, node["uid"])
    page = PageLinks(self, shown.scripts if shown else {})
    url = page.exported(spec.script)
    attributes = {"data-nanobook-model": spec.script, "aria-label": spec.label}
    options = None
    if url:
        attributes["data-nanobook-src"] = url
        options = spec.page_options(page, shown.result)  # the directive's bounds
    self.body.append(opening_tag(self, node, options, **attributes))
    self.body.append('<div class="nb-live-static">')


def depart_html(self, node: live_widget) -> None:
    self.body.append("</div></section>\n")


def skip(self, node: live_widget) -> None:
    """Other builders never see the node (add_fallbacks replaced it)."""
    raise nodes.SkipNode
