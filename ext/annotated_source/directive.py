"""The ``annotated-source`` directive and the nodes it leaves in the doctree.

``run()`` only resolves: the file under ``annotated_source_root``, the object by name,
each note's anchor to a line. It records the result as a tree that mirrors the page
layout: the block holds rows, a row holds the notes that start there and the stretch
of code they sit beside. Shapes are attached later (``AttachShapes``), HTML is written
by the visitors in ``html.py``, other builders get the interleaved fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from buildlib import keys

from .._core import (
    AnyOption,
    OneArgument,
    Problem,
    drop_bad_options,
    note_code_dependency,
    project_root,
    typed_config,
    warn,
)
from .locate import (
    Anchor,
    SourceObject,
    find_object,
    nested_definitions,
    note_spans,
    parse_file,
    resolve_anchor,
    split_notes,
)
from .shown import note_shown

logger = logging.getLogger(__name__)
SUBTYPE = "annotated-source"
COLLAPSE_CHOICES = ("none", "definitions", "unannotated")
MIN_FOLD = 4  # shorter unannotated stretches stay open: folding them saves nothing


@dataclass
class AnnotatedSourceConfig:
    root: str | Path | None = None  # annotated_source_root: default <project root>/model_src
    url: str | None = None  # annotated_source_url: "https://.../{path}#L{start}-L{end}"


def settings(app) -> AnnotatedSourceConfig:
    return typed_config(app, AnnotatedSourceConfig, "annotated_source_")


def source_root(app) -> Path:
    configured = settings(app).root
    if configured:
        return Path(app.confdir, configured).resolve()
    return project_root(app) / "model_src"


# --- nodes --------------------------------------------------------------------------


class annotated_source(nodes.General, nodes.Element):
    """The block. Attributes: relpath, object, start, end, indent, lines, preset, url."""


class annotated_source_row(nodes.Element):
    """Notes (first) and the code they explain (last child), side by side in HTML."""


class annotated_source_note(nodes.Element):
    """A note's parsed body. Attributes: note_id, start, end (its lines), anchor."""


class annotated_source_code(nodes.Element):
    """A stretch of code: start, end, folds [(first, last, summary_end)] (no children)."""


# --- the directive ------------------------------------------------------------------


def collapse_option(argument: str | None) -> list[str]:
    """``none`` (default), ``definitions``, ``unannotated``, or both of the last two."""
    words = (argument or "").replace(",", " ").split()
    unknown = [word for word in words if word not in COLLAPSE_CHOICES]
    if not words or unknown:
        raise ValueError(f"choose from {', '.join(COLLAPSE_CHOICES)} (got {argument!r})")
    return [word for word in words if word != "none"]


