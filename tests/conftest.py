"""Shared fixtures: Sphinx's own testing fixtures, test roots, and one draft build of the book."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = "sphinx.testing.fixtures"

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from buildlib import book_build, store  # noqa: E402  (needs the path above)

# What `nox -s tests` sets already, for a pytest started by hand: before torch loads
# (one torch thread among them: tiny models, where a second thread only coordinates).
os.environ.update(book_build.SAME_NUMBERS_EVERYWHERE)

collect_ignore = ["roots"]


@pytest.fixture(scope="session")
def rootdir() -> Path:
    return Path(__file__).parent / "roots"


@pytest.fixture(scope="session")
def book_html() -> Path:
    """The whole book built once per test session, at draft quality, warnings as errors.

    It shares the repository's caches (.cache/), so a warm run reuses trained models,
    clips and executed notebooks, exactly as `nox -s docs` does.
    """
    out = REPO / "docs" / "_build" / "test"
    cache = store.default_cache()
    env = {**os.environ, **book_build.environment(cache, "draft")}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", *book_build.sphinx_args(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, (
        f"book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    )
    return out / "html"


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, driven by Playwright, for the whole session."""
    from playwright.sync_api import sync_playwright

    options = book_build.chromium()
    if not Path(options["executable_path"]).exists():
        pytest.fail("chromium is not installed: `nox -s tests` installs it (apt: chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**options)
        yield browser
        browser.close()
