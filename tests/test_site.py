"""The built book in a real browser: Debian's chromium driven by Playwright.

The draft build (the `book_html` fixture) is served on 127.0.0.1 under the path it is
published at (so the 404 page's absolute links are exercised as on the real host),
every request to another host is aborted and recorded, and each test reads a page
the way a reader would: loads, clips, annotated source, search, a phone, dark mode,
the keyboard.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import http.server
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pages import CHAPTERS
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


# --- the site, served -----------------------------------------------------------------------


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the build under ``prefix``; a missing page gets 404.html, as hosts do."""

    prefix = "/"

    def translate_path(self, path):
        path = urlsplit(path).path
        if not path.startswith(self.prefix):
            return str(Path(self.directory, "outside-the-site", "missing"))  # a 404
        return super().translate_path("/" + path[len(self.prefix) :])

    def send_error(self, code, message=None, explain=None):
        not_found = Path(self.directory, "404.html")
        if code != 404 or not not_found.is_file():
            return super().send_error(code, message, explain)
        body = not_found.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(book_html: Path, prefix: str) -> Iterator[str]:
    """The built book on 127.0.0.1 under ``prefix``: its root URL."""
    handler = functools.partial(
        type("Handler", (_SiteHandler,), {"prefix": prefix}), directory=str(book_html)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture(scope="session")
def site(book_html) -> Iterator[str]:
    """The site's root URL on 127.0.0.1, mounted at the published path (e.g. /en/latest/)."""
    canonical = re.search(
        r'<link rel="canonical" href="([^"]+)"', (book_html / "index.html").read_text()
    )
    prefix = urlsplit(canonical.group(1)).path.removesuffix("index.html") if canonical else "/"
    with serve(book_html, prefix) as root:
        yield root


@dataclass
class Problems:
    """What went wrong while pages loaded: all of it should stay empty."""

    console: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def __bool__(self):
        return bool(self.console or self.failed or self.external)


# What `watch` sends to its route handler: every address but those it lets through, on
# the host 127.0.0.1 or data:. Routed, each of the site's own requests was a round trip
# through this process and the driver, a tenth of a page load's CPU, to be let through.
NOT_THIS_HOST = re.compile(
    r"^(?![a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?127\.0\.0\.1(?::\d*)?(?:[/?#]|$)|data:)"
)


def watch(context) -> Problems:
    """Abort requests to other hosts and record errors, for every page of ``context``: the
    Problems returned are all its pages', ``page.problems`` each page's own (a page sees
    its request to another host fail, in ``failed``; only the context's list it as
    ``external``)."""
    problems = Problems()

    def route(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1" or route.request.url.startswith(
            "data:"
        ):
            route.continue_()
        else:
            problems.external.append(route.request.url)
            route.abort()

    def on_page(page):
        page.problems = Problems()

        def record(kind: str, problem: str) -> None:
            for seen in (problems, page.problems):
                getattr(seen, kind).append(problem)

        def on_response(response):
            if response.status >= 400 and not response.url.endswith("/missing.html"):
                record("failed", f"{response.status} {response.url}")

        def on_console(message):
            # A resource's HTTP error is also logged here, without its URL: on_response
            # records it with the URL (and knows which 404 a test asked for).
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                record("console", message.text)

        def on_failed(request):
            # chromium may fetch the favicon after "networkidle"; leaving the page aborts it
            if not (request.failure == "net::ERR_ABORTED" and "/favicon" in request.url):
                record("failed", f"{request.failure} {request.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda e: record("console", str(e)))
        page.on("requestfailed", on_failed)
        page.on("response", on_response)

    context.route(NOT_THIS_HOST, route)
    context.on("page", on_page)
    return problems


@pytest.fixture
def context(browser):
    context = browser.new_context()
    yield context
    context.close()


def pages_with(book_html: Path, pattern: str) -> list[str]:
    """Chapter pages (site-relative) whose HTML matches ``pattern``."""
    return [
        f"chapters/{slug}.html"
        for slug in CHAPTERS
        if re.search(pattern, (book_html / "chapters" / f"{slug}.html").read_text())
    ]


def first_page_with(book_html: Path, pattern: str, feature: str) -> str:
    found = pages_with(book_html, pattern)
    if not found:
        pytest.skip(f"no chapter has {feature} yet")
    return found[0]


# Pages loading at once in settled_in_turn: in one context, which shares its cache (a
# context for each cost a third more CPU)
SIDE_BY_SIDE = 4


def settled_in_turn(pages: list, addresses: list[str]) -> Iterator[tuple]:
    """(page, address) for each address in order, once its page has fired "load" and its
    network has been quiet for 500 ms ("networkidle"). The addresses are shared out among
    ``pages``, which load side by side: one after another, a page's quiet 500 ms were spent
    waiting, here the others load meanwhile. A page takes its next address only when the
    caller has checked the last one and asks for the next."""
    addresses = iter(addresses)
    loading = collections.deque()

    def start(page) -> None:
        address = next(addresses, None)
        if address is not None:
            page.goto(address, wait_until="commit")
            loading.append((page, address))

    for page in pages:
        start(page)
    while loading:
        page, address = loading.popleft()
        page.wait_for_load_state("load")
        page.wait_for_load_state("networkidle")
        yield page, address
        start(page)


@pytest.fixture(scope="module")
def attention_read_only(browser, site):
    """open_(scheme): chapters/attention.html in a context of that colour scheme (default
    viewport), loaded until its network is quiet, once for all the module's tests that only
    read it (styles, text, icons; none clicks, scrolls, focuses or types): a load of this
    heavy page each cost about a second. `watch` records its problems: they must be none
    each time a test reads the page and when the module ends."""
    opened = {}

    def open_(scheme: str):
        if scheme not in opened:
            context = browser.new_context(color_scheme=scheme)
            problems = watch(context)
            page = context.new_page()
            page.goto(site + "chapters/attention.html")
            page.wait_for_load_state("networkidle")
            opened[scheme] = context, page, problems
        _, page, problems = opened[scheme]
        assert not problems, problems
        return page

    yield open_
    for context, _, problems in opened.values():
        assert not problems, problems
        context.close()


# --- every page ---------------------------------------------------------------------------


def test_every_page_loads_without_errors_or_other_hosts(book_html, site, context):
    redirects = {f"{slug}.html" for slug in CHAPTERS}  # they leave at once: tested below
    names = sorted(
        name
        for p in book_html.rglob("*.html")
        if not {"_static", "_sources", "_images"} & set(p.parts)
        and (name := p.relative_to(book_html).as_posix()) not in redirects
    )
    assert {f"chapters/{slug}.html" for slug in CHAPTERS} <= set(names)
    problems = watch(context)
    pages = [context.new_page() for _ in range(SIDE_BY_SIDE)]
    for page, address in settled_in_turn(pages, [site + name for name in names]):
        assert not page.problems, f"{address.removeprefix(site)}: {page.problems}"
    assert not problems, problems  # and no page asked another host for anything


def test_old_urls_redirect_with_their_anchor(site, context):
    page = context.new_page()
    for slug in CHAPTERS:
        page.goto(site + f"{slug}.html#ch-{slug}", wait_until="commit")
        # the heading is in the chapter's HTML: the chapter's pictures and clips (its
        # "load") are not waited for, the next address stops them
        page.wait_for_url(site + f"chapters/{slug}.html#ch-{slug}", wait_until="domcontentloaded")
        assert page.locator(f"section#ch-{slug} h1").count() == 1


def test_404_page_works_from_any_depth(site, context):
    _check_404_page(context, site, "chapters/deeper/still/missing.html")


@pytest.mark.parametrize(
    ("prefix", "missing"),
    [
        ("/", "chapters/deeper/missing.html"),
        ("/", "no/such/missing.html"),
        ("/a/b/", "chapters/x/missing.html"),
    ],
)
def test_404_page_works_under_any_prefix(book_html, context, prefix, missing):
    """Served from another folder than the published one (a local server, a fork's
    Pages site), the 404 page is styled with no failed request and its links work.
    (A missing path outside chapters/ under a prefix costs a HEAD request per folder
    above it that is not the site's root: not tested here.)"""
    with serve(book_html, prefix) as root:
        _check_404_page(context, root, missing)


def _check_404_page(context, site: str, missing: str) -> None:
    problems = watch(context)
    page = context.new_page()
    response = page.goto(site + missing)
    assert response.status == 404
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text() == "Page not found"
    # The theme's stylesheet loaded (the sidebar is laid out, not a bare list).
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"
    assert not problems, problems
    # its search goes to the site's search page, wherever the site is served from
    for action in page.locator("form.bd-search").evaluate_all("fs => fs.map(f => f.action)"):
        assert action == site + "search.html", action
    page.locator("article a", has_text="Attention").first.click()
    page.wait_for_url(site + "chapters/attention.html*")
    assert not problems, problems


# --- clips --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "heading"), [("overview", "Chapters"), ("attention", "Transcript")]
)
def test_transcript_times_and_film_chapters_seek_their_clip(book_html, context, slug, heading):
    """A time in a clip's transcript (a chapter of the film) plays its clip from there,
    by mouse and by keyboard. From disk: this test's server, unlike a real host, serves
    no ranges of a file, so a browser cannot seek in a clip it has not loaded."""
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((book_html / "chapters" / f"{slug}.html").as_uri())
    box = page.locator("details.manim-clip-transcript").filter(
        has=page.locator("summary", has_text=heading)
    )
    box.first.locator("summary").click()
    links = box.first.locator(".manim-clip-time a[data-seek]")
    assert links.count() >= 2
    video = box.first.locator("xpath=ancestor::figure[1]//video").element_handle()
    for index, press in ((links.count() - 1, False), (1, True)):
        link = links.nth(index)
        at = float(link.get_attribute("data-seek"))
        assert at > 0 and link.inner_text() == f"{int(at) // 60}:{int(at) % 60:02d}"
        if press:
            link.focus()
            page.keyboard.press("Enter")
        else:
            link.click()
        page.wait_for_function(
            "([v, at]) => v.readyState > 0 && v.currentTime >= at - 0.05 && v.currentTime < at + 2",
            arg=[video, at],
        )
    assert page.url.endswith(f"chapters/{slug}.html")  # the page stayed
    assert not errors, errors


def test_clips_show_their_poster_and_play(book_html, site, context):
    problems = watch(context)
    page = context.new_page()
    page.goto(site + first_page_with(book_html, r"<video\b", "a clip"))
    videos = page.locator("video")
    assert videos.count() > 0
    for index in range(videos.count()):
        video = videos.nth(index)
        poster = video.get_attribute("poster")
        assert poster, f"video {index} has no poster"
        poster_size = page.evaluate(
            """src => new Promise((ok, fail) => {
                 const img = new Image();
                 img.onload = () => ok([img.naturalWidth, img.naturalHeight]);
                 img.onerror = () => fail(new Error("poster failed: " + src));
                 img.src = src;
               })""",
            poster,
        )
        assert min(poster_size) > 0
        video.scroll_into_view_if_needed()
        video.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function(
            "v => !v.paused && v.currentTime > 0.2 && !v.error", arg=video.element_handle()
        )
    assert not problems, problems


def _autoplay_page(book_html: Path) -> str:
    return first_page_with(book_html, r"<video\b[^>]*data-manim-autoplay", "an autoplay clip")


def test_autoplay_clips_play_muted_when_visible(book_html, site, context):
    page = context.new_page()
    page.goto(site + _autoplay_page(book_html))
    video = page.locator("video[data-manim-autoplay]").first
    assert video.evaluate("v => v.paused")  # nothing plays before it is seen
    video.scroll_into_view_if_needed()
    page.wait_for_function(
        "v => !v.paused && v.muted && v.currentTime > 0.2", arg=video.element_handle()
    )


def test_reduced_motion_keeps_autoplay_clips_still(book_html, site, browser):
    context = browser.new_context(reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(site + _autoplay_page(book_html))
        video = page.locator("video[data-manim-autoplay]").first
        video.scroll_into_view_if_needed()
        page.wait_for_timeout(2000)
        assert video.evaluate("v => v.paused && v.currentTime === 0")
    finally:
        context.close()


# --- annotated source -----------------------------------------------------------------------


def test_annotated_source_links_notes_and_lines(book_html, site, context):
    page = context.new_page()
    page.goto(site + first_page_with(book_html, r'class="annotated-source\b', "annotated source"))
    note = page.locator(".annotated-source .as-note[data-as-lines]").first
    start, end = map(int, note.get_attribute("data-as-lines").split("-"))
    block_id = note.evaluate("n => n.closest('.annotated-source').id")
    lines = [page.locator(f"#{block_id}-L{n}") for n in range(start, end + 1)]
    lines = [line for line in lines if line.count()]
    assert lines, "the note's lines are not in the code column"

    def lit() -> list[bool]:
        return [line.evaluate("l => l.classList.contains('as-active')") for line in lines]

    assert not any(lit())
    note.hover()
    assert all(lit())
    assert note.evaluate("n => n.classList.contains('as-active')")
    page.mouse.move(0, 0)
    assert not any(lit())

    note.focus()  # a keyboard reader gets the same link
    assert all(lit())
    page.locator("body").focus()
    note.evaluate("n => n.blur()")
    assert not any(lit())

    # And from the other side: pointing at a line lights its note.
    lines[0].hover()
    assert note.evaluate("n => n.classList.contains('as-active')")


# --- search, phone, dark mode, keyboard --------------------------------------------------------


def test_search_finds_attention(site, context):
    problems = watch(context)
    page = context.new_page()
    page.goto(site + "search.html?q=attention")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=15_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("chapters/attention.html" in href for href in hrefs), hrefs
    assert not problems, problems


def test_one_search_field_and_no_header_bar_above_the_page(site, context):
    """The sidebar's search field is the page's one (pydata-sphinx-theme 0.20 adds a header
    bar holding a second), named by the text it shows, and Ctrl+K still opens the search.
    With the header bar hidden, the book's title at the head of the sidebar stands in a
    landmark of its own (docs/_templates)."""
    page = context.new_page()
    page.goto(site + "chapters/attention.html")
    assert not page.locator("#pst-header").is_visible()
    fields = page.locator(".search-button-field")
    assert [fields.nth(i).is_visible() for i in range(fields.count())].count(True) == 1
    field = page.locator(".bd-sidebar-primary .search-button-field")
    assert field.is_visible()
    expect(field).to_have_accessible_name(re.compile(r"^Search Ctrl ?\+ ?K$"))
    expect(page.locator(".bd-sidebar-primary nav[aria-label=Home] .navbar-brand")).to_be_visible()
    page.keyboard.press("Control+k")
    expect(page.locator("#pst-search-dialog input[type=search]")).to_be_focused()


def test_the_search_pages_magnifier_leaves_the_query_readable(site, context):
    """The search page's own box draws its magnifier over the input's left edge: the
    query's first letter must start to the right of it."""
    page = context.new_page()
    page.goto(site + "search.html?q=gradient")
    box = page.locator(".bd-search-container form.bd-search")
    box.locator("input").wait_for()
    icon = box.locator("i").first.bounding_box()
    text_left = box.locator("input").evaluate(
        "e => e.getBoundingClientRect().left + parseFloat(getComputedStyle(e).paddingLeft)"
    )
    assert text_left >= icon["x"] + icon["width"], (text_left, icon)


@pytest.mark.parametrize("width", [PHONE["width"], 1280])
def test_the_players_controls_cover_nothing_of_the_clip(site, browser, width):
    """The native controls lie in a band below the clip's frame (manim_clip.css), at a
    phone's width and a desktop's: every pixel they change is below the frame's bottom.
    On the phone the player is the screen's width, the width bookscene.MIN_TEXT assumes."""
    import io

    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).parent.parent / "docs" / "scenes"))
    import bookscene

    context = browser.new_context(viewport={**PHONE, "width": width})
    try:
        page = context.new_page()
        page.goto(site + "chapters/attention.html")
        page.wait_for_load_state("networkidle")
        video = page.locator("video.manim-clip-video").first
        video.scroll_into_view_if_needed()
        if width == PHONE["width"]:
            assert video.bounding_box()["width"] == bookscene.PHONE_PLAYER_CSS_PX

        def steady_shot():  # the controls fade in, the poster decodes: wait until still
            previous = None
            for _ in range(20):
                page.wait_for_timeout(400)
                shot = np.asarray(Image.open(io.BytesIO(video.screenshot())).convert("RGB"))
                if previous is not None and np.array_equal(shot, previous):
                    break
                previous = shot
            return shot.astype(int)

        shots = []
        for controls in (True, False):
            video.evaluate("(v, on) => { v.controls = on; }", controls)
            shots.append(steady_shot())
        changed = np.flatnonzero((np.abs(shots[0] - shots[1]).max(axis=2) > 60).sum(axis=1) > 3)
        frame_bottom = video.bounding_box()["width"] * 9 / 16  # the frame sits at the top
        assert changed.size and changed.min() >= frame_bottom, (changed.min(), frame_bottom)
    finally:
        context.close()


