"""Run any chapter yourself (issue 35): each chapter downloads as a notebook that runs in a
fresh environment with nothing but the package installed, and a run box offers it.

The clean-environment tests install the wheel the build published, as the run box's
line does (with Jupyter, its ``notebook`` extra), into a new virtual environment from local
package sources only (no network: pip and the kernels see a proxy that refuses), and
execute every chapter's downloaded notebook there; for three chapters every value the
text quotes and every line a cell printed must be what the page shows. Trained models come
from the shared cache (NANOBOOK_CACHE_DIR; ``clean_kernel`` says why that is fair).
"""

from __future__ import annotations

import contextlib
import html
import importlib.metadata
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from myst_parser.config.main import MdParserConfig
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from pages import CHAPTERS

from buildlib import book_build, store
from ext import reader_notebooks

REPO = Path(__file__).resolve().parent.parent
ROOT = Path(__file__).parent / "roots" / "test-reader-notebooks"
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
# What MyST writes and Jupyter does not read.
MYST = re.compile(r"\{glue|\{ref\}|\{term\}|^\s*(```|:::)\{|^\([\w:.-]+\)=\s*$", re.M)


def _page(glued: dict) -> reader_notebooks.Page:
    return reader_notebooks.Page(
        url="https://example.org/chapters/one.html",
        site="https://example.org/",
        glued=glued,
        resolve=lambda role, label: (label.upper(), f"https://example.org/x.html#{label}"),
        colours={"q": "C2185B", "k": "0E7C8A"},
        myst_config=MdParserConfig(enable_extensions={"colon_fence", "dollarmath"}),
    )


# --- the conversion ---------------------------------------------------------------------


def test_glue_refs_terms_and_colours_become_what_a_notebook_renders():
    text = (
        "(sec-a)=\n## A\n\nThe loss falls to {glue:text}`loss:.2f` (see\n{ref}`the data "
        "<ch-data>`), a {term}`softmax` of ${\\color{q} q} \\cdot {\\color{k} k}$. Write "
        "`{glue:text}` roles and `code`."
    )
    out = reader_notebooks.markdown(text, _page({"loss": "0.12345"}))
    assert "(sec-a)=" not in out and out.startswith("## A")
    assert "falls to 0.12 (see\n[the data](https://example.org/x.html#ch-data))" in out
    assert "a [SOFTMAX](https://example.org/x.html#softmax) of" in out
    assert "{\\color{#C2185B} q} \\cdot {\\color{#0E7C8A} k}" in out
    assert "Write `{glue:text}` roles and `code`." in out  # code spans as written


def test_directives_become_markdown_and_links_to_the_page():
    text = (
        "```{admonition} Key takeaways\n- one {glue:text}`n`\n```\n\n"
        "```{dropdown} Solution\nIt is {glue:text}`n`.\n```\n\n"
        "```{manim-clip} AttentionScene\n:file: /scenes/attention.py\n"
        ":caption: One query.\n:name: ch-clip\n```\n\n"
        "```{live-sampling} char\n:prompt: def forward\n```\n\n"
        "```{annotated-source} model.py\n:object: causal_mask\n\n"
        "@ return torch.tril(\n`tril` keeps the lower\ntriangle.\n```\n\n"
        '```python\nprint("{glue:text}`as written`")\n```\n\n'
        "$$\na &= b \\\\\nc &= d\n$$"
    )
    out = reader_notebooks.markdown(text, _page({"n": "3"}))
    assert "> **Key takeaways**\n>\n> - one 3" in out
    assert "<details><summary>Solution</summary>\n\nIt is 3.\n\n</details>" in out
    page = "https://example.org/chapters/one.html"
    poster = "https://example.org/_clips/ch-clip.webp"
    assert f"[![One query.]({poster})]({page}#ch-clip)" in out
    assert f"> **Clip**: One query. [Play it on the book's page]({page}#ch-clip)." in out
    assert f"> **Live model**: the char model [See it on the book's page]({page})." in out
    assert "**Annotated source:** `causal_mask` in `model_src/model.py`" in out
    assert "- `return torch.tril(`: `tril` keeps the lower triangle." in out
    assert 'print("{glue:text}`as written`")' in out  # code is shown as written
    assert "$$\n\\begin{aligned}\na &= b \\\\\nc &= d\n\\end{aligned}\n$$" in out
    assert not MYST.search(out.replace('print("{glue:text}`as written`")', ""))


