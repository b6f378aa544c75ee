"""Find what an ``annotated-source`` block points at: objects by name, lines by anchor.

Everything here is cheap ``ast`` and string work, so the directive can resolve its
file, object and anchors while the page is read. Objects are named the way Python
qualifies them (``GPT``, ``GPT.generate``, ``outer.inner``); line numbers never appear
in a page, so the notes follow the code when it moves.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from buildlib import keys

from .._core import Problem

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
# Statements whose bodies still belong to the scope that contains them.
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)


# --- objects ------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceObject:
    """A class, function or method (or the whole file) and its lines."""

    name: str  # dotted name, or "" for the whole file
    start: int  # first line, decorators included
    end: int
    body_start: int  # the ``def``/``class`` line itself
    node: ast.AST
    file_lines: tuple[str, ...]  # the whole file, so line n is file_lines[n - 1]

    @property
    def label(self) -> str:
        return self.name or "the module"

    def lines(self) -> list[tuple[int, str]]:
        return [(n, self.file_lines[n - 1]) for n in range(self.start, self.end + 1)]

    @property
    def indent(self) -> int:
        """Leading spaces of the first line: what displaying the object strips."""
        first = self.file_lines[self.start - 1].expandtabs(4)
        return len(first) - len(first.lstrip(" "))


def read_source(path: Path) -> str:
    """A Python file's text, decoded as Python decodes it (UTF-8, or what its coding line
    says); a Problem when it is not Python source text at all."""
    data = path.read_bytes()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        raise Problem(
            f"{path.name} is not Python source text ({error})",
            hint="name a .py file; one in another encoding than UTF-8 says so in a coding "
            "line (# -*- coding: latin-1 -*-)",
        ) from None
    if "\0" in text:
        raise Problem(
            f"{path.name} is not Python source text (it holds NUL bytes)", hint="name a .py file"
        )
    return text


def parse_file(path: Path) -> tuple[ast.Module, tuple[str, ...]]:
    """The file's syntax tree and lines; a Problem names the line that does not parse."""
    text = read_source(Path(path))
    try:
        tree = keys.parse_python(text, filename=str(path))
    except SyntaxError as error:
        raise Problem(
            f"{Path(path).name} does not parse: {error.msg} (line {error.lineno})",
            hint="fix the file, or point annotated_source_root at a checkout whose code parses",
        ) from error
    return tree, tuple(text.splitlines())


