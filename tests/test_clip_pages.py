"""The book's clips as a reader and a README meet them: posters, captions, transcripts,
the film's chapters, stable URLs and the Embed box, in the draft build (``book_html``)
and in chromium."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import av
import pytest
from pages import CHAPTERS, Page
from PIL import Image, ImageChops, ImageStat
from test_site import context, site  # noqa: F401  (fixtures)


def _figure(book_html: Path, slug: str) -> str:
    html = (book_html / "chapters" / f"{slug}.html").read_text()
    after = html.split(f'<figure class="manim-clip" id="ch-{slug}-clip">', 1)[1]
    return after.split("</figure>", 1)[0]


def _clip_file(book_html: Path, figure: str, pattern: str) -> Path:
    return book_html / "_clips" / re.search(pattern, figure).group(1)


def _last_frame(mp4: Path) -> Image.Image:
    """The clip's last frame, decoded from its last keyframe on (the seek lands on the
    keyframe at or before the end): the same frame as decoding the whole clip gives."""
    with av.open(str(mp4)) as container:
        container.seek(container.duration)
        for frame in container.decode(video=0):
            last = frame
        return last.to_image()


def test_each_poster_is_its_own_telling_frame(book_html):
    digests = set()
    for slug in CHAPTERS:
        figure = _figure(book_html, slug)
        poster = _clip_file(book_html, figure, r'poster="\.\./_clips/([^"]+)"')
        mp4 = _clip_file(book_html, figure, r'<source src="\.\./_clips/([^"]+\.mp4)"')
        with Image.open(poster) as image:
            frame, image_format = image.convert("RGB"), image.format
        # not the takeaway card the clip ends on
        difference = ImageStat.Stat(ImageChops.difference(frame, _last_frame(mp4))).mean
        assert sum(difference) / 3 > 4, f"{slug}: the poster is the last frame"
        assert image_format == "WEBP"
        digests.add(hashlib.sha256(frame.tobytes()).hexdigest())
        # and the page's share image is that poster
        page = Page()
        page.feed((book_html / "chapters" / f"{slug}.html").read_text())
        assert page.meta["og:image"].endswith(f"/_clips/{poster.name}"), slug
    assert len(digests) == len(CHAPTERS), "every chapter's poster is its own"


def test_stable_aliases_are_the_hashed_files(book_html):
    for slug in CHAPTERS:
        figure = _figure(book_html, slug)
        for suffix, pattern in (
            ("mp4", r'<source src="\.\./_clips/([^"]+\.mp4)"'),
            ("webp", r'poster="\.\./_clips/([^"]+\.webp)"'),
        ):
            hashed = _clip_file(book_html, figure, pattern)
            alias = book_html / "_clips" / f"ch-{slug}-clip.{suffix}"
            assert alias.read_bytes() == hashed.read_bytes(), alias
        captions = book_html / "_clips" / f"ch-{slug}-clip.vtt"
        assert captions.read_text().startswith("WEBVTT\n\n1\n00:00:00.000 --> ")
        embed = re.search(r"<textarea[^>]*>([^<]+)</textarea>", figure).group(1)
        assert re.fullmatch(
            rf"\[!\[[^\]]+\]\(https://\S+/_clips/ch-{slug}-clip\.(gif|webp)\)\]"
            rf"\(https://\S+/chapters/{slug}\.html#ch-{slug}-clip\)",
            embed,
        ), embed


def test_each_clip_has_a_transcript(book_html):
    for slug in CHAPTERS:
        figure = _figure(book_html, slug)
        transcript = figure.split('<details class="manim-clip-transcript">', 1)[1]
        time = r'<a [^>]*data-seek="[\d.]+"[^>]*>\d+:\d\d</a>'  # a link that seeks
        lines = re.findall(rf'<li><span class="manim-clip-time">{time}</span> ', transcript)
        assert len(lines) >= 2, slug  # at least the title and the takeaway
        assert "Takeaway: " in transcript


def _wait_for_cues(page, video, kind: str) -> int:
    """The number of cues of the video's ``kind`` track, once the reader reaches for it."""
    video.hover()
    return page.wait_for_function(
        """([v, kind]) => {
             const track = [...v.textTracks].find(t => t.kind === kind);
             if (track.mode === "disabled") track.mode = "hidden";  // chapters load on demand
             return v.readyState >= 1 && track.cues && track.cues.length;
           }""",
        arg=[video.element_handle(), kind],
    ).json_value()


@pytest.mark.browser
@pytest.mark.parametrize("served", [True, False], ids=["http", "file"])
def test_captions_load(book_html, site, context, served):  # noqa: F811
    page = context.new_page()
    base = site if served else book_html.as_uri() + "/"
    page.goto(base + "chapters/attention.html")
    assert _wait_for_cues(page, page.locator("video").first, "captions") > 3


