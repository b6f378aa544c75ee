"""HTML for ``annotated-source``: each note above the code it explains, beside it when
the listing is wide enough (a CSS container query).

Every line is its own element with the real file line number, an id
(``<block>-L<n>``) and ``data-as-notes`` naming the notes that explain it; every note
carries ``data-as-lines="<start>-<end>"``. ``annotated_source.js`` uses those to
highlight a note's lines on hover or keyboard focus, and a line's notes on hover, and
makes the listing one Tab stop whose notes and lines the arrow keys walk.
All source text goes through Pygments tokens and ``html.escape``: nothing from the
file or the page reaches the output unescaped.
"""

from __future__ import annotations

import json
import re
from html import escape

from docutils import nodes
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES

from .directive import annotated_source, annotated_source_note

# The rows a live-attention widget's chosen query gives (its event "nanobook:select",
# from the runtime's trace), each marked for annotated_source.js under the line of
# CausalSelfAttention.forward that makes it: [key, the line's pattern, the row's label].
VALUE_LINES = (
    ("scores", re.compile(r"att = \(q @ k"), "scores q·k/√hs"),
    ("masked", re.compile(r"\.masked_fill\("), "masked"),
    ("softmax", re.compile(r"=\s*F\.softmax\(att"), "weights"),
)


def highlighted_lines(lines: list[str], indent: int) -> list[str]:
    """Each line as HTML spans with Pygments' short class names (what pygments.css styles)."""
    text = "\n".join(_dedent(line, indent) for line in lines) + "\n"
    lexer = PythonLexer(stripnl=False, ensurenl=False)
    out: list[list[str]] = [[]]
    for token_type, value in lexer.get_tokens(text):
        css = _css_class(token_type)
        for index, piece in enumerate(value.split("\n")):
            if index:
                out.append([])
            if piece:
                safe = escape(piece)
                out[-1].append(f'<span class="{css}">{safe}</span>' if css else safe)
    return ["".join(parts) for parts in out[: len(lines)]]


def plain_lines(lines: list[str], indent: int) -> list[str]:
    return [_dedent(line, indent) for line in lines]


def _dedent(line: str, indent: int) -> str:
    line = line.expandtabs(4)
    strip = min(indent, len(line) - len(line.lstrip(" ")))
    return line[strip:]


def _css_class(token_type) -> str:
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent
    return STANDARD_TYPES[token_type]


def shapes_line(entry: dict) -> str:
    """``q, k, v: 1×11×48`` — neighbours with the same shape share it (the plain text of
    a line's shapes; ``shape_html`` marks up the same words)."""
    groups = _shape_groups(entry["values"], {})
    text = ", ".join(f"{', '.join(names)}: {shape}" for names, shape, _ in groups)
    return f"{text} ({entry['loop']})" if entry.get("loop") else text


def _shape_groups(values, formulas: dict) -> list[tuple[list[str], str, str | None]]:
    """(names, shape, formula) of each run of neighbours that share shape and formula."""
    groups: list[tuple[list[str], str, str | None]] = []
    for name, shape in values:
        formula = formulas.get(name)
        if groups and groups[-1][1:] == (shape, formula):
            groups[-1][0].append(name)
        else:
            groups.append(([name], shape, formula))
    return groups


def shape_html(entry: dict) -> str:
    """shapes_line's words, each shape in a span with its formula for annotated_source.js
    (data-formula; data-fixed when no formula explains it and it keeps its value;
    data-defines when the name is its own formula, as in ``B, T, C = x.size()``: that
    line gives the symbols their values, so it shows the values in symbols too)."""
    groups = _shape_groups(entry["values"], dict(entry.get("formulas") or []))
    parts = []
    for names, shape, formula in groups:
        data = ""
        if "formulas" in entry:
            data = f' data-formula="{escape(formula or shape)}"'
            if not formula:
                data += " data-fixed"
            elif names == [formula]:
                data += " data-defines"
        parts.append(
            f'{escape(", ".join(names))}: <span class="as-dims"{data}>{escape(shape)}</span>'
        )
    return ", ".join(parts)


def lines_label(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}–{end}"


# --- visitors -----------------------------------------------------------------------