def test_every_cell_is_shown_and_glue_works_without_myst_nb():
    setup = nbformat.v4.new_code_cell(
        "import math\nfrom myst_nb import glue\n\nglue('x', 2, display=False)\nX = 2",
        metadata={"tags": ["remove-cell"]},
    )
    setup.outputs = [_glued_output("x", "2")]
    widget = nbformat.v4.new_code_cell(
        "from ext.live_models.compute import sampling\nfrom myst_nb import glue\nglue('y', 1)"
    )
    widget.outputs = [_glued_output("y", "1")]
    executed = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# One\n\nIntro."), setup, widget]
    )
    assert reader_notebooks.glued_values(executed) == {"x": "2", "y": "1"}
    out = reader_notebooks.reader_notebook(executed, _page({"x": "2"}), "PREFACE")
    title, preface, numerics, code, described, heading, check = out.cells
    assert (title.source, preface.source) == ("# One\n\nIntro.", "PREFACE")
    # first of the code: the build's numerics, before anything imports torch
    environment: dict = {}
    exec(
        numerics.source.replace("os.environ.update", "environment.update"),
        {"environment": environment},
    )
    assert environment == book_build.SAME_NUMBERS_EVERYWHERE
    assert code.cell_type == "code" and "tags" not in code.metadata  # shown, not hidden
    assert code.outputs == []  # the glued record is in the text, not an output
    namespace: dict = {}
    exec(code.source, namespace)  # glue, defined where myst_nb's was imported
    assert namespace["X"] == 2
    assert described.cell_type == "markdown" and "build tools" in described.source
    # last, the text's values (the page's) against this run's: only the build computes y
    assert heading.cell_type == "markdown" and check.cell_type == "code"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(check.source, namespace)
    assert namespace["PAGE"] == {"x": "2"}
    assert printed.getvalue() == "1 of 1 values in the text are what this run computed\n"
    namespace["COMPUTED"]["x"] = "3"  # another machine's number
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(check.source, namespace)
    assert printed.getvalue().splitlines() == [
        "0 of 1 values in the text are what this run computed",
        "  x: the page says '2', this run '3'",
        reader_notebooks.TIMINGS_DIFFER,
    ]
    nbformat.validate(out)


def test_the_check_shows_a_value_that_differs_in_the_sentence_that_quotes_it():
    """A reader tells a timing from a result by the sentence around it, written as the
    notebook's text writes it (the value in place, a long sentence cut)."""
    text = (
        "# One\n\nA first sentence. The run took {glue:text}`secs` CPU-seconds, and "
        "[more](https://example.org). Then {glue:text}`acc` of problems came right, "
        + "which is said at some length " * 8
        + "to the end."
    )
    glued = [_glued_output("secs", "12"), _glued_output("acc", "'90%'")]
    code = nbformat.v4.new_code_cell("glue('secs', 12); glue('acc', '90%')", outputs=glued)
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text), code])
    page = _page({"secs": "12", "acc": "'90%'"})
    check = reader_notebooks.reader_notebook(executed, page, "PREFACE").cells[-1]
    namespace = {"COMPUTED": {"secs": "15", "acc": "'90%'"}}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(check.source, namespace)
    lines = printed.getvalue().splitlines()
    assert lines[:3] == [
        "1 of 2 values in the text are what this run computed",
        "  secs: the page says '12', this run '15'",
        "    in: The run took 12 CPU-seconds, and [more](https://example.org).",
    ]
    quoted = reader_notebooks.quoting_sentences(executed, page)["acc"]
    assert quoted.startswith("Then 90% of problems came right") and quoted.endswith("…")
    assert len(quoted) == reader_notebooks.QUOTE_LENGTH
    assert page.unglued == []  # quoting converts text but notes no unglued names twice
    # a glued string is shown as the text writes it, without its repr's quotes
    namespace = {"COMPUTED": {"secs": "12", "acc": "'85%'"}}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(check.source, namespace)
    assert "  acc: the page says '90%', this run '85%'" in printed.getvalue().splitlines()


def test_a_long_sentence_is_cut_around_the_value_it_quotes():
    """The overview's check printed 'in: The task is tiny, … small enough to train on…',
    cut before the '9.8 seconds' that differed."""
    start = "It is a long sentence " + "that goes on " * 14
    text = f"# One\n\n{start}and took {{glue:text}}`late` seconds (on the page). Then more."
    code = nbformat.v4.new_code_cell("glue('late', 9.8)", outputs=[_glued_output("late", "9.8")])
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text), code])
    quoted = reader_notebooks.quoting_sentences(executed, _page({"late": "9.8"}))["late"]
    assert quoted.startswith("…") and quoted.endswith("and took 9.8 seconds (on the page).")
    assert len(quoted) == reader_notebooks.QUOTE_LENGTH
    middle = f"# One\n\n{start}and took {{glue:text}}`late` seconds, {start}to the end."
    executed.cells[0] = nbformat.v4.new_markdown_cell(middle)
    quoted = reader_notebooks.quoting_sentences(executed, _page({"late": "9.8"}))["late"]
    assert quoted.startswith("…") and quoted.endswith("…") and "took 9.8 seconds" in quoted
    assert len(quoted) == reader_notebooks.QUOTE_LENGTH
    early = f"# One\n\nIt took {{glue:text}}`late` seconds, {start}to the end."
    executed.cells[0] = nbformat.v4.new_markdown_cell(early)
    quoted = reader_notebooks.quoting_sentences(executed, _page({"late": "9.8"}))["late"]
    assert quoted.startswith("It took 9.8 seconds, It is") and quoted.endswith("…")


