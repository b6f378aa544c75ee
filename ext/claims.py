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

A cell that fails otherwise (a ``KeyError``, a ``SyntaxError``) is said the same way, as
``a cell failed: <type>: <message's first line>``, with a hint to fix the cell; one whose
kernel died (``os._exit``, a crash, a kill for want of memory) as ``a cell failed: the
kernel died …``. What failed is taken from the notebook MyST-NB executed (the failing
cell's error output, its line from MyST-NB's source map), as MyST-NB's cache and force
modes run it through jupyter-cache's ``single_nb_execution``, which this module wraps.

MyST-NB's own warnings for the failure are left out: its ``mystnb.exec`` (this one says
it at the line, with the values), and on such a page its ``mystnb.glue`` "No key … found
in glue data" (the keys glued after the failing cell were never computed, and the text
that shows them is left out).
"""

from __future__ import annotations

import dataclasses
import functools
import logging as python_logging
import re
import traceback
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

from . import _core

logger = logging.getLogger(__name__)

ARROW = re.compile(r"^-+> *\d+ (.*)$")  # "---> 288 assert ..." in IPython's traceback
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # the terminal colours of the kernel's own traceback
# A SyntaxError's message ends with the kernel's name for the cell's file: nothing to a reader
CELL_FILE = re.compile(r" \(\d+\.py, line \d+\)$")
CLAIM_HINT = (
    "the page is published without the text after this cell. If the claim is true of the "
    "runs, decide it over more seeds (rebuild with NANOBOOK_SEED=1 and 2 to see it vary); "
    "if not, say what the runs do show"
)
CELL_HINT = (
    "fix the cell (its traceback: {report}); the page is published without the text after it"
)
KERNEL_DIED = "the kernel running it died"
KERNEL_HINT = (
    "run the cell in Jupyter to see why its process ended (os._exit, a crash in compiled "
    "code, running out of memory); the page is published without the text after it"
)
CLAIM_FAILED, CELL_FAILED = "a claim did not hold", "a cell failed"  # ext/claims_table.py reads


@dataclasses.dataclass(frozen=True)
class Failure:
    """What stopped a page's notebook, as the notebook MyST-NB executed says it."""

    error: str  # "KeyError: 'x'", on one line; KERNEL_DIED for a kernel that died
    cell: int | None  # the failing cell's index in the notebook (None: no cell ran)
    line: int  # the page's line after the failing cell's opening fence (1: no cell ran)
    source: str  # the failing cell's code
    trace: str  # the kernel's traceback, without its colours

    @property
    def claim(self) -> bool:
        return self.error.startswith("AssertionError")


# What failed in the notebook of the page being read (executions and reads of pages
# alternate in a process: source-read empties it, the page's doctree-read takes it).
_failed: list[Failure] = []


def report_failed_cells(app, doctree: nodes.document) -> None:
    docname = app.env.docname
    if not _stopped(app.env, docname):
        return
    failure = _failed.pop() if _failed else _unrecorded(app.env, docname)
    source = app.env.doc2path(docname)
    line = _failing_line(source, failure)
    what = CLAIM_FAILED if failure.claim else CELL_FAILED
    detail = failure.error.removeprefix("AssertionError: ") if failure.claim else failure.error
    _core.warn(
        logger,
        f"{what}: {detail}",
        location=(docname, line),
        subtype="claim",
        hint=_hint(app, docname, failure),
    )
    _leave_out_after(doctree, _cell_node(doctree, failure.cell), what, detail)


def _hint(app, docname: str, failure: Failure) -> str:
    if failure.claim:
        return CLAIM_HINT
    if failure.error == KERNEL_DIED:
        return KERNEL_HINT
    # where MyST-NB writes the traceback of a page whose notebook failed
    report = Path(app.outdir, "reports", *f"{docname}.err.log".split("/"))
    return CELL_HINT.format(report=report)


def _unrecorded(env, docname: str) -> Failure:
    """What MyST-NB recorded of a failure this module did not see (a notebook executed
    inline, not through jupyter-cache): the error's type, no cell."""
    from myst_nb.sphinx_ import NbMetadataCollector

    return Failure(str(NbMetadataCollector.get_exec_data(env, docname)["error"]), None, 1, "", "")


def _stopped(env, docname: str) -> bool:
    """Did the page's notebook stop at a failing cell?"""
    from myst_nb.sphinx_ import NbMetadataCollector

    executed = NbMetadataCollector.get_exec_data(env, docname) or {}
    return not executed.get("succeeded", True)


