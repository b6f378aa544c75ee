"""``manim-clip``: Manim scenes rendered at build time into web video, posters and GIFs.

The directive records a spec per clip while pages are read (in parallel if asked);
after reading, one render step finds each clip in the content-addressed cache or
renders it in a pool of worker processes, which has started what it could before the
pages were read, as soon as the clips' inputs existed (early.py). Writers then show a
<video> (HTML), a poster (EPUB, LaTeX) or ``[animation: caption]`` and the transcript
(text, man, texinfo); other builders (gettext, linkcheck) render nothing. The build
ends with a table of clips rendered, reused and failed, after the line benchmarks
parse: ``manim-clip: N rendered, M reused, K failed``, then how the renders ran
(render.pool_line).

``manim-film`` shows every clip of the book in one film, joined right after the clips
are rendered (film.py) and shown like a clip; the log says ``manim-film: joined`` or
``manim-film: reused``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sphinx.builders import Builder
from sphinx.errors import ConfigError
from sphinx.util import logging

from .. import _core, producers
from . import early, film, render
from .directive import (
    QUALITIES,
    ManimClipDirective,
    ManimFilmDirective,
    clip_title,
    manim_clip,
    manim_film,
)
from .visitors import text_fallback, visit_html, visit_latex

__version__ = "0.1.0"

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CLIPS_BUILDER = "manim-clips"
# Builders that show clips: video and poster (html, latex), or the transcript as text.
RENDERING_FORMATS = ("html", "latex", "text", "man", "texinfo")


@dataclasses.dataclass
class ClipConfig:
    """The ``manim_clip_*`` settings in conf.py."""

    quality: str = dataclasses.field(default="publish", metadata={"choices": QUALITIES})
    jobs: int = 0  # renders at once; 0: os.cpu_count() (an int, so -D can set it)
    timeout: int | float = 600  # seconds a scene may run (once manim is imported), then killed
    formats: list = dataclasses.field(default_factory=list, metadata={"choices": ("webm", "gif")})


def settings(app) -> render.Settings:
    config = _core.typed_config(app, ClipConfig, "manim_clip_")
    return render.Settings(
        cache_dir=(_core.cache_root(app) / "clips").resolve(),
        project_root=_core.project_root(app),
        quality=config.quality,
        formats=tuple(config.formats),
        jobs=config.jobs or os.cpu_count() or 1,
        timeout=float(config.timeout),
        inputs_digest=app.config.nanobook_inputs_digest,
    )


def check_config(app, config) -> None:
    clip_settings = settings(app)  # raises ConfigError for a bad type or choice
    if app.config.manim_clip_jobs < 0:
        raise ConfigError(
            f"manim_clip_jobs = {app.config.manim_clip_jobs}: renders at once, at least 1 "
            "(0: one per core)"
        )
    if not clip_settings.timeout > 0:
        raise ConfigError(f"manim_clip_timeout = {clip_settings.timeout}: seconds, above 0")
    override = os.environ.get(render.QUALITY_ENV)
    if override and override not in QUALITIES:
        raise ConfigError(f"{render.QUALITY_ENV}={override!r}: choose from {', '.join(QUALITIES)}")
    config.html_static_path.append(str(STATIC))


def shows_clips(app) -> bool:
    """Whether this builder shows clips (e.g. gettext and linkcheck have no place for one)."""
    return app.builder.format in RENDERING_FORMATS or app.builder.name == CLIPS_BUILDER


def start_renders(app, env, added, changed, removed) -> list[str]:
    """env-get-outdated: start the renders the build will need (early.py); re-reads nothing."""
    if shows_clips(app):
        specs = early.known_specs(app, env, added, changed, removed)
        started = render.start_missing(specs, settings(app), render.render_pool(app))
        if started:
            logger.info(f"manim-clip: {started} renders started before reading")
    return []


def render_all(app, env) -> list[str]:
    """After reading: render what is missing, then the film if a page shows it (the
    lifecycle of ext/producers.py); returns the pages whose clips changed."""
    if not shows_clips(app):
        producers.forget(env, render.CLIPS)
        producers.forget(env, film.FILM)
        return []
    changed = producers.produce(render.CLIPS, app, env)
    return sorted(set(changed) | set(producers.produce(film.FILM, app, env)))


def finish(app, exception) -> None:
    """Stop the pool (what still runs is not needed), then say what the build did."""
    pool = getattr(app, "manim_clip_pool", None)
    app.manim_clip_pool = None
    if pool is not None:
        pool.stop()
    if exception is not None:
        return
    results = render.clip_results(app.env) if shows_clips(app) else {}
    if results:
        logger.info(render.summary_line(results.values()))
        for line in render.summary_table(results.values()):
            logger.info("  " + line)
    if pool is not None and (line := render.pool_line(pool)):
        logger.info(line)
    if made_film := film.made_film(app.env):
        logger.info(film.summary_line(made_film, len(film.film_clips(app.env))))


class ClipsBuilder(Builder):
    """Reads the project and renders its clips into the cache; writes nothing else."""

    name = CLIPS_BUILDER
    epilog = "Clips are in the manim-clip cache."
    allow_parallel = True

    def get_outdated_docs(self) -> list[str]:
        return []

    def get_target_uri(self, docname: str, typ: str | None = None) -> str:
        return ""

    def prepare_writing(self, docnames) -> None:
        pass

    def write_doc(self, docname, doctree) -> None:
        pass


def setup(app):
    _core.setup_core(app)
    app.setup_extension("ext.published")  # and what no page shows any more, pruned
    # rebuild "": settings change clips, not what pages read; render_all rewrites pages.
    _core.add_typed_config(app, ClipConfig, "manim_clip_", rebuild="")
    # Under each named clip, an Embed box with the Markdown that shows it in a README;
    # False leaves it out of the pages (the clips keep their stable URLs).
    app.add_config_value("manim_clip_embed", True, "html", types=frozenset({bool}))
    app.add_enumerable_node(
        manim_clip,
        "figure",  # numbered with the figures: :numref: gives "Fig. N"
        clip_title,
        html=(visit_html, None),
        latex=(visit_latex, None),
    )
    app.add_enumerable_node(
        manim_film,
        "figure",
        clip_title,
        html=(visit_html, None),
        latex=(visit_latex, None),
    )
    app.add_directive("manim-clip", ManimClipDirective)
    app.add_directive("manim-film", ManimFilmDirective)
    app.add_builder(ClipsBuilder)
    app.add_js_file("manim_clip.js", loading_method="defer")
    app.add_css_file("manim_clip.css")
    app.connect("config-inited", check_config)
    # docname -> [ClipSpec], docname -> [FilmSpec]
    _core.per_page_state(app, "manim_clip_specs", "manim_film_specs")
    # At the default priority: a project makes what scenes read before it (the book's
    # ext/book.py trains its models at 400) and what can run beside the renders after it
    # (the book's notebooks execute at 600).
    app.connect("env-get-outdated", start_renders)
    # Last: other extensions' work after reading runs while clips still render.
    app.connect("env-updated", render_all, priority=800)
    app.connect("doctree-resolved", text_fallback)
    app.connect("build-finished", finish)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
