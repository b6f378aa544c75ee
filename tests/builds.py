"""How the tests build a small test project (tests/roots/test-*) with MyST-NB: as a
maintainer runs `python -m sphinx`, in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The variable a root's conf.py reads for the folder of its executed notebooks.
NOTEBOOKS = "NANOBOOK_TEST_NOTEBOOKS"


def sphinx_build(
    srcdir: Path, cache: Path, *options: str, check: bool = True
) -> subprocess.CompletedProcess:
    """Build ``srcdir`` to HTML in ``srcdir/_build``, its notebooks cached in ``cache``.

    The build runs in a process of its own: MyST-NB's parser registration does not
    survive other test apps in one process. It runs from the repository, since a root's
    conf.py imports ext. ``-N``: where CI is set, Sphinx colours its warnings, and the
    tests compare them as plain text. ``options`` go to Sphinx (-W, -E, --keep-going).
    What it said is in the result's stdout and stderr, as text; with ``check`` a failed
    build raises, after printing both for the test's report.
    """
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-N", *options]
    done = subprocess.run(
        [*command, str(srcdir), str(srcdir / "_build")],
        env={**os.environ, NOTEBOOKS: str(cache)},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode:
        print(done.stdout, done.stderr, sep="\n")
        done.check_returncode()
    return done
