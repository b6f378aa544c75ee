"""ext/computed_marks.py: a glued value keeps its dotted mark, a glued sentence does not
(only the numerals in it do)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from builds import sphinx_build
from docutils import nodes

from ext.computed_marks import LONG, NUMBER, PROSE, mark

ROOT = Path(__file__).parent / "roots" / "test-computed-marks"


def glued(text: str) -> nodes.inline:
    node = nodes.inline(text, text, classes=["pasted-text"])
    nodes.paragraph("", "", node)  # a parent, as in a page
    mark(node)
    return node


def numerals(node: nodes.inline) -> list[str]:
    return [n.astext() for n in node.findall(nodes.inline) if NUMBER in n["classes"]]


def test_a_short_glued_text_keeps_its_mark_whole():
    for text in ("73.4%", "+15.4 ± 1.7 points over 8 seeds", "no difference this book can measure"):
        assert len(text) <= LONG
        node = glued(text)
        assert node["classes"] == ["pasted-text"] and not numerals(node), text
        assert node.astext() == text


def test_a_glued_sentence_marks_only_its_numerals():
    said = (
        "In 7 of 8 seeds GPT-2 sorts −0.5% fewer, 1,200 steps later (3e-08 apart, "
        "log₁₀ +0.61); seed 1337's run is 2.7 times slower."
    )
    node = glued(said)
    assert PROSE in node["classes"]
    assert numerals(node) == ["7", "8", "−0.5%", "1,200", "3e-08", "+0.61", "1337", "2.7"]
    assert node.astext() == said  # the words are all still there, in order


def test_a_power_of_ten_in_a_glued_text_is_one_numeral():
    """wording.power_of_ten writes '3 × 10⁻⁸'; the mark fell on the 3 and on the 10 apart,
    the 10 as if it were a number the build computed and its exponent left unmarked."""
    said = "the losses differ by 3 × 10⁻⁸, 2 × 10⁻⁴ and 1.6 × 10⁻⁷ at steps 5 and 10"
    node = glued(said)
    assert numerals(node) == ["3 × 10⁻⁸", "2 × 10⁻⁴", "1.6 × 10⁻⁷", "5", "10"]
    assert node.astext() == said
    short = glued("1.89 × 10⁻⁴")  # a short value keeps its mark whole, and its one line
    assert not numerals(short) and short.astext() == "1.89 × 10⁻⁴"
    assert [n["classes"] for n in short.findall(nodes.inline)][1:] == [["power-of-ten"]]


def test_the_digit_of_a_name_in_a_glued_text_is_not_marked():
    """The data chapter glues the plays' titles: the 3 of "Henry VI Part 3" is no number
    the build computed, and was marked as one; a numeral that opens its sentence still is."""
    plays = "The Taming of the Shrew, Henry VI Part 3, Richard III, Richard II, The Tempest"
    node = glued(plays)
    assert PROSE in node["classes"] and not numerals(node)
    assert node.astext() == plays
    said = "It ran under Python 3. 12 of 16 runs sorted, the 2 others under Python 3.11"
    assert numerals(glued(said)) == ["12", "16", "2"]


def test_a_glued_sentence_without_numerals_is_not_marked_at_all():
    node = glued("the masked runs are still ahead at the last evaluation of all")
    assert PROSE in node["classes"] and not numerals(node)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    srcdir = tmp_path_factory.mktemp("marks") / "root"
    shutil.copytree(ROOT, srcdir)
    sphinx_build(srcdir, srcdir.parent / "jupyter", "-W")
    return srcdir / "_build"


# each glued text as the page paints it: its underline, and each of its numerals'
MARKS = """() => [...document.querySelectorAll("article span.pasted-text")].map((e) => ({
  text: e.textContent,
  underline: getComputedStyle(e).textDecorationLine,
  numerals: [...e.querySelectorAll("span.computed-number")].map((n) => [
    n.textContent,
    getComputedStyle(n).textDecorationLine + " " + getComputedStyle(n).textDecorationStyle,
  ]),
}))"""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_underlines_a_number_but_not_a_glued_sentence(built, browser, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto((built / "index.html").as_uri())
        marks = page.evaluate(MARKS)
        style = page.evaluate(
            "getComputedStyle(document.querySelector('article span.pasted-text'))"
            ".textDecorationStyle"
        )
    finally:
        context.close()
    by_text = {m["text"]: m for m in marks}
    assert by_text["73.4%"]["underline"] == "underline" and style == "dotted"
    assert by_text["no difference this book can measure"]["underline"] == "underline"
    sentence = next(m for m in marks if m["text"].startswith("It sorts"))
    assert sentence["underline"] == "none"
    assert sentence["numerals"] == [["73.4%", "underline dotted"], ["1,200", "underline dotted"]]
