"""Store keys: digests of what a made thing depends on, so there is no version to bump.

A key is ``digest`` of the producer's own code and every input it reads.

Python sources are keyed on their syntax tree without docstrings where only their code
matters (``code_digest``): a comment edit changes no key. ``code_inputs`` follows what a
file imports, wherever it lives; the standard library and installed packages count by
version, since their files change only with it, except the files of the distribution the
keyed file belongs to: installed from a wheel, the project's own modules count by code,
so they key alike from a checkout and from a wheel.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import functools
import hashlib
import importlib.machinery
import importlib.metadata
import json
import sys
import sysconfig
import threading
from collections.abc import Iterable
from pathlib import Path

from .files import atomic_write
from .store import default_cache

# --- digests ----------------------------------------------------------------------------


def digest(*parts: bytes | str, length: int = 16) -> str:
    """A short, stable hex digest of the parts (each length-prefixed, so no ambiguity)."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()[:length]


def file_digest(path: Path) -> str:
    """Digest of a file's bytes (data files, and code whose lines matter)."""
    return digest(Path(path).read_bytes())


def code_digest(path: Path) -> str:
    """Digest of a Python file's code: its syntax tree without docstrings (comments are
    never in it). A file that does not parse is keyed on its bytes."""
    return _python_facts(Path(path).read_bytes())[0]


# --- the code this process runs ---------------------------------------------------------
# A module's file may be edited while a build runs (an editor's save under livedocs): the
# build goes on running the code it loaded. Its keys name that code, not the file's new
# text, or what the old code made would be stored under the edit's key and shown for it.
# Code that runs in another process (a worker, a kernel) loads its files when it starts:
# an edit between a key and that start stores the new code's result under the old text's
# key, which the next build no longer asks for.
_LOADED: dict[Path, str] = {}  # a loaded module's file -> the code digest of what it ran


def running_code_digest(path: Path) -> str:
    """The code digest of ``path`` as this process loaded it, if ``remember_loaded_code``
    saw it loaded; else as it is on disk now (code_digest)."""
    loaded = _LOADED.get(Path(path).resolve())
    return loaded if loaded is not None else code_digest(path)


class _RememberingLoader(importlib.machinery.SourceFileLoader):
    def exec_module(self, module) -> None:
        _LOADED[Path(self.path).resolve()] = code_digest(Path(self.path))  # what runs next
        super().exec_module(module)


