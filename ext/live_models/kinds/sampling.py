"""``live-sampling``: the model continues the reader's prompt one drawn token at a time,
with temperature, top-k, top-p and the seed (static/nanobook_sampling.js).

    ```{live-sampling} char
    :prompt: def                      the text to continue
    :temperature: 0.8                 (default 1)
    :top-k: 20                        (default: none)
    :top-p: 0.9                       (default: none; 0.05 to 1, and 1 keeps every token)
    :seed: 0                          the reader can change it in the widget
    :steps: 80                        tokens per run (default: 6 for sort, 80 for char)
    ```

The fallback draws with the page's own generator (mulberry32, seeded) and the same
inverse-CDF draw, so it shows the tokens a reader's browser draws for that seed too.
"""

from __future__ import annotations

from dataclasses import dataclass

from docutils import nodes

from model_src import visible

from ... import _core
from .. import distribution
from ..directive import MAX_SEED, LiveSpec, options, prompt_problem
from ..render import preset_trained_problem, table, training_note

# Tokens sampled by default: the sort model's whole answer, a few lines of char text.
DEFAULT_STEPS = {"sort": 6, "char": 80}
MAX_STEPS = 500
# The temperature slider goes from, to (the page is handed the range): up to where the
# sort model, sure of nearly every letter at 1, errs often.
TEMPERATURES = (0.1, 5.0)
# The top-p slider: from keeping little more than the likeliest token to 1, which keeps
# every token (the widget then samples without top-p, as :top-p: left out does).
TOP_P = (0.05, 1.0)
# The numeric options and their bounds (the one place they are checked: _core.Number):
# what the page's widget settings (JSON) hold, what the browser's controls accept, and
# what keeps the build's computation finite.
NUMBERS = {
    "temperature": _core.Number(float, *TEMPERATURES, "0.8"),
    "top-k": _core.Number(int, 1, _core.MAX_EXACT_INTEGER, "20"),
    "top-p": _core.Number(float, *TOP_P, "0.9", "1 keeps every token"),
    "seed": _core.Number(int, 0, MAX_SEED, "7"),
    "steps": _core.Number(int, 1, MAX_STEPS, "40"),
}
ROWS = 12  # steps listed in the static table; the sentence has the whole text
TOP_TOKENS = 5  # the likeliest tokens each step of the static table lists


@dataclass
class SamplingSpec(LiveSpec):
    kind = "sampling"
    name = "live-sampling"
    page_script = "nanobook_sampling.js"
    option_spec = options("prompt", numbers=NUMBERS)
    request_fields = ("prompt", "temperature", "top_k", "top_p", "seed", "steps")

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0
    steps: int = 40

    def read(self, options: dict) -> None:
        self.temperature = options.get("temperature", self.temperature)
        self.top_k = options.get("top-k", self.top_k)
        top_p = options.get("top-p", self.top_p)
        self.top_p = None if top_p == TOP_P[1] else top_p  # 1 keeps every token
        self.seed = options.get("seed", self.seed)
        self.steps = options.get("steps", DEFAULT_STEPS.get(self.preset, self.steps))

    def problem(self) -> _core.Problem | None:
        return preset_trained_problem(self)

    def input_problem(self) -> _core.Problem | None:
        return prompt_problem(self)

    def compute(self) -> dict:
        return sampling(
            self.preset,
            self.prompt,
            self.temperature,
            self.top_k,
            self.seed,
            self.steps,
            top_p=self.top_p,
        )

    def fallback(self, result: dict) -> list[nodes.Node]:
        return sampling_fallback(self, result)

    def page_options(self, page, result: dict) -> dict:
        return {
            **super().page_options(page, result),
            "temperature": self.temperature,
            "topK": self.top_k,
            "topP": self.top_p,
            "seed": self.seed,
            "steps": self.steps,
            "trained": distribution.limits(self.preset),  # for the hint and the check
            "promptRule": result["prompt_rule"],  # what the reader may type (compute.py)
            # the controls' ranges: the directive's bounds
            "ranges": {
                "temperature": list(TEMPERATURES),
                "topP": list(TOP_P),
                "seed": [0, MAX_SEED],
            },
        }