GLOSSARY_ENTRIES = """() => [...document.querySelectorAll('dl.glossary > dt')].map(dt => {
  let dd = dt.nextElementSibling;
  while (dd.tagName !== 'DD') dd = dd.nextElementSibling;
  const said = n => {
    const copy = n.cloneNode(true);
    copy.querySelectorAll('.headerlink').forEach(link => link.remove());
    copy.querySelectorAll('img.math[alt]').forEach(f => f.replaceWith(f.alt));
    return copy.textContent.replace(/\\s+/g, ' ').trim();
  };
  return said(dt) + ': ' + said(dd);
})"""


@pytest.fixture(scope="module")
def glossary_entries(browser, site) -> list[str]:
    """The glossary's entries as GLOSSARY_ENTRIES reads them, from one load of the page
    (without a problem) for every query that is looked up."""
    context = browser.new_context()
    try:
        problems = watch(context)
        page = context.new_page()
        page.goto(site + "glossary.html")
        page.wait_for_load_state("networkidle")  # leaving earlier would abort its favicon
        entries = page.evaluate(GLOSSARY_ENTRIES)
        assert not problems, problems
    finally:
        context.close()
    return entries


@pytest.mark.parametrize("query", ["backpropagation", "clipping"])
def test_a_glossary_result_shows_one_entry(site, context, glossary_entries, query):
    """Sphinx's snippet is 240 characters of the page around the word, so on the
    glossary it ran one entry's end into the next one's term ("…computes. gradient
    accumulationSumming…"); the search page shows the entry alone."""
    problems = watch(context)
    page = context.new_page()
    page.goto(site + f"search.html?q={query}")
    result = page.locator("#search-results ul.search li", has=page.locator("a[href*=glossary]"))
    snippet = result.first.locator("p.context")
    snippet.wait_for(timeout=15_000)
    text = snippet.inner_text().removeprefix("...").removesuffix("...")
    holding = [entry for entry in glossary_entries if text in entry]
    assert len(holding) == 1 and query in text.lower(), (text, holding)
    assert not problems, problems


