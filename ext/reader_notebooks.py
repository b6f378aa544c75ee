"""Each chapter as a notebook a reader runs in Jupyter with nothing but the package.

MyST-NB saves a page's notebook as the page's source: markdown cells hold MyST (glue
roles, directive fences, ``\\color{q}``), code cells keep the tags that hide them, and
the cells import ``myst_nb.glue``. ``reader_notebook`` turns that notebook, executed,
into one Jupyter opens and runs top to bottom:

- ``{glue:text}`name``` becomes the value the build computed (the cell that computes it
  is in the notebook too), and a last cell checks each such value against what the
  reader's run computed (``glue`` keeps them); a name no cell glued is a warning at its
  line while the page is read (``check_quotes``), and the page offers no notebook;
- ``{ref}`` and ``{term}`` become links to the published page;
- directive fences (as the book's one reader of MyST, ext/myst_pages.py, finds
  them) become markdown: admonitions a quote, dropdowns ``<details>``, annotated source
  its notes, and clips, diagrams and widgets a link to them on the page;
- ``\\color{role}`` becomes the role's colour as ``#RRGGBB``, which MathJax and KaTeX
  both read;
- every code cell is shown (the set-up cell first among them), ``glue`` is defined in
  the cell that imported it, and a cell that needs the book's build machinery (``ext``)
  is described instead of run.
"""

from __future__ import annotations

import copy
import fnmatch
import html
import importlib.metadata
import posixpath
import pprint
import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.util import logging

from buildlib.book_build import TORCH_CPU_INDEX
from buildlib.files import atomic_write

from . import myst_pages, reader_wheel
from ._core import setup_core, warn
from .annotated_source.locate import split_notes

logger = logging.getLogger(__name__)

# A link target: (text, URL) for a label, or None when the label is unknown.
Resolver = Callable[[str, str], tuple[str, str] | None]

GLUE_IMPORT = re.compile(r"^from myst_nb import glue\n", re.M)
GLUE_DEFINITION = '''\
from IPython.core.formatters import format_display_data
from IPython.display import display as _display

COMPUTED = {}  # name -> what this notebook computed, as the book's text writes it


def glue(name, value, display=True):
    """The book puts `value` into its text as `name`; this notebook keeps it for its
    last cell, which checks the text's values against this run's, and shows it."""
    COMPUTED[name] = format_display_data(value)[0].get("text/plain", "")
    if display:
        _display(value)
'''
# Last: the values the text quotes (the page's, as the build computed them) against the
# ones this run computed, named by name; values only the build computes are left out. A
# value that differs is shown in the sentence that quotes it, so the reader can tell a
# timing from a result.
CHECK_CELL = """\
# Every value the text above quotes is the page's: the book's build computed it. Here
# each is checked against what this notebook computed (COMPUTED, filled by glue).
from ast import literal_eval

PAGE = {page}
QUOTED_IN = {quoted}  # the sentence of the text that quotes each value


def as_written(text):  # as the text writes a value: a string without its quotes
    try:
        return str(literal_eval(text))
    except (SyntaxError, ValueError):
        return text


differ = {{name: text for name, text in PAGE.items() if COMPUTED.get(name) != text}}
same = len(PAGE) - len(differ)
print(f"{{same}} of {{len(PAGE)}} values in the text are what this run computed")
for name, text in differ.items():
    ours = as_written(COMPUTED.get(name))
    print(f"  {{name}}: the page says {{as_written(text)!r}}, this run {{ours!r}}")
    if name in QUOTED_IN:
        print(f"    in: {{QUOTED_IN[name]}}")
if differ:
    print({timings!r})"""
