"""Work done after reading: capture shapes, attach them, and lay blocks out for non-HTML.

Captures are made once per build after reading (``env-updated``: SHAPES, through the one
lifecycle of ext/producers.py), before any parallel writer forks; each page then only
attaches what was made. Builders without the two-column layout (text, LaTeX, epub, man,
texinfo ...) get notes and code interleaved: each note's paragraphs, then its lines as a
numbered literal block that starts at the real line number, with captured shapes as
trailing comments.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

from .. import producers
from .._core import ModelCodeTimeout, Problem, memory_bytes, time_limit
from .directive import SUBTYPE, annotated_source, source_root
from .html import lines_label, plain_lines, shapes_line
from .shapes import CAPTURE_HINT, DRIVER, Captures, cache_key, capture_apart, lines_in

logger = logging.getLogger(__name__)


class Shapes(Captures):
    """The captures the pages' blocks ask for (after reading, through the one lifecycle of
    ext/producers.py); each block is told what is wrong with its shapes."""

    subtype = SUBTYPE

    def asked(self, env) -> list[producers.Asked]:
        requests = getattr(env, "annotated_source_requests", {})
        return [
            producers.Asked(docname, lineno, (path, preset), (label, start, end))
            for docname in sorted(requests)
            for path, preset, label, start, end, lineno in sorted(requests[docname])
        ]

    def key(self, app, spec: tuple[str, str]) -> str:
        path, preset = spec
        config = app.config
        try:
            with time_limit(config.nanobook_model_timeout):  # it imports the presets
                return cache_key(Path(path), preset, config.nanobook_presets, source_root(app))
        except (Problem, ModelCodeTimeout) as error:
            raise Problem(str(error), CAPTURE_HINT) from error

    def make(self, app, spec: tuple[str, str]) -> dict:
        path, preset = spec
        config = app.config
        memory = memory_bytes(config.nanobook_model_memory)
        timeout = config.nanobook_model_timeout
        result = capture_apart(Path(path), preset, config.nanobook_presets, timeout, memory)
        logger.info(
            f"annotated-source: shapes of {Path(path).name} ({preset}) "
            f"captured in {result['seconds']:.1f}s"
        )
        return result

    def notes(self, asked: producers.Asked, result: dict) -> list[Problem]:
        label, start, end = asked.about
        if lines_in(result, start, end):
            return []
        return [
            Problem(
                f"no line of {label} bound a tensor while the {asked.spec[1]!r} sample ran",
                f"the capture runs {DRIVER}; drop :shapes: for code it does not reach",
            )
        ]

    def heading(self, asked: producers.Asked) -> str:
        return f"{SUBTYPE}: shapes for {asked.about[0]} ({asked.spec[1]})"


SHAPES = Shapes()


class AttachShapes(SphinxPostTransform):
    """Give each block with ``:shapes:`` the captured shapes of its own lines."""

    default_priority = 400

    def run(self, **kwargs) -> None:
        for block in self.document.findall(annotated_source):
            if block["preset"]:
                self._attach(block)

    def _attach(self, block: annotated_source) -> None:
        """The shapes only: the after-reading step (shapes.SHAPES) made them and has said
        what is wrong with them."""
        made = producers.made(self.env, SHAPES, (block["path"], block["preset"]))
        result = made.value if made and made.value else {"lines": {}}
        block["shapes"] = lines_in(result, block["start"], block["end"])
        block["symbols"] = result.get("symbols", {})


def uses_layout(builder) -> bool:
    """Builders that get the two-column HTML; epub readers lack grid and scripts."""
    return builder.format == "html" and not builder.name.startswith("epub")


class InterleaveForOtherBuilders(SphinxPostTransform):
    """Replace each block by its notes and numbered code, one after the other."""

    default_priority = 410

    def run(self, **kwargs) -> None:
        if uses_layout(self.app.builder):
            return
        for block in list(self.document.findall(annotated_source)):
            block.replace_self(interleaved(block))


def interleaved(block: annotated_source) -> nodes.container:
    code = plain_lines(block["lines"], block["indent"])
    shapes = block.get("shapes") or {}
    out = nodes.container(classes=["annotated-source"])
    out.source, out.line = block.source, block.line
    out += _heading(block)
    for row in block.children:
        for note in row.children[:-1]:
            label = lines_label(note["start"], note["end"]).capitalize() + ":"
            out += nodes.paragraph("", "", nodes.emphasis(text=label))
            out.extend(note.children)
        stretch = row.children[-1]
        numbers = range(stretch["start"], stretch["end"] + 1)
        width = max((len(code[n - block["start"]]) for n in numbers if str(n) in shapes), default=0)
        text = "\n".join(
            _with_shape(code[n - block["start"]], shapes.get(str(n)), width) for n in numbers
        )
        literal = nodes.literal_block(text, text, language="python", linenos=True)
        literal["highlight_args"] = {"linenostart": stretch["start"]}
        out += literal
    return out


def _heading(block: annotated_source) -> nodes.paragraph:
    heading = nodes.paragraph()
    heading += nodes.literal(text=block["relpath"])
    if block["object"]:
        heading += nodes.Text(" — ")
        heading += nodes.literal(text=block["object"])
    heading += nodes.Text(", ")
    where = lines_label(block["start"], block["end"])
    if block["url"]:
        heading += nodes.reference("", where, refuri=block["url"])
    else:
        heading += nodes.Text(where)
    return heading


def _with_shape(line: str, entry: dict | None, width: int) -> str:
    if not entry or not entry["values"]:
        return line
    return f"{line.ljust(width)}  # {shapes_line(entry)}"
