"""One reader of the book's MyST pages: each page parsed once, by MyST's own parser.

A page is parsed to the block level by markdown-it with the project's MyST settings
(``myst_parser``'s ``create_md_parser``, the parser MyST-NB splits a page into cells
with), and everything the build needs of it is read from those tokens:

- the front matter (``Page.front_matter``);
- the code cells, as MyST-NB reads them: `````{code-cell}`` fences outside any list
  or quote, their options (``:tags:``) read as YAML (``Page.cells``);
- every directive fence (`````{name}`` or ``:::{name}``) with its argument, options,
  body and line; a fence's body is a page of its own (``Fence.page``), for the
  directives nested in it (``Page.fences``);
- the ``%`` comments (``Page.comments``);
- the rest in order (``Page.blocks``): markdown as written, plain code fences, display
  math and ``(label)=`` targets between the fences.

Line numbers are the page's, from 1, so a warning names ``docname:line``. It needs no
Sphinx application (MyST's parser and docutils' option converters only): the early clip
scan, the notebook keys, the executor and the notebook export for readers
all read pages here (the executor's notebook is MyST-NB's own reading of the page, since
jupyter-cache matches it against what MyST-NB reads while Sphinx reads the page).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import yaml
from docutils.parsers.rst import directives

from buildlib import keys


@dataclass(frozen=True)
class Markdown:
    """Markdown between the page's other blocks, as written (inline markup included)."""

    text: str
    line: int


@dataclass(frozen=True)
class Code:
    """A fence that is not a directive: code shown as written, its fence lines included."""

    text: str
    line: int


@dataclass(frozen=True)
class Math:
    """A ``$$`` display-math block: its body."""

    body: str
    line: int


@dataclass(frozen=True)
class Target:
    """A ``(label)=`` line."""

    label: str
    line: int


@dataclass(frozen=True)
class Comment:
    """A ``%`` comment: its text without the ``%``."""

    text: str
    line: int


@dataclass(frozen=True)
class Cell:
    """A code cell as MyST-NB reads it: its code and its metadata (the options)."""

    source: str
    metadata: dict
    line: int  # the opening fence's
    body_line: int  # the source's first line

    @property
    def python(self) -> str:
        """Its Python without magics; just its imports if it does not parse, so what it
        imports is always seen (what keys its page and asks for trained runs)."""
        lines = [line for line in self.source.splitlines() if not line.startswith(("%", "!"))]
        try:
            keys.parse_python("\n".join(lines))
        except SyntaxError:
            lines = [line.strip() for line in lines if re.match(r"\s*(import|from)\s", line)]
        return "\n".join(lines)


class _AnyOption(dict):
    """An option spec that takes every option as written (the directive checks its own)."""

    def __missing__(self, name: str):
        return directives.unchanged

    def __bool__(self) -> bool:  # MyST reads no options for a directive with none
        return True


class _AnyDirective:
    """What MyST needs of a directive to split a fence's text: one argument (the whole
    first line), any option, a body."""

    required_arguments, optional_arguments, final_argument_whitespace = 0, 1, True
    has_content = True
    option_spec = _AnyOption()


class _CellDirective(_AnyDirective):
    """A code cell's fence as MyST-NB splits it (its options become the cell's metadata)."""

    option_spec: ClassVar = {"options": True}


@dataclass(frozen=True)
class Fence:
    """A directive fence: `````{name} argument`` (or ``:::{name}``), its options and body."""

    name: str
    argument: str
    content: str  # everything after the opening line, as MyST hands it to the directive
    line: int  # the opening line's
    markup: str  # the fence's characters: ``` (or more), ::: for a colon fence
    top_level: bool  # outside any list or quote (MyST-NB reads only those as cells)
    config: object = dataclasses.field(repr=False, compare=False)

    def parse(self, directive_class):
        """The fence's text as ``directive_class`` reads it (MyST's own parsing, with the
        directive's option checks): arguments, options, body. Raises MarkupError."""
        from myst_parser.parsers.directives import parse_directive_text

        return parse_directive_text(directive_class, self.argument, self.content, line=self.line)

    @cached_property
    def _parts(self):
        return self.parse(_AnyDirective)

    @property
    def options(self) -> dict[str, str]:
        """The options as written (their values stripped)."""
        return self._parts.options

    @property
    def body(self) -> str:
        return "\n".join(self._parts.body)

    @cached_property
    def page(self) -> Page:
        """The body read as a page of its own, its lines numbered as the page's."""
        return parse(self.body, self.config, first_line=self.line + 1 + self._parts.body_offset)

    def cell(self) -> Cell:
        """The fence as a code cell: its options read as YAML, MyST-NB's metadata."""
        from myst_parser.parsers.directives import parse_directive_text

        parts = parse_directive_text(_CellDirective, "", self.content, validate_options=False)
        body_line = self.line + 1 + parts.body_offset
        return Cell("\n".join(parts.body), parts.options, self.line, body_line)


