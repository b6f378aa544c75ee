"""ext/claims_table.py: what `nox -s claims` prints from the builds it made."""

from __future__ import annotations

import json

from ext import claims_table


def _glue(value: str) -> dict:
    return {"data": {"text/plain": repr(value)}, "output_type": "display_data"}


def test_the_table_lists_each_claim_per_seed_value(tmp_path):
    docs = tmp_path / "docs"
    (docs / "chapters").mkdir(parents=True)
    (docs / "chapters" / "ch.md").write_text(
        "```{code-cell} ipython3\nassert a > b, 'the prose says: a first'\ny\nassert c, (\n"
        "    'the prose says: c')\nassert d  # a check of the code itself\n```\n"
    )
    for value, line, stat, words in (
        ("1", None, "+8.0 ± 2.4 points over 8 seeds", "ahead"),
        ("2", 2, "+0.5 ± 2.0 points over 8 seeds", "even"),
    ):
        build = docs / "_build" / f"claims-{value}"
        (build / "jupyter_execute" / "chapters").mkdir(parents=True)
        warning = (
            f"{docs}/chapters/ch.md:{line}: WARNING: a claim did not hold: "
            "the prose says: a first (assert a > b; measured: a = 1, b = 2) [nanobook.claim]"
        )
        (build / "warnings.txt").write_text(warning if line else "")
        glued = {"muon_stat": _glue(stat), "muon_words": _glue(words)}
        (build / "jupyter_execute" / "chapters" / "ch.glue.json").write_text(json.dumps(glued))

    printed = claims_table.table(docs, ["1", "2", "3"])

    assert (
        "ch    2       all held         failed at line 2, 1 after it unchecked  not built"
        in printed
    )
    assert (
        "NANOBOOK_SEED=2 ch.md:2: a claim did not hold: the prose says: a first "
        "(assert a > b; measured: a = 1, b = 2)"
    ) in printed
    assert "ch: muon\n  NANOBOOK_SEED=1: +8.0 ± 2.4 points over 8 seeds: ahead\n" in printed
    assert "  NANOBOOK_SEED=2: +0.5 ± 2.0 points over 8 seeds: even\n" in printed
    assert "  NANOBOOK_SEED=3: not computed" in printed


def test_a_failure_said_without_a_line_is_still_a_failure(tmp_path):
    docs = tmp_path / "docs"
    (docs / "chapters").mkdir(parents=True)
    (docs / "chapters" / "ch.md").write_text("```{code-cell}\nassert a, 'the prose says: a'\n```\n")
    build = docs / "_build" / "claims-1"
    build.mkdir(parents=True)
    (build / "warnings.txt").write_text(
        f"{docs}/chapters/ch.md: WARNING: a cell failed: ValueError: no [nanobook.claim]"
    )
    printed = claims_table.table(docs, ["1"])
    assert "failed at no line the warning named, 1 after it unchecked" in printed
    assert "all held" not in printed


def test_claims_are_the_asserts_the_page_leaves_out(tmp_path):
    """Asserts after a comment about the prose are claims too (as ext/cell_bookkeeping.py
    decides for the page); asserts outside cells, and those the lesson shows, are not."""
    page = tmp_path / "ch.md"
    page.write_text(
        "assert outside_a_cell, 'the prose'\n"
        "```{code-cell} ipython3\n:tags: [remove-cell]\n\nx = 1\n"
        "# what the prose says: x is one and positive\nassert x == 1\nassert x > 0\n"
        "print(x)\nassert x, 'the lesson: x is truthy'\n```\n"
    )
    assert claims_table.claim_lines(page) == [7, 8]