def test_a_value_in_a_format_it_does_not_take_is_written_as_glued():
    """MyST-NB warns at the role's line; the reader's notebook is still made."""
    out = reader_notebooks.markdown("It is {glue:text}`name:.2f`.", _page({"name": "'abc'"}))
    assert out == "It is 'abc'."


def _glued_output(name: str, text: str):
    """The output MyST-NB's glue(name, value, display=False) leaves in its cell."""
    prefix = "application/papermill.record/"
    return nbformat.v4.new_output(
        "display_data",
        data={f"{prefix}text/plain": text},
        metadata={"scrapbook": {"name": name, "mime_prefix": prefix}},
    )


# --- in a Sphinx build: the notebook offered, the run box, the launch buttons -----------


def _build(srcdir: Path, *overrides: str) -> str:
    out = srcdir / "_build" / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-E", *overrides, str(srcdir), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,  # conf.py imports ext from the repository
        check=True,
    )
    return result.stdout + result.stderr


def _text(page: str) -> str:
    return re.sub(r"<[^>]+>", "", page)


def test_a_page_offers_its_notebook_and_launch_buttons_only_with_a_repository(tmp_path):
    srcdir = tmp_path / "book"
    shutil.copytree(ROOT, srcdir)
    _build(srcdir)
    page = (srcdir / "_build" / "html" / "chapter.html").read_text(encoding="utf-8")
    assert "Run this chapter" in page
    assert 'href="_sources/chapter.ipynb"' in page
    # no pyproject.toml in this project's root: no wheel, the checkout is the package
    torch = importlib.metadata.version("torch").partition("+")[0]
    checkout = (  # PyTorch alone first, the CPU build of the version the build ran
        f"pip install torch=={torch} --index-url https://download.pytorch.org/whl/cpu\n"
        'pip install ".[notebook]"\n'
    )
    assert checkout in html.unescape(_text(page))
    assert _download_menu(page) == ["_sources/chapter.ipynb", "_sources/chapter.md"]
    assert "colab" not in page.lower() and "binder" not in page.lower()
    assert not (srcdir / "_build" / "html" / "_sources" / "requirements.txt").exists()
    notebook = nbformat.read(srcdir / "_build" / "html" / "_sources" / "chapter.ipynb", 4)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "The answer is 42, π is about 3.142" in text
    assert "[Terms](https://example.org/book/index.html#terms)" in text
    assert "[softmax](https://example.org/book/index.html#term-softmax)" in text
    assert not MYST.search(text.replace('print("{glue:text}`kept as written`")', ""))
    numerics, setup = notebook.cells[2:4]  # the build's numerics, then the page's first cell
    assert "SAME_NUMBERS_EVERYWHERE" in numerics.source
    assert setup.cell_type == "code" and "glue(" in setup.source

    _build(srcdir, "-D", "nanobook_repository_url=https://github.com/someone/nanobook")
    page = (srcdir / "_build" / "html" / "chapter.html").read_text(encoding="utf-8")
    installs = 'pip install "nanobook[notebook] @ git+https://github.com/someone/nanobook"'
    assert installs in html.unescape(_text(page))
    source = 'Its source: <a class="reference external" href="https://github.com/someone/nanobook"'
    assert source in page
    assert _download_menu(page) == ["_sources/chapter.ipynb", "_sources/chapter.md"]
    launch = re.findall(r'<a class="nanobook-launch-link" href="([^"]+)">Open in (\w+)</a>', page)
    assert dict((name, url) for url, name in launch) == {
        "Binder": "https://mybinder.org/v2/gh/someone/nanobook/notebooks"
        "?urlpath=tree/chapter.ipynb",
        "Colab": "https://colab.research.google.com/github/someone/nanobook/blob/notebooks/"
        "chapter.ipynb",
    }
    assert page.count("/notebooks?urlpath=tree/chapter.ipynb") == 2  # the header's menu too
    requirements = srcdir / "_build" / "html" / "_sources" / "requirements.txt"
    assert requirements.read_text() == (
        "--extra-index-url https://download.pytorch.org/whl/cpu\n"
        "nanobook @ git+https://github.com/someone/nanobook\n"
    )


UNGLUED = Path(__file__).parent / "roots" / "test-reader-notebooks-unglued"


