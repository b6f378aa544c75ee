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
    # each bullet opens on its route's goal, glued in the learning path's words
    keys = re.findall(r"- \*\*\{glue:text\}`(start_route\d)_goal`\*\*", start)
    assert keys == re.findall(r"\{glue:text\}`(start_route\d)_chapters`", start)
    routes = {glued[f"{key}_goal"]: key for key in keys}
    path = (CHAPTERS.parent / "learning-path.md").read_text(encoding="utf-8")
    chain = path.split("You want to see how a GPT becomes an assistant\n: ", 1)[1].split(".")[0]
    assert REF.findall(chain)[-3:] == ["ch-finetuning", "ch-tools", "ch-rl"]
    route = routes["You want to see how a GPT becomes an assistant"]
    assert glued[f"{route}_chapters"] == len(REF.findall(chain))
    assert 0 < glued[f"{route}_minutes"] < glued["start_all_minutes"]


def test_the_tools_prediction_is_asked_before_anything_shows_its_answer():
    tools = sections("tools")
    live = tools["ch-tools-live"]
    asked = live.index("```{predict-check} calculator\n:ask: tool-off")
    assert asked < live.index("```{live-tools}")  # the widget can switch the tool off
    # the sections before it say nothing of what the model writes with the tool off
    labels = list(tools)
    before = "".join(tools[label] for label in labels[: labels.index("ch-tools-live")])
    assert "tool off" not in before and "switched off" not in before
    assert "{predict-check}" not in "".join(
        tools[label] for label in labels if label != "ch-tools-live"
    )
    # the clip ends on the tool switched off: it comes after the question, not before
    text = (CHAPTERS / "tools.md").read_text(encoding="utf-8")
    assert text.index("```{predict-check} calculator") < text.index("```{manim-clip} ToolsScene")


def test_the_rl_prediction_is_asked_before_the_clip_shows_its_answer():
    """The clip ends on the run's pass@1 and pass@k before and after RL: the question of
    what pass@k did comes first, and only one question asks it."""
    text = (CHAPTERS / "rl.md").read_text(encoding="utf-8")
    asked = text.index("```{predict-check} sort\n:ask: rl-pass-k")
    assert text.count("{predict-check}") == 1
    assert asked < text.index("```{manim-clip} RLStepScene")


def test_ngpt_recaps_rope_and_swiglu_with_links_before_it_leans_on_them():
    opening = sections("ngpt")["ch-ngpt"]
    recap = next(p for p in opening.split("\n\n") if "ch-modern-rope" in p)
    assert "<ch-modern-swiglu>" in recap and "{ref}`RoPE <ch-modern-rope>`" in recap
    assert len(re.findall(r"\.(?=\s+[A-Z{]|\s*$)", recap.strip())) == 3  # three sentences