def scope_definitions(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Definitions made directly in a scope, including those under if/for/with/try."""
    for statement in body:
        if isinstance(statement, DEFINITIONS):
            yield statement
        elif isinstance(statement, _BLOCKS):
            for field in ("body", "orelse", "finalbody"):
                yield from scope_definitions(getattr(statement, field, []))
            for handler in getattr(statement, "handlers", []):
                yield from scope_definitions(handler.body)


def find_object(tree: ast.Module, file_lines: tuple[str, ...], name: str) -> SourceObject:
    """The object called ``name`` (dots walk into classes and functions); "" is the file."""
    if not name:
        if not file_lines:
            raise Problem("the file is empty: there is no code to show", hint="name another file")
        return SourceObject("", 1, len(file_lines), 1, tree, file_lines)
    scope: ast.AST = tree
    for part in name.split("."):
        matches = [d for d in scope_definitions(scope.body) if d.name == part]
        if not matches:
            raise Problem(
                f"no object {name!r}",
                hint=_object_hint(tree, name),
            )
        scope = matches[-1]  # like Python: a later definition replaces an earlier one
    start = min([d.lineno for d in scope.decorator_list] + [scope.lineno])
    return SourceObject(name, start, scope.end_lineno, scope.lineno, scope, file_lines)


def list_objects(tree: ast.Module) -> list[str]:
    """Top-level classes and functions and what they define one level down."""
    names = []
    for definition in scope_definitions(tree.body):
        names.append(definition.name)
        names.extend(
            f"{definition.name}.{inner.name}" for inner in scope_definitions(definition.body)
        )
    return names


def _object_hint(tree: ast.Module, name: str) -> str:
    names = list(dict.fromkeys(list_objects(tree)))
    close = difflib.get_close_matches(name, names, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"{guess}the file defines: {', '.join(names) or 'nothing'}"


# --- statements ---------------------------------------------------------------------


def header_end(statement: ast.stmt, file_lines: tuple[str, ...]) -> int:
    """The last line of a compound statement's header (the line with its colon)."""
    last = statement.body[0].lineno - 1 if statement.body else statement.lineno
    while last > statement.lineno and _is_blank_or_comment(file_lines[last - 1]):
        last -= 1
    return max(last, statement.lineno)


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _statements(node: ast.AST) -> Iterator[ast.stmt]:
    """Every statement under ``node``, outer before inner."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            yield child
        yield from _statements(child)


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", [])
    return min([d.lineno for d in decorators] + [statement.lineno])


def note_spans(obj: SourceObject) -> dict[int, tuple[int, int]]:
    """For each line, the lines a note anchored there explains.

    A simple statement explains all its lines; a line in a compound statement's header
    (``for``, ``if``, ``def``, ``with`` ...) explains the whole statement, body included.
    """
    spans: dict[int, tuple[int, int]] = {}
    for statement in [obj.node, *_statements(obj.node)] if obj.name else _statements(obj.node):
        first = _first_line(statement)
        if hasattr(statement, "body"):
            header = range(first, header_end(statement, obj.file_lines) + 1)
            span = (first, statement.end_lineno)
        else:
            header = range(first, statement.end_lineno + 1)
            span = (first, statement.end_lineno)
        for line in header:
            spans[line] = span  # inner statements come later and win
    return spans


def statement_starts(tree: ast.AST, file_lines: tuple[str, ...]) -> dict[int, int]:
    """Each line of a statement (or compound header) mapped to that statement's first line.

    Tracing attributes what a multi-line statement binds to its first line.
    """
    starts: dict[int, int] = {}
    for statement in _statements(tree):
        if hasattr(statement, "body"):
            last = header_end(statement, file_lines)
        else:
            last = statement.end_lineno
        for line in range(statement.lineno, last + 1):
            starts[line] = statement.lineno
    return starts


def bound_names(tree: ast.AST) -> dict[int, tuple[str, ...]]:
    """Statement's first line -> the names it assigns (a tensor rebound to itself, as by
    an identity dropout, is still worth showing)."""
    bound: dict[int, tuple[str, ...]] = {}
    for statement in _statements(tree):
        if isinstance(statement, ast.For | ast.AsyncFor):
            parts = [statement.target]
        elif isinstance(statement, ast.With | ast.AsyncWith):
            parts = [item.optional_vars for item in statement.items if item.optional_vars]
        elif hasattr(statement, "body"):
            continue  # other compound statements bind nothing in their header
        else:
            parts = [statement]
        names = [
            node.id
            for part in parts
            for node in ast.walk(part)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
        ]
        if names:
            bound[statement.lineno] = tuple(dict.fromkeys(names))
    return bound


def loop_bodies(tree: ast.AST) -> dict[int, frozenset[int]]:
    """Loop header line -> the lines of its body (not its ``else``)."""
    loops = {}
    for statement in _statements(tree):
        if isinstance(statement, LOOPS):
            lines = {
                line
                for inner in statement.body
                for line in range(_first_line(inner), inner.end_lineno + 1)
            }
            loops[statement.lineno] = frozenset(lines)
    return loops


def function_lines(tree: ast.AST) -> dict[int, int]:
    """First line of each function's code object (decorators included) -> its ``def`` line."""
    return {
        _first_line(node): node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def nested_definitions(obj: SourceObject) -> list[tuple[int, int, int]]:
    """(first line, header end, last line) of each definition inside the object."""
    found = []
    for statement in _statements(obj.node):
        if isinstance(statement, DEFINITIONS) and statement is not obj.node:
            found.append(
                (
                    _first_line(statement),
                    header_end(statement, obj.file_lines),
                    statement.end_lineno,
                )
            )
    return found


# --- anchors ------------------------------------------------------------------------

_PICK = re.compile(r"^(?P<anchor>.*?)\s+#(?P<pick>\d+)$")


@dataclass(frozen=True)
class Anchor:
    """``text``, ``/regex/``, either followed by `` #N`` to pick the N-th matching line."""

    raw: str
    text: str
    pattern: re.Pattern | None
    pick: int | None

    @classmethod
    def parse(cls, raw: str) -> Anchor:
        raw = raw.strip()
        body, pick = raw, None
        if match := _PICK.match(raw):
            body, pick = match["anchor"], int(match["pick"])
            if pick < 1:
                raise Problem(f"anchor {raw!r} picks match {pick}", hint="count from #1")
        pattern = None
        if len(body) > 2 and body.startswith("/") and body.endswith("/"):
            try:
                pattern = re.compile(body[1:-1])
            except re.error as error:
                raise Problem(
                    f"anchor {raw!r} is not a valid regular expression: {error}",
                    hint="escape special characters, or use plain text without slashes",
                ) from error
        if not body:
            raise Problem("an '@' line has no anchor text", hint="write '@ <text of the line>'")
        return cls(raw, body, pattern, pick)

    def matches(self, line: str) -> bool:
        return bool(self.pattern.search(line)) if self.pattern else self.text in line


def resolve_anchor(anchor: Anchor, obj: SourceObject, path_name: str) -> int:
    """The line the anchor names inside the object; Problem when it names none or several."""
    where = f"{obj.label} ({path_name}, lines {obj.start}-{obj.end})"
    found = [number for number, line in obj.lines() if anchor.matches(line)]
    if not found:
        raise Problem(
            f"anchor {anchor.raw!r} matches no line of {where}",
            hint=_anchor_hint(anchor, obj),
        )
    if anchor.pick is not None:
        if anchor.pick > len(found):
            raise Problem(
                f"anchor {anchor.raw!r} picks match {anchor.pick}, but {anchor.text!r} "
                f"matches {_count(found)} of {where}",
                hint=f"matching lines: {', '.join(map(str, found))}",
            )
        return found[anchor.pick - 1]
    if len(found) > 1:
        raise Problem(
            f"anchor {anchor.raw!r} matches {_count(found)} of {where}: "
            f"{', '.join(map(str, found))}",
            hint=f"lengthen the anchor, or add ' #N' to pick one (e.g. '@ {anchor.text} #2')",
        )
    return found[0]


def _count(found: list[int]) -> str:
    return f"{len(found)} line" + ("s" if len(found) != 1 else "")


def _anchor_hint(anchor: Anchor, obj: SourceObject) -> str:
    stripped = {line.strip(): number for number, line in obj.lines() if line.strip()}
    close = difflib.get_close_matches(anchor.text.strip(), list(stripped), n=1, cutoff=0.4)
    if close:
        return f"closest line is {stripped[close[0]]}: {close[0]!r}; update the anchor"
    return "the code changed: update the anchor to text that appears in the object"


# --- notes --------------------------------------------------------------------------

_NOTE_START = re.compile(r"^@(?:\s+(?P<anchor>.*))?$")  # "@" alone: a note with no anchor


@dataclass(frozen=True)
class NoteSpec:
    anchor: str | None  # None: text before the first '@' line, a note on the object itself
    head: int  # index of the '@' line in the directive content (or of the first text line)
    start: int  # content slice of the note's body
    stop: int


def split_notes(content: list[str]) -> list[NoteSpec]:
    """Split a directive body at lines ``@ anchor``; blank edges are trimmed off each note.

    A note line that should start with "@ " is written "\\@ " (Markdown and reST both
    render it as "@").
    """
    heads = [
        (i, m["anchor"] or "") for i, line in enumerate(content) if (m := _NOTE_START.match(line))
    ]
    notes = []
    first_head = heads[0][0] if heads else len(content)
    if any(line.strip() for line in content[:first_head]):
        notes.append(_trimmed(content, None, 0, 0, first_head))
    for position, (index, anchor) in enumerate(heads):
        stop = heads[position + 1][0] if position + 1 < len(heads) else len(content)
        notes.append(_trimmed(content, anchor, index, index + 1, stop))
    return notes


def _trimmed(content: list[str], anchor: str | None, head: int, start: int, stop: int):
    while start < stop and not content[start].strip():
        start += 1
    while stop > start and not content[stop - 1].strip():
        stop -= 1
    return NoteSpec(anchor, head if anchor is not None else start, start, stop)
