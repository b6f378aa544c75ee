"""ext/notebooks.py: the pages' notebooks executed on every core before Sphinx reads them.

The builds run as `python -m sphinx` in a process of their own, as a maintainer runs
them (MyST-NB's parser registration does not survive other test apps in one process).
"""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from builds import sphinx_build

ROOT = Path(__file__).parent / "roots" / "test-notebooks"


def build(srcdir: Path, cache: Path, fresh: bool) -> str:
    result = sphinx_build(srcdir, cache, *(["-E"] if fresh else []))
    return result.stdout + result.stderr


def test_notebooks_run_early_in_parallel_and_reading_uses_their_outputs(tmp_path):
    srcdir = tmp_path / "notebooks"
    shutil.copytree(ROOT, srcdir)
    cache = tmp_path / "jupyter"
    log = build(srcdir, cache, fresh=True)
    assert "executing 2 notebooks, 2 at a time" in log
    assert "executed 2 notebooks in" in log
    for page in ("one", "two"):
        html = (srcdir / "_build" / f"{page}.html").read_text(encoding="utf-8")
        assert f"page {page} ran in process True 45" in html
    # kernels side by side talk over Unix sockets: no race for a TCP port, no warning
    assert "over ipc" in (srcdir / "_build" / "one.html").read_text(encoding="utf-8")
    assert "without encryption" not in log
    assert "Executing notebook using" not in log  # MyST-NB ran none of them itself

    # a fresh environment over the same cache: nothing left to execute early
    log = build(srcdir, cache, fresh=True)
    assert "executing" not in log and "Executing notebook using" not in log
    html = (srcdir / "_build" / "one.html").read_text(encoding="utf-8")
    assert "page one ran in process True 45" in html


def _run_early(code: str) -> tuple[float, str | None]:
    """(seconds, error) of a one-cell notebook run as the early execution runs it."""
    import nbformat

    from ext import notebooks

    os.environ["JUPYTER_PATH"] = str(Path(notebooks.__file__).parent / "jupyter")
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(code)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    _, seconds, error = notebooks._execute(notebook, cwd=str(ROOT), timeout=60)
    return seconds, error


def test_a_kernel_that_dies_is_left_to_the_reading_step():
    """A kernel lost early (it died, or could not start) is an error string, not an
    exception that stops the build: MyST-NB executes the page again while reading."""
    from ext import claims

    assert _run_early("import os\nos._exit(3)") == (0.0, claims.KERNEL_DIED)


def test_a_cell_that_fails_early_is_logged_by_its_error_and_its_message_s_first_line():
    _, error = _run_early('raise ValueError("over the limit\\nsecond line")')
    assert error == "ValueError: over the limit …"


def _built(srcdir: Path, cache: Path) -> str:
    """A fresh build of the copied root over ``cache``; its log, warnings included."""
    result = sphinx_build(srcdir, cache, "-E")
    return result.stdout + result.stderr


def _page(srcdir: Path) -> str:
    return (srcdir / "_build" / "one.html").read_text(encoding="utf-8")


def test_an_executed_notebook_is_checked_before_its_outputs_are_published(tmp_path):
    srcdir, cache = tmp_path / "notebooks", tmp_path / "jupyter"
    shutil.copytree(ROOT, srcdir)
    _built(srcdir, cache)
    (executed,) = (cache / "one" / "executed").glob("*/base.ipynb")
    executed.write_text(executed.read_text().replace("True 45", "True 52"))

    log = _built(srcdir, cache)

    assert re.search(
        r"one\.md: WARNING: the cached execution of this page was damaged "
        r"\(executed/\w+/base\.ipynb is not the file that was stored\); executed afresh\n"
        r"  hint: nothing to do: .* \[nanobook\.notebook\]",
        log,
    ), log
    assert "page one ran in process True 45" in _page(srcdir)  # the made number, not 52
    assert "executing 1 notebooks" in log  # the damaged one only


def test_a_damaged_database_is_a_warning_and_a_fresh_execution(tmp_path):
    srcdir, cache = tmp_path / "notebooks", tmp_path / "jupyter"
    shutil.copytree(ROOT, srcdir)
    _built(srcdir, cache)
    database = cache / "one" / "global.db"
    database.write_bytes(b"not sqlite" + database.read_bytes()[10:])

    log = _built(srcdir, cache)

    assert re.search(r"one\.md: WARNING: the cached execution of this page was damaged \(", log)
    assert "page one ran in process True 45" in _page(srcdir)
    _built(srcdir, cache)  # made again whole: the next build reads it without a word
    assert "WARNING" not in _built(srcdir, cache)


def test_a_cache_that_cannot_be_written_is_a_warning_and_the_pages_still_run(tmp_path):
    srcdir = tmp_path / "notebooks"
    shutil.copytree(ROOT, srcdir)
    blocked = tmp_path / "a-file"
    blocked.write_text("the cache folder's parent is a file: nothing can be stored under it")

    log = _built(srcdir, blocked / "jupyter")

    assert re.search(r"one\.md: WARNING: the executed notebook could not be stored: ", log), log
    assert "hint: make the cache folder writable" in log
    assert "page one ran in process True 45" in _page(srcdir)
    html = (srcdir / "_build" / "two.html").read_text(encoding="utf-8")
    assert "page two ran" in html


def test_two_builds_sharing_a_cache_execute_each_notebook_once(tmp_path):
    cache = tmp_path / "jupyter"
    sources = [tmp_path / f"notebooks-{n}" for n in (1, 2)]
    for srcdir in sources:
        shutil.copytree(ROOT, srcdir)
    with ThreadPoolExecutor(len(sources)) as pool:  # the two builds at once
        builds = list(pool.map(lambda srcdir: sphinx_build(srcdir, cache, check=False), sources))
    logs = [build.stdout + build.stderr for build in builds]
    # a build that finds both made before it looks executes none, and says nothing of it
    executed = [sum(map(int, re.findall(r"executed (\d+) notebooks in", log))) for log in logs]
    assert sum(executed) == 2, logs  # one and two, each by one build
    for srcdir in sources:
        assert "page one ran in process True 45" in _page(srcdir)
