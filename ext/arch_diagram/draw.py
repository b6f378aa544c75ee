"""Lay out a data-flow diagram as text: top to bottom, box-drawing characters, ≤ 80 columns.

The vocabulary is small and knows nothing about torch:

    Label     the tensor entering or leaving the diagram     idx 1×11
    Node      a module or operation on the main path          ln_1  LayerNorm(48)   96
    Join      an add (or ×) whose second input comes from    (+)◄─ wpe  Embedding(11, 48)
              the side: a learned scale is a side input     (×)◄─ s_z  Scale(3) → 3
    Tap       a result taken off to the side                 ├─► cross_entropy → loss
    Residual  a side branch that skips its body and rejoins  ├──┐ … (+)◄──┘
    RailJoin  inside a Residual: the skipped input joins     (−)◄──┤
              the path early too (nGPT's h + α(a − h))
    Loop      a body that runs again and again               ├◄─┐ … ├──┘ ×6
    Frame     an expanded module: its own flow in a box      ┌─┴─ h.0…2  Block ×3 ─┐

Every element but a Label carries ``out``, the shape of what flows out of it, printed on
the edge below (``│ 1×11×48``). Node rows in one frame share columns (name, kind, count).
Everything is drawn around one vertical stem; frames shift their content right by two
columns, so the flow around a frame is shifted to keep the stem straight. A Node or Frame
may carry ``source``, what it stands for (the module a row draws), which the layout never
reads: ``sources`` lists them in the drawing's order, for a text equivalent of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_WIDTH = 80


class DiagramTooWide(ValueError):
    pass


@dataclass
class Label:
    text: str
    arrow: bool = False  # the output at the bottom: the stem arrives at it


@dataclass
class Node:
    name: str
    kind: str = ""
    count: str = ""
    out: str = ""
    free: bool = False  # a description, not a module: spans the columns instead of sharing them
    source: object = None


@dataclass
class Join:
    side: Node
    out: str = ""
    op: str = "+"  # how the side input joins: + (added) or × (a learned scale)


@dataclass
class Tap:
    """A result taken off the main path to the side (the loss), the path going on unchanged."""

    text: str
    out: str = ""  # unused: the main path goes on with what came in


@dataclass
class Residual:
    body: list
    out: str = ""
    label: str = ""  # what the side line carries, printed where it leaves the path


@dataclass
class RailJoin:
    """Inside a Residual's body: the value on the side line joins the path here as well."""

    op: str
    out: str = ""


@dataclass
class Loop:
    body: list
    label: str
    out: str = ""


@dataclass
class Frame:
    title: str
    count: str
    body: list
    out: str = ""
    source: object = None


@dataclass
class Columns:
    """Widths shared by the node rows of one frame."""

    name: int = 0
    kind: int = 0
    count: int = 0

    def row(self, lead: str, node: Node) -> str:
        if node.free:
            return lead + node.name
        text = (lead + node.name).ljust(self.name)
        if self.kind:
            text += "  " + node.kind.ljust(self.kind)
        if self.count:
            text += "  " + node.count.rjust(self.count)
        return text.rstrip()


JOIN_LEAD = "(+)◄─ "  # its width: every join's lead, whatever its op, is as wide
RAIL_MARK = "\0"  # ends a RailJoin's row until its Residual knows where the rail runs


@dataclass
class _Part:
    """Rendered lines and the column of the stem that enters at the top and leaves below."""

    lines: list[str]
    stem: int
    rail: int | None = None  # a Residual or Loop: where its side line runs
    element: object = None
    shift: int = 0

    def shifted(self, by: int) -> list[str]:
        return [(" " * by + line) if line else line for line in self.lines]


def render(header: list[str], flow: list, footer: list[str] = ()) -> str:
    """The whole diagram as text: header, flow, footnotes. DiagramTooWide past 80 columns."""
    part = _flow(flow, _columns(flow))
    lines = [*header, "", *part.lines] if header else part.lines
    if footer:
        lines += ["", *footer]
    return finish(lines)


def finish(lines: list[str]) -> str:
    """Lines joined into the diagram's text, or DiagramTooWide if one is past 80 columns."""
    lines = [line.rstrip() for line in lines]
    widest = max(lines, key=len)
    if len(widest) > MAX_WIDTH:
        raise DiagramTooWide(
            f"the diagram is {len(widest)} columns wide, more than {MAX_WIDTH}: {widest!r}"
        )
    return "\n".join(lines) + "\n"


def _columns(flow: list) -> Columns:
    """Column widths over the node rows of a flow, its residuals and loops (not its frames)."""
    columns = Columns()
    for node, lead in _rows(flow):
        columns.name = max(columns.name, len(lead + node.name))
        columns.kind = max(columns.kind, len(node.kind))
        columns.count = max(columns.count, len(node.count))
    return columns


