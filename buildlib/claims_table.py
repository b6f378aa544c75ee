"""What `nox -s claims` prints: the chapters' claims under each NANOBOOK_SEED it built.

    python -m buildlib.claims_table docs 1 2

A claim is an assert in a chapter's cell that checks what the prose says (its message or
comment says "prose"). A page's notebook stops at its first failing claim, so the claims
after it were not checked under that value. Read from the chapters' text and from each
build's warnings file (docs/_build/claims-<n>/warnings.txt, ext/claims.py's warnings).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ASSERT = re.compile(r"^\s*assert\b")
WARNING = re.compile(
    r"chapters/(?P<page>[\w-]+)\.md:(?P<line>\d+): WARNING: "
    r"(?P<what>a claim did not hold|a cell failed): (?P<detail>.*?)(?: \[nanobook\.claim\])?$"
)


def claim_lines(page: Path) -> list[int]:
    """The lines of the page's asserts that check its prose."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        if not ASSERT.match(line):
            continue
        statement = " ".join(lines[number - 1 : number + 2])  # a message may follow a "\"
        if "prose" in statement:
            found.append(number)
    return found


def failures(warnings: Path) -> dict[str, tuple[int, str, str]] | None:
    """{page: (line, what, detail)} for every page whose cells failed in that build;
    None if there was no such build."""
    if not warnings.is_file():
        return None
    found = {}
    for line in warnings.read_text(encoding="utf-8").splitlines():
        match = WARNING.search(line)
        if match:
            found[match["page"]] = (int(match["line"]), match["what"], match["detail"])
    return found


def table(docs: Path, values: list[str]) -> str:
    pages = sorted((docs / "chapters").glob("*.md"))
    failed = {
        value: failures(docs / "_build" / f"claims-{value}" / "warnings.txt") for value in values
    }
    rows = [["page", "claims", *(f"NANOBOOK_SEED={value}" for value in values)]]
    details = []
    for page in pages:
        claims = claim_lines(page)
        row = [page.stem, str(len(claims))]
        for value in values:
            if failed[value] is None:
                row.append("not built")
                continue
            if page.stem not in failed[value]:
                row.append("all held")
                continue
            line, what, detail = failed[value][page.stem]
            unchecked = sum(1 for claim in claims if claim > line)
            row.append(f"failed at line {line}, {unchecked} after it unchecked")
            details.append(f"NANOBOOK_SEED={value} {page.stem}.md:{line}: {what}: {detail}")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join([*text, "", *details] if details else text)


if __name__ == "__main__":
    print(table(Path(sys.argv[1]), sys.argv[2:]))
