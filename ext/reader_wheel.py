"""The project's wheel, published with the site: what a reader installs to run a chapter.

A wheel of the package that pyproject.toml describes (the model, its training, the store
and the palette: everything a chapter's notebook imports) is built once per version of
its files, offline (``pip wheel --no-deps --no-build-isolation --no-index``, with the
build's own setuptools), and kept in the book's store. Each build publishes it as
``_downloads/<key>/<the wheel's own name>``: the folder names its content, as Sphinx's
downloads do, and the file keeps the name pip requires of a wheel. The run box's install
line (ext/reader_notebooks.py) points at it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from sphinx.util import logging

from buildlib import keys, store

from ._core import STORAGE_HINT, atomic_copy, cache_root, project_root, warn

logger = logging.getLogger(__name__)

FOLDER = "_downloads"  # beside Sphinx's own downloads, named the same way


def sources(root: Path) -> list[Path]:
    """The files the wheel is made of, relative to ``root``: pyproject.toml, its readme,
    the modules of the packages and of the py-modules it names (setuptools' default:
    a package's Python files, none of its other files)."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project, tool = pyproject["project"], pyproject["tool"]["setuptools"]
    folders = tool.get("package-dir", {})

    def folder(package: str) -> Path:
        parts = package.split(".")
        for cut in range(len(parts), 0, -1):  # the longest mapped parent names the folder
            mapped = folders.get(".".join(parts[:cut]))
            if mapped is not None:
                return Path(mapped, *parts[cut:])
        return Path(folders.get("", ""), *parts)

    files = [Path("pyproject.toml"), Path(project["readme"])]
    for package in tool.get("packages", []):
        files += sorted(p.relative_to(root) for p in (root / folder(package)).glob("*.py"))
    files += [Path(folders.get("", ""), f"{module}.py") for module in tool.get("py-modules", [])]
    return files


def build(root: Path, files: list[Path], out: Path) -> Path:
    """Build the wheel of ``files`` (copied from ``root``, so the checkout gets no
    build/ or egg-info) into ``out``; offline. Returns the wheel's path."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch, "project")
        for name in files:
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / name, copy / name)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        command += ["--no-index", "--quiet", "--wheel-dir", str(out), str(copy)]
        subprocess.run(command, check=True, capture_output=True, text=True)
    return next(out.glob("*.whl"))


def stored_wheel(app) -> tuple[str, Path]:
    """(key, path) of the project's wheel in the store, built first if missing."""
    root = project_root(app)
    files = sources(root)
    parts = [f"{name}={keys.file_digest(root / name)}" for name in files]
    key = keys.digest(*parts, *keys.producer_code(__file__))

    def make(tmp: Path) -> None:
        wheel = build(root, files, tmp)
        store.write_meta(tmp, {"files": {"wheel": wheel.name}})

    wheels = store.Store(cache_root(app) / "wheels", log=logger.info)
    path = wheels.get_or_make(key, make, parse=lambda entry, meta: entry / meta["files"]["wheel"])
    return key, path


def make(app, config) -> None:
    """config-inited: the wheel made (or found in the store) and its path in the site set
    as ``nanobook_wheel``, when the project root has a pyproject.toml; else None, and the
    run box says to install from a checkout. Set before the build compares its settings
    with the last build's, so a new wheel rewrites every page that links it."""
    config.nanobook_wheel, app.nanobook_wheel_file = None, None
    pyproject = project_root(app) / "pyproject.toml"
    if not pyproject.is_file():
        return
    try:
        key, wheel = stored_wheel(app)
    except subprocess.CalledProcessError as error:
        said = (error.stderr or error.stdout or "").strip().splitlines()[-3:]
        problem, hint = f"pip could not build it: {' '.join(said)}", "check pyproject.toml"
    except (KeyError, tomllib.TOMLDecodeError) as error:  # a table or key missing, bad TOML
        problem, hint = f"{type(error).__name__}: {error}", "check pyproject.toml"
    except OSError as error:
        problem, hint = f"{type(error).__name__}: {error}", STORAGE_HINT
    else:
        config.nanobook_wheel, app.nanobook_wheel_file = f"{FOLDER}/{key}/{wheel.name}", wheel
        return
    warn(
        logger,
        f"the project's wheel is not published ({problem}); the run box says to install "
        "from a checkout",
        location=str(pyproject),
        subtype="reader-notebook",
        hint=hint,
    )


def publish(app) -> None:
    """builder-inited: the wheel copied into an HTML build's site, beside the wheels of
    earlier builds, which the pages not yet rewritten still link (``prune`` removes them
    once the build has rewritten every page)."""
    if app.builder.format != "html" or not app.nanobook_wheel_file:
        return
    atomic_copy(app.nanobook_wheel_file, Path(app.outdir, app.config.nanobook_wheel))


def prune(app, exception) -> None:
    """build-finished: the wheels of earlier builds removed from the site (each in a
    folder of its own, which holds nothing else), after a build that completed; a build
    that stopped leaves them to the pages that still link them."""
    if exception is not None or app.builder.format != "html" or not app.nanobook_wheel_file:
        return
    wheel = Path(app.outdir, app.config.nanobook_wheel)
    for folder in Path(app.outdir, FOLDER).glob("*/"):
        files = list(folder.iterdir())
        if folder != wheel.parent and files and all(f.name == wheel.name for f in files):
            shutil.rmtree(folder)


def setup(app) -> None:
    """Called by ext/reader_notebooks.py's setup."""
    # the wheel's path in the site; set by `make`, not by conf.py
    app.add_config_value("nanobook_wheel", None, "html", types=(str, type(None)))
    app.connect("config-inited", make)
    app.connect("builder-inited", publish)
    app.connect("build-finished", prune)