def _rows(flow: list):
    for element in flow:
        if isinstance(element, Node) and not element.free:
            yield element, ""
        elif isinstance(element, Join):
            yield element.side, JOIN_LEAD
        elif isinstance(element, Residual | Loop):
            yield from _rows(element.body)


def sources(flow: list) -> list:
    """The ``source`` of each element of a flow, in the drawing's order (a frame's stands
    for its body too: the body's are not listed beside it)."""
    found = []
    for element in flow:
        if isinstance(element, Join):
            element = element.side
        if isinstance(element, Residual | Loop):
            found += sources(element.body)
        elif getattr(element, "source", None) is not None:
            found.append(element.source)
    return found


def _flow(flow: list, columns: Columns) -> _Part:
    """Elements one below the other, each followed by the edge that carries its output."""
    parts: list[_Part] = []
    for element in flow:
        parts.append(_element(element, columns))
        out = getattr(element, "out", "")
        if (element is not flow[-1] or out) and not isinstance(element, Tap):
            parts.append(_Part([" │ " + out if out else " │"], stem=1))
    stem = max(part.stem for part in parts)
    for part in parts:
        part.shift = stem - part.stem
    # side lines of the residuals and loops in one flow share a column, for a calm picture
    rails = [part.rail + part.shift for part in parts if part.rail is not None]
    if rails:
        rail = max(rails)
        for index, part in enumerate(parts):
            if part.rail is not None:
                parts[index] = _element(part.element, columns, rail - part.shift)
                parts[index].shift = part.shift
    return _Part([line for part in parts for line in part.shifted(part.shift)], stem=stem)


def _element(element, columns: Columns, rail: int | None = None) -> _Part:
    if isinstance(element, Label):
        return _Part([" ▼", element.text] if element.arrow else [element.text], stem=1)
    if isinstance(element, Node):
        return _Part([" ▼", columns.row("", element)], stem=1)
    if isinstance(element, Tap):
        return _Part([" ├─► " + element.text], stem=1)
    if isinstance(element, Join):
        return _Part([" ▼", columns.row(f"({element.op})◄─ ", element.side)], stem=1)
    if isinstance(element, RailJoin):
        return _Part([" ▼", f"({element.op})◄" + RAIL_MARK], stem=1)
    if isinstance(element, Residual | Loop):
        return _side_branch(element, columns, rail)
    if isinstance(element, Frame):
        return _frame(element)
    raise TypeError(f"not a diagram element: {element!r}")


# A Loop's top and bottom lines as _side_branch draws them (├◄──┐ above its body, ├──┘ ×6
# below), for a text alternative to find: nothing else in a drawing matches them.
LOOP_TOP, LOOP_BOTTOM = re.compile(r"├◄─*┐"), re.compile(r"├─*┘")


def _side_branch(element: Residual | Loop, columns: Columns, rail: int | None) -> _Part:
    body = _flow(element.body, columns)
    stem = body.stem
    rail = max(rail or 0, max(len(line) for line in body.lines) + 3, stem + 6)
    lines = [
        line[:-1].ljust(rail, "─") + "┤" if line.endswith(RAIL_MARK) else line.ljust(rail) + "│"
        for line in body.lines
    ]
    if isinstance(element, Residual):
        top = " " * stem + "├" + "─" * (rail - stem - 1) + "┐"
        top += f" {element.label}" if element.label else ""
        lines.append((" " * stem + "▼").ljust(rail) + "│")
        bottom = " " * (stem - 1) + "(+)◄" + "─" * (rail - stem - 3) + "┘"
    else:
        top = " " * stem + "├◄" + "─" * (rail - stem - 2) + "┐"
        bottom = " " * stem + "├" + "─" * (rail - stem - 1) + "┘ " + element.label
    return _Part([top, *lines, bottom], stem=stem, rail=rail, element=element)


def _frame(frame: Frame) -> _Part:
    body = _flow(frame.body, _columns(frame.body))
    stem = body.stem + 2  # inside "│ "
    title = f" {frame.title} "
    count = f" {frame.count} " if frame.count else ""
    inner = max(max(len(line) for line in body.lines), stem + len(title) + len(count) + 3)
    width = inner + 4  # "│ " + content + " │"
    top = "┌" + "─" * (stem - 1) + "┴─" + title
    top += "─" * (width - len(top) - len(count) - 2) + count + "─┐"
    lines = [f"│ {line.ljust(inner)} │" for line in body.lines]
    bottom = "└" + "─" * (stem - 1) + "┬" + "─" * (width - stem - 2) + "┘"
    return _Part([top, *lines, bottom], stem=stem)