# The article's text as a search snippet reads it: formulas by their alt text, one space.
ARTICLE_TEXT = """() => {
  const copy = document.querySelector('article.bd-article').cloneNode(true);
  copy.querySelectorAll('.headerlink, script, style').forEach(e => e.remove());
  copy.querySelectorAll('img.math[alt]').forEach(f => f.replaceWith(f.alt));
  return copy.textContent.replace(/\\s+/g, ' ');
}"""


@pytest.mark.parametrize("query", ["softmax", "attention"])
def test_a_page_result_shows_the_articles_text(site, context, attention_read_only, query):
    """Sphinx cuts a result's snippet from the theme's [role=main], which also holds the
    article's header buttons and the page's list of sections, so 'softmax' on 4. Attention
    showed that list ("...Heads Scores and the √hs scaling The causal mask Softmax and the
    weighted sum The code...") and 'attention' its buttons ("System Settings Light Dark");
    the snippet is now a run of the article's own text, its formulas read by their alt."""
    article = attention_read_only("light").evaluate(ARTICLE_TEXT)
    problems = watch(context)
    page = context.new_page()
    page.goto(site + f"search.html?q={query}")
    link = page.locator("a[href*='attention.html']")
    result = page.locator("#search-results ul.search li", has=link)
    snippet = result.first.locator("p.context")
    snippet.wait_for(timeout=15_000)
    text = " ".join(snippet.text_content().removeprefix("...").removesuffix("...").split())
    assert query in text.lower() and text in article, text
    assert not problems, problems


def test_results_of_equal_score_come_in_the_books_order(site, context):
    """Sphinx orders results of equal score by title as text, so 'c_attn', found in the
    text of eight chapters, listed 0, 10, 11, 12, 13, 4, 6, 8; they come by chapter now."""
    page = context.new_page()
    page.goto(site + "search.html?q=c_attn")
    summary = page.locator("#search-results p.search-summary")
    expect(summary).to_contain_text("Search finished", timeout=15_000)
    titles = page.locator("#search-results ul.search li > a").all_inner_texts()
    numbers = [int(title.split(".")[0]) for title in titles if title[:1].isdigit()]
    assert len(numbers) > 3 and numbers == sorted(numbers), titles


WIDEST_ELEMENTS = """limit => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > limit && !e.closest(`pre, .highlight,
    .as-code, table, .MathJax, .math, video, .manim-clip-video`))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' +
    Math.round(e.getBoundingClientRect().right))"""