def _keeping_failures(execute):
    """jupyter-cache's ``single_nb_execution`` as MyST-NB calls it, made to keep what
    failed for report_failed_cells, and to return a kernel that died as a failed
    execution: nbclient raises DeadKernelError, which MyST-NB lets through to end the
    whole build."""

    @functools.wraps(execute)
    def executing(notebook, cwd, **options):
        from jupyter_cache.executors.utils import ExecutionResult

        started = []  # the cells sent to the kernel, by index: it stops at the last one
        options["on_cell_execute"] = lambda cell, cell_index: started.append(cell_index)
        try:
            result = execute(notebook, cwd, **options)
        except Exception as error:  # the kernel died, or did not start
            result = ExecutionResult(notebook, cwd, 0.0, error, traceback.format_exc())
        if result.err is not None:
            _failed[:] = [_failure(notebook, started[-1] if started else None, result.err)]
        return result

    executing.keeps_failures = True
    return executing


def _failure(notebook, index: int | None, error: Exception) -> Failure:
    if index is None:
        return Failure(error_line(error), None, 1, "", "")
    cell = notebook.cells[index]
    trace = "\n".join(
        line
        for output in cell.get("outputs", [])
        if output.output_type == "error"
        for line in output.traceback
    )
    starts = notebook.metadata.get("source_map", [])  # MyST-NB's, of a page read from MyST
    start = starts[index] + 1 if len(starts) == len(notebook.cells) else 1
    return Failure(error_line(error), index, start, cell.source, COLOUR.sub("", trace))


def error_line(error: Exception) -> str:
    """What stopped a notebook, on one line: the kernel's error as ``Type: message``
    (its message's first line, "…" if more follows), KERNEL_DIED, or what the executor
    raised."""
    from nbclient.exceptions import DeadKernelError

    if isinstance(error, DeadKernelError):
        return KERNEL_DIED
    kind = getattr(error, "ename", type(error).__name__)  # a CellExecutionError's: the kernel's
    message = CELL_FILE.sub("", getattr(error, "evalue", str(error)))
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return kind
    return f"{kind}: {lines[0]}{' …' if len(lines) > 1 else ''}"


def _keep_failures_of_executions(app) -> None:
    from myst_nb.core.execute import cache, direct

    for mode in (cache, direct):  # each imported the function: wrapped where they call it
        if not getattr(mode.single_nb_execution, "keeps_failures", False):
            mode.single_nb_execution = _keeping_failures(mode.single_nb_execution)


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


def _cell_node(doctree, index: int | None) -> nodes.Element | None:
    """The page's node of the notebook's code cell ``index``; None for a cell the page
    does not show (remove-cell)."""
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") == "cell_code" and cell.get("cell_index") == index:
            return cell
    return None


def _failing_line(source, failure: Failure) -> int:
    """The page's line of the statement that failed: the traceback's arrowed line (else
    the cell's first line), found in the page's text from the cell's first line on."""
    statement = next(
        (m.group(1) for line in failure.trace.splitlines() if (m := ARROW.match(line.strip()))),
        next((line for line in failure.source.splitlines() if line.strip()), None),
    )
    if statement is None:
        return failure.line
    with open(source, encoding="utf-8") as page:
        lines = page.read().splitlines()
    for number in range(failure.line, len(lines) + 1):
        if lines[number - 1].strip() == statement.strip():
            return number
    return failure.line


def _leave_out_after(doctree, cell, what: str, detail: str) -> None:
    """The notice in place of the failing cell (or at the end of the page's first
    section), everything after it left out but the headings, and a notice at the top."""
    notice = _notice(
        f"This build stopped checking the page here: {what} ({detail}). What follows is "
        "left out, so that nothing on this page rests on it."
    )
    if cell is None:  # no cell to point at (a hidden cell, or none ran): leave out the page
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
    _core.setup_core(app)  # its warnings said again on builds that do not read the page
    app.connect("builder-inited", _filter_glue_warnings)
    app.connect("builder-inited", _keep_failures_of_executions)
    app.connect("source-read", lambda app, docname, source: _failed.clear())
    app.connect("doctree-read", report_failed_cells)
    app.connect("config-inited", lambda app, config: config.suppress_warnings.append("mystnb.exec"))
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