class _RememberingFinder:
    """A meta path finder: the modules ``PathFinder`` finds under ``roots`` load through
    ``_RememberingLoader``."""

    def __init__(self, roots: tuple[Path, ...]):
        self.roots = roots

    def find_spec(self, name, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        loader = getattr(spec, "loader", None)
        if type(loader) is not importlib.machinery.SourceFileLoader or not self._ours(loader.path):
            return None  # not ours: the finders after this one find it as they would
        spec.loader = _RememberingLoader(loader.name, loader.path)
        return spec

    def _ours(self, file: str) -> bool:
        """Under a root, and not an installed package's (a checkout's .nox holds those):
        an installed module is keyed by its version."""
        path = Path(file).resolve()
        return any(path.is_relative_to(root) for root in self.roots) and not installed(path)


def remember_loaded_code(*roots: Path) -> None:
    """From now on, key this process's modules under ``roots`` (default: the project's
    folder) by the code they were loaded with; those already loaded, by their code now.
    A build calls it first thing (docs/conf.py)."""
    roots = tuple(Path(r).resolve() for r in roots or (CODE_HOME,))
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py") and _RememberingFinder(roots)._ours(file):
            _LOADED.setdefault(Path(file).resolve(), code_digest(Path(file)))
    if not any(isinstance(f, _RememberingFinder) and f.roots == roots for f in sys.meta_path):
        sys.meta_path.insert(0, _RememberingFinder(roots))


def _names_in_file(path: Path) -> list[tuple[str, int]]:
    """(dotted name, relative level) of every module the file may import."""
    try:
        return _python_facts(path.read_bytes())[1]
    except OSError:
        return []  # gone, or never there


# What parsing Python code tells (its code digest, the modules it names), remembered in
# the cache by the code's bytes, so never stale: a build parses only the files edited
# since the one before (a no-op build asked about 70 files: 0.6 s of parsing, against
# 4 ms to read and hash them). Kept when the process exits.
PYTHON_FACTS = ".python-facts.json"  # {sha256 of a file: [code digest, names]}
KEPT_FACTS = 4096  # the most recently made; a file's edits each add one
_facts_made = threading.Event()


def _python_facts(data: bytes) -> tuple[str, list[tuple[str, int]]]:
    name, facts = hashlib.sha256(data).hexdigest()[:32], _remembered_facts()
    known = facts.get(name)
    if isinstance(known, list) and len(known) == 2:
        return known[0], [tuple(module) for module in known[1]]
    code, names = _parse_facts(data)
    facts[name] = [code, names]
    _facts_made.set()
    return code, names


def _parse_facts(data: bytes) -> tuple[str, list[tuple[str, int]]]:
    """A file's code digest and the modules it names, from one parse."""
    try:
        tree = parse_python(data)
    except (SyntaxError, ValueError):
        return digest(data), []  # whoever runs the file reports the error with its location
    names = _names_in_tree(tree)
    scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if isinstance(node, scopes) and _is_docstring(node.body[0] if node.body else None):
            node.body = node.body[1:] or [ast.Pass()]
    return digest(ast.dump(tree, annotate_fields=False, include_attributes=False)), names


_facts: list[dict] = []  # this process's facts, read once (keys are made in threads)
_facts_lock = threading.Lock()


def _remembered_facts() -> dict:
    with _facts_lock:
        if not _facts:
            path = default_cache() / PYTHON_FACTS
            try:
                facts = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                facts = {}
            _facts.append(facts if isinstance(facts, dict) else {})
            atexit.register(_keep_facts, path, _facts[0])
        return _facts[0]


def _keep_facts(path: Path, facts: dict) -> None:
    """Merge the facts this process made into the file (other builds may have added
    theirs); a cache that cannot be written keeps nothing."""
    if not _facts_made.is_set():
        return
    with contextlib.suppress(OSError, ValueError):
        on_disk = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        merged = {**(on_disk if isinstance(on_disk, dict) else {}), **facts}
        kept = dict(list(merged.items())[-KEPT_FACTS:])
        atomic_write(path, json.dumps(kept))


# CPython 3.11 keeps the AST constructor's recursion depth where threads share it: two
# threads parsing at once can fail with "AST constructor recursion depth mismatch" (seen
# in CI; python/cpython#106905). Keys are computed in the build's threads: one at a time.
_PARSING = threading.Lock()


def parse_python(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    with _PARSING:
        return ast.parse(source, filename=filename)


def _is_docstring(statement) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()  # slow: scans every installed one


@functools.cache
def _stdlib_dirs() -> list[Path]:
    paths = sysconfig.get_paths()
    return [Path(paths[name]).resolve() for name in ("stdlib", "platstdlib")]


def _site_dirs() -> tuple[Path, ...]:
    """Where installed packages live, among the folders on sys.path."""
    return tuple(
        Path(p).resolve() for p in sys.path if "site-packages" in p or "dist-packages" in p
    )


def installed(path: Path) -> bool:
    """Is ``path`` part of the standard library or an installed package? Those are keyed
    by version (their files change only with it), everything else by its code."""
    return any(Path(path).resolve().is_relative_to(d) for d in [*_site_dirs(), *_stdlib_dirs()])


def _names_in_tree(tree: ast.Module) -> list[tuple[str, int]]:
    """(dotted name, relative level) of every module the code may import."""
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            prefix = f"{node.module}." if node.module else ""
            if node.module:
                names.append((node.module, node.level))
            names.extend((prefix + alias.name, node.level) for alias in node.names)
    return names


def _find_module(name: str, search: list[Path]) -> Path | None:
    """The file that provides module ``name`` found from ``search`` (no import runs)."""
    parts = name.split(".")
    for base in search:
        candidate = Path(base).joinpath(*parts)
        for option in (candidate.with_suffix(".py"), candidate / "__init__.py"):
            if is_file(option):
                return option.resolve()
    return None


def is_file(path: Path) -> bool:
    """``Path.is_file`` for a name an author typed: False, not an OSError, for a name the
    file system refuses to look up (a part longer than it takes, ENAMETOOLONG)."""
    try:
        return Path(path).is_file()
    except OSError:
        return False


def module_file(name: str) -> Path | None:
    """The file of module ``name`` on sys.path, found without importing it or its
    packages: no model code runs while a page is read."""
    return _find_module(name, [Path(entry or ".") for entry in sys.path])


def import_files(
    path: Path | None, search: Iterable[Path], source: str | None = None
) -> tuple[list[Path], list[str]]:
    """What ``path`` (or the code ``source``) imports, directly or through what it reaches.

    Returns (Python files of the project or anywhere on ``search``/sys.path that are not
    installed packages, followed transitively; ``name==version`` of the standard library
    and installed distributions it imports).
    """
    path = Path(path).resolve() if path else None
    search = tuple(Path(p).resolve() for p in search)
    site = _site_dirs()
    # installed from a wheel, the project's own files are keyed by code, as in a checkout
    own_top = _top_name(path, site) if path else ""
    own = _package_version(own_top, tuple(_stdlib_dirs()), site) if own_top else ""
    files: dict[Path, None] = {}
    versions: set[str] = set()
    pending: list[Path | None] = [path]
    while pending:
        current = pending.pop()
        code = source if current is path else None
        found, named = _resolved(current, _stamp(current), code, search, site, own)
        versions.update(named)
        for file in found:
            if file != path and file not in files:
                files[file] = None
                pending.append(file)
    versions.discard("")
    return sorted(files), sorted(versions)


def _stamp(file: Path | None) -> tuple[int, int] | None:
    """(size, mtime) of a file: a remembered answer about it holds while this does."""
    try:
        stat = file.stat() if file else None
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns) if stat else None


# A build asks what the same files import over and over (130 keys, 14,000 file lookups
# without this); a process is short, so a module created during one is not looked for again.
@functools.lru_cache(maxsize=4096)
def _resolved(
    current: Path | None,
    stamp: tuple | None,
    source: str | None,
    search: tuple[Path, ...],
    site: tuple[Path, ...],
    own: str,
) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """What one file's (or source's) imports resolve to: (the files to follow in turn,
    the ``name==version`` of installed and standard modules)."""
    names = _python_facts(source.encode())[1] if source is not None else _names_in_file(current)
    stdlib = tuple(_stdlib_dirs())
    files: list[Path] = []
    versions: list[str] = []
    for name, level in names:
        if level and current is None:
            continue  # a relative import in code that is not in a package
        if level:  # `from . import x`: from the importing file's package
            found = _find_module(name, [current.parents[level - 1]])
        else:
            found = _find_module(name, list(search))
            if found is None:  # a name in a module (`from m import f`), or not found
                version = _package_version(name.partition(".")[0], stdlib, site)
                versions.extend([version] if version != own else [])
                continue
        if found is None:
            continue
        if any(found.is_relative_to(d) for d in [*site, *stdlib]):
            version = _package_version(
                _top_name(found, site) or name.partition(".")[0], stdlib, site
            )
            if not own or version != own:
                versions.append(version)
                continue
        files.append(found)
    return tuple(files), tuple(versions)


def _top_name(file: Path, site: list[Path]) -> str:
    """The top-level module an installed file belongs to ("" outside site-packages)."""
    for folder in site:
        if file.is_relative_to(folder):
            return Path(file.relative_to(folder).parts[0]).stem
    return ""


@functools.lru_cache(maxsize=1024)  # installed packages do not change during a build
def _package_version(top: str, stdlib: tuple[Path, ...], site: tuple[Path, ...]) -> str:
    """``name==version`` for an installed or standard module, "" when it is neither (not
    found, or files of a checkout: keyed by their code, whatever metadata lies beside
    them, such as the ``*.egg-info`` that ``pip install .`` leaves in a source folder)."""
    if top in sys.builtin_module_names:
        return f"python=={sys.version.split()[0]}"
    spec = importlib.machinery.PathFinder.find_spec(top)
    if spec is None:
        return ""
    places = [Path(spec.origin)] if spec.origin else list(spec.submodule_search_locations or [])
    places = [place.resolve() for place in places]
    if not places or not all(any(p.is_relative_to(d) for d in (*stdlib, *site)) for p in places):
        return ""
    if not any(place.is_relative_to(d) for place in places for d in site):
        return f"python=={sys.version.split()[0]}"
    for dist in _distributions().get(top, []):
        return f"{dist}=={importlib.metadata.version(dist)}"
    return ""


def code_inputs(*paths: Path, search: Iterable[Path] = ()) -> list[str]:
    """Key parts for Python files and all they import: ``name=code digest`` for files,
    ``package==version`` for installed ones. Files are named relative to their folder
    on ``search`` when they are in one, so the key does not depend on the checkout."""
    search = [Path(p).resolve() for p in search] + [Path(p).parent.resolve() for p in paths]
    parts: dict[str, None] = {}
    for path in paths:
        files, versions = import_files(path, search)
        for file in [Path(path).resolve(), *files]:
            parts[f"{_short_name(file, search)}={running_code_digest(file)}"] = None
        parts.update(dict.fromkeys(versions))
    return sorted(parts)


# the folder holding buildlib, ext and model_src: the checkout, or site-packages
CODE_HOME = Path(__file__).resolve().parents[1]


@functools.cache  # once per process: a build reads the code once
def producer_code(module_file: str | Path) -> list[str]:
    """A producer's part of every key it makes: the code of the module that makes the
    artifact and of everything it imports, followed transitively (``code_inputs``), named
    from the project's folder. The one spelling for ``ext`` and ``model_src`` alike:
    change any function a producer calls and what it made is made again."""
    return code_inputs(Path(module_file), search=[CODE_HOME])


def _short_name(file: Path, search: list[Path]) -> str:
    for base in search:
        if file.is_relative_to(base):
            return str(file.relative_to(base))
    return str(file)


def code_inputs_of_source(source: str, search: Iterable[Path]) -> list[str]:
    """Like code_inputs, for code that is not in a file (a page's executed cells)."""
    search = [Path(p).resolve() for p in search]
    files, versions = import_files(None, search, source=source)
    return sorted(f"{_short_name(f, search)}={code_digest(f)}" for f in files) + versions
