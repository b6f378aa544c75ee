"""What `nox -s claims` prints: the chapters' claims under each NANOBOOK_SEED it built.

    python -m ext.claims_table docs 1 2

Two kinds of claim. An assert in a chapter's cell that checks what fixed prose says (the
asserts the page does not show, ext/cell_bookkeeping.py's rule): a page's notebook stops at its
first failing one, so those after it were not checked under that value. And a comparison
decided by the book's rule (model_src/experiments/verdicts.py), whose statistic a chapter
glues under a key ending in ``_stat`` and its verdict's words under the same key ending in
``_words``: listed with both, per value. Read from the chapters' text and from each
build's warnings (docs/_build/claims-<n>/warnings.txt, ext/claims.py's) and glue files
(MyST-NB's jupyter_execute/chapters/<page>.glue.json).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from . import claims, myst_pages
from .cell_bookkeeping import prose_asserts

WARNING = re.compile(  # ext/claims.py's warning, as Sphinx writes it to the -w file
    r"chapters/(?P<page>[\w-]+)\.md(?::(?P<line>\d+))?: WARNING: "
    rf"(?P<what>{claims.CLAIM_FAILED}|{claims.CELL_FAILED}): "
    r"(?P<detail>.*?)(?: \[nanobook\.claim\])?$"
)


def claim_lines(page: Path) -> list[int]:
    """The page's lines of the asserts that check its prose, those the page does not show,
    in the code cells as MyST-NB reads them."""
    return [
        cell.body_line + line - 1
        for cell in myst_pages.read(page).cells
        for line in prose_asserts(cell.source)
    ]


def failures(warnings: Path) -> dict[str, tuple[int, str, str]] | None:
    """{page: (line, what, detail)} for every page whose cells failed in that build;
    None if there was no such build."""
    if not warnings.is_file():
        return None
    found = {}
    for line in warnings.read_text(encoding="utf-8").splitlines():
        match = WARNING.search(line)
        if match:
            at = int(match["line"] or 0)  # 0: a warning that named no line: all unchecked
            found[match["page"]] = (at, match["what"], match["detail"])
    return found


def decided(build: Path, page: str) -> dict[str, tuple[str, str]]:
    """{claim: (statistic, verdict's words)} glued by the page in that build."""
    glue_file = build / "jupyter_execute" / "chapters" / f"{page}.glue.json"
    if not glue_file.is_file():
        return {}
    glued = {
        key: value["data"].get("text/plain", "").strip("'\"")
        for key, value in json.loads(glue_file.read_text(encoding="utf-8")).items()
    }
    return {
        key.removesuffix("_stat"): (text, glued.get(key.removesuffix("_stat") + "_words", ""))
        for key, text in glued.items()
        if key.endswith("_stat")
    }


def verdict_lines(docs: Path, pages: list[Path], values: list[str]) -> list[str]:
    lines = []
    for page in pages:
        by_value = {v: decided(docs / "_build" / f"claims-{v}", page.stem) for v in values}
        for claim in sorted({claim for found in by_value.values() for claim in found}):
            lines.append(f"{page.stem}: {claim}")
            for value in values:
                statistic, words = by_value[value].get(claim, ("not computed", ""))
                lines.append(
                    f"  NANOBOOK_SEED={value}: {statistic}" + (f": {words}" if words else "")
                )
    return lines


def table(docs: Path, values: list[str]) -> str:
    pages = sorted((docs / "chapters").glob("*.md"))
    failed = {
        value: failures(docs / "_build" / f"claims-{value}" / "warnings.txt") for value in values
    }
    rows = [["page", "claims", *(f"NANOBOOK_SEED={value}" for value in values)]]
    details = []
    for page in pages:
        asserted_at = claim_lines(page)
        row = [page.stem, str(len(asserted_at))]
        for value in values:
            if failed[value] is None:
                row.append("not built")
                continue
            if page.stem not in failed[value]:
                row.append("all held")
                continue
            line, what, detail = failed[value][page.stem]
            unchecked = sum(1 for at in asserted_at if at > line)
            where = f"at line {line}" if line else "at no line the warning named"
            row.append(f"failed {where}, {unchecked} after it unchecked")
            details.append(f"NANOBOOK_SEED={value} {page.stem}.md:{line}: {what}: {detail}")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    verdicts = verdict_lines(docs, pages, values)
    return "\n".join([*text, "", *details, "", "Comparisons decided by the rule:", *verdicts])


if __name__ == "__main__":
    print(table(Path(sys.argv[1]), sys.argv[2:]))
