"""``live-tools``: the Tools chapter's model (experiments/arithmetic_runs.py) answers the
reader's sum, its calculator calls run by the engine, with a switch that turns the tool
off (static/nanobook_tools.js, also the engine a predict-check on a tool model runs).

    ```{live-tools} calculator
    :prompt: 136+044=                 the sum the page starts with; the reader types another
    ```
"""

from __future__ import annotations

from dataclasses import dataclass

from docutils import nodes

from ... import _core
from .. import distribution
from ..directive import LiveSpec, options, prompt_problem
from ..names import TOOL_MODELS
from ..render import behind_disclosure, preset_trained_problem, table, training_note

SCRIPT = "nanobook_tools.js"
OFF_SUMMARY = "Show the completion with the calculator off"


@dataclass
class ToolsSpec(LiveSpec):
    kind = "tools"
    name = "live-tools"
    page_script = SCRIPT
    option_spec = options("prompt")
    request_fields = ("prompt",)

    @property
    def label(self) -> str:
        return f"The {self.preset} model with its calculator, live"

    def models(self, presets: tuple[str, ...], options: dict) -> tuple[str, ...]:
        return TOOL_MODELS

    def problem(self) -> _core.Problem | None:
        return preset_trained_problem(self)

    def input_problem(self) -> _core.Problem | None:
        return prompt_problem(self)

    def compute(self) -> dict:
        return tools(self.preset, self.prompt)

    def fallback(self, result: dict) -> list[nodes.Node]:
        return tools_fallback(self, result)

    def page_options(self, page, result: dict) -> dict:
        return {
            **super().page_options(page, result),
            "trained": distribution.limits(self.preset),  # for the hint and the check
            "promptRule": result["prompt_rule"],  # what the reader may type (compute.py)
        }


SPEC = ToolsSpec


def tools(preset: str, prompt: str) -> dict:
    """The engine's greedy completion of ``prompt`` with the tool on and off: per token,
    whether the engine forced it; and the calls it ran."""
    from model_src import arithmetic, engine

    from ..compute import prompt_rule, trained_model

    entry = trained_model(preset)
    runs = {}
    for mode, tool in (("on", engine.calculate), ("off", None)):
        done = engine.complete(entry.model, arithmetic.TOKENIZER, prompt, tool=tool)
        runs[mode] = {
            "text": done.text,
            "forced": done.forced,
            "calls": [[c.expression, c.result, c.error] for c in done.calls],
        }
    return {"prompt": prompt, "prompt_rule": prompt_rule(entry), **runs}


def trained_seed(preset: str) -> int:
    """The seed of the run the widgets load (compute.tool_model)."""
    from model_src.experiments import arithmetic_runs

    return arithmetic_runs.shown_seed(preset)


def tools_fallback(spec: ToolsSpec, result: dict) -> list[nodes.Node]:
    # other seeds' models write other things after an unanswered call: say whose this is
    intro = nodes.paragraph(
        text=f"Seed {trained_seed(spec.preset)}'s {spec.preset} model completes "
        f"“{spec.prompt}”, greedily, with its calculator on and off. Forced: the tokens the "
        "engine wrote (the tool's answer).",
        classes=["nb-live-caption"],
    )
    rows = []
    for mode in ("on", "off"):
        run = result[mode]
        answer = run["text"][len(spec.prompt) :]
        forced = "".join(ch for ch, f in zip(run["text"], run["forced"], strict=True) if f)
        calls = "; ".join(f"{e} → {r}" + (f" ({why})" if why else "") for e, r, why in run["calls"])
        rows.append([f"tool {mode}", answer, forced or "none", calls or "none"])
    header = ["calculator", "the model's completion", "forced", "calls"]
    on, off = rows
    return [
        intro,
        *training_note(distribution.limits(spec.preset), spec.prompt),
        table(header, [on]),
        # the tools chapter asks (a predict-check) what the model writes with its tool off:
        # without scripts that completion waits until asked for, as the check's answer does
        *behind_disclosure([table(header, [off])], OFF_SUMMARY),
    ]
