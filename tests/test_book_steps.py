"""ext/book.py: the book's own build steps (training first, notebook keys, the summary),
tested here without a whole-book build (tests/test_book.py runs them for real)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from sphinx.testing.util import SphinxTestApp

from ext import book, manim_clip, myst_pages

PAGE = """# A page

```{code-cell} ipython3
:tags: [hide-input]
%matplotlib inline
from helper import value
print(value())
```
"""


def _project(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "helper.py").write_text("def value():\n    return 1\n")
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    return page, tmp_path


def _key(text: str, page: Path, models: str, search: Path, docname: str = "page") -> str | None:
    return book.page_inputs(docname, myst_pages.parse(text), page, models, [search])


def test_a_pages_key_follows_what_its_cells_import_and_read_not_comments(tmp_path):
    page, search = _project(tmp_path)
    key = _key(page.read_text(), page, "models-1", search)
    helper = tmp_path / "helper.py"
    helper.write_text("# a comment\n" + helper.read_text())
    assert _key(page.read_text(), page, "models-1", search) == key
    assert _key(page.read_text(), page, "models-2", search) != key  # retrained
    # another page importing the same: its own key, its own store entry to execute into
    assert _key(page.read_text(), page, "models-1", search, docname="other") != key
    helper.write_text("def value():\n    return 2\n")
    changed = _key(page.read_text(), page, "models-1", search)
    assert changed != key
    # a page whose cells read other pages: their text is an input too
    (tmp_path / "other.md").write_text("# Other\n")
    reads = page.read_text() + "\n% cells read: other.md\n"
    reading = _key(reads, page, "models-1", search)
    assert reading != changed
    (tmp_path / "other.md").write_text("# Other, edited\n")
    assert _key(reads, page, "models-1", search) != reading
    assert _key("# No cells\n", page, "models-1", search) is None


def test_a_cells_code_is_its_python_or_at_least_its_imports():
    def python(source: str) -> str:
        return myst_pages.Cell(source, {}, 1, 2).python

    assert python("%time\n!ls\nimport a\nb = 1\n") == "import a\nb = 1"
    assert python("import a\nfrom b import c\nif:\n") == "import a\nfrom b import c"


def test_the_summary_line_the_bench_reads():
    line = book.summary_line(2, 9.0, 17.5, 3, 60.0, 114.0, 2)
    assert line == (
        "book build: 2 models trained (9.0 s, 17.5 CPU-s), 3 notebooks executed; "
        "60.0 s wall, 114.0 CPU-s on 2 cores (95% busy)"
    )


def test_models_are_trained_before_the_clips_start_and_notebooks_run_after(tmp_path):
    (tmp_path / "conf.py").write_text('extensions = ["ext.manim_clip", "ext.book"]\n')
    (tmp_path / "index.rst").write_text("Index\n=====\n")
    app = SphinxTestApp("html", srcdir=tmp_path, status=StringIO(), warning=StringIO())
    try:
        listeners = app.events.listeners["env-get-outdated"]
        priority = {listener.handler: listener.priority for listener in listeners}
        train, clips = priority[book.train_models], priority[manim_clip.start_renders]
        assert train < clips < priority[book.execute_notebooks]
        assert book.jupyter_cache(app) == tmp_path / "_build" / "nanobook-cache" / "jupyter"
    finally:
        app.cleanup()
