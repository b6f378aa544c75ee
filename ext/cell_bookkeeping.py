"""Code cells show the idea, not the build's bookkeeping.

A chapter's cells compute the numbers its prose quotes: they ``glue`` them into the text
and assert what the prose says about them, so that a run the prose is not true of stops
the build. A reader of the page needs neither, so the source a cell *shows* leaves out:

- a statement that calls ``glue(...)``, and the line ``from myst_nb import glue``;
- an assert that speaks for the prose: its message or its comment mentions "prose";
- a comment that mentions "prose" just above an assert, with that assert and the asserts
  after it, up to the first statement that is neither an assert nor glue (such a comment
  above other bookkeeping goes with it too);
- a loop, ``if`` or ``with`` that holds nothing else.

Only the rendered page changes: the notebook executes every line (the glue computes the
page's numbers), and the notebook readers download keeps them. A cell with nothing left
to show shows no source box (and, without outputs, nothing). Source that does not parse
as Python is shown as written. The asserts left out are the page's claims:
`nox -s claims` counts them with the same rule (``prose_asserts``, ext/claims_table.py).

A cell whose source is hidden (``hide-input``) shows it behind MyST-NB's "Show code cell
source" toggle; that toggle is written here without MyST-NB's label (``hidden_cell_box``).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from html import escape

from docutils import nodes
from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput
from sphinx.transforms import SphinxTransform

PROSE = re.compile(r"\bprose\b", re.I)


def _comments(source: str) -> tuple[dict[int, str], set[int]]:
    """Each line's comment, and the lines that hold nothing but a comment."""
    comments: dict[int, str] = {}
    code_lines: set[int] = set()
    ignored = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string
        elif token.type not in (*ignored, tokenize.ENDMARKER):
            code_lines.update(range(token.start[0], token.end[0] + 1))
    return comments, set(comments) - code_lines


def _lines(statement: ast.stmt) -> set[int]:
    return set(range(statement.lineno, statement.end_lineno + 1))


def _says_prose(statement: ast.stmt, comments: dict[int, str]) -> bool:
    """An assert whose message or comment mentions the prose."""
    if not isinstance(statement, ast.Assert):
        return False
    message = ast.unparse(statement.msg) if statement.msg is not None else ""
    said = [message, *(comments.get(line, "") for line in _lines(statement))]
    return any(PROSE.search(text) for text in said)


def _is_glue(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.ImportFrom):
        return statement.module == "myst_nb" and [a.name for a in statement.names] == ["glue"]
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        called = statement.value.func  # glue(...) or myst_nb.glue(...)
        name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", None)
        return name == "glue"
    return False


def _bodies(statement: ast.stmt) -> list[tuple[int, list[ast.stmt]]]:
    """The statement lists a loop, ``if`` or ``with`` holds, each with the line after
    which it starts (none for other statements)."""
    if isinstance(statement, ast.For | ast.AsyncFor | ast.While | ast.If):
        bodies = [(statement.lineno, statement.body)]
        if statement.orelse:
            bodies.append((statement.body[-1].end_lineno, statement.orelse))
        return bodies
    if isinstance(statement, ast.With | ast.AsyncWith):
        return [(statement.lineno, statement.body)]
    return []


def _prose_comment_above(
    statement: ast.stmt, previous_end: int, comments: dict[int, str], alone: set[int]
) -> set[int]:
    """The comment block between the previous statement and this one, if it mentions
    the prose."""
    block = {line for line in range(previous_end + 1, statement.lineno) if line in alone}
    return block if any(PROSE.search(comments[line]) for line in block) else set()