TIMINGS_DIFFER = (
    "Timings (seconds, CPU-seconds, tokens a second) measure the machine that ran them "
    "and differ from the build's; any other value that differs is worth a look."
)
QUOTE_LENGTH = 160  # characters of a quoting sentence the check prints
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z{`*(\[])")
_QUOTE = re.compile(r"\{glue:text\}`([^`:]+)")
CHECK_HEADING = "## Check: the text's values against this run"
# First, before anything imports torch: the build's kernels and threads, so the notebook
# computes what its page printed (the values live in buildlib/book_build.py, not here).
NUMERICS_CELL = """\
# The numerics the book was built with (one thread, the same CPU kernels): set before
# torch is imported, they make this notebook compute the numbers its page printed.
import os

from buildlib.book_build import SAME_NUMBERS_EVERYWHERE

os.environ.update(SAME_NUMBERS_EVERYWHERE)"""
BUILD_IMPORT = re.compile(r"^\s*(from|import)\s+ext(\.|\s)", re.M)
HIDING_TAGS = {"remove-cell", "remove-input", "remove-output", "hide-input", "hide-output"}

# A role, or a code span (left as written, even one that shows a role's markup).
_ROLE = re.compile(r"\{(glue:text|ref|term)\}`([^`]+)`|`[^`\n]*`")
_TARGET = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)
_COLOR = re.compile(r"\\color\{(\w+)\}")

ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention"}
# What a directive that draws something shows on the page, for its link.
ON_THE_PAGE = {
    "manim-clip": "Clip",
    "manim-film": "Film",
    "arch-diagram": "Architecture diagram",
    "live-attention": "Live model",
    "live-sampling": "Live model",
    "live-tools": "Live model",
    "live-chat": "Live model",
    "predict-check": "Predict, then check",
    "training-replay": "Training replay",
}


@dataclass
class Page:
    """What the conversion needs to know about the page: its URL, its glued values, how
    labels and terms resolve, the colours of the math roles, and how MyST is read."""

    url: str
    site: str  # the published site's root URL
    glued: dict[str, str]
    resolve: Resolver
    colours: dict[str, str]
    myst_config: object  # how the book reads MyST (app.env.myst_config)
    # the names the text quotes ({glue:text}) that are not in ``glued``, as converted
    unglued: list[str] = field(default_factory=list)


def glued_values(notebook) -> dict[str, str]:
    """name → text/plain of every value the executed notebook glued."""
    return _glued_in(notebook.cells)


def page_values(notebook) -> dict[str, str]:
    """What ``glued_values`` gives, but for the values glued by cells that need the
    book's build tools (the reader's notebook describes those instead of running them)."""
    return _glued_in(cell for cell in notebook.cells if not BUILD_IMPORT.search(cell.source))


def _glued_in(cells) -> dict[str, str]:
    values = {}
    for cell in cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                prefix = record.get("mime_prefix", "")
                values[record["name"]] = output["data"].get(prefix + "text/plain", "")
    return values


def reader_notebook(executed, page: Page, preface: str) -> nbformat.NotebookNode:
    """The executed MyST-NB notebook as a reader's notebook (see the module docstring);
    ``preface`` (markdown) follows the title cell."""
    notebook = copy.deepcopy(executed)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            text = markdown(cell.source, page)
            if text.strip():
                cells.append(nbformat.v4.new_markdown_cell(text))
        elif cell.cell_type == "code":
            cells.append(_code_cell(cell, page))
        else:
            cells.append(cell)
    title_cell = 1 if cells and cells[0].cell_type == "markdown" else 0
    cells[title_cell:title_cell] = [
        nbformat.v4.new_markdown_cell(preface),
        nbformat.v4.new_code_cell(NUMERICS_CELL),
    ]
    values, quoted = page_values(executed), quoting_sentences(executed, page)
    check = CHECK_CELL.format(
        page=pprint.pformat(values, width=88, sort_dicts=False),
        quoted=pprint.pformat({n: quoted[n] for n in values if n in quoted}, width=88),
        timings=TIMINGS_DIFFER,
    )
    cells += [
        nbformat.v4.new_markdown_cell(CHECK_HEADING),
        nbformat.v4.new_code_cell(check),
    ]
    notebook.cells = cells
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    for cell in notebook.cells:
        cell.pop("id", None)
    notebook.nbformat, notebook.nbformat_minor = 4, 4  # ids dropped: 4.4 has none
    return notebook


def quoting_sentences(executed, page: Page) -> dict[str, str]:
    """name → the first sentence of the text that quotes it, as the notebook writes it
    (cut to QUOTE_LENGTH characters around the value)."""
    quiet = replace(page, unglued=[])  # the text's own conversion notes those
    found: dict[str, str] = {}
    for cell in executed.cells:
        if cell.cell_type != "markdown":
            continue
        for paragraph in cell.source.split("\n\n"):
            for sentence in _SENTENCE_END.split(paragraph):
                for quote in _QUOTE.finditer(sentence):
                    if quote[1] not in found:
                        said = " ".join(_inline(sentence, quiet).split())
                        at = len(" ".join(_inline(sentence[: quote.start()], quiet).split()))
                        found[quote[1]] = _around(said, at)
    return found


def _around(said: str, at: int) -> str:
    """``said`` cut to QUOTE_LENGTH characters that show the value at ``at``: its start,
    else a stretch around the value (a sentence that quotes a value near its end showed
    its first 160 characters without it)."""
    if len(said) <= QUOTE_LENGTH:
        return said
    if at < QUOTE_LENGTH - 40:  # room for the value before the cut
        return said[: QUOTE_LENGTH - 1] + "…"
    start = at - QUOTE_LENGTH // 2
    if len(said) - start < QUOTE_LENGTH + 20:  # near the end: show the end, not "…)…"
        return "…" + said[len(said) - (QUOTE_LENGTH - 1) :]
    return f"…{said[start : start + QUOTE_LENGTH - 2]}…"


def _code_cell(cell, page: Page):
    if BUILD_IMPORT.search(cell.source):
        return nbformat.v4.new_markdown_cell(
            "*A cell of the book checks here that its widget's build-time table matches "
            f"the live model; it needs the book's build tools, so it runs only in the "
            f"build. Its results are in the text below and on [the page]({page.url}).*"
        )
    source = GLUE_IMPORT.sub(lambda _: GLUE_DEFINITION + "\n", cell.source)
    outputs = [
        output
        for output in cell.get("outputs", [])
        if not output.get("metadata", {}).get("scrapbook", {}).get("mime_prefix")
    ]
    tags = [tag for tag in cell.metadata.get("tags", []) if tag not in HIDING_TAGS]
    metadata = {"tags": tags} if tags else {}
    return nbformat.v4.new_code_cell(source, outputs=outputs, metadata=metadata)


def markdown(text: str, page: Page) -> str:
    """A MyST markdown cell as plain Jupyter markdown."""
    return _converted(myst_pages.parse(text, page.myst_config), page)


def _converted(parsed: myst_pages.Page, page: Page) -> str:
    out: list[str] = []
    prose = ""  # roles may span lines: the markdown between two blocks converted whole
    for block in parsed.blocks:
        if isinstance(block, myst_pages.Markdown):
            prose = block.text
            continue
        out.append(_inline(prose, page))
        prose = ""
        if isinstance(block, myst_pages.Fence):
            out.append(_directive(block, page))
        elif isinstance(block, myst_pages.Code):
            out.append(block.text)  # code shown as written
        elif isinstance(block, myst_pages.Math):
            out.append(_display_math(block.body, page))
    out.append(_inline(prose, page))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _display_math(body: str, page: Page) -> str:
    """A ``$$`` block; rows aligned with ``&`` or broken with ``\\\\`` go in an aligned
    environment, as Sphinx puts them in a split one (MathJax wants an environment)."""
    body = _inline(body, page)
    if ("&" in body or "\\\\" in body) and not body.lstrip().startswith("\\begin"):
        body = f"\\begin{{aligned}}\n{body}\n\\end{{aligned}}"
    return f"$$\n{body}\n$$"


def _directive(fence: myst_pages.Fence, page: Page) -> str:
    name, argument, options = fence.name, fence.argument, fence.options
    if name == "annotated-source":
        return _annotated_source(fence, page)
    inner = _converted(fence.page, page)
    if name == "admonition" or name in ADMONITIONS:
        title = _inline(argument, page) if name == "admonition" else name.capitalize()
        quoted = "\n".join(f"> {line}".rstrip() for line in inner.split("\n"))
        return f"\n> **{title}**\n>\n{quoted}\n"
    if name == "dropdown":
        return f"\n<details><summary>{_inline(argument, page)}</summary>\n\n{inner}\n\n</details>\n"
    if name == "manim-clip" and "name" in options:
        return _clip(options, page)
    what = ON_THE_PAGE.get(name, name)
    anchor = f"#{options['name']}" if "name" in options else ""
    about = options.get("caption") or (f"the {argument} model" if argument else "")
    about = f": {_inline(about, page)}" if about else ""
    return f"\n> **{what}**{about} [See it on the book's page]({page.url}{anchor}).\n"


def _clip(options: dict, page: Page) -> str:
    """A named clip: its published poster (``_clips/<name>.webp``), linked to the clip."""
    from .manim_clip.visitors import stable_poster  # the clip's own answer, not retyped

    caption = _inline(options.get("caption", ""), page)
    link = f"{page.url}#{options['name']}"
    play = f"> **Clip**: {caption} [Play it on the book's page]({link})."
    poster = stable_poster(options["name"])
    picture = f"[![{caption}]({page.site}{poster})]({link})\n\n" if poster else ""
    return f"\n{picture}{play}\n"


def _annotated_source(fence: myst_pages.Fence, page: Page) -> str:
    """The notes, split as the directive splits them, each under the line of code it
    explains; the shapes are on the page."""
    target = f"`{fence.options['object']}` in " if "object" in fence.options else ""
    lines = [f"\n**Annotated source:** {target}`model_src/{fence.argument}`", ""]
    body = fence.body.split("\n")
    for note in split_notes(body):
        text = markdown("\n".join(body[note.start : note.stop]), page)
        if note.anchor is None:  # on the whole object
            lines.append(text)
        else:
            lines.append(f"- `{note.anchor.strip()}`: {' '.join(text.split())}")
    lines.append(f"\n(With the shapes each line produces on [the book's page]({page.url}).)\n")
    return "\n".join(lines)


def _inline(text: str, page: Page) -> str:
    text = _COLOR.sub(lambda m: "\\color{#" + page.colours.get(m[1], m[1]) + "}", text)
    return _ROLE.sub(lambda m: _role(m[1], m[2], page) if m[1] else m[0], text)


def _role(name: str, content: str, page: Page) -> str:
    if name == "glue:text":
        return _glued(content, page)
    target = _TARGET.match(content)
    text, label = (target[1], target[2]) if target else ("", content)
    found = page.resolve(name, label)
    if found is None:
        return text or label
    title, url = found
    return f"[{text or title}]({url})"


def _glued(content: str, page: Page) -> str:
    """A glued value as the page writes it; a name no cell glued is noted in
    ``page.unglued`` and left as written."""
    from myst_nb.core.variables import format_plain_text

    key, _, spec = content.partition(":")
    if key not in page.glued:
        page.unglued.append(key)
        return f"{{glue:text}}`{content}`"
    try:
        return format_plain_text(page.glued[key], spec)
    except ValueError:  # a format the value does not take: MyST-NB warns at its line
        return page.glued[key]


def unglued_quotes(
    notebook, glued: Iterable[str], lines: list[str], myst_config
) -> list[tuple[str, int]]:
    """(name, line) of each value the notebook's text quotes (``{glue:text}``) that no
    cell glued (``glued``: the names the cells did), at its first line in the page's
    ``lines``: what the reader's notebook could not write. Found by converting each
    markdown cell as ``reader_notebook`` does, so that a quote in code is not one."""
    page = Page("", "", dict.fromkeys(glued, ""), lambda role, label: None, {}, myst_config)
    starts = notebook.metadata.get("source_map", [])
    if len(starts) != len(notebook.cells):  # not read from MyST (a .ipynb page): no lines
        starts = [0] * len(notebook.cells)
    found = []
    for cell, start in zip(notebook.cells, starts, strict=True):
        if cell.cell_type != "markdown":
            continue
        page.unglued.clear()
        markdown(cell.source, page)
        for name in dict.fromkeys(page.unglued):
            quote = re.compile(r"\{glue:text\}`" + re.escape(name) + "[:`]")
            at = range(start + 1, len(lines) + 1)
            found.append((name, next((n for n in at if quote.search(lines[n - 1])), start + 1)))
    return found


# --- in the build: the notebook written beside the page's source, the run box -----------

# After sphinx-book-theme's launch buttons (501): they copy MyST-NB's notebook to _sources.
PRIORITY = 502
UNGLUED = "nanobook_unglued"  # env.metadata[docname] key: the names its text quotes unglued


def offer(app, pagename: str, executed, context: dict) -> None:
    """Write the page's reader notebook to ``_sources/<page>.ipynb`` for the download
    button and the run box; none for a page whose text quotes a value no cell glued
    (said while the page was read)."""
    if app.env.metadata.get(pagename, {}).get(UNGLUED):
        return
    glued = glued_values(executed)
    colours = app.config.nanobook_math_colours
    site = app.config.html_baseurl
    page = Page(_page_url(app, pagename), site, glued, _resolver(app), colours, app.env.myst_config)
    notebook = reader_notebook(executed, page, _preface(app, pagename))
    atomic_write(Path(app.outdir, "_sources", f"{pagename}.ipynb"), nbformat.writes(notebook))
    context["ipynb_source"] = f"{pagename}.ipynb"
    _add_to_download_menu(context)


def check_quotes(app, doctree) -> None:
    """doctree-read: each value the page's text quotes that no cell glued is a warning
    at its line, and the page offers no notebook (kept in the page's metadata for the
    run box and ``offer``): the reader's notebook could not write it. A page whose cells
    stopped is left to ext/claims.py (the values after the failing cell were never made)."""
    from myst_nb.sphinx_ import NbMetadataCollector

    env, docname = app.env, app.env.docname
    path = Path(env.doc2path(docname))
    read = _executed(app, docname) and myst_pages.notebook(path, env.myst_config, env.mystnb_config)
    if not read:
        return
    glued = NbMetadataCollector.get_doc_data(env).get(docname, {}).get("glue", [])
    lines = path.read_text(encoding="utf-8").splitlines()
    unglued = unglued_quotes(read[1], glued, lines, env.myst_config)
    for name, line in unglued:
        warn(
            logger,
            f"the text quotes the glued value {name!r}, which no cell glued: the page shows "
            "nothing there, and offers no notebook for readers",
            location=(docname, line),
            subtype="reader-notebook",
            hint=f"glue it in a code cell of the page (glue({name!r}, value)), or quote a "
            "name a cell glues",
        )
    if unglued:
        env.metadata[docname][UNGLUED] = [name for name, _ in unglued]


def _add_to_download_menu(context: dict) -> None:
    """The notebook first in the theme's download menu (the theme made the menu before
    the notebook existed: it offers a notebook only when it knows of one already)."""
    menus = [b for b in context.get("header_buttons", []) if b.get("label") == "download-buttons"]
    if not menus or any(b.get("label") == NOTEBOOK_BUTTON for b in menus[0]["buttons"]):
        return
    url = f"{context['pathto']('_sources', 1)}/{context['ipynb_source']}"
    menus[0]["buttons"].insert(
        0,
        {
            "type": "link",
            "url": url,
            "text": ".ipynb",
            "icon": "fas fa-code",
            "tooltip": "Download notebook file",
            "label": NOTEBOOK_BUTTON,
        },
    )


NOTEBOOK_BUTTON = "download-notebook-button"  # the theme's own label for it


def install_lines(app) -> str:
    """The lines that install the book's package and Jupyter. PyTorch first and alone: its
    CPU build, at the version this build ran, from PyTorch's index, so pip neither takes
    PyPI's CUDA build nor asks PyTorch's index for every other package. Then the wheel this
    build published (ext/reader_wheel.py) at its absolute URL, else the repository, else
    the checkout the reader is in."""
    torch = f"torch=={importlib.metadata.version('torch').partition('+')[0]}"
    package = _package(app) or CHECKOUT
    return f"pip install {torch} --index-url {TORCH_CPU_INDEX}\npip install {package}"


VENV = "python3 -m venv nanobook && . nanobook/bin/activate"  # the run box's first line
CHECKOUT = '".[notebook]"'  # quoted: a shell may read the brackets as a pattern


def _package(app) -> str | None:
    wheel, site = app.config.nanobook_wheel, app.config.html_baseurl
    if wheel and site:
        return f'"nanobook[notebook] @ {site}{wheel}"'
    if app.config.nanobook_repository_url:
        return f'"nanobook[notebook] @ git+{app.config.nanobook_repository_url}"'
    return None


def _from_a_checkout(app) -> bool:
    return _package(app) is None


def _preface(app, pagename: str) -> str:
    title = app.env.titles[pagename].astext()
    where = " (in a checkout of the book)" if _from_a_checkout(app) else ""
    return (
        f"*This notebook is the chapter [{title}]({_page_url(app, pagename)}) of "
        f"{app.config.project}: the cells that compute its numbers are here, and the "
        "clips and live widgets are links to the page. Every value the text quotes is "
        "the page's, as the book's build computed it; the last cell checks each one "
        "against what your run computed. Install the book's package and Jupyter "
        f"first, in an environment of its own{where}:*\n\n"
        f"    {VENV}\n{textwrap.indent(install_lines(app), '    ')}\n\n"
        "*then run the cells in order. The first one sets the book's numerics; a cell "
        "that needs a trained model loads it, and trains it first on a first run (minutes "
        "for most chapters, longer for a chapter that compares many runs; what it trains is "
        "kept for the next run, in the folder `NANOBOOK_CACHE_DIR` names, else in a "
        "`.cache` folder beside the book's code). Timings differ from the page's, as they "
        "measure your machine.*"
    )


def _page_url(app, pagename: str) -> str:
    return app.config.html_baseurl + app.builder.get_target_uri(pagename)


def _resolver(app) -> Resolver:
    std = app.env.get_domain("std")
    terms = {name.lower(): entry for (kind, name), entry in std.objects.items() if kind == "term"}

    def resolve(role: str, target: str) -> tuple[str, str] | None:
        if role == "ref" and target in std.labels:
            docname, anchor, title = std.labels[target]
        elif role == "term" and target.lower() in terms:
            docname, anchor = terms[target.lower()][:2]
            title = target
        else:
            return None
        return title, f"{_page_url(app, docname)}#{anchor}"

    return resolve


# The branch the Pages workflow writes the notebooks to (chapters/<page>.ipynb and a
# requirements.txt that installs the package): the launch buttons open them there.
NOTEBOOKS_BRANCH = "notebooks"
LAUNCHERS = {
    "colab_url": "https://colab.research.google.com",
    "binderhub_url": "https://mybinder.org",
}
_LAUNCH_SLOT = '<p class="nanobook-launch"></p>'


def launch_buttons(app, config) -> None:
    """With a repository configured, the theme's repository and launch buttons."""
    if not config.nanobook_repository_url:
        return
    config.html_theme_options = {
        **config.html_theme_options,
        "repository_url": config.nanobook_repository_url,
        "repository_branch": NOTEBOOKS_BRANCH,
        "path_to_docs": "",
        "use_repository_button": True,
        "launch_buttons": LAUNCHERS,
    }


def add_run_box(app, doctree, docname: str) -> None:
    """The "Run this chapter" box, after the first paragraph of a chapter (a page that
    ``nanobook_run_box_pages`` matches)."""
    chapter = any(fnmatch.fnmatch(docname, p) for p in app.config.nanobook_run_box_pages)
    if app.builder.format != "html" or not chapter:
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    first = next((n for n in section.children if isinstance(n, nodes.paragraph)), None)
    section.insert(section.index(first) + 1 if first else 1, _run_box(app, docname))


def _run_box(app, docname: str) -> nodes.Element:
    repository = app.config.nanobook_repository_url
    box = nodes.admonition(classes=["nanobook-run"])
    box += nodes.title("", "Run this chapter")
    where = ", from a checkout of the book's repository" if _from_a_checkout(app) else ""
    box += nodes.paragraph(
        "",
        "Install the book's package with Jupyter (Python 3.11 or later) in an environment "
        f"of its own, as it pins the versions it was built with{where}. PyTorch comes "
        "first, from its own index, so that pip takes its CPU build, not PyPI's with CUDA:",
    )
    commands = f"{VENV}\n{install_lines(app)}"
    box += nodes.literal_block(commands, commands, language="bash")
    box += _wheel_here(app, docname)
    if repository:
        source = nodes.paragraph("", "Its source: ")
        source += nodes.reference("", repository, refuri=repository)
        source += nodes.Text(".")
        box += source
    missing = _why_no_notebook(app, docname)
    if missing:
        box += nodes.paragraph("", missing)
        return box
    name = f"{posixpath.basename(docname)}.ipynb"
    page_dir = posixpath.dirname(app.builder.get_target_uri(docname))
    download = posixpath.relpath(f"_sources/{docname}.ipynb", page_dir or ".")
    text = nodes.paragraph()
    link = f'<a class="reference internal nanobook-download" href="{download}" download>'
    text += nodes.raw("", f"{link}Download {name}</a>", format="html")
    text += nodes.Text(" and open it in Jupyter (")
    text += nodes.literal("", f"jupyter notebook {name}")
    text += nodes.Text(
        "): the chapter's cells in order, its clips and widgets linked back to this page, and "
        "last a cell that checks the numbers of the text against your run."
    )
    box += text
    if repository:
        box += nodes.raw("", _LAUNCH_SLOT, format="html")
    return box


RUN_BOX_SCRIPT = "nanobook_run_box.js"  # the wheel beside the page, when not at the site


def _wheel_here(app, docname: str) -> list[nodes.Node]:
    """Where the published wheel is from this page, for RUN_BOX_SCRIPT: read anywhere
    but the published site (a local build, from disk or served), the box names the wheel
    this build made, which the site may not have."""
    wheel, site = app.config.nanobook_wheel, app.config.html_baseurl
    if not (wheel and site):
        return []
    page_dir = posixpath.dirname(app.builder.get_target_uri(docname))
    here = html.escape(posixpath.relpath(wheel, page_dir or "."))
    published = html.escape(f"{site}{wheel}")
    span = f'<span hidden data-nanobook-wheel="{here}" data-nanobook-published="{published}">'
    return [nodes.raw("", f"{span}</span>", format="html")]


def add_run_box_script(app, pagename, templatename, context, doctree) -> None:
    """The pages whose run box names the published wheel load RUN_BOX_SCRIPT."""
    if "data-nanobook-wheel=" in context.get("body", ""):
        app.add_js_file(RUN_BOX_SCRIPT, loading_method="defer")


def _static_path(app, config) -> None:
    config.html_static_path.append(str(Path(__file__).with_name("static")))


def _why_no_notebook(app, docname: str) -> str | None:
    """Why the build made no notebook of the page to download, or None."""
    if not _executed(app, docname):  # ext/claims.py says where
        return (
            "This build could not run the chapter's cells to their end, so it offers no "
            "notebook to download; the page says where they stopped."
        )
    if app.env.metadata.get(docname, {}).get(UNGLUED):
        return (
            "This build offers no notebook of the chapter to download: its text quotes a "
            "value no cell computes (the build's warnings say where)."
        )
    return None


def _executed(app, docname: str) -> bool:
    """Whether the page's cells ran to their end in this build (MyST-NB's record)."""
    from myst_nb.sphinx_ import NbMetadataCollector

    return (NbMetadataCollector.get_exec_data(app.env, docname) or {}).get("succeeded", True)


_RUN_BOX_START = 'class="nanobook-run'  # the box's <div>, then its commands' <pre>
_MARKUP = re.compile(r"(<[^>]*>)")
_OPTION = re.compile(r"(?<![\w-])(--[\w-]+)")


def run_box_options_whole(app, pagename: str, templatename, context: dict, doctree) -> None:
    if "body" in context:
        context["body"] = whole_options(context["body"])


def whole_options(body: str) -> str:
    """The run box's long options (--index-url) each on one line: where its commands wrap,
    on a phone, a line broke between the option's two hyphens ('-' ending one line and
    '-index-url' starting the next, as if a hyphen stood apart). A nowrap span, in the
    page itself, so it holds without scripts; the text a reader copies is the same."""
    start = body.find(_RUN_BOX_START)
    end = body.find("</pre>", start)
    if start < 0 or end < 0:
        return body
    parts = _MARKUP.split(body[start:end])  # text at even indexes, tags at odd ones
    for i in range(0, len(parts), 2):
        parts[i] = _OPTION.sub(r'<span style="white-space: nowrap">\1</span>', parts[i])
    return body[:start] + "".join(parts) + body[end:]


def fill_launch_slot(app, pagename: str, templatename, context: dict, doctree) -> None:
    """The theme's launch buttons open the reader's notebook (on NOTEBOOKS_BRANCH, not
    the MyST source), in the header and in the run box."""
    groups = [b for b in context.get("header_buttons", []) if b.get("label") == "launch-buttons"]
    if not groups or _LAUNCH_SLOT not in context.get("body", ""):
        return
    links = []
    for button in groups[0]["buttons"]:
        if button.get("type") == "link":
            button["url"] = re.sub(r"\.md$", ".ipynb", button["url"])
            text = html.escape(button["text"])
            links.append(
                f'<a class="nanobook-launch-link" href="{html.escape(button["url"])}">'
                f"Open in {text}</a>"
            )
    slot = f'<p class="nanobook-launch">{" ".join(links)}</p>'
    context["body"] = context["body"].replace(_LAUNCH_SLOT, slot)


def binder_requirements(app, exception) -> None:
    """With a repository configured, ``_sources/requirements.txt``: what Binder installs
    beside the notebooks on NOTEBOOKS_BRANCH (the Pages workflow copies both there): the
    published wheel (Binder brings Jupyter), else the repository."""
    url = app.config.nanobook_repository_url
    if exception or not url or app.builder.format != "html":
        return
    wheel, site = app.config.nanobook_wheel, app.config.html_baseurl
    package = f"nanobook @ {site}{wheel}" if wheel and site else f"nanobook @ git+{url}"
    text = f"--extra-index-url {TORCH_CPU_INDEX}\n{package}\n"
    atomic_write(Path(app.outdir, "_sources", "requirements.txt"), text)


def setup(app):
    setup_core(app)  # the cache and the project root, where the wheel is kept and made
    app.add_config_value("nanobook_repository_url", None, "html", types=(str, type(None)))
    app.add_config_value("nanobook_math_colours", {}, "html", types=(dict,))
    app.add_config_value("nanobook_run_box_pages", ["chapters/*"], "env", types=(list,))
    app.connect("config-inited", launch_buttons)
    reader_wheel.setup(app)  # the project's wheel, published with the site
    app.connect("doctree-read", check_quotes)
    app.connect("doctree-resolved", add_run_box)
    app.connect("html-page-context", fill_launch_slot, priority=PRIORITY)
    app.connect("html-page-context", add_run_box_script)
    app.connect("html-page-context", run_box_options_whole)
    app.connect("config-inited", _static_path)
    app.connect("build-finished", binder_requirements)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
