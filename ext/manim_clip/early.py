"""The early start: clip renders begin as soon as their inputs exist, before pages are read.

A clip's key needs its scene's files and what scenes read (the trained models, in
``nanobook_inputs_digest``), not the page's notebook cells. So on env-get-outdated,
after a project has made those inputs and before the pages are read, the pool starts
every missing clip of ``known_specs`` in the background: those of the pages Sphinx
will read, found by scanning their MyST source, and those the environment kept for
the other pages. The scan reads a page with the book's one reader of
MyST pages (ext/myst_pages.py, MyST's own parser) and each ``manim-clip`` fence with
MyST's directive parsing and the directive's own checks (``directive.fill_spec``), so it
makes the spec reading will record.

The render step after reading (``render.Clips.make_all``) waits for these renders
instead of starting them again, starts what the scan missed (rST pages, a clip inside
another directive or an included file) and drops renders no page needs. A scan that
finds too little or too much only costs time: what pages show comes from the specs
recorded while reading, and a render's result is shared by its key.
"""

from __future__ import annotations

from pathlib import Path

from .. import myst_pages
from .._core import Problem, taken_options
from .directive import ClipSpec, ManimClipDirective, fill_spec


def known_specs(app, env, added, changed, removed) -> list[ClipSpec]:
    """The clips of the build as far as they are known before reading (env-get-outdated's
    arguments): scanned from the pages to be read, kept by the environment for others."""
    scanned = set(added) | set(changed)
    kept = getattr(env, "manim_clip_specs", {})  # none before the first build
    return [spec for docname in sorted(scanned) for spec in page_specs(app, docname)] + [
        spec
        for docname in sorted(set(kept) & env.found_docs - scanned - set(removed))
        for spec in kept[docname]
        if not spec.error
    ]


def page_specs(app, docname: str) -> list[ClipSpec]:
    """The clips of a MyST page's own ``manim-clip`` fences, as reading will record them;
    the ones the directive would warn about are left to it."""
    page = Path(app.env.doc2path(docname))
    config = getattr(app.env, "myst_config", None)  # set by myst_parser, if it is used
    if page.suffix != ".md" or config is None:
        return []
    from myst_parser.parsers.directives import MarkupError

    try:
        fences = myst_pages.read(page, config).fences
    except (OSError, UnicodeDecodeError):
        return []
    specs = []
    for fence in fences:
        if fence.name != "manim-clip":
            continue
        try:
            parsed = fence.parse(ManimClipDirective)
            spec = ClipSpec(
                uid=f"{docname}#{len(specs)}",
                docname=docname,
                lineno=fence.line,  # the fence's line, as MyST gives it to the directive
                scene=parsed.arguments[0],
                page=str(page),
            )
            # without the values the directive refuses (and ignores, after its warning)
            fill_spec(spec, app, taken_options(parsed.options), parsed.body)
        except (MarkupError, Problem, OSError):
            continue
        specs.append(spec)
    return specs
