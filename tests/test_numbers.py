"""Every number a chapter states is computed by the build: the prose may not type one in.

A figure in the text must come from a cell, glued in with {glue:text}; numbers inside
code, cell output and mathematics are the computation itself. What remains allowed are
definitions, not measurements: numbers that are part of a name (GPT-2, int64, ln_1, 4C)
and the few listed in DEFINITIONS below.
"""

import re

import pytest
from pages import CHAPTERS, prose, reading

# A number with its own word boundaries: 85,584 or 0.02 or 23.7% or −1, but not the 2 of
# GPT-2, the 64 of int64 or the 4 of 4C (those are names), nor a section number "4.2".
NUMBER = re.compile(r"(?<![\w.\-−])[−-]?\d[\d,]*(?:\.\d+)?%?(?![\w\-]|\.\d)")

# Definitions, not measurements. 0 and 1 and −1: an index, a probability's bounds, greedy
# top_k = 1, the ignore index. 2, 3 and 4 name the operations the text explains ("two
# layers", "expand by 4", the 3 of q, k, v) as digits. 255 and 256: the byte values.
DEFINITIONS = {"0", "1", "−1", "-1", "2", "3", "4", "255", "256"}

# Phrases whose numbers are definitions too: chapter numbers, constants, conventions,
# facts cited from the GPT-2 paper, and the settings an exercise asks the reader to try.
DEFINING_PHRASES = [
    r"[Cc]hapters \d+ to \d+",  # a range of chapters (before the single one below)
    r"[Cc]hapters? \d+",
    r"et al\. \(?\d{4}",  # a citation's year
    r"[A-Z][a-z]+ \(\d{4}\)",  # a single author's citation: Shazeer (2020)
    # a fact about another project carries its date: LLaMA (February 2023), since July 2026,
    # from 2 March to 9 March 2026 (a day, its month and perhaps its year)
    r"(?:\d{1,2} )?(?:January|February|March|April|May|June|July|August|September|October"
    r"|November|December)(?: \d{4})?",
    r"Llama \d+(?:\.\d+)?",  # a model family's version: Llama 3.1, Llama 3.2
    r"e ≈ 2\.7",  # Euler's number
    r"100 %",  # a share's upper bound
    r"multiple of 64",  # nanoGPT's padding of GPT-2's vocabulary
    r"GPT-2(?:'s|’s)? (?:has |table of |)50,?257",  # GPT-2's vocabulary, as published
    r"50,000 merges",  # GPT-2's tokenizer, as published
    r"\(256, 257, …\)|257 =|258 =",  # the worked example's new ids: 256, then one more each
    r"(?:PEFT|PyTorch) \d+\.\d+",  # another project's version, said with its date
    r"τ = 0\.3, 0\.8 and 1\.5",  # sampling exercise: temperatures to try
    r"Generate 200 tokens|plus 200",  # sampling exercise: a length past block_size
    r"only 8 do|draws 8",  # training exercise: the micro-batch size
    r"batch size of 2 and a block size of 8",  # data exercise: a batch small enough to read
    r"weights by 100",  # loss exercise: the factor to try
    r"If you have 15 minutes",  # the heading of the learning path's shortest tour
    r"4 to\s+20 times",  # the nGPT paper's claim, as published (chapter 12 checks it)
    r"Python 3\.11 or later",  # the run box: the package's requirement
    r"standard deviation 0\.02",  # GPT-2's initialisation, as nanoGPT sets it
    r"[Rr]ank [28]\b",  # the fine-tuning chapter's LoRA ranks: settings, not results
    r"Williams 1992",  # REINFORCE's citation
    r"pass@\d+",  # the name of a metric: k is its definition
    r"(?:from|out of) 16 samples",  # the RL exercise: the samples it gives
    # ... and its solution, which counts with them
    r"choosing 8 of the 16 samples|all 8 come from the 14 wrong ones",
    r"a group of 8 right answers",  # the RL exercise: the group it gives
]
DEFINING = re.compile("|".join(DEFINING_PHRASES))
APPENDIX = ["start", "learning-path", "glossary"]  # pages that state the models' numbers too


def typed_numbers(text: str) -> list[str]:
    """The numbers in text that are not definitions, each with some context around it."""
    found = []
    text = DEFINING.sub(" ", text)
    for match in NUMBER.finditer(text):
        number = match.group().rstrip(",")
        if number in DEFINITIONS:
            continue
        found.append(f"{number!r} in …{text[max(0, match.start() - 50) : match.end() + 30]}…")
    return found


@pytest.mark.parametrize("page", [f"chapters/{slug}" for slug in CHAPTERS] + APPENDIX)
def test_prose_types_in_no_numbers(book_html, page):
    found = typed_numbers(prose(book_html / f"{page}.html"))
    assert not found, "typed-in numbers (glue them from a cell):\n" + "\n".join(found)


def test_the_check_finds_a_typed_in_number_and_spares_names():
    text = "GPT-2 has int64 ids, 4C channels and ln_1; it was trained for 240 steps."
    assert [t.split()[0] for t in typed_numbers(text)] == ["'240'"]


