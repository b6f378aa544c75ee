"""Work done after reading: capture shapes, attach them, and lay blocks out for non-HTML.

Captures run once per build in the main process (``env-updated``), before any
parallel writer forks; each page then only loads the cached result. Builders without
the two-column layout (text, LaTeX, epub, man, texinfo ...) get notes and code
interleaved: each note's paragraphs, then its lines as a numbered literal block that
starts at the real line number, with captured shapes as trailing comments.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

from .._core import (
    STORAGE_HINT,
    ModelCodeTimeout,
    Problem,
    cache_root,
    memory_bytes,
    time_limit,
    warn,
)
from .directive import SUBTYPE, annotated_source, source_root
from .html import lines_label, plain_lines, shapes_line
from .shapes import DRIVER, cache_key, cached_capture

logger = logging.getLogger(__name__)


def capture_for(app, path: str, preset: str) -> dict:
    config = app.config
    return cached_capture(
        Path(path),
        preset,
        config.nanobook_presets,
        source_root(app),
        _cache(app),
        timeout=config.nanobook_model_timeout,
        memory=memory_bytes(config.nanobook_model_memory),
        log=logger.info,
    )


def _cache(app) -> Path:
    return cache_root(app) / "shapes"


def capture_requested(app, env) -> None:
    """After reading, before writers fork: run the captures that pages ask for (cached),
    and say what is wrong with any block's shapes. Said on every build for every page,
    read or not, so a warm ``-W`` build fails like a cold one."""
    requests = getattr(env, "annotated_source_requests", {})
    captured = app.annotated_source_captures = {}  # what pages attach, as they are written
    for docname in sorted(requests):
        for path, preset, label, start, end, lineno in sorted(requests[docname]):
            if (path, preset) not in captured:
                captured[path, preset] = _capture_logged(app, path, preset)
            block = (label, preset, start, end)
            _check_block(captured[path, preset], *block, location=(docname, lineno))


def _capture_logged(app, path: str, preset: str) -> dict:
    try:
        with time_limit(app.config.nanobook_model_timeout):  # the key imports the presets
            key = cache_key(Path(path), preset, app.config.nanobook_presets, source_root(app))
        cached = (_cache(app) / key).is_dir()
        result = capture_for(app, path, preset)
    except (Problem, ModelCodeTimeout) as error:
        return {"lines": {}, "errors": [str(error)]}
    except OSError as error:  # a cache folder that is full or read-only
        return {
            "lines": {},
            "errors": [f"the capture could not be stored: {error}"],
            "hint": STORAGE_HINT,
        }
    if not cached:
        logger.info(
            f"annotated-source: shapes of {Path(path).name} ({preset}) "
            f"captured in {result['seconds']:.1f}s"
        )
    return result


def _check_block(result: dict, label: str, preset: str, start: int, end: int, location) -> None:
    for problem in result["errors"]:
        warn(
            logger,
            f"annotated-source: shapes for {label} ({preset}): {problem}",
            location=location,
            subtype=SUBTYPE,
            hint=result.get(
                "hint", f"check nanobook_presets and :shapes:; the capture runs {DRIVER}"
            ),
        )
    if not result["errors"] and not _lines_in(result, start, end):
        warn(
            logger,
            f"annotated-source: no line of {label} bound a tensor while the {preset!r} sample ran",
            location=location,
            subtype=SUBTYPE,
            hint=f"the capture runs {DRIVER}; drop :shapes: for code it does not reach",
        )


def _lines_in(result: dict, start: int, end: int) -> dict:
    return {
        line: entry
        for line, entry in result["lines"].items()
        if start <= int(line) <= end and entry["values"]
    }


class AttachShapes(SphinxPostTransform):
    """Give each block with ``:shapes:`` the captured shapes of its own lines."""

    default_priority = 400

    def run(self, **kwargs) -> None:
        for block in self.document.findall(annotated_source):
            if block["preset"]:
                self._attach(block)

    def _attach(self, block: annotated_source) -> None:
        """The shapes only: capture_requested made them (within the time limit) and has
        said what is wrong with them."""
        captures = getattr(self.app, "annotated_source_captures", {})
        result = captures.get((block["path"], block["preset"]), {"lines": {}})
        block["shapes"] = _lines_in(result, block["start"], block["end"])
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
