"""The front page shows what the book is in one screen: a first paragraph that names
both parts, a clip's poster linking to the clip, and links to four widgets to try; the
table of contents is the sidebar's alone."""

from __future__ import annotations

import re
from pathlib import Path

from pages import parse

DOCS = Path(__file__).resolve().parent.parent / "docs"
INDEX = DOCS / "index.md"
LABEL = re.compile(r"^\(([\w:.-]+)\)=\s*$", re.M)
REF = re.compile(r"\{ref\}`(?:[^`<]*<)?([\w:.-]+)>?`")
POSTER = re.compile(
    r'<a href="chapters/(\w+)\.html#([\w-]+)"><img [^>]*?src="(_clips/([\w-]+)\.webp)"'
)
# The widgets to try, by the label of the section that holds them.
WIDGETS = {
    "ch-attention-live": "live-attention",
    "ch-training-live": "live-training",
    "ch-tools-live": "live-tools",
    "ch-rl-live": "live-training",
}


def section(label: str) -> str:
    """A page's text from the label to the next label."""
    for path in (DOCS / "chapters").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        if f"\n({label})=\n" in text:
            return LABEL.split(text.split(f"\n({label})=\n", 1)[1], 1)[0]
    raise AssertionError(f"no page has the label {label}")


def test_every_link_of_the_front_page_has_its_target():
    pages = [p for p in DOCS.rglob("*.md") if "_build" not in p.parts]
    labels = {label for p in pages for label in LABEL.findall(p.read_text(encoding="utf-8"))}
    refs = REF.findall(INDEX.read_text(encoding="utf-8"))
    assert refs and set(refs) <= labels, set(refs) - labels


def test_the_picture_is_a_clips_stable_poster_linking_to_the_clip():
    page, anchor, _, name = POSTER.search(INDEX.read_text(encoding="utf-8")).groups()
    chapter = (DOCS / "chapters" / f"{page}.md").read_text(encoding="utf-8")
    # the build publishes a named clip's poster as _clips/<name>.webp (visitors.alias_of)
    clip = re.search(r"```\{manim-clip\}[^`]*?\n:name: " + re.escape(name) + r"\n", chapter)
    assert clip and anchor == name


def test_the_first_paragraph_names_both_parts_and_the_widgets_follow():
    text = INDEX.read_text(encoding="utf-8")
    paragraphs = text.split("\n\n")
    first = paragraphs[1]  # after the label and the title
    # the sidebar's captions for the two parts, as the paragraph names them
    captions = re.findall(r"^:caption: (.+)$", text, re.M)
    for part in ("The pipeline", "From model to assistant"):
        assert part in captions and f"*{part}*" in " ".join(first.split()), part
    assert {"ch-finetuning", "ch-tools", "ch-rl"} <= set(REF.findall(first))
    try_it = next(p for p in paragraphs if p.startswith("- "))
    assert set(REF.findall(try_it)) == set(WIDGETS)
    for label, directive in WIDGETS.items():
        assert f"```{{{directive}}}" in section(label), label


def test_the_table_of_contents_is_in_the_sidebar_only():
    toctrees = re.findall(r"```\{toctree\}\n((?::[^\n]*\n)*)", INDEX.read_text(encoding="utf-8"))
    assert toctrees and all(":hidden:" in options for options in toctrees)


def test_the_built_front_page(book_html):
    page = book_html / "index.html"
    text = page.read_text(encoding="utf-8")
    article = text.split("<article", 1)[1].split("</article>", 1)[0]
    assert "toctree-l1" not in article  # the sidebar lists the chapters, the page does not
    assert (book_html / POSTER.search(text).group(3)).is_file()
    for label in WIDGETS:
        (link,) = [link for link in parse(page).links if link.endswith(f"#{label}")]
        assert label in parse(book_html / link.split("#")[0]).ids, link