class AnnotatedSource(OneArgument, SphinxDirective):
    """Code from ``annotated_source_root`` with notes beside the lines they explain.

    Syntax (MyST; reST is the same with ``.. annotated-source:: model.py``)::

        ```{annotated-source} model.py
        :object: CausalSelfAttention.forward
        :shapes: sort
        :collapse: unannotated

        Text before the first "@" line is a note on the whole object.

        @ B, T, C = x.size()
        A note on the one line of the object that contains this text.

        @ /q, k, ?v = /
        A note on the line this regular expression finds.

        @ x = x + #2
        " #N" picks the N-th of several matching lines.
        ```

    ``:object:`` is a dotted name (``GPT``, ``GPT.generate``, ``outer.inner``), or
    absent for the whole file. A note on a simple statement explains all its lines; a
    note on a ``for``/``if``/``with``/``def``/``class`` line explains the whole
    statement. ``:collapse:`` folds code into ``<details>`` in HTML: ``definitions``
    folds the bodies of functions and classes inside the object that carry no note,
    ``unannotated`` folds every stretch of at least four lines that no note explains;
    both may be given (``definitions unannotated``); ``none`` is the default.
    """

    takes_body, argument_example = True, "model.py"
    option_spec = AnyOption(
        {
            "object": directives.unchanged_required,
            "shapes": directives.unchanged_required,
            "collapse": collapse_option,
        }
    )

    def run(self) -> list[nodes.Node]:
        drop_bad_options(self, logger, SUBTYPE)
        location = (self.env.docname, self.lineno)
        name, path = self.options.get("object", "").strip(), None
        try:
            if problem := self.argument_problem():
                raise problem
            path, relpath = self._resolve_file()
            tree, file_lines = parse_file(path)
            obj = find_object(tree, file_lines, name)
        except Problem as error:
            if path:  # read again when the file parses and holds the object
                note_shown(self.env, path, name, None)
            warn(
                logger,
                f"annotated-source {self.argument}: {error}",
                location=location,
                subtype=SUBTYPE,
                hint=error.hint,
            )
            # the reader sees that something is missing here, as for a failed clip
            text = f"[annotated-source {self.argument} could not be shown: {error}]"
            return [nodes.paragraph(text=text, classes=["annotated-source-placeholder"])]
        note_shown(self.env, path, name, obj)
        preset = self.options.get("shapes", "").strip() or None
        if preset:
            self._note_presets_dependency()
            # what the capture step needs to check this block's shapes, and where to warn
            requests = self.env.annotated_source_requests.setdefault(self.env.docname, set())
            label = obj.name or relpath
            requests.add((str(path), preset, label, obj.start, obj.end, self.lineno))

        block = annotated_source(
            relpath=relpath,
            path=str(path),
            object=obj.name,
            start=obj.start,
            end=obj.end,
            indent=obj.indent,
            lines=[text for _, text in obj.lines()],
            preset=preset,
            url=self._forge_url(relpath, obj),
            block_id=self._block_id(),
        )
        self.set_source_info(block)
        notes = self._notes(obj, relpath, block["block_id"])
        block.extend(_rows(obj, notes, self.options.get("collapse", [])))
        return [block]

    # --- resolving --------------------------------------------------------------------

    def _resolve_file(self) -> tuple[Path, str]:
        root = source_root(self.env.app)
        path = (root / self.argument).resolve()
        if not path.is_relative_to(root):
            raise Problem(
                f"the path leaves annotated_source_root ({root})",
                hint="name a file under annotated_source_root, e.g. 'model.py'",
            )
        if not keys.is_file(path):
            found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
            listing = ", ".join(found[:30]) + (" ..." if len(found) > 30 else "")
            raise Problem(
                f"no such file under annotated_source_root ({root})",
                hint=f"files there: {listing}"
                if found
                else "the folder has no .py files; set annotated_source_root in conf.py",
            )
        return path, path.relative_to(root).as_posix()

    def _note_presets_dependency(self) -> None:
        """Re-read the page when the presets change: its shapes may."""
        origin = keys.module_file(self.config.nanobook_presets)
        if origin:  # else the capture reports the missing module where the block is
            note_code_dependency(self.env, origin)

    def _forge_url(self, relpath: str, obj: SourceObject) -> str | None:
        template = settings(self.env.app).url
        return template.format(path=relpath, start=obj.start, end=obj.end) if template else None

    def _block_id(self) -> str:
        serial = self.env.new_serialno(SUBTYPE)
        return nodes.make_id(f"as-{self.env.docname}-{serial}")

    def _content_line(self, index: int) -> int:
        """The source line of content line ``index``.

        reST gives the content's absolute (0-based) offset; MyST gives the count of
        lines between the opening fence's next line and the content.
        """
        if type(self.state).__module__.startswith("myst_parser"):
            return self.lineno + 1 + self.content_offset + index
        return self.content_offset + index + 1

    def _notes(self, obj: SourceObject, relpath: str, block_id: str) -> list[nodes.Element]:
        spans = note_spans(obj)
        notes = []
        for number, spec in enumerate(split_notes(list(self.content))):
            location = (self.env.docname, self._content_line(spec.head))
            line = obj.body_start
            if spec.anchor is not None:
                try:
                    line = resolve_anchor(Anchor.parse(spec.anchor), obj, relpath)
                except Problem as error:
                    warn(
                        logger,
                        f"annotated-source: {error}",
                        location=location,
                        subtype=SUBTYPE,
                        hint=error.hint,
                    )
                    continue
            if spec.start == spec.stop:
                warn(
                    logger,
                    f"annotated-source: the note on {spec.anchor!r} has no text",
                    location=location,
                    subtype=SUBTYPE,
                    hint="write the note on the lines after the '@' line",
                )
                continue
            start, end = spans.get(line, (line, line))
            note = annotated_source_note(
                note_id=f"{block_id}-n{number}",
                start=start,
                end=end,
                line=line,
                anchor=spec.anchor or "",
            )
            note.source, note.line = location
            self.state.nested_parse(
                self.content[spec.start : spec.stop], self.content_offset + spec.start, note
            )
            notes.append(note)
        return notes


# --- layout -------------------------------------------------------------------------


def _rows(obj: SourceObject, notes: list[nodes.Element], collapse: list[str]):
    """One row per distinct note start; each holds its notes and the code up to the next."""
    starts = sorted({obj.start} | {note["start"] for note in notes})
    covered = {line for note in notes for line in range(note["start"], note["end"] + 1)}
    anchored = {note["line"] for note in notes}
    folds = _folds(obj, covered, anchored, collapse)
    rows = []
    for index, first in enumerate(starts):
        last = starts[index + 1] - 1 if index + 1 < len(starts) else obj.end
        row = annotated_source_row(start=first, end=last)
        row.extend(note for note in notes if note["start"] == first)
        row_folds = [fold for fold in folds if first <= fold[0] and fold[1] <= last]
        row.append(annotated_source_code(start=first, end=last, folds=row_folds))
        rows.append(row)
    return rows


def _folds(obj: SourceObject, covered: set[int], anchored: set[int], collapse: list[str]):
    """Each fold as [first, last, summary_end], never crossing a row.

    Lines first..summary_end stay visible as the ``<details>`` summary (a definition's
    header); summary_end+1..last are hidden. An unannotated stretch shows no line in
    its summary (summary_end = first - 1).
    """
    folds: list[list[int]] = []
    hidden: set[int] = set()
    if "definitions" in collapse:
        for first, header_last, last in nested_definitions(obj):
            inside = range(first, last + 1)
            if header_last < last and not hidden & set(inside) and not anchored & set(inside):
                folds.append([first, last, header_last])
                hidden.update(inside)
    if "unannotated" in collapse:
        run: list[int] = []
        for line in [*range(obj.start, obj.end + 1), None]:
            if line is not None and line not in covered and line not in hidden:
                run.append(line)
                continue
            if len(run) >= MIN_FOLD:
                folds.append([run[0], run[-1], run[0] - 1])
            run = []
    return sorted(folds)
