"""The built book as one archive, so Read the Docs can serve what GitHub Actions built.

A cold build of the book does not fit in a Read the Docs build (README, "Publish it"), and
Read the Docs keeps no cache between builds. The Pages workflow builds the book with its
cache and publishes docs/_build/html as a release asset named by its commit, with its
SHA-256 beside it; Read the Docs' build fetches the archive of the commit it builds,
checks the digest and unpacks it as its output:

    python .ci/site_archive.py pack docs/_build/html --commit SHA --out DIR
    python .ci/site_archive.py fetch --commit SHA --out "$READTHEDOCS_OUTPUT/html"

`fetch` waits for the workflow (it starts with Read the Docs' build, on the same push)
and reads the release from READTHEDOCS_GIT_CLONE_URL unless given --base. Standard
library only: Read the Docs runs it before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

RELEASE = "site"  # the release of .github/workflows/pages.yml that holds the archives
CHUNK = 1 << 20
GITHUB_REPOSITORY = re.compile(r"github\.com[/:]([^/]+)/([^/]+?)(?:\.git)?/?$")


def archive_name(commit: str) -> str:
    return f"nanobook-html-{commit}.tar.gz"


def digest_name(commit: str) -> str:
    return archive_name(commit) + ".sha256"


def pack(html: Path, commit: str, out: Path) -> Path:
    """``html`` as a gzipped tar of its contents, and beside it the archive's SHA-256 in
    sha256sum's format (so `sha256sum -c` checks it too); returns the archive."""
    if not (html / "index.html").is_file():
        raise SystemExit(f"{html} has no index.html: is it a built book?")
    out.mkdir(parents=True, exist_ok=True)
    archive = out / archive_name(commit)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(html.rglob("*")):
            tar.add(path, arcname=path.relative_to(html).as_posix(), recursive=False)
    digest = file_digest(archive)
    (out / digest_name(commit)).write_text(f"{digest}  {archive.name}\n", encoding="utf-8")
    return archive


def file_digest(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def release_base(clone_url: str) -> str:
    """The download address of the `site` release of the repository Read the Docs cloned
    (https or ssh form)."""
    found = GITHUB_REPOSITORY.search(clone_url.strip())
    if not found:
        raise SystemExit(
            f"cannot tell the GitHub repository from {clone_url!r}; give --base, the address"
            " the archives are downloaded from"
        )
    owner, repo = found.groups()
    return f"https://github.com/{owner}/{repo}/releases/download/{RELEASE}/"


def read_digest(base: str, commit: str, wait: float, poll: float) -> str:
    """The published SHA-256 of the commit's archive, asked for until it is there or
    ``wait`` seconds have passed (the workflow publishes it after the archive)."""
    url = base + digest_name(commit)
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=60) as answer:
                return answer.read().decode("ascii").split()[0]
        except (urllib.error.URLError, OSError) as error:  # HTTPError (404) is a URLError
            if time.monotonic() + poll > deadline:
                raise SystemExit(
                    f"no built site for commit {commit} at {url} after {wait:.0f} s ({error}).\n"
                    "It is published by .github/workflows/pages.yml once it has built that"
                    " commit: see that run, then build this version again."
                ) from error
            print(f"waiting for the workflow's build of {commit} ({error})", flush=True)
            time.sleep(poll)


def fetch(base: str, commit: str, out: Path, wait: float, poll: float) -> None:
    """Download the commit's archive, check its digest, unpack it into ``out`` (which must
    not exist yet): nothing is written there unless the digest matches."""
    expected = read_digest(base, commit, wait, poll)
    url = base + archive_name(commit)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:  # on out's disk: moved whole
        archive = Path(tmp) / archive_name(commit)
        with urllib.request.urlopen(url, timeout=60) as answer, archive.open("wb") as stream:
            shutil.copyfileobj(answer, stream, CHUNK)
        got = file_digest(archive)
        if got != expected:
            raise SystemExit(
                f"{url} is damaged or not the one published: its SHA-256 is {got},"
                f" the published digest {expected}"
            )
        unpacked = Path(tmp) / "html"
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(unpacked, filter="data")  # no absolute paths, links out, devices
        if not (unpacked / "index.html").is_file():
            raise SystemExit(f"{url} holds no index.html: not a built book")
        unpacked.rename(out)
    print(f"{out}: the book as built for {commit}, SHA-256 {got}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="archive a built book and write its digest")
    packing.add_argument("html", type=Path)
    packing.add_argument("--commit", required=True)
    packing.add_argument("--out", type=Path, required=True)
    fetching = commands.add_parser("fetch", help="download, check and unpack a commit's book")
    fetching.add_argument("--commit", default=os.environ.get("READTHEDOCS_GIT_COMMIT_HASH"))
    fetching.add_argument("--out", type=Path, required=True)
    fetching.add_argument("--base", help="where the archives are (default: the release)")
    fetching.add_argument(
        "--wait",
        type=float,
        default=720,
        help="seconds to wait for the workflow to publish (default 720: Read the Docs"
        " stops a build at 15 minutes, its clone, set-up and upload of the output included)",
    )
    fetching.add_argument("--poll", type=float, default=30, help="seconds between asks")
    args = parser.parse_args(argv)
    if args.command == "pack":
        print(pack(args.html, args.commit, args.out))
        return
    if not args.commit:
        parser.error("--commit is needed outside Read the Docs")
    if args.out.exists():
        parser.error(f"{args.out} exists already: the book is unpacked into a new folder")
    base = args.base or release_base(os.environ.get("READTHEDOCS_GIT_CLONE_URL", ""))
    fetch(base if base.endswith("/") else base + "/", args.commit, args.out, args.wait, args.poll)


if __name__ == "__main__":
    sys.exit(main())