def visit_block(self, node: annotated_source) -> None:
    shapes = node.get("shapes") or {}
    title = f"<code>{escape(node['relpath'])}</code>"
    name = node["relpath"]
    if node["object"]:
        title += f" · <code>{escape(node['object'])}</code>"
        name += f" · {node['object']}"
    where = lines_label(node["start"], node["end"])
    if node["url"]:
        link = (
            f'<a class="as-forge reference external" href="{escape(node["url"])}">'
            f"{where} on the forge</a>"
        )
    else:
        link = f'<span class="as-where">{where}</span>'
    preset = (
        f' <span class="as-preset">shapes: <code>{escape(node["preset"])}</code> preset'
        f'<span class="as-live" aria-live="polite"></span></span>'
        if node["preset"]
        else ""
    )
    symbols = node.get("symbols")
    if shapes and symbols:
        # annotated_source.js adds a "show as symbols" switch and follows live widgets
        preset += (
            f' <span class="as-symbols" data-as-preset="{escape(node["preset"])}"'
            f" data-as-symbols='{escape(json.dumps(symbols, ensure_ascii=False))}'></span>"
        )
    # The shapes' gutter is as wide as the longest shape text, so the shapes line up
    # whether they sit beside their line or, when it is too long, under it.
    gutter = max((len(shapes_line(e)) for e in shapes.values() if e["values"]), default=0)
    block_id = node["block_id"]
    # A listing is long, read line by line by a screen reader's browse mode: this link,
    # the Tab stop before it (shown when focused), jumps past it to its end.
    self.body.append(
        # data-as-path: the file, for a widget that marks its lines (nanobook_training.js)
        f'<div class="annotated-source" id="{block_id}" data-as-path="{escape(node["relpath"])}"'
        f' style="--as-shape-width: {gutter}ch">\n'
        f'<a class="as-skip" href="#{block_id}-end">Skip the listing</a>\n'
        f'<div class="as-header"><span class="as-title">{title}</span>{preset} {link}</div>\n'
        f'<div class="as-rows" role="group" aria-label="{escape(f"{name}, {where}")}">\n'
    )
    node["html_lines"] = highlighted_lines(node["lines"], node["indent"])
    plain = plain_lines(node["lines"], node["indent"])
    node["indents"] = [len(line) - len(line.lstrip(" ")) for line in plain]
    # the lines a live widget's values mark, in a block that follows live widgets
    node["value_lines"] = [_value_line(line) if shapes and symbols else "" for line in plain]
    node["line_notes"] = _notes_by_line(node)


def depart_block(self, node: annotated_source) -> None:
    self.body.append(
        f'</div>\n</div>\n<span class="as-end" id="{node["block_id"]}-end" tabindex="-1"></span>\n'
    )


def _notes_by_line(node: annotated_source) -> dict[int, list[str]]:
    by_line: dict[int, list[str]] = {}
    for note in node.findall(annotated_source_note):
        for line in range(note["start"], note["end"] + 1):
            by_line.setdefault(line, []).append(note["note_id"])
    return by_line


def visit_row(self, node) -> None:
    # The row's notes come first; visit_code closes their column before the code.
    self.body.append('<div class="as-row">\n<div class="as-notes">\n')


def depart_row(self, node) -> None:
    self.body.append("</div>\n")


def visit_note(self, node) -> None:
    block = node.parent.parent
    label = lines_label(node["start"], node["end"])
    # Named by its own text ("Lines 50–51 The heads split C evenly…"), which a screen
    # reader says when the arrow keys bring focus to it.
    self.body.append(
        f'<div class="as-note" id="{node["note_id"]}" role="note" '
        f'data-as-lines="{node["start"]}-{node["end"]}" aria-labelledby="{node["note_id"]}">\n'
        f'<a class="as-note-lines" href="#{block["block_id"]}-L{node["start"]}" '
        f'tabindex="-1">{label.capitalize()}</a>\n'
    )


def depart_note(self, node) -> None:
    self.body.append("</div>\n")


def visit_code(self, node) -> None:
    block = node.parent.parent
    out = [
        "</div>\n",  # the notes column
        '<div class="as-code highlight">\n',
    ]
    folds = {fold[0]: fold for fold in node["folds"]}
    line = node["start"]
    while line <= node["end"]:
        fold = folds.get(line)
        if fold is None:
            out.append(_line_html(block, line))
            line += 1
            continue
        first, last, summary_end = fold
        hidden = last - summary_end
        summary = "".join(_line_html(block, n) for n in range(first, summary_end + 1))
        out.append(
            '<details class="as-fold"><summary>'
            f"{summary}"
            f'<span class="as-fold-label">{hidden} more line{"s" * (hidden != 1)}'
            f" ({lines_label(summary_end + 1, last)})</span></summary>\n"
        )
        out.extend(_line_html(block, n) for n in range(summary_end + 1, last + 1))
        out.append("</details>\n")
        line = last + 1
    out.append("</div>\n")
    self.body.extend(out)
    raise nodes.SkipNode


def _value_line(text: str) -> str:
    """The attributes that mark a line making a value of VALUE_LINES, or ""."""
    for key, pattern, label in VALUE_LINES:
        if pattern.search(text):
            return f' data-as-value="{key}" data-as-value-label="{escape(label)}"'
    return ""


def _line_html(block: annotated_source, line: int) -> str:
    code = block["html_lines"][line - block["start"]]
    notes = block["line_notes"].get(line)
    entry = (block.get("shapes") or {}).get(str(line))
    attributes = f' data-as-notes="{" ".join(notes)}"' if notes else ""
    attributes += block["value_lines"][line - block["start"]]
    shape = ""
    if entry and entry["values"]:
        loop = f' <span class="as-iter">({entry["loop"]})</span>' if entry["loop"] else ""
        text = f'<span class="as-shape-text">{shape_html(entry)}</span>'
        shape = f'<span class="as-shape">{text}{loop}</span>'
    # Python's indentation, for the hanging indent of a long line that wraps
    indent = block["indents"][line - block["start"]]
    indent = f' style="--as-indent: {indent}ch"' if indent else ""
    return (
        f'<div class="as-line" id="{block["block_id"]}-L{line}" data-line="{line}"{attributes}>'
        f'<span class="as-ln" aria-hidden="true">{line}</span>'
        f'<code class="as-src"{indent}>{code}</code>{shape}</div>\n'
    )
