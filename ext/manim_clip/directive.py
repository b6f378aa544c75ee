"""The ``manim-clip`` and ``manim-film`` directives: they check their input and record a
spec; they render nothing.

Rendering happens once per build, after every page is read (see render.py and film.py).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_id

from buildlib import keys

from .. import _core
from .._core import Problem

logger = logging.getLogger(__name__)

SUBTYPE = "manim-clip"
FILM_SUBTYPE = "manim-film"  # the film directive's warnings, and the film's
QUALITIES = ("draft", "publish", "high")


class manim_clip(nodes.General, nodes.Element):
    """A clip on the page: attributes uid, scene, alt, autoplay; an optional caption child."""


class manim_film(manim_clip):
    """The film of all the clips: shown like a clip (attributes alt, autoplay always off)."""


@dataclass
class ClipSpec:
    """Everything the render step needs for one clip (pickled with the environment)."""

    uid: str  # "<docname>#<index>": links the node to its render result
    docname: str
    lineno: int
    scene: str
    page: str  # the page's source file
    caption: str = ""
    file: str | None = None  # the scene file, or None for inline code
    code: str | None = None
    code_first_line: int = 1  # page line of the inline code's first line
    data: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # project files the scene imports
    quality: str | None = None  # the :quality: option, if given
    poster: str = "scene"  # the scene's mark_poster() frame, else the last
    error: str | None = None  # a problem found while reading: the clip is not rendered

    @property
    def location(self) -> tuple[str, int]:
        return (self.docname, self.lineno)

    @property
    def scene_source(self) -> Path:
        return Path(self.file or self.page)


@dataclass
class FilmSpec:
    """Where a ``manim-film`` directive is: every one shows the same film of the book."""

    docname: str
    lineno: int

    @property
    def location(self) -> tuple[str, int]:
        return (self.docname, self.lineno)


def clip_title(node: manim_clip) -> str:
    """The text :ref: shows for a clip: its caption, else its scene name (or "Film")."""
    caption = _caption_of(node)
    if caption:
        return caption.astext()
    return "Film" if isinstance(node, manim_film) else node["scene"]


def _caption_of(node: nodes.Element) -> nodes.caption | None:
    return next((child for child in node.children if isinstance(child, nodes.caption)), None)


# A poster's time in seconds: how far into the clip is checked once it is rendered.
POSTER_SECONDS = _core.Number(float, 0, sys.float_info.max, "2.5")


def _poster_option(value: str) -> str:
    value = value.strip() or "scene"
    if value not in ("scene", "first", "last"):
        POSTER_SECONDS(value)  # ValueError for anything that is not a time
    return value


class _FigureDirective(SphinxDirective):
    """What clips and films share: a caption and an anchor."""

    id_prefix = "clip"
    subtype = SUBTYPE  # of the directive's warnings: named after it

    def _caption(self, node: manim_clip) -> list[nodes.Node]:
        text = self.options.get("caption", "").strip()
        if not text:
            return []
        inline, messages = self.state.inline_text(text, self.lineno)
        caption = nodes.caption(text, "", *inline)
        self.set_source_info(caption)
        node += caption
        return messages

    def _ids(self, node: manim_clip) -> None:
        """A stable anchor: from :name: (then :ref: works), else from the caption or scene."""
        if "name" in self.options and _core.add_name(self, node, logger, self.subtype):
            return
        node["ids"].append(make_id(self.env, self.state.document, self.id_prefix, clip_title(node)))
        self.state.document.note_explicit_target(node)


class ManimClipDirective(_core.OneArgument, _FigureDirective):
    """```{manim-clip} SceneClass``` with :file: or the scene's code as the body."""

    takes_body, argument_example = True, "AttentionScene"
    # Values are checked in run(), so a bad one is a located warning and a placeholder
    # instead of docutils' error that drops the whole directive.
    option_spec = _core.AnyOption(
        {
            "file": directives.unchanged_required,
            "caption": directives.unchanged,
            "alt": directives.unchanged,
            "quality": directives.unchanged,
            "poster": directives.unchanged,
            "autoplay": directives.flag,
            "data": directives.unchanged,
            "name": directives.unchanged,
            "class": directives.class_option,
        }
    )

    def run(self) -> list[nodes.Node]:
        _core.drop_bad_options(self, logger, SUBTYPE)
        scene = self.argument
        specs = self.env.manim_clip_specs.setdefault(self.env.docname, [])
        spec = ClipSpec(
            uid=f"{self.env.docname}#{len(specs)}",
            docname=self.env.docname,
            lineno=self.lineno,
            scene=scene,
            page=str(self.env.doc2path(self.env.docname)),
        )
        node = manim_clip(
            uid=spec.uid,
            scene=scene,
            alt=self.options.get("alt", "").strip(),
            autoplay="autoplay" in self.options,
            classes=["manim-clip", *self.options.get("class", [])],
        )
        self.set_source_info(node)
        messages = self._caption(node)
        spec.caption = caption.astext() if (caption := _caption_of(node)) else ""
        self._ids(node)
        try:
            if problem := self.argument_problem():
                raise problem
            fill_spec(spec, self.env.app, self.options, self.content)
        except Problem as problem:
            spec.error = str(problem)
            warn_clip(scene, spec.location, str(problem), problem.hint)
        if spec.file:  # what was found, even if a later check failed
            self.env.note_dependency(spec.file)
        for dependency in spec.imports:
            _core.note_code_dependency(self.env, Path(dependency))  # code, not comments
        for dependency in spec.data:
            self.env.note_dependency(dependency)
        specs.append(spec)
        return [node, *messages]