def test_a_quote_of_a_value_no_cell_glued_is_a_warning_at_its_line_and_no_notebook(tmp_path):
    srcdir = tmp_path / "book"
    shutil.copytree(UNGLUED, srcdir)
    out = srcdir / "_build" / "html"
    build = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", srcdir, out]

    def built() -> subprocess.CompletedProcess:
        return subprocess.run(build, capture_output=True, text=True, cwd=REPO, check=False)

    cold = built()
    lines = (UNGLUED / "quotes.md").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "{glue:text}`never_made" in text)
    said = (
        f"quotes.md:{line}: WARNING: the text quotes the glued value 'never_made', which no "
        "cell glued: the page shows nothing there, and offers no notebook for readers\n"
        "  hint: glue it in a code cell of the page (glue('never_made', value)), or quote a "
        "name a cell glues [nanobook.reader-notebook]"
    )
    assert said in cold.stderr and cold.returncode == 1
    assert "'made'" not in cold.stderr and "in_code" not in cold.stderr  # glued; in code
    page = (out / "quotes.html").read_text(encoding="utf-8")
    assert "offers no notebook of the chapter to download" in page
    assert "quotes.ipynb" not in page and not (out / "_sources" / "quotes.ipynb").exists()
    fine = (out / "fine.html").read_text(encoding="utf-8")  # the other pages are offered
    assert 'href="_sources/fine.ipynb"' in fine and (out / "_sources" / "fine.ipynb").is_file()

    warm = built()  # reads no page: the warning is kept with it
    assert "0 added, 0 changed, 0 removed" in warm.stdout
    assert said in warm.stderr and warm.returncode == 1


def test_a_new_wheel_rewrites_the_pages_that_link_it(tmp_path):
    """An edit to the package makes a new wheel, which replaces the old one in the site,
    and a build that reads no page again still rewrites the run boxes to link it (the
    wheel's path is a setting of the build)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("A package.\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "nanobook"\nversion = "0.1.0"\nreadme = "README.md"\n'
        '[tool.setuptools]\npy-modules = ["palette"]\n'
    )
    (project / "palette.py").write_text("ONE = 1\n")
    srcdir = tmp_path / "book"
    shutil.copytree(ROOT, srcdir)
    out = srcdir / "_build" / "html"
    build = [sys.executable, "-m", "sphinx", "-b", "html", "-D", f"nanobook_project_root={project}"]
    build += [str(srcdir), str(out)]

    def linked() -> str:
        subprocess.run(build, capture_output=True, cwd=REPO, check=True)
        page = html.unescape(_text((out / "chapter.html").read_text(encoding="utf-8")))
        return re.search(r"https://example\.org/book/(_downloads/\S+\.whl)", page)[1]

    first = linked()
    (project / "palette.py").write_text("ONE = 2\n")
    second = linked()
    assert first != second and (out / second).is_file() and not (out / first).exists()


@pytest.mark.parametrize("stopped", [False, True])
def test_the_old_wheel_stays_until_the_build_has_rewritten_the_pages(tmp_path, stopped):
    """While a build writes its pages, the pages it has not rewritten yet still link the
    last build's wheel: that wheel leaves the site only once the build has finished, and
    stays if the build stopped."""
    from ext import reader_wheel

    name = "nanobook-0.1.0-py3-none-any.whl"
    made = tmp_path / "store" / name
    made.parent.mkdir()
    made.write_bytes(b"new")
    out = tmp_path / "html"
    old = out / reader_wheel.FOLDER / "old" / name
    sphinx_own = out / reader_wheel.FOLDER / "abc" / "data.csv"  # Sphinx's download
    for file in (old, sphinx_own):
        file.parent.mkdir(parents=True)
        file.write_bytes(b"old")
    app = types.SimpleNamespace(
        builder=types.SimpleNamespace(format="html"),
        outdir=str(out),
        config=types.SimpleNamespace(nanobook_wheel=f"{reader_wheel.FOLDER}/new/{name}"),
        nanobook_wheel_file=made,
    )
    reader_wheel.publish(app)  # builder-inited: before any page is written
    assert (out / app.config.nanobook_wheel).read_bytes() == b"new" and old.is_file()
    reader_wheel.prune(app, RuntimeError("stopped") if stopped else None)  # build-finished
    assert old.is_file() == stopped
    assert (out / app.config.nanobook_wheel).is_file() and sphinx_own.is_file()


@pytest.mark.parametrize(
    "text, error",
    [
        ('[project]\nname = "nanobook"\nreadme = "README.md"\n', "KeyError"),  # no tool table
        ("[project\n", "TOMLDecodeError"),
    ],
)
def test_a_broken_pyproject_is_said_at_pyproject_toml(tmp_path, monkeypatch, text, error):
    from ext import reader_wheel

    (tmp_path / "pyproject.toml").write_text(text)
    config = types.SimpleNamespace(nanobook_project_root=str(tmp_path))
    app = types.SimpleNamespace(config=config, srcdir=tmp_path, confdir=tmp_path)
    said = []
    monkeypatch.setattr(reader_wheel, "warn", lambda _, message, **how: said.append((message, how)))
    reader_wheel.make(app, config)
    ((message, how),) = said
    assert error in message
    assert how["location"] == str(tmp_path / "pyproject.toml")
    assert how["hint"] == "check pyproject.toml" and config.nanobook_wheel is None


def _download_menu(page: str) -> list[str]:
    """The links of the theme's download menu, in order."""
    menu = re.search(r'<div class="dropdown dropdown-download-buttons">(.*?)</ul>', page, re.S)
    return re.findall(r'<a href="([^"]+)"', menu[1])