SPEC = SamplingSpec


def mulberry32(seed: int):
    """The runtime's random numbers in [0, 1): the same sequence for the same seed."""
    mask = 0xFFFFFFFF
    state = seed & mask
    while True:
        state = (state + 0x6D2B79F5) & mask
        t = ((state ^ (state >> 15)) * (state | 1)) & mask
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & mask)) & mask) ^ t
        yield ((t ^ (t >> 14)) & mask) / 2**32


def draw(probs, u: float) -> int:
    """The first token whose cumulative probability passes u (the runtime's rule)."""
    import numpy as np

    cumulative = 0.0
    for token, p in enumerate(probs):
        cumulative += p
        if u < cumulative:
            return token
    return int(np.flatnonzero(probs)[-1])  # u beyond a sum rounded below 1


def sampling(
    preset: str,
    prompt: str,
    temperature: float,
    top_k: int | None,
    seed: int,
    steps: int,
    top_p: float | None = None,
):
    """``steps`` tokens sampled after ``prompt``, with each step's top candidates."""
    import numpy as np
    import torch

    from ..compute import next_token_probs, prompt_rule, trained_model

    entry = trained_model(preset)
    block_size = entry.model.config.block_size
    ids = entry.encode(prompt)
    random = mulberry32(seed)
    record = []
    for _ in range(steps):
        idx = torch.tensor([ids[-block_size:]])
        with torch.no_grad():
            logits, _ = entry.model(idx)
        probs = next_token_probs(logits[0, -1], temperature, top_k, top_p)
        token = draw(probs, next(random))
        top = np.argsort(-probs, kind="stable")[:TOP_TOKENS]
        record.append(
            {
                "candidates": [[entry.meta["itos"][int(i)], float(probs[i])] for i in top],
                "drawn": entry.meta["itos"][token],
            }
        )
        ids.append(token)
    rule = prompt_rule(entry)
    return {"prompt": prompt, "prompt_rule": rule, "steps": record, "text": entry.decode(ids)}


def candidates(listed: list) -> nodes.paragraph:
    """A step's likeliest tokens with their probabilities, each kept on one line: on a
    narrow screen the cell wraps between them (nanobook_live.css), so the table stays as
    wide as the page and the drawn column beside it in view."""
    cell = nodes.paragraph()
    for n, (token, p) in enumerate(listed):
        if n:
            cell += nodes.Text("  ")
        cell += nodes.inline(text=f"{visible.token(token)} {p:.2f}", classes=["nb-live-candidate"])
    return cell


def sampling_fallback(spec: SamplingSpec, result: dict) -> list[nodes.Node]:
    top_k = "no top-k" if spec.top_k is None else f"top-k {spec.top_k}"
    top_p = "" if spec.top_p is None else f", top-p {spec.top_p:g}"
    drawn = visible.line("".join(step["drawn"] for step in result["steps"]))
    intro = nodes.paragraph(
        "",
        f"The {spec.preset} model continues “{spec.prompt}” at temperature "
        f"{spec.temperature:g}, {top_k}{top_p}, seed {spec.seed}: ",
        nodes.literal(text=drawn),
        nodes.Text(
            f". The first {min(ROWS, len(result['steps']))} steps, each with its "
            "likeliest next tokens and the token drawn:"
        ),
        classes=["nb-live-caption"],
    )
    rows = [
        [str(n + 1), candidates(step["candidates"]), visible.token(step["drawn"])]
        for n, step in enumerate(result["steps"][:ROWS])
    ]
    note = training_note(distribution.limits(spec.preset), spec.prompt)
    return [intro, *note, table(["step", "likeliest next tokens", "drawn"], rows)]
