"""What the tests read from built pages: the chapters in order, a page's links, ids, meta
tags and headings, and its live widgets; in chromium, a page checked for uncaught
exceptions, a live widget once it has loaded, and what its live regions say."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

# The book's outline, in navigation order: docs/chapters/<slug>.md.
CHAPTERS = [
    "overview",
    "data",
    "tokenizer",
    "embeddings",
    "attention",
    "mlp",
    "block",
    "loss",
    "training",
    "sampling",
    "scale",
    "modern",
    "ngpt",
    "finetuning",
    "tools",
    "rl",
]


class Page(HTMLParser):
    """The parts of a page these tests read: links, ids, meta tags, headings."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.meta: dict[str, str] = {}
        self.canonical: str | None = None
        self.headings: list[tuple[str, str | None]] = []  # (section id, headerlink href)
        self.posters: list[tuple[str, str]] = []  # (poster, aria-label) of each <video>
        self._section_ids: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "section" and attrs.get("id"):
            self._section_ids.append(attrs["id"])
        if tag in {"a", "link", "script", "img", "source", "video"}:
            for name in ("href", "src", "poster"):
                if attrs.get(name):
                    self.links.append(attrs[name])
        if tag == "video" and attrs.get("poster"):
            self.posters.append((attrs["poster"], attrs.get("aria-label", "")))
        if tag == "link" and attrs.get("rel") == "canonical":
            self.canonical = attrs["href"]
        if tag == "meta" and (key := attrs.get("property") or attrs.get("name")):
            self.meta[key] = attrs.get("content", "")
        if tag in {"h1", "h2", "h3"} and self._section_ids:
            self._in_heading = True
            self.headings.append((self._section_ids[-1], None))
        if tag == "a" and self._in_heading and "headerlink" in attrs.get("class", ""):
            self.headings[-1] = (self.headings[-1][0], attrs.get("href"))

    def handle_endtag(self, tag):
        if tag in {"h1", "h2", "h3"}:
            self._in_heading = False


def signed(number: str | float) -> float:
    """A number as a page prints it: a minus sign (−), not a hyphen, below zero; ∞ too."""
    return float(str(number).replace("−", "-").replace("∞", "inf"))


def parse(page: Path) -> Page:
    parser = Page()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


# what Prose leaves out: code cells and their output, glued values, mathematics, code
# listings, annotated source's line numbers, cross-references' titles, the live
# widgets' static renderings (tables the build computed with the model) and a module
# diagram's text for screen readers (the drawing again, from the same trace)
SKIPPED_CLASSES = frozenset(
    [
        "cell",
        "pasted-text",
        "math",
        "highlight",
        "headerlink",
        "as-where",
        "as-note-lines",
        "std-ref",
        "nb-live-static",
        "arch-diagram-text",
    ]
)
SKIPPED_TAGS = frozenset(
    ["code", "pre", "script", "style", "nav", "header", "footer", "h1", "video"]
)
VOID_TAGS = frozenset(("br", "img", "hr", "meta", "link", "input", "source", "wbr"))


class Prose(HTMLParser):
    """The words of a chapter a reader reads as text: paragraphs, lists, tables, captions,
    exercise solutions and the notes beside annotated source. Left out: code (cells,
    their output, inline code, listings), mathematics, a clip's description (its
    fallback text inside <video>), the line numbers of annotated source, the titles that
    cross-references show, the values the build glued in (MyST-NB's pasted text), which
    are computed by definition, and what a module diagram tells screen readers (its
    drawing again, made from the same trace)."""

    skipped_classes = SKIPPED_CLASSES

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._stack: list[bool] = []  # per open element: is it (or an ancestor) skipped?
        self._in_article = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article":
            self._in_article = True
        if tag in VOID_TAGS:
            return  # void elements have no end tag
        classes = set((attrs.get("class") or "").split())
        skipped = bool(self._stack and self._stack[-1])
        self._stack.append(skipped or tag in SKIPPED_TAGS or bool(classes & self.skipped_classes))

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        if self._stack:
            self._stack.pop()
        if tag == "article":
            self._in_article = False

    def handle_data(self, data):
        if self._in_article and not (self._stack and self._stack[-1]):
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def prose(page: Path) -> str:
    parser = Prose()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.text


class Reading(Prose):
    """The prose as a reader reads it: with the values the build glued into it."""

    skipped_classes = SKIPPED_CLASSES - {"pasted-text"}


def reading(page: Path) -> str:
    parser = Reading()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.text


LIVE_SECTION = re.compile(r"<section ([^>]*class=\"nb-live[^>]*)>")
# an attribute in double quotes, or in single ones (data-live's JSON)
ATTRIBUTE = re.compile(r"([\w-]+)=(?:\"([^\"]*)\"|'([^']*)')")


def live_widgets(text: str) -> list[dict]:
    """Each live widget of a page's HTML: its section's attributes, data-live read as JSON."""
    found = []
    for section in LIVE_SECTION.finditer(text):
        attributes = {name: html.unescape(a or b) for name, a, b in ATTRIBUTE.findall(section[1])}
        if "data-live" in attributes:
            attributes["data-live"] = json.loads(attributes["data-live"])
        found.append(attributes)
    return found


def widget_settings(text: str) -> list[dict]:
    """The settings (data-live) of each live widget of a page's HTML that has them."""
    return [widget["data-live"] for widget in live_widgets(text) if "data-live" in widget]


def loaded_widget(widget, timeout: int = 60_000):
    """A live widget in chromium (a Playwright locator), scrolled into view, once its model
    (or replay) has loaded and it shows its body in place of the static rendering."""
    widget.scroll_into_view_if_needed()
    widget.locator(".nb-live-body:not([hidden])").wait_for(timeout=timeout)
    return widget


def page_without_uncaught_exceptions(browser, address: str):
    """For a fixture to yield from: the page at ``address`` in a browser context of its own;
    at the fixture's end, checks that no script on it threw, then closes the context."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(address)
    yield page
    assert not errors, errors
    context.close()


# Run in a page, it records each later change of the page's live regions in window.heard:
# [its aria-live then, the region's class, its widget's class, its text].
LISTEN_TO_LIVE_REGIONS = """() => { window.heard = [];
  const live = (e) => e.getAttribute("aria-live")
    ?? ({ status: "polite", log: "polite", alert: "assertive" }[e.getAttribute("role")] ?? null);
  new MutationObserver((records) => { for (const r of records) {
    let e = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    while (e && live(e) === null) e = e.parentElement;
    if (e) window.heard.push(
      [live(e), e.className, (e.closest(".nb-live") || e).className, e.textContent]);
  } }).observe(document.body, { childList: true, characterData: true, subtree: true }); }"""


# JSON has no NaN, no infinities and no undefined (it would write null, or drop the key):
# a result holding one fails rather than reach a check as None, as absent or as equal.
FINITE_ONLY = """(key, value) => {
  if (value === undefined || (typeof value === "number" && !Number.isFinite(value)))
    throw new TypeError(`${key}: ${value} has no JSON`);
  return value;
}"""


def evaluate_in_json(page, script: str, argument=None):
    """page.evaluate(script, argument), the argument and the result each carried as one
    JSON string: Playwright checks and converts each number of a plain one by itself,
    seconds of CPU for a model's weights, a forward pass's logits or a run's records.
    JSON keeps every float64 exactly (the shortest digits that read back as the same
    number, both ways)."""
    carried = f"async (text) => JSON.stringify(await ({script})(JSON.parse(text)), {FINITE_ONLY})"
    return json.loads(page.evaluate(carried, json.dumps(argument, allow_nan=False)))
