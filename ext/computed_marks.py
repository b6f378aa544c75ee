"""The dotted mark on what the build computed and glued into the text, kept short.

A reader is told (start.md) that a number the build computed and wrote into a sentence
is underlined with dots: nanobook.css underlines every ``span.pasted-text``, MyST-NB's
span around a glued value. A number, a statistic or a few computed words wear that mark
well. A glued clause or sentence does not: underlined whole, across one line or several,
it reads as a link or an error, and the numbers in it no longer stand out. So a glued
text longer than ``LONG`` characters is computed prose: it gets the class
``computed-prose``, which drops the underline, and each numeral in it a span of class
``computed-number``, which keeps it (not the digit of a name: "Henry VI Part 3"). The
mark still says which numbers were computed.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

GLUED = "pasted-text"  # MyST-NB's class for a glued text
PROSE, NUMBER = "computed-prose", "computed-number"
# Longer than this, a glued text is prose: the longest glued statistics (a mean ± its
# spread "over 8 seeds") stay under it, a glued clause or sentence does not. On a 390 px
# phone a line holds about 40 characters, so a mark this long wraps at most once.
LONG = 40
# A numeral as the prose writes one: a sign, digits with thousands commas, a decimal part,
# a power of ten ("3e-08", or "3 × 10⁻⁸" as wording.power_of_ten writes it, one numeral:
# its 10 is no number of its own) and a percent sign; not the digit of a name ("GPT-2",
# "log₁₀", "x2").
TIMES_TEN = r" × 10[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+"  # the tail of "3 × 10⁻⁸"
NUMERAL = re.compile(
    r"(?<![\w.])(?<!\w[-−])(?:[+−-](?=\d))?\d+(?:,\d{3})*(?:\.\d+)?"
    rf"(?:e[+−-]?\d+|{TIMES_TEN})?%?(?!\w)"
)
# A power of ten in a short glued value, which keeps its underline whole: its span only
# keeps the line from breaking inside it.
POWER, POWER_CLASS = re.compile(rf"\d+(?:\.\d+)?{TIMES_TEN}"), "power-of-ten"
# What comes before the numeral of a name such as "Henry VI Part 3" (a glued list of the
# plays' titles) or "Python 3": a capitalised word that does not begin its sentence.
IN_A_NAME = re.compile(r"[\w,;:’'] +[A-Z][\w’']* +$")


def mark(glued: nodes.inline) -> None:
    """Keep the underline of a short glued text; in a long one, move it to the numerals.
    Either way a power of ten ("1.89 × 10⁻⁴") does not break at its spaces."""
    if len(glued.astext()) <= LONG:
        wrap(glued, POWER, POWER_CLASS)
        return
    glued["classes"].append(PROSE)
    wrap(glued, NUMERAL, NUMBER, skip=IN_A_NAME)


def wrap(glued: nodes.inline, pattern: re.Pattern, cls: str, skip: re.Pattern | None = None):
    """Put each match of pattern in glued's text into a span of class cls, unless skip
    matches the text before it."""
    for text in list(glued.findall(nodes.Text)):
        pieces: list[nodes.Node] = []
        start = 0
        for numeral in pattern.finditer(text.astext()):
            if skip is not None and skip.search(text.astext()[: numeral.start()]):
                continue
            if numeral.start() > start:
                pieces.append(nodes.Text(text.astext()[start : numeral.start()]))
            pieces.append(nodes.inline(numeral.group(), numeral.group(), classes=[cls]))
            start = numeral.end()
        if pieces:
            if start < len(text.astext()):
                pieces.append(nodes.Text(text.astext()[start:]))
            text.parent.replace(text, pieces)


class MarkComputed(SphinxPostTransform):
    """Every glued text of the page, marked by its length (see the module). A post-
    transform: glued values from other pages are resolved by then."""

    default_priority = 900  # after MyST-NB resolves cross-page glue

    def run(self, **kwargs) -> None:
        for glued in list(self.document.findall(nodes.inline)):
            if GLUED in glued["classes"] and PROSE not in glued["classes"]:
                mark(glued)


def setup(app):
    app.add_post_transform(MarkComputed)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