class ManimFilmDirective(_FigureDirective):
    """```{manim-film}```: every clip of the book in reading order, each after a title card.

    The film is joined after the clips are rendered (film.py); here it is only placed.
    """

    id_prefix = "film"
    subtype = FILM_SUBTYPE
    option_spec = _core.AnyOption(
        {
            "caption": directives.unchanged,
            "alt": directives.unchanged,
            "name": directives.unchanged,
            "class": directives.class_option,
        }
    )

    def run(self) -> list[nodes.Node]:
        _core.drop_bad_options(self, logger, self.subtype)
        spec = FilmSpec(self.env.docname, self.lineno)
        self.env.manim_film_specs.setdefault(self.env.docname, []).append(spec)
        node = manim_film(
            alt=self.options.get("alt", "").strip(),
            autoplay=False,
            classes=["manim-clip", "manim-film", *self.options.get("class", [])],
        )
        self.set_source_info(node)
        messages = self._caption(node)
        self._ids(node)
        return [node, *messages]


def warn_clip(scene: str, location, message: str, hint: str | None) -> None:
    """A clip's warning: ``manim-clip <scene>: <message>`` at its page and line."""
    said = f"manim-clip {scene}: {message}" if scene else f"manim-clip: {message}"
    _core.warn(logger, said, location=location, subtype=SUBTYPE, hint=hint)


def fill_spec(spec: ClipSpec, app, options: dict, content: list[str]) -> None:
    """Check a clip's options and find its files, from the directive's parsed options and
    body; raises Problem with a hint. What the directive and the early start
    (early.py) share, so both make the same spec, and so the same cache key."""
    if not spec.scene.isidentifier():
        raise Problem(
            f"{spec.scene!r} is not a Python class name",
            "give the scene's class name, e.g. ```{manim-clip} AttentionScene",
        )
    quality = options.get("quality")
    if quality is not None and quality.strip() not in QUALITIES:
        raise Problem(
            f":quality: {quality!r} is not one of {', '.join(QUALITIES)}",
            "draft is fast for writing, publish is the default, high is 1080p60",
        )
    spec.quality = quality.strip() if quality else None
    try:
        spec.poster = _poster_option(options.get("poster", "scene"))
    except ValueError:
        raise Problem(
            f":poster: {options['poster']!r} is not scene, last, first or seconds",
            "e.g. :poster: first, or :poster: 2.5 for the frame at 2.5 s;"
            " without it, the frame the scene marks (else the last)",
        ) from None

    body = "\n".join(content).strip()
    if ("file" in options) == bool(body):
        raise Problem(
            "give the scene either with :file: or as the directive's body",
            "not both, and not neither",
        )
    root = _core.project_root(app)
    if body:
        spec.code = "\n".join(content) + "\n"
        spec.code_first_line = _body_first_line(content, spec.lineno, Path(spec.page))
        imports = _inline_imports(spec.code, Path(spec.page).parent, root)
    else:
        path = _existing_file(app, spec.docname, options["file"], ":file:")
        spec.file = str(path)
        imports = _core.project_imports(path, root, search=[path.parent, root])
    spec.imports = [str(p) for p in imports]
    spec.data = [
        str(_existing_file(app, spec.docname, arg, ":data:"))
        for arg in options.get("data", "").split()
    ]


def _body_first_line(content: list[str], lineno: int, page: Path) -> int:
    """The page line of the body's first line, so tracebacks point into the page.

    Found by text: MyST and rST count content_offset differently.
    """
    first = next(i for i, line in enumerate(content) if line.strip())
    wanted = content[first].strip()
    try:
        lines = page.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    for number in range(lineno, len(lines) + 1):
        if lines[number - 1].strip() == wanted:
            return number - first
    return lineno + 1  # e.g. from an included file: close enough


def _existing_file(app, docname: str, argument: str, option: str) -> Path:
    try:
        path = _core.resolve_path(app, docname, argument)
    except _core.PathOutsideProject as error:
        raise Problem(
            f"{option} {error}",
            "keep scene and data files inside the project"
            " (a leading / starts from the source folder)",
        ) from None
    if not keys.is_file(path):
        raise Problem(
            f"{option} {argument!r}: no such file ({path})",
            "paths are relative to the page, or to the source folder with a leading /",
        )
    return path


def _inline_imports(code: str, folder: Path, root: Path) -> list[Path]:
    """Project files that inline scene code imports (project_imports reads from a file)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "inline_scene.py")
        path.write_text(code, encoding="utf-8")
        return _core.project_imports(path, root, search=[folder, root])