def test_the_run_box_installs_the_wheel_the_build_published(tmp_path, browser):
    """With the project's pyproject.toml at its root, the build publishes the wheel under
    a folder named by its content, and the run box and the notebook install it, with
    Jupyter, from the site, in place of an earlier build's; a page read from a local build
    names the wheel beside it."""
    srcdir = tmp_path / "book"
    shutil.copytree(ROOT, srcdir)
    out = srcdir / "_build" / "html"
    earlier = out / "_downloads" / "0123456789abcdef" / "nanobook-0.1.0-py3-none-any.whl"
    download = out / "_downloads" / "fedcba9876543210" / "data.csv"  # a :download:'s
    for planted in (earlier, download):
        planted.parent.mkdir(parents=True)
        planted.write_text("an earlier build's")
    _build(srcdir, "-D", f"nanobook_project_root={REPO}")
    assert not earlier.parent.exists() and download.exists()
    (wheel,) = out.glob("_downloads/*/nanobook-*-py3-none-any.whl")
    key = wheel.parent.name
    made = srcdir / "_build" / "nanobook-cache" / "wheels" / key / wheel.name
    assert wheel.read_bytes() == made.read_bytes()  # the store's entry, published
    url = f"https://example.org/book/_downloads/{key}/{wheel.name}"
    torch = importlib.metadata.version("torch").partition("+")[0]
    torch_line = f"pip install torch=={torch} --index-url {book_build.TORCH_CPU_INDEX}"
    line = f'pip install "nanobook[notebook] @ {url}"'
    page = (out / "chapter.html").read_text(encoding="utf-8")
    assert f"{torch_line}\n{line}\n" in html.unescape(_text(page))
    assert "checkout" not in _text(page)
    notebook = nbformat.read(out / "_sources" / "chapter.ipynb", 4)
    assert f"    {torch_line}\n    {line}\n" in notebook.cells[1].source
    page = browser.new_page()
    page.goto((out / "chapter.html").as_uri())  # from disk: the site may not have this wheel
    local = f'pip install "nanobook[notebook] @ {wheel.resolve().as_uri()}"'
    assert local in page.locator(".nanobook-run pre").inner_text()
    page.close()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"model_src/model.py", "buildlib/store.py", "palette.py"} <= names
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "notebook" in extras["optional-dependencies"]

    repository = "https://github.com/someone/nanobook"
    _build(
        srcdir, "-D", f"nanobook_project_root={REPO}", "-D", f"nanobook_repository_url={repository}"
    )
    page = (out / "chapter.html").read_text(encoding="utf-8")
    assert line in html.unescape(_text(page))  # the wheel still: the site carries its code
    assert f'href="{repository}"' in page and "Open in Binder" in page
    requirements = (out / "_sources" / "requirements.txt").read_text()
    assert requirements.splitlines()[1] == f"nanobook @ {url}"  # what Binder installs


# --- the whole book ---------------------------------------------------------------------


def _reader_notebook(book_html: Path, slug: str):
    return nbformat.read(book_html / "_sources" / "chapters" / f"{slug}.ipynb", as_version=4)


@pytest.mark.book
def test_the_attention_notebook_reads_as_a_notebook(book_html):
    notebook = _reader_notebook(book_html, "attention")
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "{glue" not in text and not MYST.search(text)
    assert not re.search(r"\\color\{[a-z]", text), "colours by role name: \\color{#RRGGBB}"
    page = re.sub(r"<[^>]+>", "", (book_html / "chapters" / "attention.html").read_text())
    uniform = re.search(r"A uniform guess costs (\S+) per letter", page)[1]
    assert f"A uniform guess costs {uniform} per letter" in text
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    # title, how to run it, the build's numerics, then the set-up
    assert notebook.cells.index(code[0]) == 2 and "SAME_NUMBERS_EVERYWHERE" in code[0].source
    assert "from model_src import" in code[1].source and "def glue(" in code[1].source
    assert not any(cell.metadata.get("tags") for cell in code)


