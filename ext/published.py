"""The files the book's extensions copy into the site as its pages are written (clips in
``_clips/``, live models in ``_live/``), and the pruning of those no page shows any more.

Their names are content hashes, so an edit publishes a new file beside the old one; a
page not written again still shows what it showed, so what the site needs is what each
page copied when it was last written. Each page's list is kept with the doctrees (not in
the site; one set of lists a site), written by the process that wrote the page (parallel
writes too), and a build that ends without error removes from those folders what no
page's list names. A build that finds a page without a list (one written before lists
were kept) prunes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from sphinx.util import logging

from buildlib import keys
from buildlib.files import atomic_write

from . import _core

logger = logging.getLogger(__name__)

FOLDERS = ("_clips", "_live")  # the folders whose every file some page copied
LISTS = "nanobook-published"  # in the doctrees folder: <docname>.json per page
_COPIED = "nanobook_copied"  # builder attribute: {docname: {folder: {names}}}


def copy(builder, source: Path, folder: str, name: str) -> None:
    """Copy ``source`` into the site as ``folder/name`` for the page being written
    (FOLDERS are pruned; another folder, such as an EPUB's _images, is Sphinx's)."""
    target = Path(builder.outdir, folder, name)
    _core.atomic_copy(source, target)
    target.chmod(0o644)  # atomic_copy's temp files are private; the web must read these
    copied = getattr(builder, _COPIED, None)
    if copied is None:
        copied = {}
        setattr(builder, _COPIED, copied)
    copied.setdefault(builder.current_docname, {}).setdefault(folder, set()).add(name)


def _list_file(app, docname: str) -> Path:
    """The page's list, apart for each site (builds may share their doctrees)."""
    site = keys.digest(str(Path(app.outdir).resolve()))
    return Path(app.doctreedir, LISTS, site, f"{docname}.json")


def keep_list(app, pagename, templatename, context, doctree) -> None:
    """html-page-context: what the page just written copied, as its list (an empty one
    for a page that copied nothing)."""
    if doctree is None or app.builder.format != "html":
        return  # not a page of the project (genindex, search)
    copied = getattr(app.builder, _COPIED, {}).pop(pagename, {})
    text = json.dumps({folder: sorted(names) for folder, names in sorted(copied.items())})
    atomic_write(_list_file(app, pagename), text)


def prune(app, exception) -> None:
    """build-finished: remove from FOLDERS the files no page's list names."""
    if exception is not None or app.builder.format != "html":
        return
    wanted: dict[str, set[str]] = {folder: set() for folder in FOLDERS}
    for docname in app.env.found_docs:
        try:
            listed = json.loads(_list_file(app, docname).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # a page written before lists were kept: what it shows is unknown
        for folder, names in listed.items():
            wanted.setdefault(folder, set()).update(names)
    removed = 0
    for folder in FOLDERS:
        place = Path(app.outdir, folder)
        for file in place.iterdir() if place.is_dir() else []:
            if file.is_file() and file.name not in wanted[folder]:
                file.unlink()
                removed += 1
    if removed:
        logger.info(f"published files no page shows any more: {removed} removed")


def setup(app) -> dict:
    app.connect("html-page-context", keep_list)
    app.connect("build-finished", prune)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
