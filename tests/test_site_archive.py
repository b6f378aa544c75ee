"""Read the Docs' route: it serves the book the Pages workflow built (.ci/site_archive.py).

The two configuration files are parsed and checked against each other and the script;
the workflow's `pack` output is served over HTTP from this process and the `fetch` that
Read the Docs runs is run against it, as a separate process, the way .readthedocs.yaml
runs it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / ".ci" / "site_archive.py"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def load_script():
    spec = importlib.util.spec_from_file_location("site_archive", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


site_archive = load_script()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


# --- the configuration files --------------------------------------------------------------


def workflow() -> dict:
    return yaml.safe_load((REPO / ".github/workflows/pages.yml").read_text(encoding="utf-8"))


def test_readthedocs_fetches_the_commits_book_and_builds_nothing():
    config = yaml.safe_load((REPO / ".readthedocs.yaml").read_text(encoding="utf-8"))
    assert config["version"] == 2
    build = config["build"]
    assert "apt_packages" not in build  # nothing to install: TeX alone takes minutes
    (command,) = build["commands"]
    assert command.startswith("python .ci/site_archive.py fetch ")
    assert '--commit "$READTHEDOCS_GIT_COMMIT_HASH"' in command
    assert '--out "$READTHEDOCS_OUTPUT/html"' in command
    assert "nox" not in command and "--base" not in command  # the release of its own clone


def test_the_workflow_publishes_what_the_fetch_reads():
    jobs = workflow()["jobs"]
    steps = jobs["build"]["steps"]
    built = next(i for i, s in enumerate(steps) if "nox -s docs" in s.get("run", ""))
    packed = next(i for i, s in enumerate(steps) if "site_archive.py pack" in s.get("run", ""))
    pack = steps[packed]["run"]
    assert built < packed
    assert 'pack docs/_build/html --commit "${{ github.sha }}"' in pack
    out = re.search(r"--out (\S+)", pack).group(1)
    upload = steps[packed + 1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"].rstrip("/") == out

    job = jobs["site-archive"]
    assert job["needs"] == "build"
    assert job["permissions"] == {"contents": "write"}
    download = job["steps"][0]
    assert download["uses"].startswith("actions/download-artifact@")
    assert download["with"]["name"] == upload["with"]["name"]
    publish = job["steps"][1]["run"]
    archive = publish.index(f"gh release upload {site_archive.RELEASE} --clobber {out}/*.tar.gz")
    digest = publish.index(f"gh release upload {site_archive.RELEASE} --clobber {out}/*.sha256")
    assert archive < digest  # a digest there means its archive is whole
    assert f"gh release create {site_archive.RELEASE} " in publish


def test_the_release_is_read_from_the_clone_address():
    for clone in (
        "https://github.com/someone/nanobook.git",
        "https://github.com/someone/nanobook",
        "git@github.com:someone/nanobook.git",
    ):
        assert site_archive.release_base(clone) == (
            "https://github.com/someone/nanobook/releases/download/site/"
        )
    with pytest.raises(SystemExit, match="--base"):
        site_archive.release_base("https://gitlab.com/someone/nanobook.git")


# --- the fetch, against a served copy of the workflow's output ----------------------------


@pytest.fixture
def built_site(tmp_path) -> Path:
    """A small stand-in for docs/_build/html: pages in folders and a binary file."""
    html = tmp_path / "html"
    (html / "chapters").mkdir(parents=True)
    (html / "_clips").mkdir()
    (html / "index.html").write_text("<!doctype html><title>The Animated nanoGPT</title>")
    (html / "chapters" / "attention.html").write_text("<p>attention</p>")
    (html / "_clips" / "clip.mp4").write_bytes(bytes(range(256)) * 64)
    return html


class Release(SimpleHTTPRequestHandler):
    """The release's downloads, from a folder; a name in `missing` answers 404 the first
    time it is asked for, as before the workflow has uploaded it."""

    missing: ClassVar[set[str]] = set()  # each served release gets a subclass of its own
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        self.asked.append(name)
        if name in self.missing:
            self.missing.discard(name)
            self.send_error(404)
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def release(tmp_path, built_site):
    """The workflow's `pack` output, served over HTTP: (its folder, its address)."""
    folder = tmp_path / "release"
    packed = run("pack", str(built_site), "--commit", COMMIT, "--out", str(folder))
    assert packed.returncode == 0, packed.stderr
    handler = type("Served", (Release,), {"missing": set(), "asked": []})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_port}/", handler
    server.shutdown()
    thread.join()


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_pack_writes_the_archive_and_its_digest(release):
    folder, _, _ = release
    archive = folder / site_archive.archive_name(COMMIT)
    line = (folder / site_archive.digest_name(COMMIT)).read_text()
    assert line == f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}\n"


