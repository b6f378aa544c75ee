"""When a page showing source must be read again: when the lines it shows change (their
text or their place in the file), or the code of their file (shapes are captured by
running all of it). A comment edited elsewhere in the file changes neither: the page
stays as it is, unlike a dependency on the file's mtime (env.note_dependency)."""

from __future__ import annotations

import functools
from pathlib import Path

from buildlib import keys

from .._core import Problem, note_code_dependency, pages_read_before
from .locate import SourceObject, find_object, parse_file

SHOWN = "nanobook_shown_lines"  # env.metadata[docname]: [[path, object, digest], ...]


def lines_digest(obj: SourceObject | None) -> str:
    if obj is None:
        return "gone"  # the file does not parse, or has no such object
    return keys.digest(str(obj.start), str(obj.end), *(text for _, text in obj.lines()))


def note_shown(env, path: Path, name: str, obj: SourceObject | None) -> None:
    """Read the page again when the lines of object ``name`` (None: not found) or the
    file's code change."""
    note_code_dependency(env, path)
    shown = env.metadata[env.docname].setdefault(SHOWN, [])
    shown.append([str(path), name, lines_digest(obj)])


def pages_showing_changed_lines(app, env, added, changed, removed) -> list[str]:
    """env-get-outdated: the pages some of whose shown lines are not what they showed."""
    now: dict[tuple[str, str], str] = {}
    parsed = functools.cache(parse_file)  # a file that ten pages show is parsed once

    def current(path: str, name: str) -> str:
        if (path, name) not in now:
            try:
                now[path, name] = lines_digest(find_object(*parsed(Path(path)), name))
            except (Problem, OSError):  # the page says so where the block is
                now[path, name] = lines_digest(None)
        return now[path, name]

    return [
        docname
        for docname, metadata in pages_read_before(env, changed, removed)
        if any(current(path, name) != digest for path, name, digest in metadata.get(SHOWN, []))
    ]