# Display formulas (lazy images, loaded here) wider than their column: they would scroll.
WIDE_FORMULAS = """async () => {
  const images = [...document.querySelectorAll('div.math img')];
  await Promise.all(images.map(i => { i.loading = 'eager'; return i.decode().catch(() => {}); }));
  return images.filter(i => i.getBoundingClientRect().width > i.closest('div.math').clientWidth + 1)
    .map(i => i.alt);
}"""


# ASCII diagrams wider than their box that neither scroll nor wrap: their right side is lost.
CLIPPED_DIAGRAMS = """() => [...document.querySelectorAll('.arch-diagram pre')]
  .filter(pre => pre.scrollWidth > pre.clientWidth + 1
                 && !['auto', 'scroll'].includes(getComputedStyle(pre).overflowX))
  .map(pre => pre.textContent.trim().split('\\n')[0])"""


def test_chapters_fit_a_phone(book_html, site, browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        pages = [context.new_page() for _ in range(SIDE_BY_SIDE)]
        addresses = [site + f"chapters/{slug}.html" for slug in CHAPTERS]
        for page, address in settled_in_turn(pages, addresses):
            slug = address.removeprefix(site + "chapters/").removesuffix(".html")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 2, (
                f"{slug}: the page scrolls sideways ({width}px): "
                f"{page.evaluate(WIDEST_ELEMENTS, PHONE['width'])}"
            )
            wide = page.evaluate(WIDE_FORMULAS)
            assert not wide, f"{slug}: formulas wider than a phone's column: {wide}"
            clipped = page.evaluate(CLIPPED_DIAGRAMS)
            assert not clipped, f"{slug}: diagrams cut off on the right: {clipped}"
    finally:
        context.close()


# A table frame's fade: where its left and right edges are transparent (None: no mask)
TABLE_FADE = """frame => {
  const mask = getComputedStyle(frame).maskImage;
  if (mask === "none") return null;
  const stops = mask.match(/rgba\\(0, 0, 0, 0\\)|transparent|rgb\\(0, 0, 0\\)/g);
  return {left: /^(rgba\\(0, 0, 0, 0\\)|transparent)$/.test(stops[0]),
          right: /^(rgba\\(0, 0, 0, 0\\)|transparent)$/.test(stops.at(-1))};
}"""


def test_a_table_wider_than_a_phone_fades_where_more_of_it_lies(site, browser):
    """The modern chapter's comparison table is wider than a phone's column: its frame
    fades on the right before it is scrolled, on the left once scrolled to the end, and
    nowhere while it has the keyboard's focus; on a wide screen it fits and nothing
    fades."""
    frame = "#ch-modern .pst-scrollable-table-container"
    for viewport, scrolls in ((PHONE, True), ({"width": 1280, "height": 900}, False)):
        context = browser.new_context(viewport=viewport)
        try:
            page = context.new_page()
            page.goto(site + "chapters/modern.html")
            table = page.locator(frame).first
            wider = table.evaluate("f => f.scrollWidth > f.clientWidth")
            assert wider == scrolls, f"at {viewport['width']} px the table scrolls: {wider}"
            if not scrolls:
                assert table.evaluate(TABLE_FADE) is None
                continue
            assert table.evaluate(TABLE_FADE) == {"left": False, "right": True}
            table.evaluate("f => f.scrollTo(f.scrollWidth, 0)")
            page.wait_for_timeout(100)
            assert table.evaluate(TABLE_FADE) == {"left": True, "right": False}
            # reached by the keyboard, it fades nowhere: a mask would cut off its focus ring
            table.focus()
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Tab")
            assert table.evaluate("f => f.matches(':focus-visible')")
            assert table.evaluate(TABLE_FADE) is None
        finally:
            context.close()


def test_the_start_pages_screenshot_keeps_a_readable_size_on_a_phone(site, browser):
    """The start page's screenshot of a chapter is 1280 px of a desktop: in a phone's
    column it kept a third of its size. There it is at least 800 px wide and scrolls
    sideways in its link (which opens it whole), the page itself does not; on a wide
    screen it fits the column."""
    for viewport, phone in ((PHONE, True), ({"width": 1280, "height": 900}, False)):
        context = browser.new_context(viewport=viewport)
        try:
            page = context.new_page()
            page.goto(site + "start.html")
            link = page.locator("figure.nb-screenshot > a").first
            assert link.get_attribute("href").endswith("readme-attention.png")
            sizes = link.evaluate(
                """a => ({img: a.querySelector('img').getBoundingClientRect().width,
                         frame: a.clientWidth, scrolls: a.scrollWidth > a.clientWidth + 1,
                         page: document.documentElement.scrollWidth})"""
            )
            assert sizes["page"] <= viewport["width"] + 2, sizes
            if phone:
                assert sizes["img"] >= 800 and sizes["scrolls"], sizes
            else:
                assert sizes["img"] <= sizes["frame"] + 1 and not sizes["scrolls"], sizes
        finally:
            context.close()


# WCAG's reflow width: 1280 px at 400 %
NARROWEST = {"width": 320, "height": 800}

# The chapter's elements that reach past the page's right edge (not counting those that
# scroll in boxes of their own: code blocks, tables, formulas, clips)
PAST_THE_EDGE = """limit => [...document.querySelectorAll('article *')]
  .filter(e => e.getBoundingClientRect().right > limit + 0.5 && !e.closest(`pre, .highlight,
    .as-code, table, .MathJax, .math, video, .manim-clip-video`))
  .slice(0, 5).map(e => [e.tagName, e.className, e.textContent.slice(0, 40),
    Math.round(e.getBoundingClientRect().right)])"""


@pytest.mark.parametrize("slug", ["finetuning", "scale"])
def test_inline_code_wraps_in_the_narrowest_column(book_html, site, browser, slug):
    """At 320 px a long name in inline code (model_src/experiments/finetune_runs.py,
    torch.autograd.graph.saved_tensors_hooks) breaks inside the column, where it ran past
    the page's edge: nothing in the chapter reaches past it; at 1280 px inline code keeps
    each word whole, as before."""
    context = browser.new_context(viewport=NARROWEST, device_scale_factor=2, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(site + f"chapters/{slug}.html")
        page.wait_for_load_state("networkidle")
        wide = page.evaluate(PAST_THE_EDGE, NARROWEST["width"])
        assert not wide, f"{slug}: past the page's edge at {NARROWEST['width']} px: {wide}"
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROWEST["width"]
        wrapped = page.evaluate(
            """() => [...document.querySelectorAll('article p code.literal')]
              .filter(c => c.getClientRects().length > 1 && !c.textContent.includes(' '))
              .map(c => c.textContent)"""
        )
        assert wrapped, slug  # a name broken over two lines, not only between words
        page.set_viewport_size({"width": 1280, "height": 800})
        kept = page.evaluate(
            """() => [...new Set([...document.querySelectorAll('article code.literal span.pre')]
              .map(s => getComputedStyle(s).whiteSpace))]"""
        )
        assert kept == ["nowrap"], kept
    finally:
        context.close()


# Words of code in a table's cells (span.pre, one a word) that break over two lines
BROKEN_CODE_WORDS = """() => [...document.querySelectorAll('article td code span.pre')]
  .filter(s => s.getClientRects().length > 1).map(s => s.textContent)"""


# The glossary's symbols table: the width of its Meaning column, and whether it fits its frame
MEANING_COLUMN = """() => { const t = document.querySelector("article table");
  return {meaning: t.rows[0].cells[3].getBoundingClientRect().width,
          fits: t.parentElement.scrollWidth <= t.parentElement.clientWidth}; }"""


def test_names_in_a_tables_code_stay_whole(site, browser):
    """The glossary's table of symbols names the code's variables (n_embd,
    get_num_params()). On a phone they broke anywhere, 'n_emb / d', 'get_nu / m_para /
    ms()', as inline code in prose does: in a table's cell each word of code stays whole
    but may break after an underscore ('get_ / num_ / params()'), and a table too wide
    for them scrolls in its own frame, not the page. At 390 px the names held their
    column wide and left the Meaning column about 70 px: now the table fits."""
    for viewport in (NARROWEST, PHONE, {"width": 1280, "height": 900}):
        context = browser.new_context(viewport=viewport)
        try:
            page = context.new_page()
            page.goto(site + "glossary.html")
            assert page.locator("article td code").count() >= 9
            broken = page.evaluate(BROKEN_CODE_WORDS)
            assert not broken, f"at {viewport['width']} px: {broken}"
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"] + 2, f"the page scrolls sideways at {width} px"
            names = page.locator("article td code").all_inner_texts()
            assert "get_num_params()" in [name.replace("\n", "") for name in names]
            if viewport is PHONE:
                column = page.evaluate(MEANING_COLUMN)
                assert column["fits"] and column["meaning"] >= 100, column
        finally:
            context.close()


CONTRAST = """el => {
  const rgba = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92
                                    : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  let bg = null;
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { bg = c; break; }
  }
  bg = bg || [255, 255, 255];
  const fg = rgba(getComputedStyle(el).color);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""
READABLE_TEXT = {
    "article h1": 3.0,  # large text
    "article p": 4.5,
    ".bd-sidebar-primary nav a": 4.5,
    ".bd-sidebar-primary nav a.current, .bd-sidebar-primary li.current > a": 3.0,
    "article a.reference.internal": 3.0,
    "figcaption, .caption-text": 4.5,
    ".annotated-source .as-note": 4.5,
    ".annotated-source .as-src": 4.5,
}


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_text_is_readable_in_both_colour_schemes(attention_read_only, scheme):
    page = attention_read_only(scheme)
    assert page.evaluate("document.documentElement.dataset.theme") == scheme
    checked = 0
    for selector, minimum in READABLE_TEXT.items():
        elements = page.locator(selector)
        for i in range(min(elements.count(), 3)):
            element = elements.nth(i)
            if not element.is_visible():
                continue
            ratio = element.evaluate(CONTRAST)
            assert ratio >= minimum, f"{scheme}: {selector} #{i} contrast {ratio:.2f}"
            checked += 1
    assert checked >= 5


def test_keyboard_reaches_clip_controls_and_solutions(book_html, site, context):
    with_clip = set(pages_with(book_html, r"<video\b"))
    with_solution = set(pages_with(book_html, r'<details class="[^"]*sd-dropdown|<details\b'))
    both = sorted(with_clip & with_solution)
    if not both:
        pytest.skip("no chapter has both a clip and a collapsible solution yet")
    page = context.new_page()
    page.goto(site + both[0])
    page.locator("body").focus()
    reached_video = reached_summary = False
    for _ in range(600):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; return [e.tagName,"
            " !!e.closest('details') && e.tagName === 'SUMMARY'] }"
        )
        reached_video |= focused[0] == "VIDEO"
        if focused[1] and not reached_summary:
            reached_summary = True
            page.keyboard.press("Enter")  # opens the solution, as a click would
            assert page.evaluate("document.activeElement.closest('details').open")
        if reached_video and reached_summary:
            break
    assert reached_video, "Tab never reaches a clip's controls"
    assert reached_summary, "Tab never reaches a collapsible solution"


# --- reading with the keyboard, reading at all ----------------------------------------------

TAB_STOPS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  if (!e.dataset.stop) e.dataset.stop = String(document.querySelectorAll('[data-stop]').length);
  return e.dataset.stop;
}"""


def changed_pixels(before: bytes, after: bytes) -> int:
    from io import BytesIO

    from PIL import Image, ImageChops

    a, b = (Image.open(BytesIO(png)).convert("RGB") for png in (before, after))
    difference = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 40 else 0)
    return difference.histogram()[255]


# After a Tab: the stop reached (as TAB_STOPS), once settled. A clip loads its metadata
# when focused, and the player then rebuilds its controls: a reader's next Tab comes after
# that, so does this one. Polled each frame, as wait_for_function does, in one call.
SETTLED_TAB_STOP = f"""async () => {{
  const settled = () => {{
    const e = document.activeElement;
    return !e || e.tagName !== "VIDEO" || e.readyState > 0;
  }};
  const until = performance.now() + 30000;
  while (!settled()) {{
    if (performance.now() > until) throw new Error("the focused clip never loads");
    await new Promise((frame) => requestAnimationFrame(frame));
  }}
  return ({TAB_STOPS})();
}}"""

# An element scrolled into view as Playwright's scroll_into_view_if_needed does (centred,
# unless wholly in view already), and its box then, in one call instead of two
SCROLLED_INTO_VIEW = """e => {
  e.scrollIntoViewIfNeeded(true);
  const box = e.getBoundingClientRect();
  return {x: box.x, y: box.y, width: box.width, height: box.height};
}"""


ALL_WIDGETS_LIVE = """() => [...document.querySelectorAll("section[data-nanobook-model]")]
    .every((w) => w.querySelector(":scope > .nb-live-static").hidden)"""


def test_focus_is_visible_on_every_tab_stop(book_html, site, browser):
    """Tab through a chapter with a clip, solutions, listings and live widgets; for each
    stop, the pixels around it focused and unfocused must differ by at least a quarter
    of a 2 px ring: a focus ring clipped, transparent or missing fails."""
    page_name = "chapters/attention.html"
    assert "<video" in (book_html / page_name).read_text(), f"{page_name} lost its clip"
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.emulate_media(reduced_motion="reduce")
        page.goto(site + page_name)
        page.wait_for_load_state("networkidle")
        # every live widget in first: one that goes live while the keys move swaps its
        # static table for its controls, and the Tab order with it
        for widget in page.locator("section[data-nanobook-model]").all():
            widget.scroll_into_view_if_needed()
        page.wait_for_function(ALL_WIDGETS_LIVE, timeout=60_000)
        page.evaluate("window.scrollTo(0, 0)")
        stops: list[str] = []
        for _ in range(400):
            page.keyboard.press("Tab")
            stop = page.evaluate(SETTLED_TAB_STOP)
            if stops and stop == stops[-1]:
                continue  # a control inside the same element (a video's buttons)
            if stop is None or stop in stops:
                break  # past the last stop, back to the address bar or the first one
            stops.append(stop)
        assert len(stops) > 40, f"only {len(stops)} Tab stops on {page_name}"
        invisible = []
        for stop in stops:
            element = page.locator(f'[data-stop="{stop}"]')
            box = element.evaluate(SCROLLED_INTO_VIEW)
            if box["width"] < 1 or box["height"] < 1:
                invisible.append(f"{stop}: not on screen")
                continue
            clip = {
                "x": max(box["x"] - 6, 0),
                "y": max(box["y"] - 6, 0),
                "width": min(box["width"] + 12, 1280 - max(box["x"] - 6, 0)),
                "height": min(box["height"] + 12, 800 - max(box["y"] - 6, 0)),
            }
            page.keyboard.press("Shift")  # the last interaction is the keyboard's
            element.focus()
            focused = page.screenshot(clip=clip, animations="disabled")
            page.evaluate("document.activeElement.blur()")
            page.mouse.move(0, 799)  # no hover on the element either
            unfocused = page.screenshot(clip=clip, animations="disabled")
            ring = min(box["width"], 1280) + min(box["height"], 800)
            if changed_pixels(focused, unfocused) < ring / 2:
                invisible.append(
                    element.evaluate(
                        "e => e.tagName + '.' + e.className + ' ' + (e.textContent || '')"
                        ".trim().slice(0, 40)"
                    )
                )
        assert not invisible, f"{len(invisible)} of {len(stops)} stops show no focus: {invisible}"
    finally:
        context.close()


ALL_TEXT_CONTRAST = """(contrast) => {
  const failures = [];
  let checked = 0;
  const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                           NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el) || el.closest('svg, .sr-only, .visually-hidden'))
      continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    if (style.visibility !== 'visible' || rect.width < 1 || rect.height < 1) continue;
    if (el.closest('details:not([open])') && !el.closest('summary')) continue;
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const ratio = contrast(el);
    checked += 1;
    if (ratio < (large ? 3 : 4.5))
      failures.push(el.tagName + '.' + el.className + ' "' + node.textContent.trim().slice(0, 30)
                    + '" ' + ratio.toFixed(2));
  }
  return {checked, failures};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_all_text_in_chapters_reads_at_aa_contrast(site, browser, attention_read_only, scheme):
    """Every piece of text in the main column of three chapters (prose, code, tables,
    captions, widgets, downloads): 4.5:1 against what it is drawn on, 3:1 when large."""
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        failures = {}
        for slug in ("attention", "sampling", "training"):
            if slug == "attention":
                shown = attention_read_only(scheme)
            else:
                page.goto(site + f"chapters/{slug}.html")
                page.wait_for_load_state("networkidle")
                shown = page
            found = shown.evaluate(f"() => ({ALL_TEXT_CONTRAST})(el => ({CONTRAST})(el))")
            assert found["checked"] > 200, found
            if found["failures"]:
                failures[slug] = found["failures"]
        assert not failures, failures
    finally:
        context.close()


def test_theme_icons_draw_from_a_font_cut_to_them(book_html, attention_read_only):
    """The theme's 1.5 MB icon script is replaced by a comment, its icon rules and font
    cut to the icons in use: each icon the page shows still has its glyph in the font."""
    from fontTools.ttLib import TTFont

    assert (book_html / "_static/scripts/fontawesome.js").stat().st_size < 1_000
    font = book_html / "_static/vendor/fontawesome/webfonts/fa-solid-900.woff2"
    assert font.stat().st_size < 20_000
    glyphs = set(TTFont(font).getBestCmap())
    page = attention_read_only("light")
    icons = page.evaluate(
        """() => [...document.querySelectorAll('i.fa-solid, i.fas, span.fa-solid')]
           .filter(i => i.getBoundingClientRect().width > 0)
           .map(i => [i.className, getComputedStyle(i, '::before').content])"""
    )
    assert len(icons) >= 3, icons
    for classes, content in icons:
        glyph = content.split('"')[1] if '"' in content else ""
        assert len(glyph) == 1 and ord(glyph) in glyphs, (classes, content)
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 7 Free\"')")


def test_404_page_is_styled_when_opened_from_disk(book_html, browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto((book_html / "404.html").as_uri())
        page.wait_for_load_state("load")
        # the theme's stylesheet replaces the browser's default serif, its script runs
        page.wait_for_function("!getComputedStyle(document.body).fontFamily.includes('Times')")
        page.wait_for_function("document.documentElement.dataset.theme === 'light'")
        link = page.locator("article a", has_text="table of contents").first
        target = link.evaluate("a => a.href")
        assert target.startswith("file://") and Path(target[len("file://") :]).is_file()
        # every stylesheet, script and icon it asks for is a file beside it
        asked = page.evaluate(
            "[...document.querySelectorAll('link[href], script[src]')]"
            ".map(e => e.href || e.src).filter(u => u.startsWith('file:'))"
        )
        assert len(asked) >= 5 and all(Path(url[7:].split("?")[0]).is_file() for url in asked)
    finally:
        context.close()


def _contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    def luminance(rgb):
        linear = [c / 3294.6 if c <= 10.31 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted([luminance(a[:3]), luminance(b[:3])], reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_plot_axes_and_legends_read_at_aa_contrast(book_html, site, browser, scheme):
    """A plot's axes, ticks and legend text (its grey ink), as the reader sees them on
    the page behind the transparent plot: 4.5:1 and more, in both themes."""
    from io import BytesIO

    from PIL import Image

    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(site + "chapters/training.html")
        plots = page.locator(".cell_output img")
        assert plots.count() >= 1
        for index in range(min(2, plots.count())):
            plot = plots.nth(index)
            plot.scroll_into_view_if_needed()
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=plot.element_handle()
            )
            pixels = Image.open(BytesIO(plot.screenshot())).convert("RGB")
            counts = pixels.getcolors(1 << 20)
            background = max(counts)[1]  # the page, through the transparent plot
            # the ink: the grey (not a data colour) drawn most strongly, in solid runs
            # (spines, ticks) of many pixels; anti-aliased edges and the grid are fainter
            greys = [
                colour
                for count, colour in counts
                if count >= 40 and max(colour) - min(colour) <= 24 and colour != background
            ]
            ink = max(greys, key=lambda colour: _contrast(colour, background))
            assert _contrast(ink, background) >= 4.5, (scheme, index, ink, background)
    finally:
        context.close()


def test_a_font_is_cut_once_then_copied_from_the_store(tmp_path, monkeypatch):
    """Sphinx copies the theme's fonts afresh on every build: the cut is a store entry,
    so a rebuild copies the same bytes instead of running fontTools again."""
    import pydata_sphinx_theme

    from ext import lean_theme

    theme = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme"
    original = theme / "static" / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.woff2"
    keep = {0xF0C9, 0xF00D}  # the bars and the cross
    font = tmp_path / "out" / original.name
    font.parent.mkdir()
    shutil.copyfile(original, font)
    before, after = lean_theme.slim_font(font, keep, tmp_path / "cache")
    cut = font.read_bytes()
    assert before == original.stat().st_size > 10 * after

    shutil.copyfile(original, font)  # the next build's fresh copy
    monkeypatch.setattr(lean_theme, "subset_font", lambda *args: pytest.fail("cut again"))
    assert lean_theme.slim_font(font, keep, tmp_path / "cache") == (before, after)
    assert font.read_bytes() == cut


def test_a_stylesheet_keeps_the_rules_whose_names_the_book_uses():
    """The theme's stylesheets are cut to the rules whose classes and ids occur in the
    built pages or scripts; whatever else a stylesheet holds is kept as it was, but for
    the reference to the original's source map."""
    from ext import lean_theme

    css = (
        "/*! licence */.used,.unused{color:red}.unused .used{margin:0}"
        "@media (min-width:1px){.unused{top:0}}@media print{.used>p{top:1px}}"
        "@font-face{font-family:x;src:url(x.woff2)}@keyframes spin{0%{opacity:0}}"
        '.used:not(.unused)::before{content:"{.unused}"}a[href$=".unused"]{color:blue}'
        "@import url(x.css);.bs-tooltip-auto .tooltip-arrow{left:0}/* a note */#used-id{x:1}"
        ".sm\\:used{y:1}.other\\:used{z:1}html{font-size:1px}"
        "/* a note */@media (min-width:40.5em){.used{w:1}}"
        "\n/*# sourceMappingURL=theme.css.map*/"
    )
    kept = lean_theme.keep_used_rules(css, {"used", "used-id", "sm", "tooltip-arrow"})
    assert kept == (
        "/*! licence */.used{color:red}@media print{.used>p{top:1px}}"
        "@font-face{font-family:x;src:url(x.woff2)}@keyframes spin{0%{opacity:0}}"
        '.used:not(.unused)::before{content:"{.unused}"}a[href$=".unused"]{color:blue}'
        "@import url(x.css);.bs-tooltip-auto .tooltip-arrow{left:0}#used-id{x:1}"
        ".sm\\:used{y:1}html{font-size:1px}"
        "/* a note */@media (min-width:40.5em){.used{w:1}}\n"
    )


def test_every_source_map_describes_the_file_that_names_it(book_html):
    """A stylesheet or script the build cut or replaced names no source map, and no map
    is left behind of a file that no longer names it (devtools would show rules at the
    wrong lines; the theme's 1.8 MB map of the replaced icon script went with it)."""
    static = book_html / "_static"
    named = set()
    for path in [*static.rglob("*.css"), *static.rglob("*.js")]:
        for name in re.findall(
            r"sourceMappingURL=(\S+?)\s*(?:\*/|$)",
            path.read_text(encoding="utf-8", errors="replace"),
            re.M,
        ):
            assert (path.parent / name).is_file(), f"{path.name} names a missing {name}"
            named.add(path.parent / name)
    maps = set(static.rglob("*.map"))
    assert maps, "no source maps at all: the theme's scripts ship theirs"
    assert maps <= named, f"maps no file names: {sorted(p.name for p in maps - named)}"


def test_the_header_buttons_the_reader_sees_work_by_tap_and_by_keyboard(site, browser):
    """The theme binds each sidebar toggle to the first button of its kind, a hidden one,
    and blurs the colour-mode button on every click. On a phone both drawers open by a tap
    and list their links, and once closed leave no tooltip over the bar (the next tap opens
    the download menu); by keyboard a drawer gives focus back to its button. On a wide
    screen the navigation hides and shows, and the colour-mode menu keeps the keyboard."""
    opened = "id => document.getElementById(id).open"
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(site + "chapters/overview.html")
        page.wait_for_load_state("load")
        for side in ("primary", "secondary"):
            toggle = page.locator(f"button.{side}-toggle:visible")
            modal = f"pst-{side}-sidebar-modal"
            toggle.tap()
            page.wait_for_function(opened, arg=modal)
            assert page.locator(f"#{modal} a:visible").count() >= 3  # chapters, or sections
            page.keyboard.press("Escape")
            page.wait_for_function(f"!({opened})('{modal}')")
            page.wait_for_timeout(700)  # past the tooltips' delay
            assert page.locator(".tooltip.show").count() == 0
            page.locator("button.dropdown-toggle:visible").first.tap(timeout=5_000)
            page.wait_for_selector(".dropdown-menu.show")
            page.keyboard.press("Escape")
            toggle.focus()
            page.keyboard.press("Enter")
            page.wait_for_function(opened, arg=modal)
            page.keyboard.press("Escape")
            page.wait_for_function(f"!({opened})('{modal}')")
            assert toggle.evaluate("button => document.activeElement === button")
    finally:
        context.close()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(site + "chapters/overview.html")
        page.wait_for_load_state("networkidle")
        shown = "getComputedStyle(document.getElementById('pst-primary-sidebar')).visibility"
        assert page.evaluate(shown) == "visible"
        page.locator("button.primary-toggle:visible").click()
        page.wait_for_function(f"{shown} === 'hidden'")
        page.locator("button.primary-toggle:visible").click()
        page.wait_for_function(f"{shown} === 'visible'")
        colours = page.locator("button.theme-switch-button")
        colours.focus()
        page.keyboard.press("Enter")
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.closest('.dropdown-menu') !== null")
        page.keyboard.press("Escape")
        page.wait_for_function("!document.querySelector('.dropdown-menu.show')")
        assert colours.evaluate("button => document.activeElement === button")
    finally:
        context.close()


CONTENT_BOX = """img => {
  const box = img.getBoundingClientRect(), style = getComputedStyle(img);
  const side = (name) =>
    parseFloat(style[`padding${name}`]) + parseFloat(style[`border${name}Width`]);
  return {x: box.x + side("Left"), y: box.y + side("Top"),
          width: box.width - side("Left") - side("Right"),
          height: box.height - side("Top") - side("Bottom")};
}"""


@pytest.mark.parametrize("slug", ["attention", "embeddings", "modern"])
def test_a_colour_map_shows_the_same_colours_in_both_schemes(book_html, site, browser, slug):
    """A heatmap and its colour bar (img.nb-colour-map) look in dark mode as in light: the
    dark page's brightening of plots (nanobook.css) turned the pale end of the attention
    maps' scale white, weights near 1 alike and unlike their bar. Each chapter's first
    colour map, as shown (the dark card's padding shrinks it a little: brought to one size
    and compared in blocks of 8 px), differs between the schemes in under 1% of its blocks;
    brightened, in about half of them and more."""
    from io import BytesIO

    from PIL import Image, ImageChops

    shown = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 1200})
        try:
            page = context.new_page()
            page.goto(site + f"chapters/{slug}.html")
            plot = page.locator(".cell_output img.nb-colour-map").first
            plot.scroll_into_view_if_needed()
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=plot.element_handle()
            )
            plot.evaluate("img => img.scrollIntoView({block: 'start'})")  # loaded: its height
            png = page.screenshot(clip=plot.evaluate(CONTENT_BOX))
            shown[scheme] = Image.open(BytesIO(png)).convert("RGB")
        finally:
            context.close()
    light = shown["light"]
    blocks = (light.width // 8, light.height // 8)
    light = light.resize(blocks, Image.BOX)
    dark = shown["dark"].resize(shown["light"].size, Image.LANCZOS).resize(blocks, Image.BOX)
    difference = ImageChops.difference(light, dark).convert("L")
    changed = difference.point(lambda v: 255 if v > 40 else 0).histogram()[255]
    assert changed < 0.01 * blocks[0] * blocks[1], (slug, changed, blocks)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_without_javascript_a_page_wears_the_theme_of_the_readers_scheme(site, browser, scheme):
    """The page ships data-theme="auto" and only the theme's script made it light or dark,
    so without scripts nothing coloured it: the header was see-through (the text scrolled
    under its buttons) and code lost its ground. Without scripts it now looks as the theme
    does with them, in the reader's colour scheme."""
    colours = (
        "() => ['.bd-header-article', 'div.highlight pre', '.bd-article a.reference.internal',"
        " 'body'].map((s) => { const c = getComputedStyle(document.querySelector(s));"
        " return [c.backgroundColor, c.color]; })"
    )
    seen = {}
    for scripts in (True, False):
        context = browser.new_context(
            viewport=PHONE, color_scheme=scheme, java_script_enabled=scripts
        )
        page = context.new_page()
        page.goto(site + "chapters/tools.html", wait_until="load")
        seen[scripts] = page.evaluate(colours)
        context.close()
    assert seen[True][0][0] != "rgba(0, 0, 0, 0)"  # the header has a ground to compare
    assert seen[False] == seen[True]


# The mark after each link in the article: [leaves the site, is a picture, ::after's content]
LINK_MARKS = """() => [...document.querySelectorAll('article a[href]')].map(a => [
  a.host !== location.host, !!a.querySelector('img'), getComputedStyle(a, '::after').content])"""

# The widths of the link's paragraph (160 to 360 px, a phone's columns) at which the
# link's mark begins a line of its own, below the link's last letter
MARK_ALONE = """a => {
  const walker = document.createTreeWalker(a, NodeFilter.SHOW_TEXT);
  let last = null;
  while (walker.nextNode()) if (walker.currentNode.data.trim()) last = walker.currentNode;
  const end = last.data.trimEnd().length, letter = document.createRange();
  letter.setStart(last, end - 1);
  letter.setEnd(last, end);
  const block = a.closest('p, li, td'), alone = [];
  for (let width = 160; width <= 360; width += 1) {
    block.style.width = `${width}px`;
    const fragments = a.getClientRects(), mark = fragments[fragments.length - 1];
    if (letter.getBoundingClientRect().bottom <= mark.top + 1) alone.push(width);
  }
  block.style.width = "";
  return alone;
}"""


def test_a_link_that_leaves_the_book_is_marked(site, browser):
    """A link to another site (a paper, another explanation) looked like a link between
    the book's pages. Each now ends in an arrow (nanobook.css) that a screen reader skips:
    the link's name is its text. A link within the book has no arrow, nor has a picture
    that is a link (the start page's screenshot). The arrow never opens a line alone: a
    link whose text ends where a line may break (an address's '/') keeps it on the line
    of its last letter at every width of a phone's column."""
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        for slug, leaving in (("references", 40), ("compare", 8), ("start", 5)):
            page.goto(site + f"{slug}.html")
            marks = page.evaluate(LINK_MARKS)
            marked = [m for m in marks if m[2] != "none"]
            assert all(away and not picture for away, picture, _ in marked), (slug, marks)
            assert len(marked) >= leaving, (slug, marks)
            assert len(marked) == sum(away and not picture for away, picture, _ in marks)
            assert all("↗" in content for *_, content in marked), marked
        page.goto(site + "references.html")
        paper = page.locator("article a[href='https://arxiv.org/abs/1706.03762']")
        assert paper.aria_snapshot().splitlines()[0] == '- link "arXiv:1706.03762":'
        page.goto(site + "compare.html")
        link = page.locator("article a.reference.external").first
        link.evaluate("a => { a.textContent = 'bbycroft.net/llm/'; }")
        assert link.evaluate(MARK_ALONE) == []
    finally:
        context.close()


def test_the_start_pages_screenshot_is_not_dimmed_in_dark_mode(site, browser):
    """The start page's screenshot of a chapter shows the page as it is: the theme dims
    every image in dark mode (brightness and contrast), so the chapter's white ground went
    grey and its code faded. Shown in dark mode, its pixels match the light page's (in
    blocks of 8 px) but for under 1% of the blocks; dimmed, nearly all of them differ."""
    from io import BytesIO

    from PIL import Image, ImageChops

    shown = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.goto(site + "start.html")
            picture = page.locator("figure.nb-screenshot img").first
            picture.evaluate("img => img.scrollIntoView({block: 'start'})")
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
            )
            png = page.screenshot(clip=picture.evaluate(CONTENT_BOX))
            shown[scheme] = Image.open(BytesIO(png)).convert("RGB")
        finally:
            context.close()
    assert shown["light"].size == shown["dark"].size
    blocks = (shown["light"].width // 8, shown["light"].height // 8)
    light, dark = (shown[scheme].resize(blocks, Image.BOX) for scheme in ("light", "dark"))
    difference = ImageChops.difference(light, dark).convert("L")
    changed = difference.point(lambda v: 255 if v > 12 else 0).histogram()[255]
    assert changed < 0.01 * blocks[0] * blocks[1], (changed, blocks)


def test_the_calculators_table_fits_a_phone(site, browser):
    """The calculator widget's table (chapters/tools, what a reader without JavaScript
    reads) has four columns whose completions never break ('<136+044>180.'): at 390 px it
    was 27 px wider than its panel and its calls column scrolled out of view. It fits a
    390 px screen whole, its tool-off twin (under Show) too, and at 1280 px as before."""
    for viewport in (PHONE, {"width": 1280, "height": 900}):
        context = browser.new_context(viewport=viewport, java_script_enabled=False)
        try:
            page = context.new_page()
            page.goto(site + "chapters/tools.html")
            page.locator(".nb-live-tools details.nb-live-reveal > summary").first.click()
            tables = page.locator(".nb-live-tools .nb-live-static table")
            assert tables.count() == 2
            for i in range(2):
                sizes = tables.nth(i).evaluate(
                    "t => ({shown: t.clientWidth, whole: t.scrollWidth, text: t.innerText})"
                )
                assert sizes["shown"] > 0 and sizes["whole"] <= sizes["shown"], (viewport, sizes)
                assert "calls" in sizes["text"], sizes
        finally:
            context.close()


def test_a_heading_that_wraps_on_a_phone_keeps_a_hyphenated_name_whole(site, browser):
    """'11. After GPT-2' broke after 'GPT-' at 390 px, leaving '2' alone on a line under
    the title; headings wrap balanced, so the break falls at the space before 'GPT-2'."""
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(site + "chapters/modern.html")
        lines = page.locator(".bd-article h1").first.evaluate(
            """h => {
                const text = [...h.childNodes].find(
                    n => n.nodeType === 3 && n.data.includes("GPT-2"));
                const range = document.createRange();
                const at = text.data.indexOf("GPT-2");
                range.setStart(text, at);
                range.setEnd(text, at + 5);
                return range.getClientRects().length;
            }"""
        )
        assert lines == 1, f"'GPT-2' is on {lines} lines"
    finally:
        context.close()


def test_an_architecture_diagram_fits_the_column_of_a_1280_px_screen(site, browser):
    """A diagram's widest lines (78 columns, where its header wraps) came 3 px wider than
    the column at 1280 px with the theme's padding, so the After GPT-2 and nGPT diagrams
    scrolled sideways for nothing."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        for chapter in ("modern", "ngpt", "block"):
            page.goto(site + f"chapters/{chapter}.html")
            sizes = page.locator(".arch-diagram pre").evaluate_all(
                "pres => pres.map(p => [p.clientWidth, p.scrollWidth])"
            )
            assert sizes and all(whole <= shown for shown, whole in sizes), (chapter, sizes)
    finally:
        context.close()
