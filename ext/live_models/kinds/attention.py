"""``live-attention``: the reader's prompt read by the model, each position's prediction
and every head's attention (static/nanobook_attention.js).

    ```{live-attention} sort          (or char)
    :prompt: CBACAB                   the input the page starts with (and the static
                                      rendering shows); a sort prompt of 6 letters is
                                      read with the model's own greedy answer appended
    ```
"""

from __future__ import annotations

from dataclasses import dataclass

from docutils import nodes

from model_src import visible

from ... import _core
from .. import distribution
from ..directive import LiveSpec, options, prompt_problem
from ..render import preset_trained_problem, table, training_note, unbroken_cell


@dataclass
class AttentionSpec(LiveSpec):
    kind = "attention"
    name = "live-attention"
    page_script = "nanobook_attention.js"
    option_spec = options("prompt")
    request_fields = ("prompt",)

    def problem(self) -> _core.Problem | None:
        return preset_trained_problem(self)

    def input_problem(self) -> _core.Problem | None:
        return prompt_problem(self)

    def compute(self) -> dict:
        return attention(self.preset, self.prompt)

    def fallback(self, result: dict) -> list[nodes.Node]:
        return attention_fallback(self, result)

    def page_options(self, page, result: dict) -> dict:
        return {
            **super().page_options(page, result),
            "trained": distribution.limits(self.preset),  # for the hint and the check; None: none
            "promptRule": result["prompt_rule"],  # what the reader may type (compute.py)
            # the build's rule (compute.completed_ids): a sort prompt of this many tokens
            # is read with the model's greedy answer appended; earlier predictions unscored
            "answerAfter": result.get("answer_after"),
            "firstScored": result.get("first_scored", 0),
        }


SPEC = AttentionSpec


def attention(preset: str, prompt: str) -> dict:
    """Attention maps (layer, head, T, T) and each position's likeliest next token."""
    import torch
    import torch.nn.functional as F

    from model_src import probe

    from ..compute import completed_ids, prompt_rule, trained_model

    entry = trained_model(preset)
    ids, typed = completed_ids(entry, entry.encode(prompt))
    idx = torch.tensor([ids])
    with torch.no_grad(), probe.attention_maps(entry.model) as maps:
        logits, _ = entry.model(idx, targets=idx)  # with targets: logits at every position
    probs = F.softmax(logits[0].double(), dim=-1)
    best = probs.max(dim=-1)
    sort = entry.meta.get("task") == "sort"
    return {
        "prompt_rule": prompt_rule(entry),
        "tokens": [entry.meta["itos"][i] for i in ids],
        "typed": typed,
        "answer_after": entry.meta["prompt_len"] if sort else None,
        "first_scored": entry.meta["prompt_len"] - 1 if sort else 0,
        "predicted": [entry.meta["itos"][int(i)] for i in best.indices],
        "probability": best.values.tolist(),
        "attention": [layer[0].tolist() for layer in maps],  # (n_layer, nh, T, T)
    }


def attention_fallback(spec: AttentionSpec, result: dict) -> list[nodes.Node]:
    tokens, typed = result["tokens"], result["typed"]
    heads = len(result["attention"][0])
    answer = "".join(tokens[typed:])
    read = f"“{spec.prompt}”" + (
        f" with the model's own answer “{answer}” appended" if answer else ""
    )
    intro = nodes.paragraph(
        text=f"The {spec.preset} model reads {read}. For each position: the token there, the "
        f"token the model predicts next (with its probability), and for each layer the "
        f"position that each of its {heads} heads attends to most (heads 0 to {heads - 1}).",
        classes=["nb-live-caption"],
    )
    # a sort row is scored from its last prompt letter on: earlier "predictions" mean nothing
    first_scored = result.get("first_scored", 0)
    rows = []
    for t, token in enumerate(tokens):
        # a layer's heads are read along their line: kept on it, the table scrolls instead
        looks = [
            unbroken_cell([" ".join(str(max(range(t + 1), key=h[t].__getitem__)) for h in layer)])
            for layer in result["attention"]
        ]
        prediction = (
            f"{visible.token(result['predicted'][t])} ({result['probability'][t]:.2f})"
            if t >= first_scored
            else "(not scored)"
        )
        rows.append([str(t), visible.token(token), prediction, *looks])
    layers = [f"layer {n}" for n in range(len(result["attention"]))]
    header = ["position", "token", "predicts", *layers]
    note = training_note(distribution.limits(spec.preset), spec.prompt)
    return [intro, *note, table(header, rows)]