@pytest.mark.book
def test_every_chapter_has_a_run_box_without_launch_buttons_by_default(book_html):
    # the wheel this build published, at the site's address
    wheel = _published_wheel(book_html).relative_to(book_html).as_posix()
    for slug in CHAPTERS:
        page = (book_html / "chapters" / f"{slug}.html").read_text(encoding="utf-8")
        box = re.search(r'<div class="nanobook-run admonition">(.*?)</p>\n</div>', page, re.S)
        assert box, slug
        assert f'href="../_sources/chapters/{slug}.ipynb"' in box[1], slug
        assert _download_menu(page)[0] == f"../_sources/chapters/{slug}.ipynb", slug
        line = html.unescape(_text(box[1]))
        assert re.search(rf'pip install "nanobook\[notebook\] @ \S+/{wheel}"', line), slug
        assert "colab" not in page.lower() and "mybinder" not in page.lower(), slug


# Each character of the run box's commands that lies under its copy button.
_UNDER_THE_COPY_BUTTON = """() => {
  const pre = document.querySelector(".nanobook-run pre");
  const button = pre.closest(".highlight").querySelector("button.copybtn").getBoundingClientRect();
  const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let under = "";
  while (walker.nextNode()) {
    const text = walker.currentNode;
    for (let i = 0; i < text.length; i++) {
      range.setStart(text, i);
      range.setEnd(text, i + 1);
      for (const r of range.getClientRects()) {
        const x = r.right > button.left && r.left < button.right;
        if (x && r.bottom > button.top && r.top < button.bottom) under += text.data[i];
      }
    }
  }
  return under;
}"""


@pytest.mark.book
@pytest.mark.browser
def test_the_copy_button_covers_no_command_of_the_run_box_on_a_phone(book_html, browser):
    # at 390 px it sat on the '.' that activates the environment ('&& . nanobook/...')
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto((book_html / "chapters" / "overview.html").as_uri())
        page.locator(".nanobook-run button.copybtn").wait_for(state="attached")
        assert page.evaluate(_UNDER_THE_COPY_BUTTON) == ""
    finally:
        context.close()


# The run box's commands as laid out: the text of each line they wrap to.
_RUN_BOX_LINES = """() => {
  const pre = document.querySelector(".nanobook-run pre");
  const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  const lines = [];
  let top = null;
  while (walker.nextNode()) {
    const text = walker.currentNode;
    for (let i = 0; i < text.length; i++) {
      range.setStart(text, i);
      range.setEnd(text, i + 1);
      const r = range.getClientRects()[0];
      if (!r) continue;
      if (top === null || Math.round(r.top) !== top) lines.push("");
      top = Math.round(r.top);
      lines[lines.length - 1] += text.data[i];
    }
  }
  return lines;
}"""


def test_the_run_box_holds_its_long_options_whole_in_the_page():
    """In the run box's commands only: each --option in a nowrap span, tags untouched."""
    pre = (
        '<pre><span></span>pip<span class="w"> </span>install -q --index-url<span class="w"> '
        "</span>https://x/y\n</pre>"
    )
    body = f'<p>--elsewhere</p><div class="nanobook-run admonition">{pre}</div><pre>--no</pre>'
    kept = reader_notebooks.whole_options(body)
    assert kept == body.replace(
        "--index-url", '<span style="white-space: nowrap">--index-url</span>', 1
    )
    assert reader_notebooks.whole_options("<p>no box --here</p>") == "<p>no box --here</p>"


@pytest.mark.book
@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 390])
@pytest.mark.parametrize("scripts", [True, False])
def test_the_run_box_keeps_a_long_option_whole_on_a_phone(book_html, browser, width, scripts):
    """Wrapped at a phone's width, 'pip install torch==... --index-url ...' broke between
    the option's two hyphens: '-' ended a line and '-index-url' began the next. The option
    now wraps whole, and the text a reader copies is the same. The page holds it whole
    itself (a script did, so without JavaScript the option broke again)."""
    context = browser.new_context(
        viewport={"width": width, "height": 844}, java_script_enabled=scripts
    )
    page = context.new_page()
    try:
        page.goto((book_html / "chapters" / "overview.html").as_uri())
        pre = page.locator(".nanobook-run pre")
        lines = page.evaluate(_RUN_BOX_LINES)
        assert len(lines) > 4, lines  # it does wrap at this width
        assert any(line.strip().startswith("--index-url") for line in lines), lines
        split = [a + b for a, b in itertools.pairwise(lines) if a.endswith("-") and b[:1] == "-"]
        assert not split, split
        assert f" --index-url {book_build.TORCH_CPU_INDEX}\n" in pre.inner_text()
    finally:
        context.close()


@pytest.mark.book
def test_every_link_of_the_notebooks_lands_on_the_built_site(book_html):
    """Clips, widgets, refs and terms link to the published page and anchor, and named
    clips show their published poster: each one exists in the build."""
    for slug in CHAPTERS:
        page = (book_html / "chapters" / f"{slug}.html").read_text(encoding="utf-8")
        site = re.search(r'<link rel="canonical" href="([^"]+)chapters/', page)[1]
        notebook = _reader_notebook(book_html, slug)
        text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        # the book's own pages; other hosts are the credits' and references' links
        links = [
            url for url in re.findall(r"\]\((https?://[^)\s]+)\)", text) if url.startswith(site)
        ]
        assert links, slug
        for url in links:
            path, _, anchor = url.removeprefix(site).partition("#")
            target = book_html / path
            assert target.is_file(), (slug, url)
            if anchor:
                assert f'id="{anchor}"' in target.read_text(encoding="utf-8"), (slug, url)


