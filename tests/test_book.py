"""The whole book builds with warnings as errors, and every chapter is reachable."""

import html
import re
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


def _page_text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))


def test_the_two_chapters_without_positions_agree(book_html):
    """The modern chapter compares its no-position runs with the attention chapter's: the
    attention chapter's run sorted more than either, and every one far fewer than RoPE."""
    attention = _page_text(book_html / "chapters/attention.html")
    modern = _page_text(book_html / "chapters/modern.html")
    (single,) = {float(m) for m in re.findall(r"no positions\s+[\d.]+\s+([\d.]+)%", attention)}

    def last_accuracy(name: str) -> dict[str, float]:  # {seed: %}; a run may be printed twice
        row = re.escape(name) + r"\s+[\d,]+\s+(\d{4})\s+[\d.]+\s+([\d.]+)%"
        return {seed: float(value) for seed, value in re.findall(row, modern)}

    runs, rope = last_accuracy("no positions"), last_accuracy("RoPE")
    assert len(runs) == len(rope) == 2
    assert max(runs.values()) < single < 0.5 * min(rope.values())


def test_the_sampling_chapter_shows_what_the_char_model_learned(book_html):
    """Baselines in nats and bits, samples from three writers, words it has read, and
    nanoGPT's baby GPT beside it: the page's tables say what its prose says."""
    text = _page_text(book_html / "chapters/sampling.html")
    losses = {
        name: (float(nats), float(bits))
        for name, nats, bits in re.findall(
            r"(uniform guess|untrained model|unigram counts|"
            r"bigram counts|trigram counts|trained model)"
            r"\s+([\d.]+)\s+([\d.]+)",
            text,
        )
    }
    order = ["uniform guess", "unigram counts", "bigram counts", "trigram counts", "trained model"]
    assert [losses[n][0] for n in order] == sorted((losses[n][0] for n in order), reverse=True)
    for nats, bits in losses.values():
        assert abs(bits - nats / 0.693147) < 0.01  # bits are nats / ln 2
    for writer in ("untrained model, τ = 0.8", "bigram counts, τ = 0.8", "trained model, τ = 0.8"):
        assert writer in text
    shares = {n: float(s) for n, s in re.findall(r"(\w+ \w+)\s+\d+ words,\s+([\d.]+)% of", text)}
    assert shares["trained model"] > shares["trigram counts"] > shares["bigram counts"]
    assert shares["bigram counts"] > shares["untrained model"]
    assert "nanoGPT baby GPT" in text and "The Tempest" in text


def test_no_heading_is_repeated_by_the_box_or_heading_under_it(book_html):
    """A section's heading says its name once: the first box or heading in it does not
    carry the same title ("Key takeaways" over a box titled "Key takeaways")."""
    from bs4 import BeautifulSoup

    repeated = []
    for page in sorted(book_html.rglob("*.html")):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for section in soup.select("article section"):
            heading = section.find(re.compile(r"^h[1-6]$"), recursive=False)
            nested = section.select_one(":scope section")
            under = [
                section.select_one(":scope .admonition-title"),
                nested and nested.find(re.compile(r"^h[1-6]$"), recursive=False),
            ]
            for inner in filter(None, [heading and title for title in under]):
                said = heading.get_text(" ", strip=True).rstrip("#").strip()
                if said == inner.get_text(" ", strip=True).rstrip("#").strip():
                    repeated.append(f"{page.relative_to(book_html)}: {said}")
    assert not repeated, repeated


def test_the_start_page_times_the_learning_paths_routes(book_html):
    """The start page's routes are the learning path's, chapter for chapter, and their
    times add up: every chapter takes longer than any shorter route."""
    from bs4 import BeautifulSoup

    path = BeautifulSoup((book_html / "learning-path.html").read_text(), "html.parser")
    routes = path.select_one("section#learning-path-routes dl")

    def chain(dd) -> set[str]:  # the chapters of "A → B → C", not the side references
        linked = [
            a
            for a in dd.select("a[href*='chapters/']")
            if "→" in str(a.next_sibling or "") + str(a.previous_sibling or "")
        ]
        return {a["href"].split("#")[0] for a in linked}

    counted = {
        dt.get_text(" ", strip=True): len(chain(dd))
        for dt, dd in zip(routes.select("dt"), routes.select("dd"), strict=True)
    }
    start = _page_text(book_html / "start.html")
    route = r"(You [^:]+?)\s*:\s*(\d+)\s+chapters,\s+(\d+)\s+minutes"
    said = {goal: (int(n), int(minutes)) for goal, n, minutes in re.findall(route, start)}
    assert len(said) == 2, said
    for goal, (chapters, _) in said.items():
        assert counted[goal] == chapters, (goal, counted)
    everything, hours = re.search(
        r"Everything, in order.*?(\d+)\s+minutes of\s+prose, about\s+([\d.]+)\s+hours",
        start,
        re.S,
    ).groups()
    assert f"{int(everything) / 60:.1f}" == hours
    assert all(int(everything) > minutes for _, minutes in said.values())
