"""The whole book builds with warnings as errors, and every chapter is reachable."""

from pathlib import Path

from pages import CHAPTERS, parse


def _links(page: Path) -> set[str]:
    return {link.split("#")[0] for link in parse(page).links}


def test_every_chapter_is_reachable_from_the_index(book_html):
    index_links = _links(book_html / "index.html")
    for slug in CHAPTERS:
        assert f"chapters/{slug}.html" in index_links, f"{slug} missing from the index"
        assert (book_html / "chapters" / f"{slug}.html").is_file()


def test_chapters_are_in_pipeline_order_in_the_navigation(book_html):
    html = (book_html / "index.html").read_text(encoding="utf-8")
    positions = [html.find(f'href="chapters/{slug}.html"') for slug in CHAPTERS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


def test_build_outputs_and_caches_are_not_sources(book_html):
    sources = [p.relative_to(book_html / "_sources") for p in (book_html / "_sources").rglob("*")]
    assert sources, "the build copied no sources"
    leaked = [p for p in sources if p.parts[0] in {"_build", "jupyter_execute", ".cache"}]
    assert not leaked
