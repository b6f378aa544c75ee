"""What publishing relies on: hosting configs, stable labels, redirects, sitemap, 404, sharing.

The configs are checked against noxfile.py's SYSTEM_PACKAGES (read with ast: nox is not
installed in the test environment); the rest against the draft build of the book, and
the 404 page's incremental rebuild against a small project (roots/test-site-404).
"""

from __future__ import annotations

import ast
import html
import posixpath
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from pages import CHAPTERS, parse
from sphinx.util.inventory import InventoryFile

from ext.reader_notebooks import GLUE_DEFINITION

REPO = Path(__file__).resolve().parent.parent
LABEL_LINE = re.compile(r"^\(([\w-]+)\)=\s*$", re.MULTILINE)


def system_packages() -> dict:
    """noxfile.py's SYSTEM_PACKAGES, without importing nox."""
    tree = ast.parse((REPO / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SYSTEM_PACKAGES" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("noxfile.py has no SYSTEM_PACKAGES assignment")


def docs_apt_packages() -> set[str]:
    """What a docs build needs from apt: the build tools and the small LaTeX."""
    packages = system_packages()
    return {*packages["build"]["apt"], *packages["latex"]["apt"]}


# --- hosting configs --------------------------------------------------------------------


def _steps_using(steps: list[dict], action: str) -> list[dict]:
    return [s for s in steps if s.get("uses", "").split("@")[0] == action]


def test_pages_workflow_builds_caches_and_deploys():
    workflow = yaml.safe_load(
        (REPO / ".github" / "workflows" / "pages.yml").read_text(encoding="utf-8")
    )
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert "push" in triggers
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}

    steps = workflow["jobs"]["build"]["steps"]
    assert _steps_using(steps, "actions/checkout")
    (setup_python,) = _steps_using(steps, "actions/setup-python")
    assert str(setup_python["with"]["python-version"]) == "3.11"

    apt = next(s["run"] for s in steps if "apt-get install" in s.get("run", ""))
    installed = set(apt.split("--no-install-recommends", 1)[1].replace("\\", " ").split())
    assert installed == docs_apt_packages()

    (restore,) = _steps_using(steps, "actions/cache/restore")
    (save,) = _steps_using(steps, "actions/cache/save")
    assert restore["with"]["path"].rstrip("/") == save["with"]["path"].rstrip("/") == ".cache"
    for inputs in ("model_src/**", "docs/scenes/**", "ext/**", "constraints.txt"):
        assert f"'{inputs}'" in restore["with"]["key"], inputs
    build = next(i for i, s in enumerate(steps) if "nox -s docs" in s.get("run", ""))
    assert steps.index(restore) < build < steps.index(save)
    assert "always()" in save["if"]  # a failed build still keeps what it made

    (upload,) = _steps_using(steps, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "docs/_build/html"

    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert _steps_using(deploy["steps"], "actions/deploy-pages")


def test_readme_shows_how_to_link_embed_and_publish():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for needed in (
        "intersphinx_mapping",  # linking from another Sphinx project
        ":ref:`nanobook:ch-attention`",
        "chapters/attention.html#ch-attention-",  # linking a section from Markdown
        ".gif)",  # embedding a clip
        ".readthedocs.yaml",
        ".github/workflows/pages.yml",
        "nox -s linkcheck",
    ):
        assert needed in readme, needed


# --- the built site -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(book_html) -> str:
    canonical = parse(book_html / "index.html").canonical
    assert canonical and canonical.endswith("/index.html"), "html_baseurl is not set"
    return canonical.removesuffix("index.html")


def source_labels() -> dict[str, str]:
    """Every explicit label in the book's sources, with the page it is on."""
    labels = {}
    for source in sorted((REPO / "docs").rglob("*.md")):
        if "_build" in source.parts:
            continue
        docname = source.relative_to(REPO / "docs").with_suffix("").as_posix()
        for label in LABEL_LINE.findall(source.read_text(encoding="utf-8")):
            labels[label] = docname
    return labels


def test_every_chapter_and_section_label_is_in_the_inventory(book_html):
    with open(book_html / "objects.inv", "rb") as stream:
        inventory = InventoryFile.load(stream, "", posixpath.join)
    labels = inventory["std:label"]
    for slug in CHAPTERS:
        entry = labels[f"ch-{slug}"]
        assert entry.uri == f"chapters/{slug}.html#ch-{slug}"
    sections = source_labels()
    assert len(sections) >= len(CHAPTERS)
    for label, docname in sections.items():
        assert label in labels, f"label {label} of {docname} is not in objects.inv"
        assert labels[label].uri.split("#")[0] == f"{docname}.html"


def test_old_flat_chapter_urls_redirect_to_the_chapters(book_html):
    for slug in CHAPTERS:
        redirect = (book_html / f"{slug}.html").read_text(encoding="utf-8")
        targets = set(re.findall(r'url=([^"]+)"|var target = "([^"]+)"', redirect)[0])
        targets.discard("")
        assert targets == {f"chapters/{slug}.html"}, redirect
        assert (book_html / "chapters" / f"{slug}.html").is_file()


def test_headings_have_permalinks_to_their_sections(book_html):
    for slug in CHAPTERS:
        page = parse(book_html / "chapters" / f"{slug}.html")
        assert page.headings, f"{slug}: no headings"
        for section_id, href in page.headings:
            assert href == f"#{section_id}", f"{slug}: heading of #{section_id} links {href}"


def test_sitemap_lists_every_chapter(book_html, base_url):
    tree = ET.parse(book_html / "sitemap.xml")
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = {loc.text for loc in tree.getroot().findall("s:url/s:loc", namespace)}
    expected = {urljoin(base_url, f"chapters/{slug}.html") for slug in CHAPTERS}
    assert expected <= urls
    assert urljoin(base_url, "index.html") in urls
    assert not {u for u in urls if u.endswith(("404.html", "search.html", "genindex.html"))}


def test_404_page_links_work_from_any_depth(book_html, base_url):
    page = parse(book_html / "404.html")
    prefix = urlsplit(base_url).path
    local = [u for u in page.links if not u.startswith(("http:", "https:", "#", "data:"))]
    assert local, "the 404 page links nothing"
    chapter_links = set()
    for link in local:
        # Relative links would break when the page is served for /a/b/missing.html.
        assert link.startswith(prefix), f"404.html links {link!r}, not absolute"
        path = link[len(prefix) :].split("#")[0].split("?")[0]
        assert (book_html / (path or "index.html")).is_file(), link
        if path.startswith("chapters/"):
            chapter_links.add(path)
    assert {f"chapters/{slug}.html" for slug in CHAPTERS} <= chapter_links


def test_pages_share_with_opengraph_and_their_clip_poster(book_html, base_url):
    for slug in CHAPTERS:
        page_path = book_html / "chapters" / f"{slug}.html"
        page = parse(page_path)
        meta = page.meta
        assert meta["og:url"] == urljoin(base_url, f"chapters/{slug}.html")
        assert meta["og:title"] and meta["og:description"]
        assert meta["twitter:card"] == "summary_large_image"
        image = meta["og:image"]
        assert image.startswith(base_url), image
        assert (book_html / image[len(base_url) :]).is_file(), image
        if page.posters:  # a chapter with a clip previews with its first clip's poster
            poster, alt = page.posters[0]
            from_root = posixpath.normpath(posixpath.join("chapters", poster))
            assert image == urljoin(base_url, from_root)
            assert meta["og:image:alt"] == alt


def test_relative_links_and_anchors_resolve(book_html):
    """Every link from page to page (or to a file) lands on a file, and on an id."""
    pages = {p: parse(p) for p in book_html.rglob("*.html") if "_static" not in p.parts}
    broken = []
    for path, page in pages.items():
        if path.name == "404.html":
            continue  # absolute links, checked above
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("data:"):
                continue
            target = (path.parent / parts.path).resolve() if parts.path else path
            if not target.exists():
                broken.append(f"{path.relative_to(book_html)}: {link}")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if html.unescape(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(book_html)}: {link} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_each_chapter_downloads_as_a_notebook_and_as_its_myst_source(book_html):
    import json

    for slug in CHAPTERS:
        page = (book_html / "chapters" / f"{slug}.html").read_text(encoding="utf-8")
        for suffix in (".ipynb", ".md"):
            assert f'href="../_sources/chapters/{slug}{suffix}"' in page, (slug, suffix)
        source = (book_html / "_sources" / "chapters" / f"{slug}.md").read_text(encoding="utf-8")
        assert source == (REPO / "docs" / "chapters" / f"{slug}.md").read_text(encoding="utf-8")
        notebook = json.loads((book_html / "_sources" / "chapters" / f"{slug}.ipynb").read_bytes())
        assert notebook["nbformat"] == 4
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        assert code and any(cell["outputs"] for cell in code), f"{slug}: not executed"
        assert "SAME_NUMBERS_EVERYWHERE" in "".join(code[0]["source"])  # the build's numerics
        first_cell = "".join(code[1]["source"])  # the set-up, glue defined where imported
        as_written = first_cell.replace(GLUE_DEFINITION + "\n", "from myst_nb import glue\n")
        assert first_cell.strip() and as_written.strip() in source


def test_content_images_load_lazily(book_html):
    for slug in CHAPTERS:
        page = (book_html / "chapters" / f"{slug}.html").read_text(encoding="utf-8")
        images = re.findall(r"<img\b[^>]*>", page)
        eager = [tag for tag in images if 'loading="lazy"' not in tag]
        assert not eager, f"{slug}: {eager[:3]}"


@pytest.mark.sphinx("html", testroot="site-404", freshenv=True)
def test_404_page_is_written_again_when_its_code_changes(app, make_app, monkeypatch):
    """ext/site.py writes half of 404.html (its links, its head script): an incremental
    build after an edit of that code rewrites the page, though its source is unchanged."""
    import ext._core
    import ext.site

    app.build()
    page = Path(app.outdir, "404.html")
    assert "nanobook: 404 resources" in page.read_text(encoding="utf-8")
    page.write_text("the page as an older ext/site.py wrote it", encoding="utf-8")
    digest = ext._core.keys.code_digest
    edited = Path(ext.site.__file__)
    monkeypatch.setattr(
        ext._core.keys, "code_digest", lambda path: "edited" if path == edited else digest(path)
    )
    again = make_app("html", srcdir=app.srcdir, builddir=Path(app.outdir).parent)
    again.build()
    assert "nanobook: 404 resources" in page.read_text(encoding="utf-8")
    assert 'href="/book/index.html"' in page.read_text(encoding="utf-8")
