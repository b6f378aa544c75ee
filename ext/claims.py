"""A chapter whose cells fail is published without what it could not check.

A chapter checks each thing its prose says about the runs with an assert in the cell
that computes it. Another machine's rounding, or another ``NANOBOOK_SEED``, trains other
models; if a claim does not hold for them, MyST-NB (``nb_execution_raise_on_error`` off)
stops executing the page at that cell. This module then, while the page is read:

- warns at the failing line of the page (``chapters/<page>.md:<line>``) with the claim,
  the assert and the values it was decided on (the kernel's buildlib/claim_values.py
  writes them into the error), subtype ``nanobook.claim``; ``-W`` fails the build at its
  end, after every other page was written;
- shows a notice where the cell was and one at the top of the page, and leaves out the
  rest of the page (the headings stay, so links to them still land): a sentence after the
  failing cell may rest on the claim or on a number the notebook never computed.

MyST-NB's own warnings for the failure are left out: its ``mystnb.exec`` (this one says
it at the line, with the values), and on such a page its ``mystnb.glue`` "No key … found
in glue data" (the keys glued after the failing cell were never computed, and the text
that shows them is left out).
"""

from __future__ import annotations

import logging as python_logging
import re

from docutils import nodes
from sphinx.util import logging

from . import _core

logger = logging.getLogger(__name__)

ARROW = re.compile(r"^-+> *\d+ (.*)$")  # "---> 288 assert ..." in IPython's traceback
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # the terminal colours of the kernel's own traceback
HINT = (
    "the page is published without the text after this cell. If the claim is true of the "
    "runs, decide it over more seeds (rebuild with NANOBOOK_SEED=1 and 2 to see it vary); "
    "if not, say what the runs do show"
)
CLAIM_FAILED, CELL_FAILED = "a claim did not hold", "a cell failed"  # ext/claims_table.py reads


def report_failed_cells(app, doctree: nodes.document) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    docname = app.env.docname
    if not _stopped(app.env, docname):
        return
    executed = NbMetadataCollector.get_exec_data(app.env, docname)
    cell, shown = _failing_cell(doctree)
    # a cell tagged remove-cell shows no traceback: the kernel's, in colour, says it too
    trace = COLOUR.sub("", shown or executed.get("traceback") or "")
    error = _last_line(trace) or str(executed.get("error"))
    line = _failing_line(app.env.doc2path(docname), cell, trace)
    claim = error.startswith("AssertionError")
    what = CLAIM_FAILED if claim else CELL_FAILED
    detail = error.removeprefix("AssertionError: ") if claim else error
    _core.warn(logger, f"{what}: {detail}", location=(docname, line), subtype="claim", hint=HINT)
    _leave_out_after(doctree, cell, what, detail)


def _stopped(env, docname: str) -> bool:
    """Did the page's notebook stop at a failing cell?"""
    from myst_nb.sphinx_ import NbMetadataCollector

    executed = NbMetadataCollector.get_exec_data(env, docname) or {}
    return not executed.get("succeeded", True)


class _GlueNeverComputed(python_logging.Filter):
    """Leaves out MyST-NB's missing-glue warnings on a page whose notebook stopped: said
    once, at the failing line, is enough. Put first among the warning handler's filters,
    so that what it leaves out is neither counted nor raised."""

    def __init__(self, app):
        super().__init__()
        self.app = app

    def filter(self, record: python_logging.LogRecord) -> bool:
        if (getattr(record, "type", ""), getattr(record, "subtype", "")) != ("mystnb", "glue"):
            return True
        docname = getattr(record, "docname", "")  # MyST-NB's logger names the page
        return not (docname and self.app.env and _stopped(self.app.env, docname))


def _filter_glue_warnings(app) -> None:
    for handler in python_logging.getLogger("sphinx").handlers:
        if isinstance(handler, logging.WarningStreamHandler):
            handler.filters.insert(0, _GlueNeverComputed(app))


def _failing_cell(doctree) -> tuple[nodes.Element | None, str | None]:
    """The first code cell with an error among its outputs, and the error's text."""
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code":
            continue
        for output in cell.findall(nodes.literal_block):
            if "traceback" in output["classes"]:
                return cell, output.astext()
    return None, None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _failing_line(source, cell, trace: str) -> int:
    """The page's line of the statement that failed: the traceback's arrowed line,
    found in the page's text from the cell's first line on (from the top when the cell
    is not on the page)."""
    start = (cell.line if cell is not None else None) or 1
    statement = next(
        (m.group(1).strip() for line in trace.splitlines() if (m := ARROW.match(line.strip()))),
        None,
    )
    if statement is None:
        return start
    with open(source, encoding="utf-8") as page:
        lines = page.read().splitlines()
    for number in range(start, len(lines) + 1):
        if lines[number - 1].strip() == statement:
            return number
    return start


def _leave_out_after(doctree, cell, what: str, detail: str) -> None:
    """The notice in place of the failing cell (or at the end of the page's first
    section), everything after it left out but the headings, and a notice at the top."""
    notice = _notice(
        f"This build stopped checking the page here: {what} ({detail}). What follows is "
        "left out, so that nothing on this page rests on it."
    )
    if cell is None:  # no cell to point at (the kernel died): leave out the whole page
        first = next(iter(doctree.findall(nodes.section)), None)
        if first is None:
            return
        cell = nodes.paragraph()
        first.insert(1, cell)
    node, parent = cell, cell.parent
    parent.replace(node, notice)
    node = notice
    while parent is not None:
        for sibling in parent.children[parent.index(node) + 1 :]:
            if isinstance(sibling, nodes.section):
                _keep_headings(sibling)
            else:
                parent.remove(sibling)
        node, parent = parent, parent.parent
    top = next(iter(doctree.findall(nodes.section)), None)
    if top is not None and notice not in top.children[:2]:
        top.insert(1, _notice(f"Part of this page is left out of this build: {what}."))


def _keep_headings(section: nodes.section) -> None:
    for child in list(section.children):
        if isinstance(child, nodes.section):
            _keep_headings(child)
        elif not isinstance(child, nodes.title):
            section.remove(child)


def _notice(text: str) -> nodes.Element:
    notice = nodes.warning()
    notice += nodes.paragraph(text=text)
    return notice


def setup(app):
    app.connect("builder-inited", _filter_glue_warnings)
    app.connect("doctree-read", report_failed_cells)
    app.connect("config-inited", lambda app, config: config.suppress_warnings.append("mystnb.exec"))
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
