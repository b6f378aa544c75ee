"""``arch-diagram``: box-drawing diagrams of the live model, drawn while the book builds.

Modules (one forward pass, traced with hooks: real shapes, real parameter counts)::

    ```{arch-diagram} model_src.model:GPT
    :config: sort                 a preset, key=value overrides, or both: sort,n_layer=1
    :focus: transformer.h.0.attn  expand this submodule in place (path from the target)
    :depth: 2                     levels expanded (default 2)
    :input: 1x11                  batch x time of the traced sample (default: the preset's)
    :caption: The sort model      (default: target, focus and config)
    :name: fig-sort-model         a label for :ref: and :numref:
    ```

The target is an ``nn.Module`` class (nothing else is called). The model class is
built from the preset's config, ``GPT(gpt_config("sort", **overrides))``; a building
block (Block, CausalSelfAttention, MLP, LayerNorm) is drawn on its own, as it first
sits in that model (``transformer.h.0``), with the shapes it really sees there.
``:config:`` names at most one preset (default: the presets module's first) and
key=value GPTConfig overrides, values read as Python literals.

``:depth:`` counts the levels expanded below what is drawn: 1 draws its direct parts as
rows, 2 expands those into boxes, and so on. ``:focus:`` keeps the whole and opens one
part: the modules on the way to it are expanded, their other parts stay rows, and the
focus itself is expanded ``:depth:`` levels. Repeated siblings are drawn once with ×N;
the residual adds, the embeddings' add and attention's q, k, v and attention matrix are
drawn only where the traced run confirms them (see ``modules.py``).

The rest of the pipeline (see ``pipeline.py``): the argument is one of these words, with
``:config:``, ``:input:``, ``:caption:`` and ``:name:`` as above::

    ```{arch-diagram} optimizer      AdamW's weight-decay and no-decay parameter groups
    ```{arch-diagram} get_batch      x and y of a training batch, real tokens (:input: BxT)
    ```{arch-diagram} tokenizer      characters → ids → characters (:input: 1xT)
    ```{arch-diagram} generate       the sampling loop (:input: 1xPROMPT); :config: also
                                     takes max_new_tokens, temperature, top_k and top_p

The same drawings from a shell: ``python -m ext.arch_diagram model_src.model:GPT
--config sort --focus transformer.h.0.attn`` (``--help`` lists the options).

The directive only checks its options and records what to draw while a page is read.
After reading (``env-updated``) every diagram of the book is taken from the cache or
drawn, a core each, and when a page is written its placeholder node becomes a captioned
literal block: every builder shows it as text, HTML gets the copy button, and the
caption an anchor (the :name:, or one made of what is drawn). Every diagram is told
again in HTML for screen readers, which would read the box drawing glyph by glyph: its
<pre> is one named picture to them (role img), and visually hidden text (arch_diagram.css)
stands in. For a module's diagram it gives the header lines, every module drawn, in the
drawing's order, with its type, output shape and parameters, and the footnotes, all from
the trace the drawing is made of; for the pipeline's kinds, the drawing's own lines
without the box drawing and arrowheads.
Cache keys cover the request, the project files it is drawn from (pages depend on them
too, so an edit to the model redraws) and the versions of torch and this package. A
problem is a warning at the directive's line (type ``nanobook.arch-diagram``), and the
page shows what could not be drawn.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import html
import importlib.metadata
import re
from pathlib import Path
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from buildlib import keys, processes, store

from .. import _core, producers
from .._core import Problem
from . import draw
from .request import (
    KINDS,
    Drawing,
    Part,
    Request,
    parse,
    resolve_live,
    source_files,
    where_raised,
)

__version__ = "0.1.0"

logger = logging.getLogger(__name__)
SUBTYPE = "arch-diagram"
STATIC = Path(__file__).parent / "static"


class arch_diagram(nodes.General, nodes.Element):
    """Stands where the diagram goes until the page is written; ``request`` says what to
    draw. It never reaches a writer: doctree-resolved replaces it with a literal block,
    which every builder already knows how to show."""


class told_diagram(nodes.literal_block):
    """A drawing, told again as text: ``header``, ``parts`` and ``footnotes``
    (request.Drawing; a pipeline's drawing, its lines as the header and no parts). HTML
    makes the drawing one named picture to screen readers and gives them that text; every
    other builder shows the literal block alone."""


class ArchDiagram(_core.OneArgument, SphinxDirective):
    argument_example = "model_src.model:GPT"
    option_spec: ClassVar[dict] = _core.AnyOption(
        {
            "config": directives.unchanged,
            "focus": directives.unchanged,
            "depth": directives.unchanged,
            "input": directives.unchanged,
            "caption": directives.unchanged,
            "name": directives.unchanged,
        }
    )

    def run(self) -> list[nodes.Node]:
        _core.drop_bad_options(self, logger, SUBTYPE)
        options = self.options
        wrapper = nodes.container(
            "", literal_block=True, classes=["literal-block-wrapper", "arch-diagram"]
        )
        self.set_source_info(wrapper)
        try:
            if problem := self.argument_problem():
                raise problem
            request = parse(
                self.argument,
                config=options.get("config", ""),
                focus=options.get("focus", ""),
                depth=options.get("depth", ""),
                input=options.get("input", ""),
                presets=self.config.nanobook_presets,
            )
        except Problem as err:
            _core.warn(
                logger,
                f"arch-diagram: {err.message}",
                location=self.get_location(),
                subtype=SUBTYPE,
                hint=err.hint,
            )
            request, problem = None, err.message
        caption_text = options.get("caption") or default_caption(self.argument, options)
        inlines, messages = self.parse_inline(caption_text, lineno=self.lineno)
        caption = nodes.caption(caption_text, "", *inlines)
        self.set_source_info(caption)
        wrapper += caption
        if request is None:
            wrapper += placeholder(self.argument, problem)
        else:
            for path in source_files(request, _core.project_root(self.env.app)):
                _core.note_code_dependency(self.env, path)  # a comment edit draws nothing new
            pending = arch_diagram(request=request)
            self.set_source_info(pending)
            wrapper += pending
            specs = self.env.arch_diagram_specs.setdefault(self.env.docname, [])
            specs.append((request, self.lineno))
        if not ("name" in options and _core.add_name(self, wrapper, logger, SUBTYPE)):
            anchor = self._stable_id(request)
            wrapper["ids"].append(anchor)
            self.state.document.ids[anchor] = wrapper
        return [wrapper, *messages]

    def _stable_id(self, request: Request | None) -> str:
        """An anchor that stays put across builds: made of what is drawn, not of the order
        of the page's diagrams (a second diagram of the same thing gets ``-2``)."""
        parts = [self.argument.rpartition(":")[2] or self.argument]
        if request:
            parts += [
                request.focus,
                request.preset or "",
                *(f"{k}-{v}" for k, v in request.overrides),
            ]
        base = nodes.make_id("arch-diagram-" + "-".join(filter(None, parts)))
        anchor, number = base, 1
        while anchor in self.state.document.ids:
            number += 1
            anchor = f"{base}-{number}"
        return anchor


def default_caption(target: str, options: dict) -> str:
    name = target.rpartition(":")[2]
    focus = options.get("focus", "").strip()
    config = options.get("config", "").strip()
    return f"{name}{f' › {focus}' if focus else ''}{f' ({config})' if config else ''}"


def placeholder(target: str, reason: str) -> nodes.literal_block:
    text = f"[arch-diagram {target} could not be drawn: {reason}]"
    return nodes.literal_block(text, text, language="text", classes=["arch-diagram-error"])


# --- drawing, once every page is read ----------------------------------------------------


class Diagrams(producers.Producer):
    """After reading, every diagram of the book from the store, or drawn (a core each) in
    a process of its own; its problems and notes said at each directive."""

    name, subtype, thing = "diagrams", SUBTYPE, "the diagram"

    def ident(self, request: Request) -> str:
        return request.key()  # an override's value may be a list: not hashable

    def asked(self, env) -> list[producers.Asked]:
        return [
            producers.Asked(docname, line, request)
            for docname in sorted(env.arch_diagram_specs)
            for request, line in env.arch_diagram_specs[docname]
        ]

    def key(self, app, request: Request) -> str:
        root = _core.project_root(app)
        return keys.digest(
            request.key(),
            importlib.metadata.version("torch"),
            *(
                f"{_short(path, root)}:{keys.code_digest(path)}"
                for path in source_files(request, root)
            ),
            *keys.producer_code(__file__),  # with modules.py, pipeline.py: all it imports
        )

    def make(self, app, request: Request) -> Drawing:
        config = app.config
        memory = _core.memory_bytes(config.nanobook_model_memory)
        return draw_apart(request, config.nanobook_model_timeout, memory)

    def write(self, drawing: Drawing, folder: Path) -> None:
        store.write_meta(folder, drawing.as_json())

    def read(self, entry: Path, meta: dict) -> Drawing:
        """A stored diagram; a ValueError, KeyError or TypeError for anything else (damaged)."""
        return Drawing.from_json(meta)

    def notes(self, asked: producers.Asked, drawing: Drawing) -> list[Problem]:
        return [Problem(note) for note in drawing.notes]


DIAGRAMS = Diagrams()


def show_diagrams(app, doctree: nodes.document, docname: str) -> None:
    """Replace each placeholder with its drawing, or with what could not be drawn."""
    for node in list(doctree.findall(arch_diagram)):
        request = node["request"]
        made = producers.made(app.env, DIAGRAMS, request)
        if made is None or not made.ok:
            reason = made.problems[0].message if made else "not drawn"
            node.replace_self(placeholder(request.target, reason))
            continue
        drawing = made.value
        told = {"header": drawing.header, "parts": drawing.parts, "footnotes": drawing.footnotes}
        if not drawing.parts:  # a pipeline's drawing: no modules, its own lines tell it
            told = {"header": plain_lines(drawing.text), "parts": [], "footnotes": []}
        block = told_diagram(drawing.text, drawing.text, language="text", **told)
        block.source, block.line = node.source, node.line
        node.replace_self(block)


# --- the drawing told again, for screen readers -------------------------------------------


# What a screen reader says of the drawing itself, where the keyboard's Tab reaches it.
DRAWN = "The diagram drawn in box characters; the same diagram follows in words"


def visit_told_html(self, node: told_diagram) -> None:
    """The literal block as Sphinx writes it, its <pre> one named picture to screen readers
    (role img: its glyphs are not read one by one), then the text they read instead,
    visually hidden. Not aria-hidden: the theme makes a <pre> wider than the column a Tab
    stop, so that the keyboard can scroll it (a phone's width), and a Tab stop hidden from
    screen readers would be announced as nothing. Only the <pre>, not the whole block: the
    copy button in it stays reachable, with its name."""
    start = len(self.body)
    with contextlib.suppress(nodes.SkipNode):  # Sphinx's visitor writes it all, then skips
        self.visit_literal_block(node)
    written = "".join(self.body[start:])
    self.body[start:] = [written.replace("<pre>", f'<pre role="img" aria-label="{DRAWN}">', 1)]
    header, footnotes = (
        "".join(f"<p>{html.escape(line)}</p>" for line in node[lines])
        for lines in ("header", "footnotes")
    )
    told = f"{header}{told_parts(node['parts']) if node['parts'] else ''}{footnotes}"
    self.body.append(f'<div class="arch-diagram-text">{told}</div>\n')
    raise nodes.SkipNode


# The box drawing (U+2500 to U+257F) and the arrowheads the drawings join it with: a
# screen reader names each glyph. The arrows of the text itself (→) stay.
_GLYPHS = re.compile("[\u2500-\u257f\u25b2\u25ba\u25bc\u25c4]+")


def plain_lines(text: str) -> list[str]:
    """A drawing's lines without their box drawing, spaces collapsed, blank lines dropped;
    a loop's first line and its last say where the repeated lines begin and end."""
    lines = []
    for line in text.splitlines():
        plain = " ".join(_GLYPHS.sub(" ", line).split())
        # a loop's ends told in words: without the rail nothing says which lines repeat
        if draw.LOOP_TOP.search(line):
            plain = "loop: each pass runs the lines from here to the loop's end"
        elif draw.LOOP_BOTTOM.search(line):
            plain = f"loop's end: back to its first line, {plain}"
        lines.append(plain)
    return [line for line in lines if line]


def told_parts(parts: list[Part]) -> str:
    """The modules as an ordered list, an expanded one's own nested in its item:
    ``transformer.h.0…2: 3 × Block, output 1×11×48, 3 × 28,272 = 84,816 parameters``."""
    items = []
    for part in parts:
        kind, params = part.kind, f"{part.params:,}"
        if part.calls > 1:
            kind = f"{part.calls} × {kind}"
            params = f"{part.calls} × {params} = {part.calls * part.params:,}"
        output = f", output {part.shape}" if part.shape else ""
        own = f", {part.own:,} of them its own" if part.own else ""
        text = html.escape(f"{part.name}: {kind}{output}, {params} parameters{own}")
        items.append(f"<li>{text}{told_parts(part.parts) if part.parts else ''}</li>")
    return f"<ol>{''.join(items)}</ol>"


def visit_as_literal_block(self, node: told_diagram) -> None:
    self.visit_literal_block(node)


def depart_as_literal_block(self, node: told_diagram) -> None:
    self.depart_literal_block(node)


def serve_static(app, config) -> None:
    if str(STATIC) not in config.html_static_path:
        config.html_static_path = [*config.html_static_path, str(STATIC)]


def _short(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def draw_diagram(request: Request) -> Drawing:
    """Import, build, trace and lay out; a Problem says why that was not possible."""
    # torch is imported here, not at module level: reading a page must stay cheap
    from .modules import draw_module
    from .pipeline import draw_pipeline

    live = resolve_live(request)
    if request.target in KINDS:
        return draw_pipeline(request, live)
    return draw_module(request, live)


def draw_apart(request: Request, timeout: float, memory: int | None) -> Drawing:
    """``draw_diagram`` in a process of its own (processes.call_apart), within
    ``timeout`` seconds and ``memory`` bytes: whatever the model code does there (exit,
    crash, fork, run out of memory, hang) is a Problem here."""
    apart = processes.call_apart(
        f"{__name__}:drawing_in_worker",
        {"request": request.key()},
        timeout=timeout,
        memory=memory,
        imports=("torch", f"{__name__}.modules", f"{__name__}.pipeline"),  # not timed
    )
    if apart.timed_out:
        raise Problem(
            f"drawing {request.target} stopped: the model code ran longer than {timeout:g} s",
            hint="raise nanobook_model_timeout in conf.py, or draw a cheaper config",
        )
    if apart.failure:
        raise Problem(
            f"drawing {request.target} stopped: {apart.failure}",
            hint="fix the model code: a diagram runs it once, in a process of its own, "
            "and needs it to return",
        )
    if "error" in apart.value:
        raise Problem(apart.value["error"], hint=apart.value["hint"])
    return Drawing.from_json(apart.value)


def drawing_in_worker(request: str) -> dict:
    """In draw_apart's worker: the drawing of ``request`` (its key) or why there is none."""
    request = Request(*ast.literal_eval(request))
    try:
        drawing = draw_diagram(request)
    except Problem as err:
        return {"error": err.message, "hint": err.hint}
    except _core.MODEL_CODE_ERRORS as err:
        return {
            "error": f"drawing {request.target} failed: {type(err).__name__}: {err}"
            + where_raised(err),
            "hint": "run the same diagram with python -m ext.arch_diagram to see why",
        }
    return drawing.as_json()


# --- set-up ---------------------------------------------------------------------------------


def setup(app):
    _core.setup_core(app)
    app.add_directive("arch-diagram", ArchDiagram)
    as_literal_block = (visit_as_literal_block, depart_as_literal_block)
    app.add_node(
        told_diagram,
        html=(visit_told_html, None),
        latex=as_literal_block,
        text=as_literal_block,
        man=as_literal_block,
        texinfo=as_literal_block,
    )
    app.connect("config-inited", serve_static)
    app.add_css_file("arch_diagram.css")
    _core.per_page_state(app, "arch_diagram_specs")  # docname -> [(request, line)]
    app.connect("env-updated", functools.partial(producers.produce, DIAGRAMS))
    app.connect("doctree-resolved", show_diagrams)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