def _local_package_sources() -> list[str]:
    """pip's configured package sources that are on this machine (file:// indexes, wheel
    folders), as pip options; the clean environment installs from nothing else."""
    config = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    ).stdout
    values = " ".join(re.findall(r"(?:index-url|find-links)='([^']*)'", config))
    values += " " + " ".join(
        os.environ.get(name, "") for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
    )
    links = os.environ.get("PIP_FIND_LINKS", "") + " " + values
    indexes = [v for v in dict.fromkeys(values.split()) if v.startswith("file://")]
    folders = [v for v in dict.fromkeys(links.split()) if os.path.isdir(v)]
    if not indexes:
        return []
    options = ["--index-url", indexes[0]]
    for index in indexes[1:]:
        options += ["--extra-index-url", index]
    for folder in folders:
        options += ["--find-links", folder]
    return options


def _clean_environment(folder: Path, wheel: Path) -> Path:
    """A new virtual environment with the published wheel and what its ``notebook``
    extra brings (Jupyter and its kernel), as the run box's line installs them."""
    sources = _local_package_sources()
    if not sources:
        pytest.skip("no local package sources (file:// index) configured for pip")
    env = {**os.environ, **OFFLINE}
    venv = folder / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--isolated", "--quiet", *sources]
    pip += ["--disable-pip-version-check"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    torch = next(pin for pin in project["dependencies"] if pin.startswith("torch=="))
    subprocess.run([*pip, torch], check=True, env=env)  # alone first: the CPU build
    # the run box's line, offline: the wheel from the built site, not the checkout
    subprocess.run([*pip, f"nanobook[notebook] @ {wheel.as_uri()}"], check=True, env=env)
    return python


def _published_wheel(book_html: Path) -> Path:
    """The wheel the run boxes point at, in the built site."""
    page = html.unescape(_text((book_html / "chapters" / "tools.html").read_text()))
    url = re.search(r'pip install "nanobook\[notebook\] @ (\S+)"', page)[1]
    site = re.search(r"^(.*/)_downloads/", url)[1]
    wheel = book_html / url.removeprefix(site)
    assert wheel.is_file(), url
    return wheel


def _clean_kernel(book_html: Path, folder: Path) -> str:
    """A Jupyter kernel, "clean" (returns its JUPYTER_PATH), in a clean environment with
    only the published wheel installed, reading the build's trained models.

    The models come from the book's cache (NANOBOOK_CACHE_DIR) rather than being trained
    again, to keep the test within minutes. That is fair: a model's entry is keyed by the
    code that trains it (the wheel's modules count by their code, keyed alike from a
    wheel and a checkout), its data, settings and seed, so the wheel finds the build's
    models only if it would train them the same way, and training under the build's
    numerics (the notebook's first cell) is deterministic. What is checked here is that
    the notebook's cells, run by the published package, compute the page's numbers from
    those models; a miss would train with the package's own code."""
    python = _clean_environment(folder, _published_wheel(book_html))
    kernel = folder / "jupyter" / "kernels" / "clean"
    kernel.mkdir(parents=True)
    cache = str(store.default_cache())  # the cache book_html was built with
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "clean",
        "language": "python",
        "env": {**OFFLINE, "NANOBOOK_CACHE_DIR": cache, "PYTHONPATH": ""},
    }
    (kernel / "kernel.json").write_text(json.dumps(spec))
    check = "import model_src, palette, torch; print(model_src.__file__, torch.version.cuda)"
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [python, "-c", check], capture_output=True, text=True, cwd=folder, env=clean_env
    )
    installed, cuda = where.stdout.split()
    assert installed.startswith(str(python.parent.parent)) and cuda == "None", where.stdout
    packages = subprocess.run([python, "-m", "pip", "list"], capture_output=True, text=True)
    assert "nvidia" not in packages.stdout.lower()
    assert "notebook " in packages.stdout and "nbconvert " in packages.stdout
    return str(folder / "jupyter")


# Cheap chapters whose every printed number is checked: one of the pipeline's, two of
# Part III's (their runs are seeded and their records carry the build's CPU-seconds).
REPRODUCED = ("attention", "tools", "rl")
_SAME = re.compile(r"^(\d+) of (\d+) values in the text are what this run computed$")