def _hidden(body: list[ast.stmt], previous_end: int, comments, alone) -> tuple[set[int], bool]:
    """The lines of ``body`` that are bookkeeping, and whether all of it is."""
    hidden: set[int] = set()
    everything = True
    for_prose = False  # inside the asserts a comment about the prose introduced
    for statement in body:
        above = _prose_comment_above(statement, previous_end, comments, alone)
        previous_end = statement.end_lineno
        if above and isinstance(statement, ast.Assert):
            for_prose = True
        asserted = isinstance(statement, ast.Assert) and (
            for_prose or _says_prose(statement, comments)
        )
        if asserted or _is_glue(statement):
            hidden |= _lines(statement) | above
            continue
        for_prose = False
        inner = [_hidden(lines, start, comments, alone) for start, lines in _bodies(statement)]
        if inner and all(whole for _, whole in inner):
            hidden |= _lines(statement) | above
            continue
        everything = False
        for lines, whole in inner:
            if not whole:  # a branch of nothing but bookkeeping stays whole: empty, it
                hidden |= lines  # would not read as Python
    return hidden, everything


def prose_asserts(source: str) -> list[int]:
    """The first lines of a cell's asserts that check its prose: those shown_source
    leaves out (none if the source does not parse)."""
    try:
        tree = ast.parse(source)
        comments, alone = _comments(source)
    except (SyntaxError, tokenize.TokenError):
        return []
    hidden, _ = _hidden(tree.body, 0, comments, alone)
    asserts = (node for node in ast.walk(tree) if isinstance(node, ast.Assert))
    return sorted(node.lineno for node in asserts if node.lineno in hidden)


def shown_source(source: str) -> str:
    """A cell's source as the page shows it, without the bookkeeping. Where lines were
    left out, the blank lines around them shrink to what either side had."""
    try:
        tree = ast.parse(source)
        comments, alone = _comments(source)
    except (SyntaxError, tokenize.TokenError):
        return source
    hidden, _ = _hidden(tree.body, 0, comments, alone)
    if not hidden:
        return source
    pieces: list[list[str]] = [[]]  # the runs of lines kept, split where lines went
    for number, line in enumerate(source.splitlines(), 1):
        if number not in hidden:
            pieces[-1].append(line)
        elif pieces[-1]:
            pieces.append([])
    shown: list[str] = []
    blank_after = 0  # blank lines at the end of what was kept before the gap
    for piece in pieces:
        code = [i for i, line in enumerate(piece) if line.strip()]
        if not code:  # only blank lines between two runs left out
            blank_after = max(blank_after, len(piece))
            continue
        if shown:
            shown += [""] * max(blank_after, code[0])
        shown += piece[code[0] : code[-1] + 1]
        blank_after = len(piece) - code[-1] - 1
    return "\n".join(shown)


class HideBookkeeping(SphinxTransform):
    """Each MyST-NB code cell's shown source loses its bookkeeping (see the module)."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        for source_box in list(self.document.findall(nodes.container)):
            if source_box.get("nb_element") != "cell_code_source":
                continue
            for block in list(source_box.findall(nodes.literal_block)):
                shown = shown_source(block.astext())
                if shown != block.astext():
                    block.rawsource = shown
                    block.clear()
                    block.append(nodes.Text(shown))
            if not source_box.astext().strip():
                cell = source_box.parent
                cell.remove(source_box)
                if not cell.children:
                    cell.parent.remove(cell)


def hidden_cell_box(self, node: HideCodeCellNode) -> None:
    """MyST-NB's box for a cell's hidden source, less its summary's aria-label.

    MyST-NB labels the summary "Toggle hidden content", and a label replaces the text a
    reader sees: a screen reader said "Toggle hidden content" for "Show code cell source",
    and voice control found nothing to click by that name (WCAG 2.5.3, label in name).
    Unlabelled, its name is the prompt shown (MyST-NB's CSS hides the other one).
    """
    self.body.append(f'<details class="admonition hide {" ".join(node["classes"])}">\n')
    self.body.append("<summary>\n")
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def setup(app):
    app.add_transform(HideBookkeeping)
    # after myst_nb (docs/conf.py's order), whose visitor this replaces
    app.add_node(HideCodeCellNode, override=True, html=(hidden_cell_box, depart_HideCellInput))
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
