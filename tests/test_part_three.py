"""Part III ends with the bridge from the toy to a real assistant, and the fine-tuning
chapter names the forgetting it shows."""

from __future__ import annotations

import re
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parent.parent / "docs" / "chapters"
LABEL = re.compile(r"^\(([\w:.-]+)\)=\s*$", re.M)
REF = re.compile(r"\{ref\}`(?:[^`<]*<)?([\w:.-]+)>?`")


def sections(slug: str) -> dict[str, str]:
    """A chapter's text by the label that opens each part of it."""
    parts = LABEL.split((CHAPTERS / f"{slug}.md").read_text(encoding="utf-8"))
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_part_three_ends_with_the_way_to_a_real_assistant():
    rl = sections("rl")
    label, bridge = list(rl.items())[-1]
    assert label == "ch-rl-real-assistant"
    assert bridge.lstrip().startswith("## From here to a real assistant\n")
    for idea in (
        "Instruction data at scale",
        "reward model",
        "RLHF",
        "PPO",
        "KL",
        "DPO",
        "reference model",
        "Ouyang et al.",
        "Rafailov et al.",
    ):
        assert idea in bridge, idea
    # each step tied to the chapter it grows from, by a link that resolves
    linked = set(REF.findall(bridge))
    assert {"ch-finetuning-sft", "ch-finetuning-forgetting", "ch-rl-step"} <= linked
    pages = [p for p in CHAPTERS.parent.rglob("*.md") if "_build" not in p.parts]
    known = {label for page in pages for label in LABEL.findall(page.read_text(encoding="utf-8"))}
    assert linked <= known, linked - known
    assert bridge.rstrip().endswith(
        "Previous: {ref}`ch-tools` · Back to the start: {ref}`ch-overview`"
    )


def test_the_forgetting_is_named_where_it_is_shown():
    forgetting = sections("finetuning")["ch-finetuning-forgetting"]
    assert "**catastrophic forgetting**" in forgetting


def test_start_here_times_a_route_from_gpt_to_the_assistant():
    """The start page's cell, run as the build runs it: the learning path's routes, the
    new one among them, each with the chapters and minutes it glues."""
    from myst_nb.core.read import read_myst_markdown_notebook

    start = (CHAPTERS.parent / "start.md").read_text(encoding="utf-8")
    (cell,) = [c for c in read_myst_markdown_notebook(start).cells if c.cell_type == "code"]
    glued: dict[str, object] = {}
    code = cell.source.replace("from myst_nb import glue\n", "")
    exec(code, {"glue": lambda name, value, display: glued.__setitem__(name, value)})
    routes = dict(
        zip(
            re.findall(r"- \*\*(You [^*]+)\*\*", start),
            re.findall(r"\{glue:text\}`(start_route\d)_chapters`", start),
            strict=True,
        )
    )
    path = (CHAPTERS.parent / "learning-path.md").read_text(encoding="utf-8")
    chain = path.split("You want to see how a GPT becomes an assistant\n: ", 1)[1].split(".")[0]
    assert REF.findall(chain)[-3:] == ["ch-finetuning", "ch-tools", "ch-rl"]
    route = routes["You want to see how a GPT becomes an assistant"]
    assert glued[f"{route}_chapters"] == len(REF.findall(chain))
    assert 0 < glued[f"{route}_minutes"] < glued["start_all_minutes"]