def test_fetch_unpacks_the_book_built_for_the_commit(release, built_site, tmp_path):
    _, base, _ = release
    out = tmp_path / "output" / "html"
    fetched = run("fetch", "--commit", COMMIT, "--out", str(out), "--base", base, "--wait", "0")
    assert fetched.returncode == 0, fetched.stderr
    assert tree(out) == tree(built_site)
    assert [p.name for p in out.parent.iterdir()] == ["html"]  # no temporary left behind


def test_a_damaged_archive_is_refused_and_nothing_is_written(release, tmp_path):
    folder, base, _ = release
    archive = folder / site_archive.archive_name(COMMIT)
    damaged = bytearray(archive.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    archive.write_bytes(bytes(damaged))
    out = tmp_path / "output" / "html"
    fetched = run("fetch", "--commit", COMMIT, "--out", str(out), "--base", base, "--wait", "0")
    assert fetched.returncode != 0
    assert "damaged" in fetched.stderr and "SHA-256" in fetched.stderr
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_fetch_waits_until_the_workflow_has_published(release, built_site, tmp_path):
    _, base, handler = release
    handler.missing.add(site_archive.digest_name(COMMIT))
    out = tmp_path / "served" / "html"
    args = ("--base", base, "--wait", "120", "--poll", "0.05")
    fetched = run("fetch", "--commit", COMMIT, "--out", str(out), *args)
    assert fetched.returncode == 0, fetched.stderr
    assert handler.asked.count(site_archive.digest_name(COMMIT)) == 2
    assert "waiting for the workflow" in fetched.stdout
    assert tree(out) == tree(built_site)


def test_a_commit_the_workflow_never_built_names_the_workflow(release, tmp_path):
    _, base, _ = release
    out = tmp_path / "served" / "html"
    fetched = run("fetch", "--commit", "f" * 40, "--out", str(out), "--base", base, "--wait", "0")
    assert fetched.returncode != 0
    assert "pages.yml" in fetched.stderr and "f" * 40 in fetched.stderr
    assert not out.exists()


def test_an_existing_output_folder_is_not_written_into(release, tmp_path):
    _, base, _ = release
    out = tmp_path / "served" / "html"
    out.mkdir(parents=True)
    fetched = run("fetch", "--commit", COMMIT, "--out", str(out), "--base", base)
    assert fetched.returncode != 0 and "exists already" in fetched.stderr


def test_the_readme_states_the_measured_cold_build_where_a_host_is_chosen():
    """The cold build's time is quoted from the bench's last measurement of it
    (bench/results.json: its full run's, or a later seeds-cost run's recorded apart), with
    its date and cores, in the section that chooses between the hosts."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    publish = readme[readme.index("## Publish it") :].split("\n## ", 1)[0]
    bench = json.loads((REPO / "bench" / "results.json").read_text(encoding="utf-8"))
    machine = bench["machine"]
    if date := bench.get("measured", {}).get("seeds cost"):
        seconds = bench["seeds cost"]["this tree"]["seconds"]
    else:
        seconds, date = bench["scenarios"]["cold build, publish"]["median"], machine["date"]
    for quoted in (f"{seconds:.0f} s", f"{seconds / 60:.1f} min", date):
        assert quoted in publish, quoted
    assert f"{machine['cores']} cores" in publish
    assert "does not fit" in publish and "15 minutes" in publish
