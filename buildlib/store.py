"""One content-addressed artifact store for everything the build makes and keeps.

Torch-free and Sphinx-free, so trained models (model_src/trained.py), clips, the film,
diagrams and the live widgets' exports all share it. An entry is a folder ``<root>/<key>/`` that
holds its files and, written last, ``meta.json``; the key is a digest of the producer's
own code and every input it reads, so there is no version constant to bump by hand.

    store = Store(cache / "clips")
    entry = store.get_or_make(key, lambda tmp: render_into(tmp))  # meta.json written by it

Publication is atomic (a temp folder renamed into place), a lock (flock) per key makes
concurrent builds wait for each other rather than make one entry twice, and temp folders
of dead runs are cleared. Entries are checked on read: meta.json records the size and
digest of every file the entry holds (``write_meta``), and a file that is missing, cut
short or changed, or a name in ``meta["files"]`` that leaves the entry
(``../../etc/hostname``, a symlink), makes the entry invalid: never read, removed and
made again, with one line in the log.

Every use of an entry stamps it (``mark_used``), so ``python -m buildlib.store prune`` (``nox -s
prune``) can remove what no build has used for a while: the store only grows otherwise.

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
import fcntl
import functools
import hashlib
import importlib.machinery
import importlib.metadata
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

META = "meta.json"


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
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(kept, handle)
        os.replace(tmp, path)


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
            parts[f"{_short_name(file, search)}={code_digest(file)}"] = None
        parts.update(dict.fromkeys(versions))
    return sorted(parts)


def _short_name(file: Path, search: list[Path]) -> str:
    for base in search:
        if file.is_relative_to(base):
            return str(file.relative_to(base))
    return str(file)


# --- the store --------------------------------------------------------------------------


# How a producer reads its entry: (entry folder, metadata) -> contents; an error it
# raises (OSError, ValueError, KeyError, TypeError) means the entry is damaged.
Parse = Callable[[Path, dict], object]


class InvalidEntry(ValueError):
    """An entry whose meta.json is unreadable, names files outside the entry, or whose
    files are not what it recorded."""

    def __init__(self, entry: Path, reason: str):
        super().__init__(f"{entry}: {reason}")
        self.reason = reason


def remove_entry(entry: Path) -> None:
    """Set an entry aside (one rename, so no reader sees half of it), then delete it."""
    broken = entry.with_name(f".tmp-broken-{entry.name}-{os.getpid()}")
    entry.rename(broken)
    if broken.is_dir() and not broken.is_symlink():
        shutil.rmtree(broken, ignore_errors=True)
    else:  # a file, or gone: swept by another build meanwhile
        broken.unlink(missing_ok=True)


class Store:
    """Entries ``<root>/<key>/`` made once, published whole, validated on read. ``log``
    says when a damaged entry is made again (default: a line on stderr)."""

    def __init__(self, root: Path, log: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.log = log or (lambda line: print(line, file=sys.stderr))

    def path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"not a store key: {key!r}")
        return self.root / key

    def get(self, key: str, parse: Parse | None = None):
        """The entry's metadata (or ``parse(entry, meta)``, its contents as the producer
        reads them) when it is complete and valid (stamped used), else None."""
        return self._read(key, parse)[0]

    def get_or_make(self, key: str, make: Callable[[Path], None], parse: Parse | None = None):
        """As ``get``; the entry made first by ``make(tmp)`` if missing, damaged or
        unreadable by ``parse`` (a damaged one is removed, with a line in the log).

        ``make`` fills the temp folder and writes meta.json last. Whoever holds the
        key's lock makes it; other builds wait, then read what it made.
        """
        value, _ = self._read(key, parse)
        if value is not None:
            return value
        with self.lock(key):
            value, damage = self._read(key, parse)
            if value is not None:  # made by another build while we waited
                return value
            if damage is not None:
                self.log(f"{self.root.name}/{key}: the cache entry was damaged ({damage}); remade")
                remove_entry(self.path(key))
            self.sweep(key)
            tmp = self.temp(key)
            try:
                make(tmp)
                meta = validate(tmp)
                self.publish(tmp, key)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)  # gone after a successful rename
            return meta if parse is None else parse(self.path(key), meta)

    def _read(self, key: str, parse: Parse | None) -> tuple[object, str | None]:
        """(what ``get`` returns, None) or (None, what is wrong with an entry that is there)."""
        entry = self.path(key)
        if not entry.exists() and not entry.is_symlink():
            return None, None
        try:
            meta = validate(entry)
            value = meta if parse is None else parse(entry, meta)
        except InvalidEntry as error:
            return None, error.reason
        except (OSError, ValueError, KeyError, TypeError) as error:  # what parse meets
            return None, f"its contents do not parse: {type(error).__name__}: {error}"
        mark_used(entry)
        return value, None

    @contextlib.contextmanager
    def lock(self, key: str):
        """Hold the key's lock (released by the kernel if this process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{key}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def publish(self, tmp: Path, key: str) -> None:
        """Rename a complete temp folder into place (we hold the key's lock)."""
        os.rename(tmp, self.path(key))

    def temp(self, key: str) -> Path:
        """A new temp folder in the store for ``key`` (to make its entry in, or scratch
        space: ``<key>-work``), named ``.tmp-<key>-<pid>-<random>`` so that ``sweep``
        knows whose it is."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-{os.getpid()}-", dir=self.root))
        tmp.chmod(0o755)  # mkdtemp's folder is private; a shared cache is read by all
        return tmp

    def sweep(self, key: str = "", older_than: float | None = None) -> None:
        """Remove the temp folders (of ``key`` and its scratch, or of every key) whose run
        has died, and with ``older_than`` any older than that many seconds (a PID that
        was reused); a run still alive keeps its own. The one sweeper of every store."""
        for temp in self.root.glob(f".tmp-{key}-*" if key else ".tmp-*"):
            with contextlib.suppress(OSError):  # removed meanwhile by another build
                if _abandoned(temp, older_than):
                    shutil.rmtree(temp, ignore_errors=True)


def _abandoned(temp: Path, older_than: float | None) -> bool:
    """A temp folder whose run is gone: its name holds no live PID, or it is too old."""
    parts = temp.name.rsplit("-", 2)  # .tmp-<key>-<pid>-<random>: the key may hold "-"
    if len(parts) < 3 or not parts[1].isdigit() or not alive(int(parts[1])):
        return True
    return older_than is not None and time.time() - temp.stat().st_mtime > older_than


def mark_used(entry: Path) -> None:
    """Stamp an entry (a folder or a file) as used now; ``prune`` keeps what is used."""
    with contextlib.suppress(OSError):  # a read-only cache is still a cache
        os.utime(entry)


def prune(cache: Path, unused_days: float, dry_run: bool = False) -> list[tuple[Path, int]]:
    """Remove, from every store under ``cache`` (its folders: clips, models, jupyter…),
    the entries not used for ``unused_days``, with their locks; returns each entry with
    its size in bytes. Other names starting with a dot (temp folders) are the stores'
    own business. Run it while no build is running: one could be about to read an entry."""
    cutoff = time.time() - unused_days * 86400
    removed = []
    for kind in sorted(p for p in Path(cache).iterdir() if p.is_dir() and not p.is_symlink()):
        if kind.name.startswith("."):
            continue
        for entry in sorted(kind.iterdir()):
            if entry.name.startswith(".") or entry.lstat().st_mtime >= cutoff:
                continue
            removed.append((entry, _size(entry)))
            if not dry_run:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                entry.with_name(f".{entry.name}.lock").unlink(missing_ok=True)
    return removed


def _size(entry: Path) -> int:
    if entry.is_symlink() or not entry.is_dir():
        return entry.lstat().st_size
    return sum(f.lstat().st_size for f in entry.rglob("*") if not f.is_dir())


def default_cache() -> Path:
    """Where the book keeps what it makes between builds (models, clips, notebooks…):
    $NANOBOOK_CACHE_DIR, else the checkout's ``.cache``. The one answer for docs/conf.py,
    model_src and ``prune``."""
    return Path(os.environ.get("NANOBOOK_CACHE_DIR") or Path(__file__).parents[1] / ".cache")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m buildlib.store prune [--days N] [--dry-run]``, on $NANOBOOK_CACHE_DIR (run
    it while no build is running)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m buildlib.store")
    parser.add_argument("command", choices=["prune"])
    parser.add_argument(
        "--days", type=float, default=30.0, help="remove what no build used for this long"
    )
    parser.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    args = parser.parse_args(argv)
    cache = default_cache()
    if not cache.is_dir():
        print(f"no cache at {cache}: nothing to prune")
        return 0
    removed = prune(cache, args.days, args.dry_run)
    for entry, size in removed:
        print(f"{entry.relative_to(cache)}  {size / 1e6:.1f} MB")
    verb = "would free" if args.dry_run else "freed"
    total = sum(size for _, size in removed)
    print(
        f"{len(removed)} entries unused for {args.days:g} days in {cache}: "
        f"{verb} {total / 1e6:.1f} MB"
    )
    return 0


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def validate(entry: Path) -> dict:
    """The entry's metadata, once every file it names is a regular file inside it and
    every file it recorded (``write_meta``) has the size and digest it had then."""
    try:
        meta = json.loads((entry / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # missing too: meta.json is written last
        raise InvalidEntry(entry, f"no readable {META}: {error}") from None
    if not isinstance(meta, dict):
        raise InvalidEntry(entry, f"{META} is not an object")
    if meta.get(DIGEST) != _meta_digest({k: v for k, v in meta.items() if k != DIGEST}):
        raise InvalidEntry(entry, f"{META} is not what was stored")  # e.g. a drawing's text
    files = meta.get("files", {})
    if not isinstance(files, dict):
        raise InvalidEntry(entry, "'files' is not an object")
    for kind, name in files.items():
        if not confined(entry, name):
            raise InvalidEntry(entry, f"file {kind}={name!r} is not a file inside the entry")
    contents = meta.get(CONTENTS)
    if not isinstance(contents, dict) or not set(files.values()) <= set(contents):
        raise InvalidEntry(entry, f"{META} does not record what the entry holds")
    for name, recorded in contents.items():
        path = entry / name
        if not (isinstance(name, str) and _inside(entry, path) and path.is_file()):
            raise InvalidEntry(entry, f"{name} is missing")
        if [path.stat().st_size, _file_sha256(path)] != recorded:
            raise InvalidEntry(entry, f"{name} is not the file that was stored")
    return {field: value for field, value in meta.items() if field not in (CONTENTS, DIGEST)}


CONTENTS = "contents"  # meta.json: {relative path: [size, sha256]} of every file


def write_meta(folder: Path, meta: dict, unrecorded: tuple[str, ...] = ()) -> None:
    """meta.json, written last: it is what makes an entry complete. It records the size
    and digest of every file in ``folder`` (but itself), so reading can check them;
    ``unrecorded`` names the files a reader changes (jupyter-cache's database, which
    notes each read), checked by whoever opens them instead."""
    folder = Path(folder)
    contents = {
        str(path.relative_to(folder)): [path.stat().st_size, _file_sha256(path)]
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != META and path.name not in unrecorded
    }
    recorded = {**meta, CONTENTS: contents}
    text = json.dumps({**recorded, DIGEST: _meta_digest(recorded)}, indent=1, ensure_ascii=False)
    (folder / META).write_text(text, encoding="utf-8")


DIGEST = "digest"  # meta.json: the sha256 of the rest of it, so a changed field is seen too


def _meta_digest(recorded: dict) -> str:
    return hashlib.sha256(json.dumps(recorded, sort_keys=True).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


# Each version of a file is hashed once per process: a build checks an entry on every
# read (a clip: when its page is read and when it is written).
@functools.lru_cache(maxsize=4096)
def _sha256_of(path: str, size: int, mtime_ns: int, inode: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def confined(entry: Path, name) -> bool:
    """``name`` is a plain file name of a regular file (no link) directly in ``entry``."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name:
        return False
    if "\\" in name or "\0" in name:
        return False
    target = entry / name
    return target.is_file() and not target.is_symlink()


def _inside(entry: Path, path: Path) -> bool:
    return not path.is_symlink() and path.resolve().is_relative_to(entry.resolve())


def same_content(a: Path, b: Path) -> bool:
    """Files with equal bytes (sizes first, so unequal ones are rarely read)."""
    a, b = Path(a), Path(b)
    if not (a.is_file() and b.is_file()) or a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            chunk_a, chunk_b = fa.read(1 << 20), fb.read(1 << 20)
            if chunk_a != chunk_b:
                return False
            if not chunk_a:
                return True


def code_inputs_of_source(source: str, search: Iterable[Path]) -> list[str]:
    """Like code_inputs, for code that is not in a file (a page's executed cells)."""
    search = [Path(p).resolve() for p in search]
    files, versions = import_files(None, search, source=source)
    return sorted(f"{_short_name(f, search)}={code_digest(f)}" for f in files) + versions


if __name__ == "__main__":
    sys.exit(main())
