"""Reading the book's annotated source in a real browser, at the widths readers use.

Every line of code is measured where it is painted: its text must lie inside every box
that clips it and inside the window, and be the topmost thing at its own pixels (not
under the shapes' column, the page contents or anything else). The keyboard part
checks that a listing is one Tab stop, walked with the arrow keys, with a focus ring
one can see.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pages import CHAPTERS

pytestmark = pytest.mark.browser

# The readers' widths, by colour scheme: a laptop, a desktop and a wide desktop in the
# light, and a phone in the dark. Each chapter is loaded once per scheme and measured at
# each of its widths in turn, the window resized in between: its CSS lays it out again as
# a load at the new width would (no script places anything by the window's width: the
# live widgets draw inside their boxes by theirs, the theme marks the contents' link in
# view), and loading a chapter again cost about as much as measuring it.
WIDTHS = {"light": (1280, 1440, 1920), "dark": (390,)}


def chapters_with_listings(book_html: Path) -> list[Path]:
    pages = [book_html / "chapters" / f"{slug}.html" for slug in CHAPTERS]
    found = [page for page in pages if 'class="annotated-source' in page.read_text()]
    if not found:
        pytest.skip("no chapter has annotated source yet")
    return found


# Scrolls the page a window at a time and measures every line of every listing (folds
# opened) once it is on screen below the sticky header: the text of its code and of its
# shapes, one rectangle per painted fragment.
MEASURE_LINES = """async () => {
  const frame = () => new Promise((done) => requestAnimationFrame(done));
  const frames = async () => { await frame(); await frame(); };
  document.querySelectorAll("details.as-fold").forEach((fold) => (fold.open = true));
  const header = document.querySelector(".bd-header");
  const top = () => (header ? Math.max(0, header.getBoundingClientRect().bottom) : 0) + 1;
  const contents = document.querySelector(".bd-sidebar-secondary");
  const article = document.querySelector("article") || document.body;
  const problems = [];
  const name = (line) => `line ${line.dataset.line} (${line.id}) ` +
    `“${line.querySelector(".as-src").textContent.trim().slice(0, 50)}”`;
  const describe = (e) =>
    e ? `${e.tagName.toLowerCase()}.${[...e.classList].join(".")}` : "nothing";

  const style = getComputedStyle(article);
  const columnRight = article.getBoundingClientRect().right - parseFloat(style.paddingRight);
  for (const block of document.querySelectorAll(".annotated-source")) {
    const right = block.getBoundingClientRect().right;
    if (right > columnRight + 0.5) {
      problems.push(`listing ${block.id} is wider than the text column ` +
        `(right edge ${Math.round(right)} px, column ${Math.round(columnRight)} px)`);
    }
  }

  const clippers = (element) => {
    const boxes = [];
    for (let e = element.parentElement; e && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.overflowX !== "visible" || s.overflowY !== "visible") boxes.push(e);
    }
    return boxes;
  };
  // Each word's boxes (one per painted piece): a space hanging past a wrapped line's
  // edge is no hidden code.
  const wordRects = (element) => {
    const rects = [];
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      for (const word of text.data.matchAll(/\\S+/g)) {
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        rects.push(...[...range.getClientRects()].filter((r) => r.width > 0.5 && r.height > 0.5));
      }
    }
    return rects;
  };
  const check = (line, part, what) => {
    const boxes = clippers(part);
    for (const rect of wordRects(part)) {
      for (const box of boxes) {
        const b = box.getBoundingClientRect();
        if (rect.left < b.left - 0.5 || rect.right > b.right + 0.5 ||
            rect.top < b.top - 0.5 || rect.bottom > b.bottom + 0.5) {
          return `${name(line)}: its ${what} is cut by ${describe(box)} ` +
            `(text ${Math.round(rect.left)}–${Math.round(rect.right)} px, ` +
            `box ${Math.round(b.left)}–${Math.round(b.right)} px)`;
        }
      }
      if (rect.left < -0.5 || rect.right > document.documentElement.clientWidth + 0.5) {
        return `${name(line)}: its ${what} runs out of the window (${Math.round(rect.right)} px)`;
      }
      const y = rect.top + rect.height / 2;
      for (const x of [rect.left + 1, (rect.left + rect.right) / 2, rect.right - 1]) {
        const hit = document.elementFromPoint(x, y);
        if (!hit || !part.contains(hit)) {
          return `${name(line)}: its ${what} is covered at x = ${Math.round(x)} px ` +
            `by ${describe(hit)}`;
        }
      }
    }
    return null;
  };

  const lines = [...document.querySelectorAll(".annotated-source .as-line")];
  const pending = new Set(lines.filter((line) => line.checkVisibility()));
  const hidden = lines.length - pending.size;
  if (hidden) problems.push(`${hidden} lines are not shown even with every fold open`);
  let contentsHidden = false;
  for (let step = 0; pending.size && step < 1000; step += 1) {
    const first = pending.values().next().value;
    first.scrollIntoView({ block: "start", behavior: "instant" });
    window.scrollBy({ top: -top(), behavior: "instant" });
    await frames();
    const panel = contents && contents.getBoundingClientRect();
    const laidOut = panel && panel.width > 0 && panel.left < window.innerWidth;  // not a drawer
    if (laidOut && contents.classList.contains("hide") && !contentsHidden) {
      contentsHidden = true;
      const block = first.closest(".annotated-source").id;
      problems.push(`the page contents collapse while ${block} is on screen`);
    }
    let measured = 0;
    for (const line of [...pending]) {
      const box = line.getBoundingClientRect();
      if (box.top < top() - 0.5 || box.bottom > window.innerHeight) continue;
      pending.delete(line);
      measured += 1;
      for (const [selector, what] of [[".as-src", "code"], [".as-shape", "shapes"]]) {
        const part = line.querySelector(selector);
        const problem = part && check(line, part, what);
        if (problem) problems.push(problem);
      }
    }
    if (!measured) {  // taller than the window: measured where it stands
      pending.delete(first);
      problems.push(`${name(first)} is taller than the window`);
    }
  }
  return { lines: lines.length, problems };
}"""


@pytest.mark.parametrize(
    "scheme", WIDTHS, ids=[f"{'-'.join(map(str, WIDTHS[s]))}-{s}" for s in WIDTHS]
)
def test_every_line_of_source_is_in_sight(book_html, browser, scheme):
    widths = WIDTHS[scheme]
    context = browser.new_context(viewport={"width": widths[0], "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        problems, measured = {width: [] for width in widths}, dict.fromkeys(widths, 0)
        for path in chapters_with_listings(book_html):
            page.goto(path.as_uri())
            for width in widths:
                page.set_viewport_size({"width": width, "height": 900})
                result = page.evaluate(MEASURE_LINES)
                measured[width] += result["lines"]
                problems[width] += [f"{path.name}: {problem}" for problem in result["problems"]]
        assert all(measured.values()), measured
        said = [
            f"at {width} px, {len(problems[width])} problems in {measured[width]} lines:\n"
            + "\n".join(problems[width])
            for width in widths
            if problems[width]
        ]
        assert not said, "\n".join(said)
    finally:
        context.close()


# --- the keyboard ---------------------------------------------------------------------------

# The focused element, where it is, and whether its focus ring shows: an outline or a box
# shadow at least 2 px wide whose colour differs from the background by 3:1 or more.
FOCUSED = """() => {
  const e = document.activeElement;
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92
                                      : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  let background = [255, 255, 255];
  for (let p = e; p; p = p.parentElement) {
    const c = rgb(getComputedStyle(p).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { background = c; break; }
  }
  const s = getComputedStyle(e);
  let ring = 0, colour = null;
  if (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) {
    ring = parseFloat(s.outlineWidth);
    colour = rgb(s.outlineColor);
  } else if (s.boxShadow !== "none") {
    const spread = s.boxShadow.match(/(-?[\\d.]+)px\\s*(?:inset)?\\s*$/);
    ring = spread ? Math.abs(parseFloat(spread[1])) : 0;
    colour = rgb(s.boxShadow);
  }
  const [light, dark] = colour ? [lum(colour), lum(background)].sort((x, y) => y - x) : [0, 0];
  const contrast = colour ? (light + 0.05) / (dark + 0.05) : 0;
  const block = e.closest(".annotated-source");
  const rows = e.closest(".as-rows");
  return {
    id: e.id, tag: e.tagName, classes: [...e.classList], label: e.getAttribute("aria-label"),
    role: e.getAttribute("role"), block: block && block.id, inRows: !!rows,
    ring, contrast, focusVisible: e.matches(":focus-visible"),
  };
}"""


# After a Tab: null when the focus has come back to the first stop, else FOCUSED (one
# call for both, a Tab stop at a time)
NEXT_STOP = f"""() => {{ const e = document.activeElement, seen = window.__stops;
  const again = seen.length > 1 && e === seen[0] && seen.at(-1) !== e;
  seen.push(e); return again ? null : ({FOCUSED})(); }}"""


def _walk_tab_stops(page, limit: int = 800) -> list[dict]:
    """Every Tab stop of the page once, from the top."""
    page.evaluate("window.__stops = []")
    page.locator("body").focus()
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(NEXT_STOP)
        if stop is None:
            return stops
        stops.append(stop)
    pytest.fail(f"Tab did not come back to the first stop in {limit} presses")


def test_a_listing_is_one_tab_stop_walked_with_the_arrow_keys(book_html, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto((book_html / "chapters" / "attention.html").as_uri())
        listings = page.locator(".annotated-source").evaluate_all("bs => bs.map(b => b.id)")
        assert listings

        stops = _walk_tab_stops(page)
        in_rows = [stop for stop in stops if stop["inRows"]]
        per_listing = {block: sum(s["block"] == block for s in in_rows) for block in listings}
        assert per_listing == dict.fromkeys(listings, 1), per_listing
        for stop in in_rows:
            assert stop["focusVisible"] and stop["ring"] >= 2 and stop["contrast"] >= 3, stop

        # Inside a listing: Down walks notes and lines in reading order, End and Home
        # jump to the ends, every stop shows its ring, a line says its number and code.
        block = page.locator(f"#{listings[1]}")
        order = block.evaluate(
            """b => [...b.querySelectorAll(
                '.as-note, .as-note a:not(.as-note-lines), .as-line, .as-fold > summary')]
              .filter(e => e.tagName === 'SUMMARY' || !e.closest('summary'))
              .filter(e => e.checkVisibility()).map(e => e.id || e.textContent.trim())"""
        )
        block.locator(".as-rows [tabindex='0']").focus()
        page.keyboard.press("Home")
        walked = []
        for _ in range(len(order)):
            focused = page.evaluate(FOCUSED)
            assert focused["block"] == listings[1]
            assert focused["ring"] >= 2 and focused["contrast"] >= 3, focused
            if "as-line" in focused["classes"]:
                assert re.match(r"Line \d+: \S", focused["label"]), focused
                assert focused["role"] == "group"
            text = page.evaluate("document.activeElement.textContent.trim()")
            walked.append(focused["id"] or text)
            page.keyboard.press("ArrowDown")
        assert walked == order
        assert page.evaluate(FOCUSED)["id"] == order[-1]  # Down at the end stays
        page.keyboard.press("Home")
        assert page.evaluate(FOCUSED)["id"] == order[0]
        page.keyboard.press("End")
        assert page.evaluate(FOCUSED)["id"] == order[-1]
        page.keyboard.press("ArrowUp")
        assert page.evaluate(FOCUSED)["id"] == order[-2]

        # Tab leaves from wherever the reader is; Shift+Tab comes back to that place.
        page.keyboard.press("Tab")
        assert not page.evaluate(FOCUSED)["inRows"]
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(FOCUSED)["id"] == order[-2]

        # Every listing's "Skip the listing" link is the Tab stop before it, shown when
        # focused; Enter takes the keyboard past the listing.
        skips = [s for s in stops if "as-skip" in s["classes"]]
        assert [s["block"] for s in skips] == listings
        assert all(s["focusVisible"] and s["ring"] >= 2 and s["contrast"] >= 3 for s in skips)
        skip = block.locator("a.as-skip")
        skip.focus()
        assert skip.evaluate("e => e.getBoundingClientRect().width > 40")  # seen, not clipped
        page.keyboard.press("Enter")
        target = skip.get_attribute("href")
        assert page.evaluate("() => document.activeElement.id") == target[1:]
        page.keyboard.press("Shift+Tab")  # the listing's own stop is just before its end
        assert page.evaluate(FOCUSED)["block"] == listings[1]
        assert page.evaluate(
            "([id, block]) => document.getElementById(id).previousElementSibling.id === block",
            [target[1:], listings[1]],
        )
    finally:
        context.close()


def test_folded_lines_join_the_walk_when_opened(book_html, browser):
    folded = [
        path
        for path in chapters_with_listings(book_html)
        if '<details class="as-fold">' in path.read_text()
    ]
    if not folded:
        pytest.skip("no listing folds a stretch of code")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(folded[0].as_uri())
        summary = page.locator("details.as-fold > summary").first
        fold_id = summary.evaluate("s => s.parentElement.closest('.annotated-source').id")
        summary.evaluate("s => s.focus()")  # the arrow keys' way there, shortened
        hidden_first = summary.evaluate(
            "s => s.parentElement.querySelector(':scope > .as-line').id"
        )
        page.keyboard.press("ArrowDown")
        assert page.evaluate(FOCUSED)["id"] != hidden_first  # closed: its lines are skipped
        page.keyboard.press("ArrowUp")
        assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
        page.keyboard.press("Enter")
        page.keyboard.press("ArrowDown")
        assert page.evaluate(FOCUSED)["id"] == hidden_first  # open: they are walked
        # Closing the fold over the reader's place hands the Tab stop to its summary.
        summary.evaluate("s => { s.parentElement.open = false; }")
        tabbable = f"#{fold_id} .as-rows [tabindex='0']"
        page.wait_for_function(
            "selector => document.querySelector(selector)?.tagName === 'SUMMARY'", arg=tabbable
        )
        assert page.locator(tabbable).count() == 1
    finally:
        context.close()
