"""Shared fixtures: Sphinx's own testing fixtures, test roots, and one draft build of the book."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import subprocess
import sys
import threading
import uuid
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

# sphinx-sitemap starts a multiprocessing Manager for every Sphinx app a test builds in its
# worker. Forked, that server keeps every file the worker has open, Playwright's driver pipe
# among them, so the session's browser could never be stopped and the run never ended
# (playwright-python issue 1074, filed 2021 against 1.17). Spawned, it inherits nothing.
multiprocessing.set_start_method("spawn", force=True)


@pytest.fixture
def said(monkeypatch) -> list[tuple]:
    """The warnings ext/_core.warn says: (location, message, hint, subtype) each."""
    from ext import _core

    warnings = []

    def warn(logger, message, *, location, subtype, hint=None):
        warnings.append((location, message, hint, subtype))

    monkeypatch.setattr(_core, "warn", warn)
    return warnings


@pytest.fixture(scope="session")
def rootdir() -> Path:
    return Path(__file__).parent / "roots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read the built book run last, the slow ones (marked `book`) first
    among them: with `-n`, the other workers get on with everything else while one of
    them builds the book, and no long test starts when the rest are done."""

    def order(item: pytest.Item) -> tuple[bool, bool]:
        return reads_book(item), item.get_closest_marker("book") is None

    for item in items:
        if reads_book(item):  # `-m "not reads_book"`: the tests that need no built book
            item.add_marker("reads_book")
    items.sort(key=order)


def reads_book(item: pytest.Item) -> bool:
    return "book_html" in getattr(item, "fixturenames", ())


# The draft build of the book that the tests read, and how its workers share it.
BOOK = REPO / "docs" / "_build" / "test"
BUILD_LOCK = BOOK.parent / "test.lock"  # held while the book builds
OUTCOME = BOOK.parent / "test.outcome"  # the run's id, then "" or why the build failed
STARTED = BOOK.parent / "test.started"  # the id of the run whose build has begun
OWN_RUN = uuid.uuid4().hex  # this process's run id, when pytest-xdist gives none
BUILDS: list[subprocess.Popen] = []  # the book builds this process started


def run_id() -> str:
    """This test run's id, the same in every pytest-xdist worker."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or OWN_RUN


def pytest_collection_finish(session: pytest.Session) -> None:
    """When the run reads the book, its build begins now, in the background, beside the
    unit tests: begun after them, it kept the book's tests waiting for all of its minutes;
    beside them, it uses what they leave idle (browsers and subprocesses waiting)."""
    wanted = any(reads_book(item) for item in session.items)
    if wanted and not session.config.option.collectonly:
        start_book_build()


def start_book_build() -> None:
    """The first worker to ask starts the build; a thread of its holds BUILD_LOCK until the
    outcome is written, and book_html, in every worker, waits on that lock."""
    BOOK.parent.mkdir(parents=True, exist_ok=True)
    with STARTED.open("a+") as started:
        fcntl.flock(started, fcntl.LOCK_EX)
        started.seek(0)
        if started.read() == run_id():
            return
        started.seek(0)
        started.truncate()
        started.write(run_id())
        lock = BUILD_LOCK.open("w")
        fcntl.flock(lock, fcntl.LOCK_EX)  # before the build starts: no one reads too soon
    try:  # started here, before any test runs, so no test's monkeypatched variable reaches it
        build = _start_build(BOOK)
    except BaseException:
        lock.close()
        raise
    threading.Thread(target=_record, args=(build, lock), daemon=True).start()


def _record(build: subprocess.Popen, lock) -> None:
    with lock:
        OUTCOME.write_text(f"{run_id()}\n{_outcome(build)}")


def pytest_sessionfinish() -> None:
    """A run that ends before its book is built (-x, Ctrl-C) stops the build."""
    for build in BUILDS:
        if build.poll() is None:
            build.terminate()
            build.wait()


@pytest.fixture(scope="session")
def book_html() -> Path:
    """The whole book built once per test run, at draft quality, warnings as errors.

    It shares the repository's caches (.cache/), so a warm run reuses trained models,
    clips and executed notebooks, exactly as `nox -s docs` does. The build began when the
    tests were collected (pytest_collection_finish); this waits for it and reads its
    outcome, or builds the book here if no build of this run was recorded.
    """
    BOOK.parent.mkdir(parents=True, exist_ok=True)
    with BUILD_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = OUTCOME.read_text() if OUTCOME.is_file() else ""
        if not done.startswith(f"{run_id()}\n"):
            done = f"{run_id()}\n{_outcome(_start_build(BOOK))}"
            OUTCOME.write_text(done)
    failure = done.partition("\n")[2]
    assert not failure, failure
    return BOOK / "html"


def _start_build(out: Path) -> subprocess.Popen:
    """The book's draft build into ``out``, begun."""
    env = {**os.environ, **book_build.environment(store.default_cache(), "draft")}
    command = [sys.executable, "-m", "sphinx", *book_build.sphinx_args(out)]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    build = subprocess.Popen(command, env=env, **pipes)
    BUILDS.append(build)
    return build


def _outcome(build: subprocess.Popen) -> str:
    """The empty string when the build ends well, else the end of its output."""
    stdout, stderr = build.communicate()
    if build.returncode == 0:
        return ""
    return f"book build failed:\n{stdout[-4000:]}\n{stderr[-8000:]}"


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


@pytest.fixture
def open_page_checked_for_errors(browser):
    """open_(address, **context_options): the page at ``address`` in a browser context of its
    own (options as Playwright's new_context takes them: viewport, color_scheme,
    reduced_motion…). The page keeps what it reports as an error (a console error or an
    uncaught exception) in ``page.problems`` and the addresses it requests in
    ``page.requests``. When the test ends, every page opened must have reported no error;
    then each context is closed."""
    contexts = []

    def open_(address: str, **context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.problems, page.requests = [], []
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.on("request", lambda r: page.requests.append(r.url))
        page.goto(address)
        return page

    yield open_
    for context in contexts:
        for page in context.pages:
            assert not page.problems, page.problems
        context.close()


@pytest.fixture
def open_test_root_page(app, open_page_checked_for_errors):
    """open_(name, **context_options): page ``name`` of the test's Sphinx project (its
    ``sphinx`` mark), built first, opened from disk by open_page_checked_for_errors."""
    app.build()

    def open_(name: str = "index", **context_options):
        address = (app.outdir / f"{name}.html").as_uri()
        return open_page_checked_for_errors(address, **context_options)

    return open_