@pytest.mark.book
def test_every_chapter_notebook_runs_from_the_published_wheel(book_html, tmp_path, monkeypatch):
    """Every chapter's notebook runs in a clean environment with only the published wheel
    installed, and then every exercise solution's Python, in order, as a reader who has run
    the chapter would try them; the REPRODUCED ones compute every value their text quotes
    (their last cell compares them) and print what each cell printed on the page."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("JUPYTER_PATH", _clean_kernel(book_html, tmp_path))
    work = tmp_path / "reader"  # not the checkout: what the notebooks import is installed
    work.mkdir()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # one kernel per core
        runs = {slug: pool.submit(_run, book_html, slug, work) for slug in CHAPTERS}
        ran = {slug: run.result() for slug, run in runs.items()}
    for slug, notebook in ran.items():
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(cell.execution_count for cell in code), slug
    tried = sum(SOLUTION in cell.metadata for n in ran.values() for cell in n.cells)
    assert tried, "no solution's Python was found in the notebooks"
    differences = [d for slug in REPRODUCED for d in _differences(book_html, slug, ran[slug])]
    assert not differences, "\n".join(differences)


def _differences(book_html: Path, slug: str, ran) -> list[str]:
    """Where the run notebook ``ran`` is not the page: its last cell's count of the text's
    values it computed alike, and each cell whose printed output differs."""
    page = _reader_notebook(book_html, slug)
    chapter = [c for c in ran.cells if c.cell_type == "code" and SOLUTION not in c.metadata]
    *cells, check = chapter
    said = _printed(check)
    counted = _SAME.match(said.strip())
    found = [] if counted and counted[1] == counted[2] != "0" else [f"{slug}: {said}"]
    shown = [cell for cell in page.cells if cell.cell_type == "code"][: len(cells)]
    for before, after in zip(shown, cells, strict=True):
        if _printed(after) != _printed(before):
            found.append(f"{slug}: the cell {before.source[:80]!r} printed\n{_printed(after)}")
    return found


def _printed(cell) -> str:
    """What a code cell printed (stdout) and the text of the value it ended on."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type == "execute_result":
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


# An exercise's solution in a chapter's notebook, and the Python in it (fenced either way)
_SOLUTION = re.compile(r"<details><summary>Solution</summary>(.*?)</details>", re.S)
_PYTHON = re.compile(r"^(```|~~~)python\n(.*?)^\1$", re.M | re.S)
SOLUTION = "nanobook_solution"  # a code cell's metadata: which solution's code it is


def _solutions(notebook) -> list:
    """Code cells of every solution's Python, in the order the chapter gives them, each
    marked with its solution's number."""
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    cells = []
    for number, solution in enumerate(_SOLUTION.findall(markdown), start=1):
        for fence in _PYTHON.finditer(solution):
            cell = nbformat.v4.new_code_cell(fence[2])
            cell.metadata[SOLUTION] = number
            cells.append(cell)
    return cells


def _run(book_html: Path, slug: str, work: Path):
    """The chapter's downloaded notebook, executed in the clean environment's kernel
    (in ``work``, not the checkout: what it imports is installed), followed by its
    solutions' Python."""
    return _run_with_solutions(_reader_notebook(book_html, slug), slug, "clean", work)


def _run_with_solutions(notebook, slug: str, kernel: str, work: Path):
    """``notebook`` executed in ``kernel`` in the folder ``work``, then its solutions'
    Python; a cell that fails is an AssertionError naming the chapter and, for a
    solution, its number, from nbclient's error with the cell and its traceback."""
    notebook.cells += _solutions(notebook)
    resources = {"metadata": {"path": work}}
    try:
        NotebookClient(notebook, kernel_name=kernel, timeout=900, resources=resources).execute()
    except CellExecutionError as error:
        failed = next(
            cell
            for cell in notebook.cells
            if any(out.output_type == "error" for out in cell.get("outputs", []))
        )
        which = f"solution {failed.metadata[SOLUTION]}" if SOLUTION in failed.metadata else "a cell"
        raise AssertionError(f"{slug}: {which} failed") from error
    return notebook


def test_a_solution_that_fails_after_the_chapter_is_named(tmp_path):
    """Solutions run after every cell, in order, in one kernel: one that reads a name the
    chapter or an earlier solution rebound fails, and the failure names it."""
    chapter = nbformat.v4.new_code_cell("cfg = {'block_size': 11}")
    exercises = nbformat.v4.new_markdown_cell(
        "1. Rebind it.\n\n<details><summary>Solution</summary>\n\n~~~python\n"
        "cfg = 'medium'\n~~~\nProse.\n\n</details>\n\n2. Read it.\n\n"
        "<details><summary>Solution</summary>\n\n```python\nprint(cfg['block_size'])\n```"
        "\n\n</details>\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[chapter, exercises])
    assert [c.source for c in _solutions(notebook)] == [
        "cfg = 'medium'\n",
        "print(cfg['block_size'])\n",
    ]
    with pytest.raises(AssertionError, match=r"^one: solution 2 failed$"):
        _run_with_solutions(notebook, "one", "python3", tmp_path)
