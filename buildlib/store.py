"""One content-addressed artifact store for everything the build makes and keeps.

Torch-free and Sphinx-free, so trained models (model_src/trained.py), clips, the film,
diagrams and the live widgets' exports all share it. An entry is a folder ``<root>/<key>/`` that
holds its files and, written last, ``meta.json``; the key is a digest of the producer's
own code and every input it reads (buildlib/keys.py), so there is no version
constant to bump by hand.

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
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

META = "meta.json"


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


CACHE_ENV = "NANOBOOK_CACHE_DIR"  # where a build, a reader's notebook and prune keep things


def default_cache() -> Path:
    """Where the book keeps what it makes between builds (models, clips, notebooks…):
    $NANOBOOK_CACHE_DIR, else the checkout's ``.cache``. The one answer for docs/conf.py,
    model_src and ``prune``."""
    return Path(os.environ.get(CACHE_ENV) or Path(__file__).parents[1] / ".cache")


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


if __name__ == "__main__":
    sys.exit(main())
