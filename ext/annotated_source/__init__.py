"""``annotated-source``: code from ``model_src/`` with notes beside it and captured shapes.

Configuration (conf.py):

``annotated_source_root``
    The folder whose files blocks name (default: ``<nanobook_project_root>/model_src``).
    Point it at another nanoGPT checkout to build the same book over that code.
``annotated_source_url``
    A link template with ``{path}`` (relative to the root), ``{start}`` and ``{end}``,
    e.g. ``"https://github.com/karpathy/nanoGPT/blob/master/{path}#L{start}-L{end}"``;
    each block links to its lines there. Default None: no link.

The directive's syntax is in ``directive.AnnotatedSource``. Problems are warnings of
type ``nanobook.annotated-source``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sphinx.errors import ConfigError

from .. import producers
from .._core import add_typed_config, per_page_state, setup_core
from . import html
from .directive import (
    AnnotatedSource,
    AnnotatedSourceConfig,
    annotated_source,
    annotated_source_code,
    annotated_source_note,
    annotated_source_row,
    settings,
)
from .shown import pages_showing_changed_lines
from .transforms import SHAPES, AttachShapes, InterleaveForOtherBuilders

STATIC = Path(__file__).parent / "static"


def check_config(app, config) -> None:
    """Validate once at start-up, and serve the CSS and JS with the HTML builders."""
    template = settings(app).url
    if template:
        try:
            template.format(path="model.py", start=1, end=2)
        except (KeyError, IndexError, ValueError) as error:
            raise ConfigError(
                f"annotated_source_url = {template!r}: use only {{path}}, {{start}} and "
                f"{{end}} ({type(error).__name__}: {error})"
            ) from error
    if str(STATIC) not in config.html_static_path:
        config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    setup_core(app)
    add_typed_config(app, AnnotatedSourceConfig, "annotated_source_")
    app.add_node(annotated_source, html=(html.visit_block, html.depart_block))
    app.add_node(annotated_source_row, html=(html.visit_row, html.depart_row))
    app.add_node(annotated_source_note, html=(html.visit_note, html.depart_note))
    app.add_node(annotated_source_code, html=(html.visit_code, None))
    app.add_directive("annotated-source", AnnotatedSource)
    app.add_post_transform(AttachShapes)
    app.add_post_transform(InterleaveForOtherBuilders)
    app.add_css_file("annotated_source.css")
    app.add_js_file("annotated_source.js", loading_method="defer")
    app.connect("config-inited", check_config)
    app.connect("env-get-outdated", pages_showing_changed_lines)
    per_page_state(app, "annotated_source_requests")  # docname -> {request}
    app.connect("env-updated", functools.partial(producers.produce, SHAPES))
    return {
        "version": "1.0",
        "env_version": 1,  # 1: pages record the lines they show (shown.py), not the file
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