Block = Markdown | Code | Math | Target | Fence


@dataclass(frozen=True)
class Page:
    """A MyST page, parsed: see the module's docstring."""

    front_matter_text: str  # the YAML between the page's opening ``---`` lines
    blocks: tuple[Block, ...]
    comments: tuple[Comment, ...]

    @cached_property
    def front_matter(self) -> dict:
        """The front matter; empty if there is none or it is not a YAML mapping (MyST
        warns about that at the page's line when Sphinx reads it)."""
        try:
            matter = yaml.safe_load(self.front_matter_text)
        except yaml.YAMLError:
            return {}
        return matter if isinstance(matter, dict) else {}

    @property
    def fences(self) -> list[Fence]:
        """The directive fences, in order (not those in another directive's body)."""
        return [block for block in self.blocks if isinstance(block, Fence)]

    @property
    def cells(self) -> list[Cell]:
        """The code cells, in order, as MyST-NB reads them: backtick fences, not nested."""
        return [
            fence.cell()
            for fence in self.fences
            if fence.name == "code-cell" and fence.top_level and fence.markup.startswith("`")
        ]


def parser_config(config=None):
    """MyST's settings (``app.env.myst_config``; MyST's defaults if None) for the block
    level only: inline markup is left as written."""
    from myst_parser.config.main import MdParserConfig

    config = config or MdParserConfig()
    return dataclasses.replace(config, disable_syntax=[*config.disable_syntax, "inline"])


# path -> (the file's stamp and the settings, the page read from it)
_READ: dict[str, tuple[tuple, Page]] = {}


def read(path: Path, config=None) -> Page:
    """The page at ``path``; raises OSError or UnicodeDecodeError. A file read again
    unchanged with the same settings is not parsed again: the early clip scan and the
    notebook keys read the same pages before Sphinx reads them."""
    status = Path(path).stat()
    stamp = (status.st_mtime_ns, status.st_size, repr(config))
    known = _READ.get(str(path))
    if known and known[0] == stamp:
        return known[1]
    page = parse(Path(path).read_text(encoding="utf-8"), config)
    _READ[str(path)] = (stamp, page)
    return page


def notebook(path: Path, config, nb_config):
    """The page as MyST-NB reads it into a notebook: (MyST-NB's reader, the notebook),
    or None for a page MyST-NB does not read as one. MyST-NB's own reading, as
    jupyter-cache matches an executed notebook against what MyST-NB reads while Sphinx
    reads the page."""
    from myst_nb.core.read import create_nb_reader

    text = Path(path).read_text(encoding="utf-8")
    reader = create_nb_reader(str(path), config, nb_config, text)
    return None if reader is None else (reader, reader.read(text))


def parse(text: str, config=None, first_line: int = 1) -> Page:
    """``text`` as a MyST page, read with ``config`` (see ``parser_config``); its first
    line numbered ``first_line``."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.parsers.mdit import create_md_parser

    tokens = create_md_parser(parser_config(config), RendererHTML).parse(text)
    lines = text.split("\n")
    front_matter, blocks, comments = "", [], []
    written = 0  # the lines before it are in a block already
    depth = 0
    for token in tokens:
        depth += token.nesting
        if token.type == "front_matter":
            front_matter = token.content
            written = token.map[1]
        elif token.type == "myst_line_comment":
            comments += [
                Comment(text, token.map[0] + index + first_line)
                for index, text in enumerate(token.content.split("\n"))
            ]
        block = _block(token, lines, first_line, depth == 0, config)
        if block is None:
            continue
        start, end = token.map
        if start > written:
            blocks.append(Markdown("\n".join(lines[written:start]), written + first_line))
        blocks.append(block)
        written = end
    if written < len(lines):
        blocks.append(Markdown("\n".join(lines[written:]), written + first_line))
    return Page(front_matter, tuple(blocks), tuple(comments))


def _block(token, lines: list[str], first_line: int, top_level: bool, config) -> Block | None:
    """The block a token of ``lines`` stands for, or None for markdown as written."""
    if not token.map:
        return None
    line = token.map[0] + first_line
    if token.type in ("fence", "colon_fence"):
        name, argument = [*(token.info or "").split(maxsplit=1), "", ""][:2]  # as MyST splits it
        if name.startswith("{") and name.endswith("}"):
            fence = name[1:-1], argument.strip(), token.content, line, token.markup
            return Fence(*fence, top_level, config)
        if token.type == "fence":
            return Code("\n".join(lines[token.map[0] : token.map[1]]), line)
    if token.type in ("math_block", "math_block_label"):
        return Math(token.content.strip("\n"), line)
    if token.type == "myst_target":
        return Target(token.content, line)
    return None