def test_a_project_s_month_and_year_are_its_date_not_a_measurement():
    text = (
        "LLaMA (February 2023) kept multi-head attention, Llama 3.2 tied its embeddings, a"
        " cap was 20 from 2 March to 9 March 2026; 2023 alone is a typed number."
    )
    assert [t.split()[0] for t in typed_numbers(text)] == ["'20'", "'2023'"]


def test_only_the_tour_s_heading_may_type_minutes():
    text = "If you have 15 minutes, watch. Budget about 20 minutes per chapter."
    assert [t.split()[0] for t in typed_numbers(text)] == ["'20'"]


# --- glued values read as English --------------------------------------------------------

# what a glued value can make of a sentence that no writer would: a range whose two ends
# print alike ("3 to 3 CPU-seconds": say the value once), a plural hedged with "(s)"
# ("time(s)": count, then pluralise)
UNREAD = {
    "a range whose ends are equal": re.compile(
        r"(?<![\w.,−-])([−-]?\d[\d,]*(?:\.\d+)?)( ?%)? (?:to|–) \1\2?(?![.,]?\d)"
    ),
    "a plural hedged with (s)": re.compile(r"\w\(s\)"),
    # a number below zero printed by format(), not by wording.number: "-0.5", not "−0.5"
    # (a hyphen after a word, a bracket or a colon is a name's or an index's: GPT-2, [:, -1])
    "a hyphen for a minus sign": re.compile(r"(?<![^\s(])-\d[\d,]*(?:\.\d+)?%?(?![\w:\]])"),
}
# a value glued in as nothing: MyST-NB writes the span, empty
EMPTY_GLUE = re.compile(r'<span class="[^"]*\bpasted-text\b[^"]*">\s*</span>')


def unread(text: str) -> list[str]:
    """Each phrase of text that reads like a report, not a book, with some context."""
    return [
        f"{what}: …{text[max(0, m.start() - 60) : m.end() + 30]}…"
        for what, pattern in UNREAD.items()
        for m in pattern.finditer(text)
    ]


@pytest.mark.parametrize("page", [f"chapters/{slug}" for slug in CHAPTERS] + APPENDIX)
def test_glued_values_read_as_english(book_html, page):
    path = book_html / f"{page}.html"
    found = unread(reading(path))
    found += ["an empty glued value"] * len(EMPTY_GLUE.findall(path.read_text(encoding="utf-8")))
    assert not found, "phrases no writer would write:\n" + "\n".join(found)


def test_the_reading_check_finds_equal_ranges_and_hedged_plurals():
    said = (
        "Each run took 3 to 3 CPU-seconds; 12.5 % to 12.5 % of them; seed(s) 1 to 4 and "
        "13 to 3, 3 to 30, 0.5 to 0.55 and 2 to 2.5 are ranges, and GPT-2 to 2 is a name; "
        "a gap of -0.5 (or (-1.2%)), not of −0.5, GPT-2 or x[:, -1] and x[-3:]."
    )
    assert [found.partition(":")[0] for found in unread(said)] == [
        "a range whose ends are equal",
        "a range whose ends are equal",
        "a plural hedged with (s)",
        "a hyphen for a minus sign",
        "a hyphen for a minus sign",
    ]
    assert EMPTY_GLUE.findall(
        '<span class="pasted-text"> </span><span class="pasted-text">3</span>'
    )


# every glued value, as the page paints it: its weight, its parent's, its underline, its
# numerals' underlines (a glued sentence's, ext/computed_marks.py), and whether the
# sentence asked for emphasis (a <strong> around it)
GLUED_STYLES = """() => [...document.querySelectorAll("article p span.pasted-text")].map((e) => {
  const own = getComputedStyle(e);
  const line = (s) => s.textDecorationLine + " " + s.textDecorationStyle;
  return {
    text: e.textContent,
    prose: e.classList.contains("computed-prose"),
    weight: own.fontWeight,
    around: getComputedStyle(e.parentElement).fontWeight,
    underline: line(own),
    numerals: [...e.querySelectorAll("span.computed-number")].map((n) => line(getComputedStyle(n))),
    emphasised: e.closest("strong, b") !== null,
  };
})"""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_computed_values_are_marked_not_bold(book_html, browser, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto((book_html / "chapters" / "ngpt.html").as_uri())
        glued = page.evaluate(GLUED_STYLES)
    finally:
        context.close()
    assert glued
    # the chapter glues short values and whole sentences: both kinds are checked
    assert {value["prose"] for value in glued} == {True, False}
    for value in glued:
        if value["prose"]:  # a glued sentence: its numerals marked, not its words
            assert value["underline"].startswith("none"), value
            assert set(value["numerals"]) <= {"underline dotted"}, value
        else:
            assert value["underline"] == "underline dotted", value
        if not value["emphasised"]:  # as heavy as the words around it
            assert value["weight"] == value["around"], value