@pytest.mark.browser
def test_captions_show_under_the_picture_not_over_it(site, context):  # noqa: F811
    page = context.new_page()
    page.goto(site + "chapters/attention.html")
    video = page.locator("figure#ch-attention-clip video")
    below = page.locator("figure#ch-attention-clip .manim-clip-cues")
    track = "v => [...v.textTracks].find(t => t.kind === 'captions')"
    shown = below.locator("p.manim-clip-cue-active")
    caption = page.locator("figure#ch-attention-clip .manim-clip-caption")
    # the player draws none over the scene's legends; under it, one line: the clip's
    # caption until it plays, in the cell the cues share with it
    assert video.evaluate(f"v => ({track})(v).mode") == "hidden"
    expect_first = video.evaluate(f"v => ({track})(v).cues[0].text")
    assert shown.text_content() == expect_first and expect_first.startswith("Attention")
    assert caption.is_visible() and not shown.is_visible()
    clip, space = video.bounding_box(), below.bounding_box()
    assert space["y"] >= clip["y"] + clip["height"] - 1
    assert caption.bounding_box()["y"] == space["y"]  # one line, not two stacked
    assert below.get_attribute("aria-hidden") == "true"  # the transcript says it to readers
    # playing, the line follows the clip's cues, in the space the longest one needs
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        f"v => {{ const t = ({track})(v); "
        "return t.activeCues.length && t.activeCues[0] !== t.cues[0]; }",
        arg=video.element_handle(),
        timeout=15_000,
    )
    active = video.evaluate(f"v => ({track})(v).activeCues[0].text")
    page.wait_for_function(
        "([box, text]) => box.querySelector('.manim-clip-cue-active').textContent === text",
        arg=[below.element_handle(), active],
    )
    assert shown.count() == 1 and shown.is_visible() and not caption.is_visible()
    assert below.bounding_box()["height"] == space["height"]
    # "Off" in the player's menu takes them away here too
    video.evaluate(f"v => {{ ({track})(v).mode = 'disabled'; }}")
    page.wait_for_function("box => box.hidden", arg=below.element_handle())


@pytest.mark.browser
def test_no_0_00_and_no_volume_button_before_play(site, context):  # noqa: F811
    page = context.new_page()
    page.goto(site + "chapters/attention.html")
    page.wait_for_load_state("networkidle")
    video = page.locator("video").first
    time = "-webkit-media-controls-current-time-display"
    # nothing of the clip loads with the page, and the player's "0:00" is hidden ...
    assert video.evaluate("v => v.readyState") == 0
    assert set(_media_control_display(page, time)) == {"none"}
    # ... until the reader reaches for it: then the length, from the clip itself
    video.hover()
    page.wait_for_function("v => v.readyState >= 1", arg=video.element_handle())
    assert video.evaluate("v => v.paused && v.duration") > 5
    assert "block" in _media_control_display(page, time)
    # the clips are silent: no volume button, before or after
    mute = _media_control_display(page, "-webkit-media-controls-mute-button")
    assert mute and set(mute) == {"none"}, mute


def _media_control_display(page, pseudo: str) -> list[str]:
    """The CSS display of the video's own control ``pseudo`` (inside its closed shadow)."""
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    cdp.send("CSS.enable")  # after DOM's: it needs the DOM agent
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        attributes = node.get("attributes", [])
        if dict(zip(attributes[::2], attributes[1::2], strict=True)).get("pseudo") == pseudo:
            style = cdp.send("CSS.getComputedStyleForNode", {"nodeId": node["nodeId"]})
            found += [p["value"] for p in style["computedStyle"] if p["name"] == "display"]
        stack += node.get("children", []) + node.get("shadowRoots", [])
    return found


@pytest.mark.browser
def test_the_film_has_a_chapter_per_stage(book_html, site, context):  # noqa: F811
    page = context.new_page()
    page.goto(site + "chapters/overview.html")
    film = page.locator("video").last
    assert _wait_for_cues(page, film, "chapters") == len(CHAPTERS)
    titles = film.evaluate(
        "v => [...[...v.textTracks].find(t => t.kind === 'chapters').cues].map(c => c.text)"
    )
    assert titles[4] == "4. Attention", titles


@pytest.mark.browser
def test_the_embed_box_copies_by_keyboard_without_clipboard_permission(site, context):  # noqa: F811
    page = context.new_page()
    page.goto(site + "chapters/attention.html")
    summary = page.locator("figure#ch-attention-clip details.manim-clip-embed summary")
    summary.focus()
    page.keyboard.press("Enter")
    field = page.locator("#ch-attention-clip-embed")
    assert field.is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "ch-attention-clip-embed"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "manim-clip-copy"
    page.keyboard.press("Enter")
    status = page.locator("figure#ch-attention-clip .manim-clip-copy-status")
    page.wait_for_function("s => s.textContent.length > 0", arg=status.element_handle())
    # copied, or at least selected for Ctrl+C: either way the Markdown is what is picked
    selected = field.evaluate("f => f.value.slice(f.selectionStart, f.selectionEnd)")
    assert selected.startswith("[![") and selected == field.input_value()
