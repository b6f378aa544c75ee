"""ext/notebooks.py: the pages' notebooks executed on every core before Sphinx reads them.

The builds run as `python -m sphinx` in a process of their own, as a maintainer runs
them (MyST-NB's parser registration does not survive other test apps in one process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent / "roots" / "test-notebooks"


def build(srcdir: Path, cache: Path, fresh: bool) -> str:
    env = {**os.environ, "NOTEBOOKS_TEST_CACHE": str(cache)}
    command = [sys.executable, "-m", "sphinx", "-b", "html", str(srcdir), str(srcdir / "_build")]
    result = subprocess.run(
        [*command, *(["-E"] if fresh else [])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,  # the repository: conf.py imports ext
    )
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


def test_a_kernel_that_dies_is_left_to_the_reading_step():
    """A kernel lost early (it died, or could not start) is an error string, not an
    exception that stops the build: MyST-NB executes the page again while reading."""
    import nbformat

    from ext import notebooks

    os.environ["JUPYTER_PATH"] = str(Path(notebooks.__file__).parent / "jupyter")
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import os\nos._exit(3)")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    _, seconds, error = notebooks._execute(notebook, cwd=str(ROOT), timeout=60)
    assert error.startswith("DeadKernelError") and seconds == 0.0
